#!/usr/bin/python3
"""make bench: signing throughput through a real Postfix, one SMTP session,
signet-milter on a unix socket vs on inet (TCP), in the same run.

For each socket, one SMTP session on the trusted `tx` service sends N
messages; Postfix runs the milter inline before it answers 250, so the
session's rate is the rate the milter lets Postfix go at. A third run turns
signet's TCP tuning off (SIGNET_TCP_TUNING=off), showing the delayed-ACK
stall every TCP milter without it has (OpenDKIM measured 0.09).
Target: inet >= 0.8 of unix.

usage: postfix_throughput.py BUILD_DIR [--messages N]
"""
import argparse
import os
import shutil
import smtplib
import sys
import tempfile
import time

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "tests", "integration"))
from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from testkit import SignetMilter, make_keys  # noqa: E402

MESSAGE = (b"From: Bench <bench@example.com>\r\nTo: rcpt@example.org\r\nSubject: throughput\r\n"
           b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n" + b"A line of body text for the benchmark.\r\n" * 40)


def run(build, work, mode, n):
    milter = SignetMilter(os.path.join(build, "milter", "signet-milter"), work, {
        "user": "postfix", "group": "postfix",
        "key-directory": os.path.join(work, "keys"),
        "trusted-services": "tx-out",
        "shutdown-timeout": 5,
        "stream.tx": {"domain": "example.com", "selector": ["bench-rsa", "bench-ed"]},
        "rule.all": {"stream": "tx"},
    }, name=mode, socket="unix" if mode == "unix" else "inet",
        env={"SIGNET_TCP_TUNING": "off"} if mode == "inet-untuned" else None)
    sink = SmtpSink(os.path.join(work, mode + "-captured"))
    try:
        milter.start()
        sink.start()
        with PostfixInstance(os.path.join(work, "postfix-" + mode), milter.socket, sink_port=sink.port) as pf:
            with smtplib.SMTP("127.0.0.1", pf.ports["tx"], local_hostname="bench.test", timeout=60) as s:
                s.ehlo()
                PostfixInstance.send_on(s, MESSAGE, "bench@example.com", ["rcpt@example.org"])  # warm-up
                start = time.monotonic()
                for _ in range(n):
                    PostfixInstance.send_on(s, MESSAGE, "bench@example.com", ["rcpt@example.org"])
                rate = n / (time.monotonic() - start)
    finally:
        sink.stop()
        milter.stop(timeout=30)
    signed = sum(1 for line in milter.log_lines() if ": signed stream=tx" in line)
    return rate, signed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--messages", type=int, default=200)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="signet-bench.")
    os.chmod(work, 0o755)
    try:
        make_keys(os.path.join(build, "tools", "signet"), os.path.join(work, "keys"),
                  [("example.com", "bench-rsa", "rsa"), ("example.com", "bench-ed", "ed25519")])
        results = {}
        for mode in ("unix", "inet", "inet-untuned"):
            n = args.messages if mode != "inet-untuned" else max(10, args.messages // 10)
            results[mode] = run(build, work, mode, n)
            print("postfix one session, milter on %-13s %7.1f msg/s (%d signed)" % (mode + ":", *results[mode]),
                  flush=True)
        ratio = results["inet"][0] / results["unix"][0]
        untuned = results["inet-untuned"][0] / results["unix"][0]
        print("ratio inet/unix through Postfix       : %.2f (target >= 0.80)  %s" % (ratio, "OK" if ratio >= 0.8 else "MISSED"))
        print("ratio inet/unix with TCP tuning off   : %.2f (the stall signet avoids; OpenDKIM: 0.09)" % untuned)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
