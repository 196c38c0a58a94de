#!/usr/bin/python3
"""The cost of privilege-separation = on, through the milter protocol, in one run.

usage: privsep_cost.py BUILD_DIR [--quick] [--rounds N] [--messages M] [--out DIR]

Four signet-milters run side by side on unix sockets, as bench/milter_protocol.py
runs them (user postfix, one milter connection per message, milter_bench):
privilege-separation off and on, each with one RSA-2048 key and with RSA-2048 +
Ed25519 (two signatures, so two round trips to the signer per message). Each
round runs every configuration once at 1 and at 8 connections with a 2 KB
message; rounds are interleaved, so drift on this shared machine shows as a
range rather than as a difference. Every message must come back signed; a sample
is verified. Reported: messages/s (the issue's bar: on >= 95% of off, same
round), and CPU per message of the milter and, with privsep on, of the signer
(utime+stime from /proc/PID/stat: milter_bench sees the milter's only).

Writes OUT/privsep_cost.md and OUT/privsep_cost.json (OUT: bench/results;
-quick.md/.json with --quick). make bench runs it.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "tests", "integration"))
sys.path.insert(0, here)
from milter_protocol import bench_argparser, run_bench, signet_milter  # noqa: E402
from testkit import make_keys  # noqa: E402

CONFIGS = [("off rsa", False, ["bench-rsa"], 1), ("on rsa", True, ["bench-rsa"], 1),
           ("off dual", False, ["bench-rsa", "bench-ed"], 2), ("on dual", True, ["bench-rsa", "bench-ed"], 2)]


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime


def signer_pid(pid):
    for tid in os.listdir("/proc/%d/task" % pid):
        kids = open("/proc/%d/task/%s/children" % (pid, tid)).read().split()
        if kids:
            return int(kids[0])
    return None


def main():
    ap = bench_argparser()  # BUILD_DIR, --quick, --out
    ap.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 4; --quick 1)")
    ap.add_argument("--messages", type=int, default=None, help="messages per run (default 2000; --quick 300)")
    args = ap.parse_args()
    args.rounds = args.rounds or (1 if args.quick else 4)
    args.messages = args.messages or (300 if args.quick else 2000)
    suffix = "-quick" if args.quick else ""
    build = os.path.abspath(args.build)
    hz = os.sysconf("SC_CLK_TCK")
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="signet-privsep-cost.")
    os.chmod(work, 0o755)
    milters, runs = {}, []
    try:
        keys_file = os.path.join(work, "keys.txt")
        make_keys(os.path.join(build, "tools", "signet"), os.path.join(work, "keys"),
                  [("example.com", "bench-rsa", "rsa", 2048), ("example.com", "bench-ed", "ed25519")],
                  keys_file=keys_file)
        for label, on, selectors, _ in CONFIGS:
            m = signet_milter(os.path.join(build, "milter", "signet-milter"), work, "privsep-" + label.replace(" ", "-"), "unix", selectors)
            m.config["privilege-separation"] = on
            milters[label] = m
        for m in milters.values():
            m.start()
        for rnd in range(1, args.rounds + 1):
            print("round %d" % rnd, flush=True)
            for conns in (1, 8):
                for label, on, _, expect in CONFIGS:
                    m = milters[label]
                    sp = signer_pid(m.pid) if on else None
                    before = cpu_ticks(sp) if sp else 0
                    r = run_bench(build, m, "privsep " + label, "2 KB", conns, args.messages, expect, keys_file, 10)
                    if sp:
                        r["signer_cpu_ms_per_msg"] = (cpu_ticks(sp) - before) * 1000.0 / hz / args.messages
                    r.update(config=label, round=rnd)
                    runs.append(r)
    finally:
        for m in milters.values():
            m.stop()
        shutil.rmtree(work, ignore_errors=True)

    lines = ["# privilege-separation on vs off, 2 KB, through the milter protocol", "",
             "Written by `bench/privsep_cost.py%s` on %s in %.0f s; load average %.1f at the end. %d interleaved "
             "rounds of %d messages per cell; signer CPU is the signer process's utime+stime over the same run." % (
                 " --quick" if args.quick else "", time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                 time.monotonic() - started, os.getloadavg()[0], args.rounds, args.messages), "",
             "| config | connections | msgs/s per round | milter CPU ms/msg | signer CPU ms/msg |", "|---|---|---|---|---|"]
    for label, on, _, _ in CONFIGS:
        for conns in (1, 8):
            rs = [r for r in runs if r["config"] == label and r["connections"] == conns]
            lines.append("| %s | %d | %s | %s | %s |" % (
                label, conns, ", ".join("%.0f" % r["msgs_per_s"] for r in rs),
                ", ".join("%.3f" % r["milter_cpu_ms_per_msg"] for r in rs),
                ", ".join("%.3f" % r["signer_cpu_ms_per_msg"] for r in rs) if on else "-"))
    lines += ["", "| ratio on/off, msgs/s (same round) | connections | per round | target |", "|---|---|---|---|"]
    for keys in ("rsa", "dual"):
        for conns in (1, 8):
            ratios = []
            for rnd in range(1, args.rounds + 1):
                a = [r for r in runs if r["config"] == "on " + keys and r["connections"] == conns and r["round"] == rnd]
                b = [r for r in runs if r["config"] == "off " + keys and r["connections"] == conns and r["round"] == rnd]
                if a and b:
                    ratios.append(a[0]["msgs_per_s"] / b[0]["msgs_per_s"])
            lines.append("| %s | %d | %s | >= 0.95 |" % (keys, conns, ", ".join("%.3f" % v for v in ratios)))
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "privsep_cost%s.md" % suffix), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "privsep_cost%s.json" % suffix), "w") as f:
        json.dump(runs, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
