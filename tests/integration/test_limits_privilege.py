#!/usr/bin/python3
"""Limits and privilege of the running daemon, through the milter protocol.

- max-connections: N connections open at once are served; the next one has
  its mail handled per on-error (accepted unsigned), answered at each MAIL
  (connect is SMFIP_NR_CONN), with one log line, and the N open ones still
  sign.
- max-body-bytes with on-error = tempfail: body chunks get no reply
  (SMFIP_NR_BODY), and the message over the limit is tempfailed at its end
  of message, with one log line; the next message on the connection signs.
- Started as root with user/group set, signet-milter runs with every uid and
  gid the daemon's (real, effective, saved, filesystem), no supplementary
  groups and no capabilities (effective, permitted, ambient), so setuid(0)
  cannot succeed in its context; it is not dumpable (its /proc files belong
  to root: no core dump, no ptrace by its own user), unless core-dumps = true.
- A key file owned by another user (neither root, the daemon's user nor the
  key directory's owner) is refused at start with the reason.
- SIGTERM stops an idle daemon at once (no accept() left to sleep out a poll).
- No key material in the log.
"""
import os
import pwd
import shutil
import socket
import sys
import time

from testkit import Checks, SignetMilter, make_keys, scenario_args

NOBODY = pwd.getpwnam("nobody")


def status(pid):
    with open("/proc/%d/status" % pid) as f:
        return dict((k, v.strip()) for k, v in (l.split(":", 1) for l in f if ":" in l))


def sign_one(m, qid, client=None):
    """One trusted message (service tx); True when a DKIM-Signature came back."""
    cl = client or m.client()
    if client is None:
        cl.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
    cl.mail("<a@example.com>", {"i": qid})
    cl.header("From", b" a@example.com")
    cl.eoh()
    cl.body(b"body\r\n")
    final, mods = cl.end_of_message()
    cl.quit()
    return final[0] == b"c" and any(b"DKIM-Signature" in mm[1] for mm in mods)


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    c = Checks()
    keys_dir = os.path.join(args.work, "keys")
    keys = make_keys(args.signet, keys_dir, [("example.com", "lim", "ed25519")], dir_mode=0o755)
    # The daemon's user reads its keys after the drop only on reload; give it the directory.
    for root, dirs, files in os.walk(keys_dir):
        for n in dirs + files:
            os.chown(os.path.join(root, n), NOBODY.pw_uid, NOBODY.pw_gid)
    os.chown(keys_dir, NOBODY.pw_uid, NOBODY.pw_gid)
    base = {"key-directory": keys_dir, "trusted-services": "tx", "dns-check": False,
            "stream.tx": {"domain": "example.com", "selector": "lim"}, "rule.all": {"stream": "tx"}}

    # -------------------------------------------------------------- max-connections
    m = SignetMilter(args.milter, args.work, dict(base, **{"max-connections": 3}), name="conns")
    with m:
        held = []
        for _ in range(3):
            cl = m.client()
            cl.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
            held.append(cl)
        over = m.client()
        r = over.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
        c.check(over.steps & 0x1000 and r is None, "SMFIP_NR_CONN negotiated: connect gets no reply", (hex(over.steps), r))
        r = over.mail("<a@example.com>", {"i": "OVER1"})
        c.check(r is not None and r[0] == b"a",
                "the connection over max-connections (3) is answered accept at MAIL: its mail passes unsigned", r)
        r = over.mail("<a@example.com>", {"i": "OVER2"})
        c.check(r is not None and r[0] == b"a", "and at every MAIL of that connection", r)
        over.quit()
        time.sleep(0.3)
        lines = [l for l in m.log_lines() if "max-connections" in l]
        c.check(len(lines) == 1 and "not served: 4 connections open" in lines[0] and "accepted unsigned" in lines[0],
                "one log line says why", lines)
        signed = sum(sign_one(m, "LIM%d" % i, cl) for i, cl in enumerate(held))
        c.check(signed == 3, "the 3 connections at the bound all sign (%d)" % signed)
        time.sleep(0.2)
        c.check(sign_one(m, "LIMNEXT"), "once they close, a new connection signs again")

    # -------------------------------------------------------------- max-body-bytes
    m = SignetMilter(args.milter, args.work, dict(base, **{"max-body-bytes": 1000, "on-error": "tempfail"}),
                     name="body")
    with m:
        cl = m.client()
        cl.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
        c.check(cl.steps & 0x80000, "SMFIP_NR_BODY negotiated: the MTA waits for no reply per body chunk",
                hex(cl.steps))
        cl.mail("<a@example.com>", {"i": "BIG1"})
        cl.header("From", b" a@example.com")
        cl.eoh()
        cl.body(b"x" * 70000 + b"\r\n" + b"y" * 70000 + b"\r\n")  # three chunks, the limit passed in the first
        final, mods = cl.end_of_message()
        c.check(final[0] == b"t" and not mods, "over max-body-bytes: tempfailed at end of message, nothing inserted",
                (final, mods))
        c.check(sign_one(m, "BIG2", cl), "the next message on the same connection signs")
        time.sleep(0.3)
        lines = [l for l in m.log_lines() if "BIG1" in l]
        c.check(len(lines) == 1 and "max-body-bytes" in lines[0] and "tempfailed" in lines[0],
                "one log line for the message over the limit", lines)

    # -------------------------------------------------------------- a prompt stop
    idle = SignetMilter(args.milter, args.work, base, name="idle")
    with idle:
        time.sleep(0.5)
        t0 = time.monotonic()
        rc = idle.stop()
        took = time.monotonic() - t0
    c.check(rc == 0 and took < 2, "SIGTERM on an idle daemon: exit 0 in %.2fs (the threads waiting in accept() "
            "woken, not left to sleep out a poll)" % took)

    # -------------------------------------------------------------- privilege
    priv = SignetMilter(args.milter, args.work, dict(base, user="nobody", group="nogroup"), name="priv")
    with priv:
        st = status(priv.pid)
        uids, gids = st["Uid"].split(), st["Gid"].split()
        c.check(all(int(u) == NOBODY.pw_uid for u in uids), "real, effective, saved and fs uid are nobody's",
                st["Uid"])
        c.check(all(int(g) == NOBODY.pw_gid for g in gids), "real, effective, saved and fs gid are nogroup's",
                st["Gid"])
        c.check(st.get("Groups", "") == "", "no supplementary groups", st.get("Groups"))
        c.check(all(int(st[k], 16) == 0 for k in ("CapEff", "CapPrm", "CapAmb")),
                "no effective, permitted or ambient capabilities: setuid(0) cannot succeed",
                {k: st[k] for k in ("CapEff", "CapPrm", "CapAmb")})
        c.check(os.stat("/proc/%d/status" % priv.pid).st_uid == 0,
                "not dumpable: its /proc entries belong to root (no core, no ptrace by nobody)")
        c.check(sign_one(priv, "PRIV1"), "it signs after dropping privileges")
    dumpable = SignetMilter(args.milter, args.work, dict(base, user="nobody", group="nogroup",
                                                         **{"core-dumps": True}), name="dumpable")
    with dumpable:
        c.check(os.stat("/proc/%d/status" % dumpable.pid).st_uid == NOBODY.pw_uid,
                "core-dumps = true leaves it dumpable (its /proc entries are nobody's)")

    # -------------------------------------------------------------- key ownership
    stranger = os.path.join(args.work, "stranger")
    make_keys(args.signet, stranger, [("example.com", "lim", "ed25519")], dir_mode=0o755)
    os.chown(os.path.join(stranger, "example.com", "lim.key"), NOBODY.pw_uid, NOBODY.pw_gid)
    bad = SignetMilter(args.milter, args.work, dict(base, **{"key-directory": stranger}), name="stranger")
    rc, out = bad.check_config()
    c.check(rc == 2 and "owned by uid %d" % NOBODY.pw_uid in out, "a key file another user owns is refused", out)

    # -------------------------------------------------------------- no key material in the logs
    secrets = [k for key in keys for k in key_material(key.path)]
    leaked = []
    for name in os.listdir(args.work):
        if name.endswith(".log"):
            text = open(os.path.join(args.work, name), "rb").read()
            leaked += [name for s in secrets if s in text]
    c.check(secrets and not leaked, "no key material in any log", leaked)
    return c.finish()


def key_material(path):
    """The key file's base64 body lines (what a leak would show)."""
    out = []
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith(b"-----") and len(line) >= 16:
                out.append(line[:24])
    return out


if __name__ == "__main__":
    sys.exit(main())
