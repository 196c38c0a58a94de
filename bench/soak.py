#!/usr/bin/python3
"""make bench: the soak. signet-milter behind a real Postfix for --minutes
(default 30), mail flowing the whole time (4 SMTP senders), the key set
rewritten every minute (`signet keyset install`, as a config tool would) and
a scheduled cutover every 10 minutes (rsa and ed25519 move together).

Printed at the start and the end: the daemon's resident memory, open file
descriptors and threads, which must stay flat (limits: RSS grows less than
20 MB, fds and threads within 10 of the start). Every relayed message must be
signed and verify against the key whose window held its t= (milter_load
--verify-dir). Exit 1 when any of it fails.

usage: soak.py BUILD_DIR [--minutes 30]
"""
import argparse
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import threading
import time

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "tests", "integration"))
from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from testkit import SignetMilter, iso, make_keys, write_keys_file  # noqa: E402


def proc_stats(pid):
    with open("/proc/%d/status" % pid) as f:
        st = dict(l.split(":", 1) for l in f if ":" in l)
    fds = len(os.listdir("/proc/%d/fd" % pid))
    return int(st["VmRSS"].split()[0]) // 1024, fds, int(st["Threads"])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--minutes", type=float, default=30)
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    signet = os.path.join(build, "tools", "signet")
    work = tempfile.mkdtemp(prefix="signet-soak-")
    os.chmod(work, 0o755)
    seconds = int(a.minutes * 60)
    cuts = list(range(600, seconds, 600)) or [seconds // 2]
    now = int(time.time())
    keys_dir = os.path.join(work, "keys")
    specs, rows = [], []
    for alg in ("rsa", "ed25519"):
        for k in range(len(cuts) + 1):
            sel = "soak-%s-%02d" % (alg, k)
            specs.append(("example.com", sel, alg))
            frm = now - 60 if k == 0 else now + cuts[k - 1]
            until = now + cuts[k] if k < len(cuts) else None
            rows.append((sel, alg, frm, until))
    keys = make_keys(signet, keys_dir, specs, dir_mode=0o700)
    bits = {k.selector: (k.bits or (2048 if k.algorithm == "rsa" else 256)) for k in keys}

    def manifest(rev):
        out = "# soak key set, revision %d\n" % rev
        for sel, alg, frm, until in rows:
            out += ("\n[key]\nstream = tx\ndomain = example.com\nselector = %s\nalgorithm = %s\nbits = %d\n"
                    "owner = soak\nfile = example.com/%s.key\ncreated = %s\npublished-at = %s\nactive-from = %s\n"
                    "active-until = %s\nretire-at = %s\n" % (
                        sel, alg, bits[sel], sel, iso(now - 120), iso(now - 120), iso(frm),
                        iso(until) if until else "", iso(until + 3600) if until else ""))
        return out

    with open(os.path.join(keys_dir, "manifest"), "w") as f:
        f.write(manifest(0))
    keys_file = os.path.join(work, "keys.txt")
    write_keys_file(keys_file, keys)
    schedule = os.path.join(work, "schedule.txt")
    with open(schedule, "w") as f:
        for sel, alg, frm, until in rows:
            f.write("%s %s %d %s\n" % (sel, alg, frm, until if until else "-"))

    milter = SignetMilter(os.path.join(build, "milter", "signet-milter"), work,
                          {"key-directory": keys_dir, "trusted-services": "tx-out", "dns-check": False,
                           "stream.tx": {"domain": "example.com"}, "rule.all": {"stream": "tx"}})
    sink_dir = os.path.join(work, "sink")
    failures = []
    with SmtpSink(sink_dir) as sink, milter:
        pf = PostfixInstance(os.path.join(work, "postfix"), milter.socket, sink_port=sink.port, capture_dir=sink_dir)
        with pf:
            time.sleep(1)
            start = proc_stats(milter.pid)
            print("soak: %g minutes, cutovers at +%s s; start: RSS %d MB, %d fds, %d threads" % (
                a.minutes, cuts, *start), flush=True)
            stop = time.monotonic() + seconds
            sent = [0]
            lock = threading.Lock()

            def sender(t):
                while time.monotonic() < stop:
                    try:
                        with smtplib.SMTP("127.0.0.1", pf.ports["tx"], timeout=30) as s:
                            for _ in range(20):
                                msg = ("From: soak@example.com\r\nTo: r@example.org\r\nSubject: soak %d\r\n"
                                       "Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n\r\nsoak\r\n" % t).encode()
                                PostfixInstance.send_on(s, msg, "soak@example.com", ["r@example.org"])
                                with lock:
                                    sent[0] += 1
                    except (smtplib.SMTPException, OSError) as e:
                        failures.append("sender %d: %r" % (t, e))
                        time.sleep(1)
                    time.sleep(0.05)

            threads = [threading.Thread(target=sender, args=(t,)) for t in range(4)]
            for th in threads:
                th.start()
            rev = 0
            while time.monotonic() < stop:
                time.sleep(min(60, max(0, stop - time.monotonic())))
                rev += 1
                p = subprocess.run([signet, "keyset", "install", "--dir", keys_dir], input=manifest(rev),
                                   capture_output=True, text=True)
                if p.returncode != 0:
                    failures.append("rewrite %d: %s" % (rev, p.stderr.strip()))
                stats = proc_stats(milter.pid)
                print("soak: +%d min: %d sent; RSS %d MB, %d fds, %d threads" % (rev, sent[0], *stats), flush=True)
            for th in threads:
                th.join()
            end = proc_stats(milter.pid)
            deadline = time.monotonic() + 120
            while len(pf.captured()) < sent[0] and time.monotonic() < deadline:
                time.sleep(1)
            relayed = len(pf.captured())
    print("soak: end: RSS %d MB, %d fds, %d threads; %d sent, %d relayed, %d key-set rewrites" % (
        *end, sent[0], relayed, rev))
    v = subprocess.run([os.path.join(build, "tests", "integration", "milter_load"), "--socket", "inet:1@127.0.0.1",
                        "--connections", "1", "--messages", "0", "--keys", keys_file, "--schedule", schedule,
                        "--verify-dir", sink_dir], capture_output=True, text=True)
    print(next((l for l in v.stdout.splitlines() if l.startswith("relayed messages in")), v.stdout + v.stderr).strip())
    ok = True
    for what, good in (("RSS flat (grew %d MB)" % (end[0] - start[0]), end[0] - start[0] < 20),
                       ("fds flat (%d -> %d)" % (start[1], end[1]), abs(end[1] - start[1]) <= 10),
                       ("threads flat (%d -> %d)" % (start[2], end[2]), abs(end[2] - start[2]) <= 10),
                       ("every message relayed (%d of %d)" % (relayed, sent[0]), relayed == sent[0]),
                       ("every relayed message signed by its scheduled keys, 0 unsigned, 0 invalid",
                        "relayed messages in" in v.stdout and ", 0 bad" in v.stdout),
                       ("no sender or rewrite failure", not failures)):
        print(("ok   " if good else "FAIL ") + what)
        ok = ok and good
    for f in failures[:5]:
        print("  " + f)
    shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
