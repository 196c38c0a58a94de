#!/usr/bin/python3
"""SIGNET_TEST_CLOCK_FILE moves signet-milter's clock: t=, the key cutover and the ledger day.

usage: test_test_clock.py --milter build/milter/signet-milter --signet build/tools/signet --work DIR

A key set of two scheduled keys, `old` until 2026-01-02T00:00:00Z and `new`
from then on (dns-check off). signet-milter runs with the test clock file at
2026-01-01T12:00:00Z: a message is signed by `old` with t= that time; the
file is replaced by 2026-01-03T12:00:00Z: the next message is signed by
`new` with that t=; after SIGTERM the ledger holds one signature of `old`
on 2026-01-01 and one of `new` on 2026-01-03. The start-up log has the
loud TEST CLOCK warning, and the same daemon under systemd's INVOCATION_ID
refuses to start (exit 2).
"""
import json
import os
import subprocess
import sys

from testkit import Checks, SignetMilter, dkim_tags, make_keys, scenario_args

DAY1 = 1767268800  # 2026-01-01T12:00:00Z
DAY3 = DAY1 + 2 * 86400
CUTOVER = "2026-01-02T00:00:00Z"


def manifest_row(selector, active_from, until=None):
    row = ("[key]\nstream = tx\ndomain = example.com\nselector = %s\nalgorithm = ed25519\nbits = 256\nowner = t\n"
           "file = example.com/%s.key\ncreated = 2025-12-01T00:00:00Z\npublished-at = 2025-12-01T00:00:00Z\n"
           "active-from = %s\n" % (selector, selector, active_from))
    return row + ("active-until = %s\n" % until if until else "")


def set_clock(path, t):
    with open(path + ".new", "w") as f:
        f.write("%d\n" % t)
    os.rename(path + ".new", path)  # atomically: the daemon never reads half a number


def signature(milter, queue_id):
    _, mods = milter.send_one(queue_id, b"hello\r\n")
    for _, m in mods:
        if b"DKIM-Signature\0" in m:
            return dkim_tags(m.split(b"DKIM-Signature\0", 1)[1].rstrip(b"\0"))
    return {}


def main():
    args = scenario_args(__doc__, milter=True)
    c = Checks()
    work = os.path.abspath(args.work)
    keys = os.path.join(work, "keys")
    make_keys(args.signet, keys, [("example.com", "old", "ed25519"), ("example.com", "new", "ed25519")])
    with open(os.path.join(keys, "manifest"), "w") as f:
        f.write(manifest_row("old", "2025-12-01T00:00:00Z", CUTOVER) + manifest_row("new", CUTOVER))
    clock = os.path.join(work, "clock")
    set_clock(clock, DAY1)
    ledger = os.path.join(work, "ledger.sqlite")
    config = {"key-directory": keys, "internal-hosts": "127.0.0.1", "dns-check": False, "ledger-file": ledger,
              "stream.tx": {"domain": "example.com"}, "rule.tx": {"stream": "tx"}}
    milter = SignetMilter(args.milter, work, config, env={"SIGNET_TEST_CLOCK_FILE": clock})
    with milter:
        first = signature(milter, "C1")
        c.check(first.get("s") == "old" and first.get("t") == str(DAY1),
                "clock at 2026-01-01T12:00Z: signed by old, t=%s" % DAY1, first)
        set_clock(clock, DAY3)
        second = signature(milter, "C2")
        c.check(second.get("s") == "new" and second.get("t") == str(DAY3),
                "clock moved past the cutover to 2026-01-03T12:00Z: signed by new, t=%s" % DAY3, second)
    warned = [l for l in milter.log_lines() if "warning: TEST CLOCK:" in l]
    c.check(len(warned) == 1, "one loud TEST CLOCK warning at start", milter.log_tail())
    p = subprocess.run([args.signet, "ledger", "--ledger", ledger, "--format", "json"], capture_output=True, text=True)
    rows = [(r["day"], r["selector"], r["signatures"]) for r in json.loads(p.stdout or "[]")]
    c.check(rows == [("2026-01-01", "old", 1), ("2026-01-03", "new", 1)],
            "the ledger counts each signature on the test clock's day: %s" % rows, p.stderr)
    env = dict(os.environ, SIGNET_TEST_CLOCK_FILE=clock, INVOCATION_ID="0123456789abcdef")
    p = subprocess.run([args.milter, "--config", milter.conf_path], env=env, capture_output=True, text=True, timeout=30)
    c.check(p.returncode == 2 and "systemd" in p.stderr, "under systemd (INVOCATION_ID) the test clock refuses to start",
            p.stderr)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
