#!/usr/bin/python3
"""Protocol edge cases against a running signet-milter, with miltertest.

usage: test_miltertest.py --milter PATH --signet PATH --work DIR [--socket unix|inet]

Starts signet-milter (on a unix socket or on 127.0.0.1), runs every
tests/integration/miltertest/*.lua script, checks the one log line each
message must leave, then sends SIGTERM and requires a clean exit 0. A second
instance with on-error = tempfail runs tempfail.lua; a third detaches with a
pidfile. Prints ok/FAIL lines and "N passed, M failed".
"""
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from testkit import Checks, SignetMilter, make_keys, scenario_args  # noqa: E402

SCRIPTS = os.path.join(HERE, "miltertest")
PROTOCOL_SCRIPTS = ("sign_dual.lua", "abort_mid_body.lua", "disconnect_mid_body.lua",
                    "many_connections.lua", "macros_missing.lua", "bad_input.lua")


def milter(args, name, on_error, socket):
    return SignetMilter(args.milter, args.work, {
        "key-directory": os.path.join(args.work, "keys"),
        "internal-hosts": "127.0.0.1/32",
        "on-error": on_error,
        "shutdown-timeout": 5,
        "stream.tx": {"domain": "example.com", "selector": ["mt-rsa", "mt-ed"]},
        "rule.all": {"stream": "tx"},
    }, name=name, socket=socket)


def run_script(name, sock):
    env = dict(os.environ, SIGNET_SOCKET=sock)
    p = subprocess.run(["miltertest", "-s", name], cwd=SCRIPTS, env=env, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, (p.stdout + p.stderr).strip()


def stops_cleanly(c, m, label):
    rc = m.stop(timeout=15)
    c.check(rc == 0, "%s exits 0 on SIGTERM" % label, "rc=%s" % rc)


# -- the on-error = accept instance ------------------------------------------------

def protocol_scripts(c, m):
    for script in PROTOCOL_SCRIPTS:
        rc, out = run_script(script, m.socket)
        c.check(rc == 0, "miltertest " + script, out[-500:])
        c.check(m.running, "milter alive after " + script)


def big_header(c, m):
    """A 1 MB header field: past miltertest's reach (it crashes on values
    over ~30 KB), so milter_client.py sends it, as Postfix would."""
    client = m.client()
    client.connect()
    client.mail("<a@example.com>", {"i": "MT-BIGHEADER"})
    client.header("From", b" a@example.com")
    client.header("X-Big", b" " + b"a" * 1048576)
    r = client.eoh()
    c.check(r and r[0] == b"a", "1 MB header: accepted unsigned at end of headers", repr(r))
    client.quit()


def one_log_line_each(c, m):
    lines = m.log_lines()

    def logged(queue_id, text):
        hits = [l for l in lines if (queue_id + ":") in l]
        c.check(len(hits) == 1 and text in hits[0], "one log line for %s says '%s'" % (queue_id, text), repr(hits))

    logged("MT-DUAL", "signed stream=tx d=example.com s=mt-rsa a=rsa-sha256 d=example.com s=mt-ed")
    logged("MT-ABORT", "not signed: aborted")
    logged("MT-AFTER-ABORT", "signed stream=tx")
    logged("MT-DROP", "not signed: aborted")
    logged("MT-AFTER-DROP", "signed stream=tx")
    for i in (1, 32, 64):
        logged("MT-MANY-%d" % i, "signed stream=tx")
    many = [l for l in lines if "MT-MANY-" in l and "signed stream=tx" in l]
    c.check(len(many) == 64, "64 concurrent connections all signed", str(len(many)))
    logged("MT-NOFROM", "NOT SIGNED: stream tx: the message has no From header")
    logged("MT-TWOFROM", "NOT SIGNED: stream tx: the message has 2 From headers")
    if m.port:
        logged("MT-BIGHEADER", "NOT SIGNED: header field X-Big is longer than 1048576 bytes")
    logged("MT-NULBODY", "signed stream=tx")
    logged("MT-BARECR", "signed stream=tx")
    logged("MT-BROKENMIME", "signed stream=tx")
    noqueue = [l for l in lines if "NOQUEUE: signed stream=tx" in l]
    c.check(len(noqueue) == 1, "missing macros: trusted client signed, logged NOQUEUE", repr(noqueue))
    untrusted = [l for l in lines if "not signed: untrusted (client=192.0.2.44" in l]
    c.check(len(untrusted) == 1, "missing macros: untrusted client passed, logged", repr(untrusted))
    c.check(not any("PRIVATE KEY" in l for l in lines), "no key material in the log")


def sighup_reload(c, m, args):
    """A valid new configuration (a new ed25519 selector) is used by the next
    message; a broken one is refused and the running one stays."""
    make_keys(args.signet, os.path.join(args.work, "keys"), [("example.com", "mt-ed2", "ed25519")])
    stream, rule = m.config["stream.tx"], m.config["rule.all"]

    def sign_one(queue_id):
        final, mods = m.send_one(queue_id, b"reload\r\n")
        return b"".join(mod[1] for mod in mods)

    stream["selector"] = ["mt-rsa", "mt-ed2"]
    m.reload()
    time.sleep(0.5)
    signed = sign_one("MT-RELOADED")
    c.check(b"s=mt-ed2;" in signed and m.running, "SIGHUP reload: next message uses the new key")
    rule["this-is-not-an-option"] = 1
    m.reload()
    time.sleep(0.5)
    signed = sign_one("MT-AFTER-BAD-RELOAD")
    c.check(b"s=mt-ed2;" in signed and m.running,
            "SIGHUP with a broken config: refused, still signing with the running keys")
    del rule["this-is-not-an-option"]
    stream["selector"] = ["mt-rsa", "mt-ed"]
    m.write_config()   # the original file back, not reloaded
    refused = [l for l in m.log_lines() if "reload refused" in l and "this-is-not-an-option" in l]
    c.check(len(refused) >= 1, "the refused reload is logged with its reason", repr(refused))


def sigterm_in_flight(c, m):
    """SIGTERM with a message in flight: it still gets signed, then exit 0."""
    client = m.client()
    client.connect()
    client.mail("<a@example.com>", {"i": "MT-INFLIGHT"})
    for name, value in (("From", b" a@example.com"), ("Subject", b" in flight at SIGTERM")):
        client.header(name, value)
    client.eoh()
    m.signal(signal.SIGTERM)
    time.sleep(1.0)
    try:
        m.client(timeout=5).connect()
        refused_new = False
    except (ConnectionError, OSError):
        refused_new = True
    c.check(refused_new, "while draining, a new connection is refused")
    client.body(b"finished after SIGTERM\r\n")
    final, mods = client.end_of_message()
    c.check(final[0] == b"c" and len(mods) == 2, "message in flight at SIGTERM is signed", repr(mods))
    client.quit()


def after_draining(c, m):
    c.check(any(l.endswith("stopped") for l in m.log_lines()), "logs 'stopped' after draining")
    if m.port:
        hits = [l for l in m.log_lines() if "MT-INFLIGHT:" in l]
        c.check(len(hits) == 1 and "signed stream=tx" in hits[0], "in-flight message logged as signed", repr(hits))


def on_error_accept(c, args):
    m = milter(args, "accept", "accept", args.socket).start()
    try:
        protocol_scripts(c, m)
        if m.port:
            big_header(c, m)
        time.sleep(0.3)
        one_log_line_each(c, m)
        if m.port:
            sighup_reload(c, m, args)
            sigterm_in_flight(c, m)
    finally:
        stops_cleanly(c, m, "milter (on-error=accept)")
    after_draining(c, m)


# -- the other instances ---------------------------------------------------------------

def on_error_tempfail(c, args):
    m = milter(args, "tempfail", "tempfail", "inet").start()
    try:
        rc, out = run_script("tempfail.lua", m.socket)
        c.check(rc == 0, "miltertest tempfail.lua", out[-500:])
    finally:
        stops_cleanly(c, m, "milter (on-error=tempfail)")
    hits = [l for l in m.log_lines() if "MT-TEMPFAIL:" in l]
    c.check(len(hits) == 1 and "tempfailed (on-error=tempfail)" in hits[0], "tempfail logged once", repr(hits))


def detached_with_pidfile(c, args):
    """foreground = false with a pidfile: the pid is live, the daemon signs,
    and SIGTERM removes the pidfile."""
    pidfile = os.path.join(args.work, "signet.pid")
    d = SignetMilter(args.milter, args.work, {
        "log": None, "foreground": False, "pidfile": pidfile,
        "key-directory": os.path.join(args.work, "keys"),
        "internal-hosts": "127.0.0.1/32",
        "shutdown-timeout": 5,
        "stream.tx": {"domain": "example.com", "selector": "mt-rsa"},
        "rule.all": {"stream": "tx"},
    }, name="daemon")
    rc = d.run(timeout=30)
    c.check(rc == 0, "detaches and the parent exits 0", "rc=%s" % rc)
    pid = None
    for _ in range(50):
        if os.path.exists(pidfile) and open(pidfile).read().strip():
            pid = int(open(pidfile).read())
            break
        time.sleep(0.1)
    c.check(pid is not None and os.path.exists("/proc/%d" % pid), "pidfile names the running daemon")
    if pid:
        final, mods = d.send_one("MT-DAEMON", b"daemon\r\n")
        c.check(len(mods) == 1, "the detached daemon signs", repr(mods))
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.05)
        c.check(not os.path.exists(pidfile), "SIGTERM removes the pidfile")


def main():
    args = scenario_args(milter=True, extra=lambda ap: ap.add_argument(
        "--socket", choices=("unix", "inet"), default="inet"))
    make_keys(args.signet, os.path.join(args.work, "keys"),
              [("example.com", "mt-rsa", "rsa"), ("example.com", "mt-ed", "ed25519")])
    c = Checks()
    on_error_accept(c, args)
    on_error_tempfail(c, args)
    detached_with_pidfile(c, args)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
