#!/usr/bin/python3
"""Protocol edge cases against a running signet-milter, with miltertest.

usage: test_miltertest.py --milter PATH --signet PATH --work DIR [--socket unix|inet]

Starts signet-milter (on a unix socket or on 127.0.0.1), runs every
tests/integration/miltertest/*.lua script, checks the one log line each
message must leave, then sends SIGTERM and requires a clean exit 0. A second
instance with on-error = tempfail runs tempfail.lua. Prints ok/FAIL lines and
"N passed, M failed".
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from postfix_harness import free_port  # noqa: E402
SCRIPTS = os.path.join(HERE, "miltertest")
sys.path.insert(0, HERE)
from milter_client import MilterClient, send_one  # noqa: E402


class Tally:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + what, flush=True)
        else:
            self.failed += 1
            print("FAIL %s %s" % (what, detail), flush=True)




def make_keys(signet, work):
    keydir = os.path.join(work, "keys", "example.com")
    os.makedirs(keydir)
    for sel, alg in (("mt-rsa", "rsa"), ("mt-ed", "ed25519")):
        subprocess.run([signet, "keygen", "--algorithm", alg, "--out", os.path.join(keydir, sel + ".key")],
                       check=True, stdout=subprocess.DEVNULL)


def start_milter(milter, work, name, sock, on_error):
    conf = os.path.join(work, name + ".conf")
    with open(conf, "w") as f:
        f.write("socket = %s\nlog = stderr\nforeground = true\nkey-directory = %s\n"
                "internal-hosts = 127.0.0.1/32\non-error = %s\nshutdown-timeout = 5\n"
                "[stream.tx]\ndomain = example.com\nselector = mt-rsa\nselector = mt-ed\n"
                "[rule.all]\nstream = tx\n" % (sock, os.path.join(work, "keys"), on_error))
    log = open(os.path.join(work, name + ".log"), "wb")
    proc = subprocess.Popen([milter, "--config", conf], stderr=log, stdout=log)
    return proc, os.path.join(work, name + ".log")


def run_script(name, sock):
    env = dict(os.environ, SIGNET_SOCKET=sock)
    p = subprocess.run(["miltertest", "-s", name], cwd=SCRIPTS, env=env, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, (p.stdout + p.stderr).strip()


def log_lines(path):
    with open(path, errors="replace") as f:
        return f.read().splitlines()


def stop(proc, tally, label):
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = None
    tally.check(rc == 0, "%s exits 0 on SIGTERM" % label, "rc=%s" % rc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--signet", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--socket", choices=("unix", "inet"), default="inet")
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    make_keys(args.signet, args.work)
    tally = Tally()

    if args.socket == "unix":
        sock = "unix:" + os.path.join(args.work, "signet.sock")
    else:
        sock = "inet:%d@127.0.0.1" % free_port()
    proc, log = start_milter(args.milter, args.work, "accept", sock, "accept")
    try:
        for script in ("sign_dual.lua", "abort_mid_body.lua", "disconnect_mid_body.lua",
                       "many_connections.lua", "macros_missing.lua", "bad_input.lua"):
            rc, out = run_script(script, sock)
            tally.check(rc == 0, "miltertest " + script, out[-500:])
            tally.check(proc.poll() is None, "milter alive after " + script)
        # A 1 MB header field: past miltertest's reach (it crashes on values
        # over ~30 KB), so milter_client.py sends it, as Postfix would.
        c = MilterClient("127.0.0.1", int(sock.split(":")[1].split("@")[0])) if sock.startswith("inet:") else None
        if c:
            c.connect()
            c.mail("<a@example.com>", {"i": "MT-BIGHEADER"})
            c.header("From", b" a@example.com")
            c.header("X-Big", b" " + b"a" * 1048576)
            r = c.eoh()
            tally.check(r and r[0] == b"a", "1 MB header: accepted unsigned at end of headers", repr(r))
            c.quit()
        time.sleep(0.3)
        lines = log_lines(log)

        def logged(queue_id, text):
            hits = [l for l in lines if (queue_id + ":") in l]
            tally.check(len(hits) == 1 and text in hits[0],
                        "one log line for %s says '%s'" % (queue_id, text), repr(hits))

        logged("MT-DUAL", "signed stream=tx d=example.com s=mt-rsa a=rsa-sha256 d=example.com s=mt-ed")
        logged("MT-ABORT", "not signed: aborted")
        logged("MT-AFTER-ABORT", "signed stream=tx")
        logged("MT-DROP", "not signed: aborted")
        logged("MT-AFTER-DROP", "signed stream=tx")
        for i in (1, 32, 64):
            logged("MT-MANY-%d" % i, "signed stream=tx")
        many = [l for l in lines if "MT-MANY-" in l and "signed stream=tx" in l]
        tally.check(len(many) == 64, "64 concurrent connections all signed", str(len(many)))
        logged("MT-NOFROM", "NOT SIGNED: stream tx: the message has no From header")
        logged("MT-TWOFROM", "NOT SIGNED: stream tx: the message has 2 From headers")
        if sock.startswith("inet:"):
            logged("MT-BIGHEADER", "NOT SIGNED: header field X-Big is longer than 1048576 bytes")
        logged("MT-NULBODY", "signed stream=tx")
        logged("MT-BARECR", "signed stream=tx")
        logged("MT-BROKENMIME", "signed stream=tx")
        noqueue = [l for l in lines if "NOQUEUE: signed stream=tx" in l]
        tally.check(len(noqueue) == 1, "missing macros: trusted client signed, logged NOQUEUE", repr(noqueue))
        untrusted = [l for l in lines if "not signed: untrusted (client=192.0.2.44" in l]
        tally.check(len(untrusted) == 1, "missing macros: untrusted client passed, logged", repr(untrusted))
        tally.check(not any("PRIVATE KEY" in l for l in lines), "no key material in the log")
        # SIGHUP: a valid new configuration (a new ed25519 selector) is used by
        # the next message; a broken one is refused and the running one stays.
        if sock.startswith("inet:"):
            port = int(sock.split(":")[1].split("@")[0])
            subprocess.run([args.signet, "keygen", "--algorithm", "ed25519", "--out",
                            os.path.join(args.work, "keys", "example.com", "mt-ed2.key")],
                           check=True, stdout=subprocess.DEVNULL)
            conf_path = os.path.join(args.work, "accept.conf")
            original = open(conf_path).read()

            def sign_one(queue_id):
                final, mods = send_one("127.0.0.1", port, queue_id, b"reload\r\n")
                return b"".join(m[1] for m in mods)

            with open(conf_path, "w") as f:
                f.write(original.replace("selector = mt-ed\n", "selector = mt-ed2\n"))
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            signed = sign_one("MT-RELOADED")
            tally.check(b"s=mt-ed2;" in signed and proc.poll() is None, "SIGHUP reload: next message uses the new key")
            with open(conf_path, "w") as f:
                f.write(original + "this-is-not-an-option = 1\n")
            proc.send_signal(signal.SIGHUP)
            time.sleep(0.5)
            signed = sign_one("MT-AFTER-BAD-RELOAD")
            tally.check(b"s=mt-ed2;" in signed and proc.poll() is None,
                        "SIGHUP with a broken config: refused, still signing with the running keys")
            with open(conf_path, "w") as f:
                f.write(original)
            refused = [l for l in log_lines(log) if "reload refused" in l and "this-is-not-an-option" in l]
            tally.check(len(refused) >= 1, "the refused reload is logged with its reason", repr(refused))

        # SIGTERM with a message in flight: it still gets signed, then exit 0.
        if sock.startswith("inet:"):
            c = MilterClient("127.0.0.1", int(sock.split(":")[1].split("@")[0]))
            c.connect()
            c.mail("<a@example.com>", {"i": "MT-INFLIGHT"})
            for name, value in (("From", b" a@example.com"), ("Subject", b" in flight at SIGTERM")):
                c.header(name, value)
            c.eoh()
            proc.send_signal(signal.SIGTERM)
            time.sleep(1.0)
            try:
                late = MilterClient("127.0.0.1", int(sock.split(":")[1].split("@")[0]), timeout=5)
                late.connect()
                refused_new = False
            except (ConnectionError, OSError):
                refused_new = True
            tally.check(refused_new, "while draining, a new connection is refused")
            c.body(b"finished after SIGTERM\r\n")
            final, mods = c.end_of_message()
            tally.check(final[0] == b"c" and len(mods) == 2, "message in flight at SIGTERM is signed", repr(mods))
            c.quit()
    finally:
        stop(proc, tally, "milter (on-error=accept)")
    tally.check(any(l.endswith("stopped") for l in log_lines(log)), "logs 'stopped' after draining")
    if sock.startswith("inet:"):
        hits = [l for l in log_lines(log) if "MT-INFLIGHT:" in l]
        tally.check(len(hits) == 1 and "signed stream=tx" in hits[0], "in-flight message logged as signed", repr(hits))

    sock2 = "inet:%d@127.0.0.1" % free_port()
    proc2, log2 = start_milter(args.milter, args.work, "tempfail", sock2, "tempfail")
    try:
        rc, out = run_script("tempfail.lua", sock2)
        tally.check(rc == 0, "miltertest tempfail.lua", out[-500:])
    finally:
        stop(proc2, tally, "milter (on-error=tempfail)")
    hits = [l for l in log_lines(log2) if "MT-TEMPFAIL:" in l]
    tally.check(len(hits) == 1 and "tempfailed (on-error=tempfail)" in hits[0], "tempfail logged once", repr(hits))

    # Detached (foreground = false) with a pidfile: the pid is live, the
    # daemon signs, and SIGTERM removes the pidfile.
    sock3 = "inet:%d@127.0.0.1" % free_port()
    pidfile = os.path.join(args.work, "signet.pid")
    conf3 = os.path.join(args.work, "daemon.conf")
    with open(conf3, "w") as f:
        f.write("socket = %s\nforeground = false\npidfile = %s\nkey-directory = %s\n"
                "internal-hosts = 127.0.0.1/32\nshutdown-timeout = 5\n[stream.tx]\ndomain = example.com\n"
                "selector = mt-rsa\n[rule.all]\nstream = tx\n" % (sock3, pidfile, os.path.join(args.work, "keys")))
    rc = subprocess.run([args.milter, "--config", conf3], timeout=30).returncode
    tally.check(rc == 0, "detaches and the parent exits 0", "rc=%s" % rc)
    pid = None
    for _ in range(50):
        if os.path.exists(pidfile) and open(pidfile).read().strip():
            pid = int(open(pidfile).read())
            break
        time.sleep(0.1)
    tally.check(pid is not None and os.path.exists("/proc/%d" % pid), "pidfile names the running daemon")
    if pid:
        final, mods = send_one("127.0.0.1", int(sock3.split(":")[1].split("@")[0]), "MT-DAEMON", b"daemon\r\n")
        tally.check(len(mods) == 1, "the detached daemon signs", repr(mods))
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            if not os.path.exists("/proc/%d" % pid):
                break
            time.sleep(0.05)
        tally.check(not os.path.exists(pidfile), "SIGTERM removes the pidfile")

    print("%d passed, %d failed" % (tally.passed, tally.failed))
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
