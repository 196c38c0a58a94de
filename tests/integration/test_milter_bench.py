#!/usr/bin/python3
"""milter_bench, the benchmark's load generator, still drives a milter and checks what comes back.

usage: test_milter_bench.py --milter PATH --signet PATH --bench PATH --work DIR

signet-milter dual-signing (RSA-2048 + Ed25519) on a unix socket gets 200
messages over 2 connections (a 2 KB and a 100 KB message, the latter in two
64 KB body chunks); milter_bench must report every message with 2
DKIM-Signature fields, all 200 verified by signet's verifier against the
public keys, and a JSON line with a rate, latencies and the milter's CPU.
The checks can fail: the same run expecting 3 signatures, and one whose
keys file holds another key under the same names, must both exit 1. With
--reuse (one connection per thread) the run passes too. OpenDKIM (Debian's,
configured by bench/opendkim.py) is driven the same way when installed.
"""
import json
import os
import subprocess
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, here)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(here)), "bench"))
from testkit import Checks, SignetMilter, make_keys, one_line, scenario_args  # noqa: E402


def bench(args, socket, extra, pid=None):
    argv = [args.bench, "--socket", socket, "--connections", "2", "--warmup", "5"] + extra
    if pid:
        argv += ["--pid", str(pid)]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    js = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    return p.returncode, (js[0] if js else {}), one_line(p.stdout + p.stderr)


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True,
                         extra=lambda ap: ap.add_argument("--bench", required=True))
    c = Checks()
    keys_file = os.path.join(args.work, "keys.txt")
    keys = make_keys(args.signet, os.path.join(args.work, "keys"),
                     [("example.com", "bench-rsa", "rsa"), ("example.com", "bench-ed", "ed25519")], keys_file=keys_file)
    make_keys(args.signet, os.path.join(args.work, "other"),
                      [("example.com", "bench-rsa", "rsa"), ("example.com", "bench-ed", "ed25519")],
                      keys_file=os.path.join(args.work, "other.txt"))
    milter = SignetMilter(args.milter, args.work, {
        "key-directory": os.path.join(args.work, "keys"), "internal-hosts": "127.0.0.1/32",
        "stream.tx": {"domain": "example.com", "selector": ["bench-rsa", "bench-ed"]},
        "rule.all": {"stream": "tx"}}, socket="unix")
    sizes = ["--size", "2048", "--size", str(100 * 1024)]
    with milter:
        rc, js, out = bench(args, milter.socket, ["--messages", "200", "--expect-signatures", "2", "--keys", keys_file,
                                                  "--verify-sample", "200"] + sizes, milter.pid)
        c.check(rc == 0 and js.get("ok") is True and js.get("verified") == 200 and js.get("errors") == 0
                and js.get("wrong_signature_counts") == 0, "200 messages, 2 signatures each, all 200 verified", out)
        c.check(js.get("msgs_per_s", 0) > 0 and js.get("latency_ms", {}).get("p99", 0) >= js.get("latency_ms", {}).get("p50", 1)
                and (js.get("milter_cpu_ms_per_msg") or 0) > 0, "the JSON line has a rate, p50 <= p99 and the milter's CPU", js)
        rc, js, out = bench(args, milter.socket, ["--messages", "50", "--expect-signatures", "3"] + sizes)
        c.check(rc == 1 and js.get("wrong_signature_counts") == 50, "expecting 3 signatures: all 50 counted wrong, exit 1", out)
        rc, js, out = bench(args, milter.socket, ["--messages", "20", "--expect-signatures", "2", "--keys",
                                                  os.path.join(args.work, "other.txt"), "--verify-sample", "20"] + sizes)
        c.check(rc == 1 and js.get("verified") == 0 and js.get("verify_failed") == 20,
                "verified against other keys under the same names: none pass, exit 1", out)
        rc, js, out = bench(args, milter.socket, ["--messages", "100", "--reuse", "--expect-signatures", "2", "--keys",
                                                  keys_file, "--verify-sample", "10"] + sizes)
        c.check(rc == 0 and js.get("reuse") is True and js.get("verified") == 10, "--reuse: 100 messages, 10 verified", out)
    c.check(milter.returncode == 0, "signet-milter exits 0 on SIGTERM", milter.log_tail())
    if os.access("/usr/sbin/opendkim", os.X_OK):
        from opendkim import OpenDKIM
        with OpenDKIM(os.path.join(args.work, "opendkim"), "unix", "example.com", "bench-rsa", keys[0].path) as od:
            rc, js, out = bench(args, od.socket, ["--messages", "50", "--expect-signatures", "1", "--keys", keys_file,
                                                  "--verify-sample", "50"] + sizes, od.pid)
            c.check(rc == 0 and js.get("verified") == 50, "OpenDKIM: 50 messages, 1 signature each, all verified", out)
    else:
        c.skip("OpenDKIM driven alike", "/usr/sbin/opendkim not installed (scripts/install-deps installs it)")
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
