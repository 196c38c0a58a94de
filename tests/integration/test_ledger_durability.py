#!/usr/bin/python3
"""The signing ledger survives kill -9 and a full disk.

usage: test_ledger_durability.py --milter build/milter/signet-milter --signet build/tools/signet --work DIR

1. kill -9 under load: 4 SMTP sessions send through a private Postfix
   (postfix_harness.py) to signet-milter (ledger-flush-interval = 1s) for
   about 6 s; then signet-milter is killed with SIGKILL. The ledger (read
   with `signet ledger --format json`) must hold no more signatures than the
   daemon logged as signed, and lose at most what was signed in the last
   flush interval: signed - ledger <= the messages Postfix had accepted in
   the last interval + 0.5 s before the kill, plus the sessions in flight.
   Restarted on the same ledger, 20 more messages and a SIGTERM: the ledger
   grows by exactly 20 (a clean stop loses nothing).
2. A full disk: the ledger on a 1 MB tmpfs. 10 messages are written; the
   file system is filled; 30 more are all signed while the ledger fails:
   one loud log line (not one per flush), signet_ledger_up 0,
   signet_ledger_write_errors_total counting, the 30 pending; space freed,
   the ledger catches up to 40 with one recovery line.
Prints the counts measured. Needs root (Postfix, mount); loopback only.
"""
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import threading
import time
import urllib.request

from postfix_harness import PostfixInstance
from smtp_sink import SmtpSink
from testkit import Checks, SignetMilter, free_port, make_keys, one_line, scenario_args

INTERVAL = 1.0
SESSIONS = 4
LOAD_SECONDS = 6


def message(n, tag="load"):
    return ("From: <a@example.com>\r\nTo: <bob@example.org>\r\nSubject: %s %d\r\n"
            "Date: Tue, 01 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s%d.%d@client.test>\r\n\r\nmessage %d\r\n"
            % (tag, n, tag, n, os.getpid(), n)).encode()


def ledger_total(signet, path):
    """Signatures in the ledger file, by `signet ledger --format json`; None with the reason when it fails."""
    p = subprocess.run([signet, "ledger", "--ledger", path, "--format", "json"], capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return sum(r["signatures"] for r in json.loads(p.stdout)), ""


def signed_lines(milter):
    return [l for l in milter.log_lines() if re.search(r": signed stream=", l)]


def metric(port, name):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[1])
    return None


def wait_for(cond, timeout):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def kill_under_load(args, c, work, keys):
    ledger = os.path.join(work, "ledger.sqlite")
    config = {"key-directory": keys, "trusted-services": "tx-out", "ledger-file": ledger,
              "ledger-flush-interval": "1s",
              "stream.tx": {"domain": "example.com", "selector": "tx-ed"}, "rule.tx": {"stream": "tx"}}
    milter = SignetMilter(args.milter, work, config)
    sink = SmtpSink(os.path.join(work, "capture")).start()
    pf = None
    try:
        milter.start()
        pf = PostfixInstance(os.path.join(work, "postfix"), milter.socket, sink_port=sink.port,
                             capture_dir=sink.out_dir)
        pf.start()
        accepted = []   # monotonic times Postfix answered 250 (the milter had signed by then)
        lock = threading.Lock()
        stop = threading.Event()

        def sender(t):
            n = 0
            while not stop.is_set():
                try:
                    with smtplib.SMTP("127.0.0.1", pf.ports["tx"], local_hostname="client.test", timeout=30) as s:
                        while not stop.is_set():
                            n += 1
                            pf.send_on(s, message(t * 100000 + n), "a@example.com", ["r%d-%d@example.org" % (t, n)])
                            with lock:
                                accepted.append(time.monotonic())
                except (smtplib.SMTPException, OSError):
                    pass  # after the kill: Postfix tempfails (milter_default_action), the session ends
        threads = [threading.Thread(target=sender, args=(t,), daemon=True) for t in range(SESSIONS)]
        for t in threads:
            t.start()
        time.sleep(LOAD_SECONDS)
        killed_at = time.monotonic()
        os.kill(milter.pid, signal.SIGKILL)
        milter.proc.wait(10)
        stop.set()
        for t in threads:
            t.join(60)
        signed = len(signed_lines(milter))
        with lock:
            before = [a for a in accepted if a <= killed_at]
        window = [a for a in before if a > killed_at - INTERVAL - 0.5]
        in_ledger, why = ledger_total(args.signet, ledger)
        rate = len(before) / LOAD_SECONDS
        c.note("kill -9 after %ds of load: %d signed (log), %d accepted by Postfix, %.0f msg/s; ledger %s; "
               "accepted in the last %.1fs: %d" % (LOAD_SECONDS, signed, len(before), rate, in_ledger,
                                                   INTERVAL + 0.5, len(window)))
        if not c.check(in_ledger is not None, "the ledger reads after kill -9", why):
            return
        c.check(signed > 100, "load went through the milter (%d signed)" % signed)
        c.check(in_ledger <= signed, "ledger (%d) <= signed (%d): nothing counted that was not signed" %
                (in_ledger, signed))
        bound = len(window) + SESSIONS
        c.check(signed - in_ledger <= bound,
                "kill -9 lost %d signature(s) of the ledger, at most the last flush interval's (%d)" %
                (signed - in_ledger, bound))

        # Restart on the same ledger: it goes on counting; a clean stop loses nothing.
        os.rename(milter.log_path, milter.log_path + ".killed")
        milter.start()
        since = len(pf.captured())
        for n in range(20):
            pf.send("tx", message(n, "after"), "a@example.com", ["after%d@example.org" % n])
        pf.wait_for(20, timeout=60, since=since)
        rc = milter.stop()
        after, why = ledger_total(args.signet, ledger)
        c.check(rc == 0 and after == in_ledger + 20,
                "restarted, 20 more, SIGTERM: the ledger holds %s = %d + 20 (a clean stop loses none)" %
                (after, in_ledger), why or "exit %s" % rc)
        # As the README reads it: the last week as a table, from a day on as CSV
        # (summed over days: the run may straddle midnight UTC).
        p = subprocess.run([args.signet, "ledger", "--ledger", ledger, "--since", "7d"], capture_output=True, text=True)
        rows = [l.split() for l in p.stdout.splitlines()[1:]]
        c.check(p.returncode == 0 and p.stdout.startswith("day ") and rows and
                all(r[1:5] == ["tx", "example.com", "tx-ed", "ed25519-sha256"] for r in rows) and
                sum(int(r[5]) for r in rows) == after,
                "signet ledger --since 7d: the table holds the %s signatures" % after, p.stdout + p.stderr)
        yesterday = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400))
        p = subprocess.run([args.signet, "ledger", "--ledger", ledger, "--since", yesterday, "--format", "csv"],
                           capture_output=True, text=True)
        lines = p.stdout.splitlines()
        c.check(p.returncode == 0 and lines[:1] == ["day,stream,domain,selector,algorithm,signatures"] and
                sum(int(l.rsplit(",", 1)[1]) for l in lines[1:]) == after,
                "signet ledger --since %s --format csv: the same %s" % (yesterday, after), p.stdout + p.stderr)
    finally:
        if pf is not None:
            pf.stop()
        sink.stop()
        milter.stop()


def full_disk(args, c, work, keys):
    full = os.path.join(work, "full")
    os.makedirs(full)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", full], capture_output=True, text=True)
    if not c.check(p.returncode == 0, "a 1 MB tmpfs for the ledger", p.stderr):
        return
    port = free_port()
    ledger = os.path.join(full, "ledger.sqlite")
    milter = SignetMilter(args.milter, work, {
        "key-directory": keys, "internal-hosts": "127.0.0.1", "ledger-file": ledger, "ledger-flush-interval": "1s",
        "metrics-listen": "127.0.0.1:%d" % port,
        "stream.tx": {"domain": "example.com", "selector": "tx-ed"}, "rule.tx": {"stream": "tx"}}, name="full")
    filler = os.path.join(full, "filler")

    def send(n, tag):
        signed = 0
        for i in range(n):
            _, mods = milter.send_one("%s%d" % (tag, i), b"hello\r\n")
            signed += any(b"DKIM-Signature" in m for _, m in mods)
        return signed

    try:
        milter.start()
        c.check(send(10, "A") == 10, "10 messages signed with the ledger writable")
        c.check(wait_for(lambda: ledger_total(args.signet, ledger)[0] == 10, 5), "the ledger holds the 10",
                ledger_total(args.signet, ledger))
        subprocess.run(["dd", "if=/dev/zero", "of=" + filler, "bs=4k"], capture_output=True)
        st = os.statvfs(full)
        c.note("tmpfs filled: %d bytes free" % (st.f_bavail * st.f_frsize))
        signed = send(30, "B")
        c.check(signed == 30, "the disk full, all 30 messages are still signed (%d)" % signed)
        c.check(wait_for(lambda: metric(port, "signet_ledger_up") == 0, 5), "signet_ledger_up is 0 while it fails")
        time.sleep(3 * INTERVAL)  # several failing flushes
        errors = metric(port, "signet_ledger_write_errors_total")
        pending = metric(port, "signet_ledger_pending_signatures")
        loud = [l for l in milter.log_lines() if "ledger: cannot write" in l]
        c.check(errors is not None and errors >= 3,
                "signet_ledger_write_errors_total counts the failed flushes (%s)" % errors)
        c.check(pending == 30, "signet_ledger_pending_signatures = 30 kept in memory (%s)" % pending)
        c.check(len(loud) == 1 and ("full" in loud[0] or "No space" in loud[0]),
                "one loud log line for the outage, with the reason, not one per flush (%d)" % len(loud),
                one_line("\n".join(loud[:3])))
        if loud:
            c.note("milter: " + loud[0])
        os.unlink(filler)
        c.check(wait_for(lambda: metric(port, "signet_ledger_up") == 1, 5), "space freed: signet_ledger_up is 1 again")
        total, why = ledger_total(args.signet, ledger)
        c.check(total == 40, "the ledger caught up: %s signatures = 10 + 30" % total, why)
        back = [l for l in milter.log_lines() if "is written again" in l]
        c.check(len(back) == 1, "one line for the recovery (%d)" % len(back))
        c.note("full disk: %d write errors, %d pending while full, ledger %s after" % (errors or 0, pending or 0, total))
        rc = milter.stop()
        c.check(rc == 0, "signet-milter exits 0 on SIGTERM", milter.log_tail())
    finally:
        milter.stop()
        subprocess.run(["umount", full], capture_output=True)


def main():
    args = scenario_args(__doc__, milter=True)
    c = Checks()
    work = os.path.abspath(args.work)
    os.chmod(work, 0o755)
    keys = os.path.join(work, "keys")
    make_keys(args.signet, keys, [("example.com", "tx-ed", "ed25519")])
    kill_under_load(args, c, work, keys)
    full_disk(args, c, work, keys)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
