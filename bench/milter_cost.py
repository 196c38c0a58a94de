#!/usr/bin/python3
"""CPU per message of signet-milter and of Postfix talking to it (issue 12,
part 4), measured as CPU time (utime+stime from /proc), not wall time: the
machine is shared, and CPU seconds per message are what a busy relay pays.

One run starts, side by side, a private Postfix without a milter (the
control), one with signet signing rsa-2048 and one with signet signing
rsa-2048 + ed25519; then sends ROUNDS interleaved rounds of N messages to
each, one SMTP session per message (as smtp-source -> Postfix does), 2 KB
bodies (and --big 1 MB bodies). Postfix's CPU is its master's and every
descendant's (exited children counted through the master's cutime/cstime).
The limit: one bare RSA-2048 sign and SHA-256 of 1 MB, by `openssl speed`
(CPU time) in the same run.

Then, without Postfix, milter_load (tests/integration/milter_load.cc) drives
each milter alone over the milter protocol, one connection per message as
Postfix opens them, and the milter's CPU per message is measured the same way
(--load N messages; --perf FILE records `perf record -g` on the single-key
milter during that run).

usage: milter_cost.py BUILD_DIR [--messages N] [--rounds R] [--big] [--load N] [--perf FILE]
"""
import argparse
import os
import re
import shutil
import smtplib
import subprocess
import sys
import tempfile
import time

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "tests", "integration"))
from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from testkit import SignetMilter, make_keys  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")


def headers(subject):
    return ("From: Bench <bench@example.com>\r\nTo: rcpt@example.org\r\nSubject: %s\r\n"
            "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s@example.com>\r\n\r\n"
            % (subject, subject)).encode()


def body(size):
    line = b"A line of body text for the benchmark, about sixty bytes.\r\n"
    return line * max(1, size // len(line))


def proc_cpu(pid, children=False):
    """utime+stime (+cutime+cstime) of pid in seconds, 0 if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    t = int(fields[11]) + int(fields[12])
    if children:
        t += int(fields[13]) + int(fields[14])
    return t / TICK


def descendants(root):
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    parent[int(d)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


def postfix_cpu(pf):
    master = pf._master_pid()
    return proc_cpu(master, children=True) + sum(proc_cpu(p) for p in descendants(master))


def perf_binary():
    for cand in ["perf"] + sorted(os.listdir("/usr/bin")):
        if cand == "perf" or cand.startswith("perf_"):
            path = shutil.which(cand) or os.path.join("/usr/bin", cand)
            if os.path.exists(path):
                return path
    return "perf"


def openssl_rate(*args):
    out = subprocess.run(["openssl", "speed", "-seconds", "3"] + list(args), capture_output=True, text=True).stdout
    return out


def limits():
    rsa = openssl_rate("rsa2048")
    m = re.search(r"rsa\s+2048 bits\s+([\d.]+)s\s+([\d.]+)s\s+([\d.]+)\s+([\d.]+)", rsa)
    sign_ms = float(m.group(1)) * 1000 if m else float("nan")
    sha = openssl_rate("-bytes", "1048576", "sha256")
    m = re.search(r"sha256\s+([\d.]+)k", sha)
    sha_ms = 1048576 / (float(m.group(1)) * 1000) * 1000 if m else float("nan")
    return sign_ms, sha_ms


class Setup:
    def __init__(self, name, binary, work, selectors, sink_port):
        self.name = name
        self.milter = None
        if selectors:
            self.milter = SignetMilter(binary, work, {
                "user": "postfix", "group": "postfix",
                "key-directory": os.path.join(work, "keys"),
                "trusted-services": "tx-out",
                "internal-hosts": "127.0.0.1/32",  # milter_load's connections
                "dns-check": False,
                "shutdown-timeout": 5,
                "stream.tx": {"domain": "example.com", "selector": selectors},
                "rule.all": {"stream": "tx"},
            }, name=name, socket="unix")
            self.milter.start()
        self.pf = PostfixInstance(os.path.join(work, "postfix-" + name), self.milter.socket if self.milter else "",
                                  sink_port=sink_port)
        self.pf.start()
        self.sent = 0
        self.cpu = {}  # size -> [postfix s, milter s, messages]

    def milter_cpu(self):
        return proc_cpu(self.milter.proc.pid) if self.milter else 0.0

    def send(self, message, n):
        p0, m0 = postfix_cpu(self.pf), self.milter_cpu()
        for _ in range(n):
            with smtplib.SMTP("127.0.0.1", self.pf.ports["tx"], local_hostname="bench.test", timeout=60) as s:
                PostfixInstance.send_on(s, message, "bench@example.com", ["rcpt@example.org"])
        # The last message's delivery to the sink finishes after its 250.
        time.sleep(0.5)
        return postfix_cpu(self.pf) - p0, self.milter_cpu() - m0

    def stop(self):
        self.pf.stop()
        if self.milter:
            self.milter.stop(timeout=30)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--big", action="store_true", help="also 1 MB bodies (N/10 messages)")
    ap.add_argument("--load", type=int, default=2000, help="messages per milter_load run (0: none)")
    ap.add_argument("--postfix", type=int, default=1, help="0: skip the Postfix rounds")
    ap.add_argument("--variant", action="append", default=[],
                    help="NAME=BINARY: a signet-milter build to compare (repeat; default: BUILD's)")
    ap.add_argument("--dual", type=int, default=1, help="0: no rsa+ed25519 milters")
    ap.add_argument("--perf", help="perf record -g output for the single-key milter under milter_load")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    work = tempfile.mkdtemp(prefix="signet-cost.")
    os.chmod(work, 0o755)
    sink = SmtpSink(os.path.join(work, "captured"))
    setups = []
    try:
        make_keys(os.path.join(build, "tools", "signet"), os.path.join(work, "keys"),
                  [("example.com", "bench-rsa", "rsa"), ("example.com", "bench-ed", "ed25519")])
        sink.start()
        variants = [v.split("=", 1) for v in args.variant] or [["signet", os.path.join(build, "milter", "signet-milter")]]
        setups = [Setup("none", None, work, None, sink.port)]
        for name, binary in variants:
            setups.append(Setup(name + "-single", binary, work, ["bench-rsa"], sink.port))
            if args.dual:
                setups.append(Setup(name + "-dual", binary, work, ["bench-rsa", "bench-ed"], sink.port))
        sizes = [("2KB", 2048, args.messages)] + ([("1MB", 1 << 20, max(10, args.messages // 10))] if args.big else [])
        for s in setups:  # warm-up: processes started, caches filled
            s.send(headers("warm") + body(2048), 5)
        results = {}
        for r in range(args.rounds if args.postfix else 0):
            for label, size, n in sizes:
                msg = headers("r%d" % r) + body(size)
                for s in setups:
                    pcpu, mcpu = s.send(msg, n)
                    results.setdefault((s.name, label), []).append((pcpu / n * 1000, mcpu / n * 1000))
        load_results = {}
        for r in range(args.rounds if args.load else 0):
            for s in setups[1:]:
                perf = None
                if args.perf and s is setups[1] and r == 0:
                    perf = subprocess.Popen([perf_binary(), "record", "-g", "-o", args.perf, "-p",
                                             str(s.milter.proc.pid)], stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL)
                    time.sleep(1)
                m0 = s.milter_cpu()
                out = subprocess.run([os.path.join(build, "tests", "integration", "milter_load"), "--socket",
                                      s.milter.socket, "--connections", "2", "--messages", str(args.load),
                                      "--per-connection", "1", "--body-lines", "60"],
                                     capture_output=True, text=True).stdout
                used = s.milter_cpu() - m0
                if perf:
                    perf.send_signal(2)
                    perf.wait()
                signed = re.search(r"signed: (\d+)", out)
                load_results.setdefault(s.name, []).append((used / args.load * 1000,
                                                            int(signed.group(1)) if signed else 0))
        sign_ms, sha_ms = limits()
        print("CPU time per message (ms), %d rounds interleaved, one SMTP session per message" % args.rounds)
        print("limit: bare rsa-2048 sign %.3f ms, sha-256 of 1 MB %.3f ms (openssl speed, CPU time)" % (sign_ms, sha_ms))
        for label, size, n in sizes:
            base = results[("none", label)]
            for name in [s.name for s in setups]:
                rows = results[(name, label)]
                pf = ", ".join("%.3f" % p for p, _ in rows)
                mi = ", ".join("%.3f" % m for _, m in rows)
                ratio_pf = ", ".join("%.2f" % (p / b[0]) for (p, _), b in zip(rows, base))
                limit = sign_ms if size < 100000 else sign_ms + sha_ms
                ratio_mi = ", ".join("%.2f" % (m / limit) for _, m in rows)
                print("%-4s %-14s postfix %s ms (x%s of no milter)  milter %s ms (x%s of the limit)" %
                      (label, name, pf, ratio_pf, mi, ratio_mi), flush=True)
        for name, rows in load_results.items():
            print("milter_load %-14s one connection per message, 2 KB: milter %s ms (x%s of one sign), signed %s" % (
                name, ", ".join("%.3f" % m for m, _ in rows), ", ".join("%.2f" % (m / sign_ms) for m, _ in rows),
                ", ".join(str(n) for _, n in rows)), flush=True)
    finally:
        for s in setups:
            try:
                s.stop()
            except Exception as e:  # noqa: BLE001
                print("stop %s: %s" % (s.name, e), file=sys.stderr)
        sink.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
