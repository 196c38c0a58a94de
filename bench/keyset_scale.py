#!/usr/bin/python3
"""make bench: a key set of 100 000 streams (an ESP's tenant count), each with
an rsa-2048 and an ed25519 key and its own routing rule, behind the real
signet-milter, driven over the milter protocol by
tests/integration/milter_load (issue 12, part 5).

Measures, in one run:
  cold start        start to "started": configuration (N streams, N rules),
                    manifest (2N keys), every key file read and parsed
  reload, unchanged SIGHUP with every key file as it was (target < 2 s)
  reload, all new   SIGHUP after the key directory was swapped for one where
                    every key differs (all 2N parsed again), idle and under
                    signing load: p99 latency of messages started during
                    a reload within 2x of steady state, and no pause
  memory            resident memory (VmRSS) total, and per stream against a
                    milter holding one stream
  throughput        messages/s with senders spread uniformly over 1 (a
                    single stream), 10 000 and N streams, interleaved in two
                    rounds (target: N streams >= 0.9 of one)
  routing           bench/route_bench: ns per route() with 10 rules and
                    with N (target: within 10%), and the linear scan it
                    replaced

The 2N key files are hard links to a pool of distinct keys (generating 200 000
RSA-2048 keys takes hours on 2 cores), in tmpfs: every file is opened, read,
hashed, parsed and held separately, as distinct keys are, but the CPU caches see fewer distinct
key bytes than 200 000 real keys would give them.

usage: keyset_scale.py BUILD_DIR [--quick] [--streams N] [--pool P] [--out PREFIX]
  --quick: 10 000 streams, shorter runs (development; under 1.5 minutes)
  writes PREFIX.md and PREFIX.json (default bench/results/scale, or
  bench/results/scale-quick with --quick)
"""
import argparse
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "integration"))
from testkit import SignetMilter, iso, keygen  # noqa: E402

RELOADED = r"reloaded, \d+ streams, \d+ keys \((\d+) parsed\) in (\d+) ms"


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class KeySet:
    """N streams in WORK: key trees keys-g0 and keys-g1 (the two halves of the
    pool, so that swapping one for the other changes every key), the symlink
    `keys` the configuration names, and the configuration."""

    def __init__(self, work, streams, pool_dir, half):
        self.work, self.streams, self.pool, self.half = work, streams, pool_dir, half
        self.link = os.path.join(work, "keys")
        self.now = int(time.time())

    def write_tree(self, generation):
        root = os.path.join(self.work, "keys-g%d" % generation)
        os.makedirs(root, mode=0o700)
        for n in range(self.streams):
            d = os.path.join(root, "t%d.example" % n)
            os.mkdir(d, 0o700)
            for alg in ("rsa", "ed25519"):
                # A hard link: one syscall per file for the fixture; the
                # milter still opens, reads, hashes and parses each path.
                os.link(os.path.join(self.pool, "%s%d.key" % (alg, generation * self.half + n % self.half)),
                        os.path.join(d, "s-%s.key" % alg))
        out = ["# scale benchmark"]
        for n in range(self.streams):
            for alg, bits in (("rsa", 2048), ("ed25519", 256)):
                out += ["", "[key]", "stream = t%d" % n, "domain = t%d.example" % n, "selector = s-%s" % alg,
                        "algorithm = " + alg, "bits = %d" % bits, "owner = bench",
                        "file = t%d.example/s-%s.key" % (n, alg), "created = " + iso(self.now - 100),
                        "published-at = " + iso(self.now - 100), "active-from = " + iso(self.now - 50),
                        "active-until = ", "retire-at = ", "retired-at = "]
        with open(os.path.join(root, "manifest"), "w") as f:
            f.write("\n".join(out) + "\n")

    def point_at(self, generation):
        tmp = self.link + ".tmp"
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink("keys-g%d" % generation, tmp)
        os.replace(tmp, self.link)

    def config(self):
        # 100 000 streams x (RSA-2048 + Ed25519) need about 620 MiB of secure
        # heap once every key has signed, twice that while a reload of every
        # key overlaps (docs/key-custody.md); only what is used is resident.
        c = {"key-directory": self.link, "internal-hosts": "127.0.0.1/32", "dns-check": False,
             "secure-heap-size": 2147483648}
        for n in range(self.streams):
            c["stream.t%d" % n] = {"domain": "t%d.example" % n}
        for n in range(self.streams):  # one rule per tenant, by From domain: routing goes through the index
            c["rule.t%d" % n] = {"from-domain": "t%d.example" % n, "stream": "t%d" % n}
        return c


class Run:
    def __init__(self, build, milter):
        self.build, self.milter, self.seen = build, milter, 0

    def reload(self, settle=0.6):
        """SIGHUP; wait for its reload line and for any reload inotify starts
        after it. Returns (ms, parsed, t_signal, t_done) (monotonic)."""
        t0 = time.monotonic()
        self.milter.signal(signal.SIGHUP)
        line, self.seen = self.milter.wait_log(r"SIGHUP: " + RELOADED, after=self.seen, timeout=600)
        m = re.search(RELOADED, line)
        t1 = time.monotonic()
        while True:  # a reload inotify queued behind ours counts as part of this one
            time.sleep(settle)
            lines = self.milter.log_lines()
            extra = [l for l in lines[self.seen:] if re.search(RELOADED, l)]
            if not extra:
                break
            self.seen = len(lines)
            t1 = time.monotonic()
        return int(m.group(2)), int(m.group(1)), t0, t1

    def load(self, seconds, spread, latency_out=None, connections=4, until_file=None):
        argv = [os.path.join(self.build, "tests", "integration", "milter_load"), "--socket", self.milter.socket,
                "--connections", str(connections), "--messages", "1", "--min-seconds", str(seconds),
                "--from-domains", str(spread)]
        if latency_out:
            argv += ["--latency-out", latency_out]
        if until_file:
            argv += ["--until-file", until_file]
        return subprocess.Popen(argv, stdout=subprocess.PIPE, text=True)

    def throughput(self, seconds, spread):
        cpu0 = cpu_s(self.milter.pid)
        p = self.load(seconds, spread)
        out, _ = p.communicate(timeout=seconds + 120)
        cpu = cpu_s(self.milter.pid) - cpu0
        m = re.search(r"messages sent: (\d+) in ([\d.]+) s", out)
        if p.returncode != 0 or not m:
            raise SystemExit("milter_load failed (spread over %d streams):\n%s" % (spread, out))
        n, s = int(m.group(1)), float(m.group(2))
        return {"streams": spread, "messages": n, "seconds": s, "msgs_per_s": n / s, "milter_cpu_ms_per_msg": 1000 * cpu / n}


def start_milter(build, work, config, name):
    milter = SignetMilter(os.path.join(build, "milter", "signet-milter"), work, config, name=name)
    t = time.monotonic()
    milter.start(timeout=900)
    _, seen = milter.wait_log(r"started: socket", timeout=900)
    return milter, time.monotonic() - t, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--streams", type=int)
    ap.add_argument("--pool", type=int, default=32)
    ap.add_argument("--out")
    ap.add_argument("--keep-latency", help="copy the under-reload latency record (start_s latency_ms per message) here")
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    streams = args.streams or (10000 if args.quick else 100000)
    out = args.out or os.path.join(HERE, "results", "scale-quick" if args.quick else "scale")
    tp_seconds = 4 if args.quick else 6
    spreads = sorted({1, min(10000, streams), streams})
    signet = os.path.join(build, "tools", "signet")
    # tmpfs when there is one: the fixture is 2 x 2N files, and what is
    # measured is the milter's work, not the disk's.
    work = tempfile.mkdtemp(prefix="signet-scale.", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    res = {"streams": streams, "keys": 2 * streams, "distinct_keys": 2 * args.pool, "quick": args.quick,
           "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                       "load_average_at_start": os.getloadavg()}}
    milters = []
    t_all = time.monotonic()
    try:
        # Routing alone, through the real configuration loader.
        r = subprocess.run([os.path.join(build, "bench", "route_bench"), "10", str(streams)], capture_output=True,
                           text=True, timeout=300)
        if r.returncode != 0:
            raise SystemExit("route_bench failed: " + r.stderr)
        res["routing"] = json.loads(r.stdout)["rule_sets"]
        small, big = res["routing"][0], res["routing"][-1]
        res["routing_ratio"] = big["route_ns"] / small["route_ns"]
        print("routing: %d rules %.0f ns, %d rules %.0f ns (ratio %.2f, target <= 1.10); linear scan at %d rules: %.0f ns"
              % (small["rules"], small["route_ns"], big["rules"], big["route_ns"], res["routing_ratio"], big["rules"],
                 big["scan_ns"]), flush=True)

        t = time.monotonic()
        pool = os.path.join(work, "pool")
        os.makedirs(pool)
        for i in range(args.pool):
            for alg in ("rsa", "ed25519"):
                keygen(signet, os.path.join(pool, "%s%d.key" % (alg, i)), alg, check=True)
        ks = KeySet(work, streams, pool, args.pool // 2)
        ks.write_tree(0)
        ks.write_tree(1)
        ks.point_at(0)
        res["fixture_s"] = time.monotonic() - t
        print("fixture: %d streams, 2 trees of %d key files linked to %d distinct keys, in %.0f s"
              % (streams, 2 * streams, 2 * args.pool, res["fixture_s"]), flush=True)

        # Memory of a milter holding one stream: what the per-stream figure is counted from.
        base_dir = os.path.join(work, "base")
        os.makedirs(base_dir)
        one = KeySet(base_dir, 1, pool, args.pool // 2)
        one.write_tree(0)
        one.point_at(0)
        m1, _, _ = start_milter(build, base_dir, one.config(), "base")
        milters.append(m1)
        time.sleep(0.5)
        base_rss = rss_mb(m1.pid)
        m1.stop(timeout=30)
        milters.remove(m1)

        milter, cold, seen = start_milter(build, work, ks.config(), "scale")
        milters.append(milter)
        run = Run(build, milter)
        run.seen = seen
        rss = rss_mb(milter.pid)
        res["cold_start_s"] = cold
        res["rss_mb"] = {"one_stream": base_rss, "after_cold_start": rss}
        res["rss_kb_per_stream_after_start"] = (rss - base_rss) * 1024 / streams
        print("cold start (config, manifest, %d keys read and parsed): %.1f s; RSS %.0f MB (one stream: %.0f MB), "
              "%.1f KB per stream" % (2 * streams, cold, rss, base_rss, res["rss_kb_per_stream_after_start"]),
              flush=True)

        # Reloads, nothing else running.
        idle = {"unchanged": [], "all_new": []}
        gen = 0
        for kind in ("unchanged", "unchanged", "all_new"):
            if kind == "all_new":
                gen ^= 1
                ks.point_at(gen)
            ms, parsed, _, _ = run.reload()
            idle[kind].append({"ms": ms, "parsed": parsed})
        res["reload_idle"] = idle
        for kind, runs in idle.items():
            print("reload, idle, %-9s: %s" % (kind, ", ".join("%d ms (%d parsed)" % (x["ms"], x["parsed"]) for x in runs)),
                  flush=True)

        # Throughput, spread over 1, 10 000 and N streams, two interleaved rounds.
        tp = {s: [] for s in spreads}
        for _ in range(2):
            for s in spreads:
                tp[s].append(run.throughput(tp_seconds, s))
        res["rss_mb"]["after_spread_signing"] = rss_mb(milter.pid)
        res["throughput"] = [{"streams": s, "runs": tp[s], "best_msgs_per_s": max(x["msgs_per_s"] for x in tp[s])}
                             for s in spreads]
        single = max(x["msgs_per_s"] for x in tp[1])
        for s in spreads:
            best = max(x["msgs_per_s"] for x in tp[s])
            print("throughput spread over %6d streams: %s msg/s (milter CPU %s ms/msg), ratio to one stream %.2f"
                  % (s, " / ".join("%.0f" % x["msgs_per_s"] for x in tp[s]),
                     " / ".join("%.2f" % x["milter_cpu_ms_per_msg"] for x in tp[s]), best / single), flush=True)
        res["throughput_ratio"] = max(x["msgs_per_s"] for x in tp[streams]) / single

        # Reloads under signing load (spread over every stream): first a
        # key-directory swap that changes every key, then unchanged reloads,
        # with some seconds of steady state before, between and after. The
        # load runs until the last reload is over (milter_load --until-file):
        # a fixed-length load that ended inside a reload (one of every key
        # takes 2-3x as long under load as idle) counted the rest of the
        # reload as a stretch with no message finishing (the 53.9 s "stall"
        # of an earlier run, whose slowest message took 291 ms).
        kinds = ["all_new", "unchanged", "unchanged"] + (["all_new", "unchanged"] if args.quick else ["unchanged"])
        steady_s = 3 if args.quick else 4
        lat_file = os.path.join(work, "latency.txt")
        stop_file = os.path.join(work, "load.stop")
        t_load = time.monotonic()
        load = run.load(0, streams, latency_out=lat_file, until_file=stop_file)
        windows, under = [], {"unchanged": [], "all_new": []}
        time.sleep(steady_s)
        for kind in kinds:
            if kind == "all_new":
                gen ^= 1
                ks.point_at(gen)
            ms, parsed, a, b = run.reload()
            under[kind].append({"ms": ms, "parsed": parsed})
            windows.append((a - t_load, b - t_load))
            time.sleep(1.0)
        time.sleep(steady_s)
        open(stop_file, "w").close()
        load_out, _ = load.communicate(timeout=300)
        res["load_seconds"] = time.monotonic() - t_load
        res["reload_windows_s"] = windows
        if args.keep_latency:
            shutil.copyfile(lat_file, args.keep_latency)
        if load.returncode != 0:
            raise SystemExit("milter_load under reloads failed:\n" + load_out)
        res["rss_mb"]["after_reloads"] = rss_mb(milter.pid)
        steady, during, ends = [], [], []
        with open(lat_file) as f:
            for line in f:
                s, ms = (float(x) for x in line.split())
                (during if any(a <= s <= b for a, b in windows) else steady).append(ms)
                ends.append(s + ms / 1000)
        ends.sort()
        gaps = []  # the longest stretch with no message finishing, inside each reload window
        for a, b in windows:
            inside = [e for e in ends if a <= e <= b]
            pts = [a] + inside + [b]
            gaps.append(max(y - x for x, y in zip(pts, pts[1:])) * 1000)
        res["reload_under_load"] = under
        res["latency_ms"] = {
            "steady": {"p50": pct(steady, 50), "p99": pct(steady, 99), "max": max(steady), "n": len(steady)},
            "during_reload": {"p50": pct(during, 50), "p99": pct(during, 99), "max": max(during) if during else None,
                              "n": len(during)},
            "longest_gap_without_a_finished_message_ms": max(gaps) if gaps else None,
        }
        res["latency_ratio_p99"] = pct(during, 99) / pct(steady, 99)
        for kind, runs in under.items():
            print("reload under load, %-9s: %s" % (kind, ", ".join("%d ms (%d parsed)" % (x["ms"], x["parsed"])
                                                                   for x in runs)), flush=True)
        L = res["latency_ms"]
        print("latency steady       : p50 %.2f  p99 %.2f  max %.1f ms (%d messages)"
              % (L["steady"]["p50"], L["steady"]["p99"], L["steady"]["max"], L["steady"]["n"]))
        print("latency during reload: p50 %.2f  p99 %.2f  max %.1f ms (%d messages); longest gap %.0f ms"
              % (L["during_reload"]["p50"], L["during_reload"]["p99"], L["during_reload"]["max"] or 0,
                 L["during_reload"]["n"], L["longest_gap_without_a_finished_message_ms"] or 0), flush=True)
        print("RSS: %s" % ", ".join("%s %.0f MB" % kv for kv in res["rss_mb"].items()))

        unchanged_all = [x["ms"] for x in idle["unchanged"] + under["unchanged"]]
        res["targets"] = {
            "reload_unchanged_under_2s": {"value_ms": max(unchanged_all), "ok": max(unchanged_all) < 2000},
            "p99_during_reload_within_2x": {"value": res["latency_ratio_p99"], "ok": res["latency_ratio_p99"] <= 2.0},
            "throughput_spread_at_least_0.9": {"value": res["throughput_ratio"], "ok": res["throughput_ratio"] >= 0.9},
            "routing_within_10pct": {"value": res["routing_ratio"], "ok": res["routing_ratio"] <= 1.10},
        }
        res["total_s"] = time.monotonic() - t_all
        res["machine"]["load_average_at_end"] = os.getloadavg()
        for name, t in res["targets"].items():
            print("target %-32s %-8.3g %s" % (name, t.get("value", t.get("value_ms")), "OK" if t["ok"] else "MISSED"))
        write_results(out, res)
        print("wrote %s.md and %s.json (%.0f s in all)" % (out, out, res["total_s"]))
    finally:
        for m in milters:
            m.stop(timeout=60)
        if os.environ.get("SIGNET_BENCH_KEEP"):
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)


def write_results(prefix, r):
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    with open(prefix + ".json", "w") as f:
        json.dump(r, f, indent=1)
    L, T = r["latency_ms"], r["targets"]
    ok = lambda t: "ok" if t["ok"] else "**missed**"  # noqa: E731
    md = ["# Key sets at scale: %d streams, %d keys (bench/keyset_scale.py%s)" % (r["streams"], r["keys"],
                                                                               " --quick" if r["quick"] else ""),
          "",
          "%d CPUs, Linux %s, load average %.1f at start and %.1f at end: the machine is shared (other builds run),"
          " so every figure is noisy; throughput is the better of two interleaved rounds." % (
              r["machine"]["cpus"], r["machine"]["kernel"], r["machine"]["load_average_at_start"][0],
              r["machine"]["load_average_at_end"][0]),
          "The %d key files are hard links to %d distinct keys (generating %d RSA-2048 keys takes hours here); each"
          " file is read, hashed, parsed and held on its own." % (r["keys"], r["distinct_keys"], r["streams"]),
          "",
          "| target | measured | goal | |",
          "|---|---|---|---|",
          "| reload, key files unchanged | %.0f ms (slowest) | < 2000 ms | %s |" % (
              T["reload_unchanged_under_2s"]["value_ms"], ok(T["reload_unchanged_under_2s"])),
          "| p99 latency during reloads / steady | %.2f | <= 2.0 | %s |" % (
              T["p99_during_reload_within_2x"]["value"], ok(T["p99_during_reload_within_2x"])),
          "| throughput over %d streams / one stream | %.2f | >= 0.90 | %s |" % (
              r["streams"], T["throughput_spread_at_least_0.9"]["value"], ok(T["throughput_spread_at_least_0.9"])),
          "| route() with %d rules / with 11 | %.2f | <= 1.10 | %s |" % (
              r["routing"][-1]["rules"], T["routing_within_10pct"]["value"], ok(T["routing_within_10pct"])),
          "",
          "| measure | value |",
          "|---|---|",
          "| cold start (config, manifest, every key read and parsed) | %.1f s |" % r["cold_start_s"],
          "| reload idle, unchanged | %s |" % ", ".join("%d ms" % x["ms"] for x in r["reload_idle"]["unchanged"]),
          "| reload idle, every key new | %s |" % ", ".join("%d ms (%d parsed)" % (x["ms"], x["parsed"])
                                                          for x in r["reload_idle"]["all_new"]),
          "| reload under load, unchanged | %s |" % (", ".join("%d ms" % x["ms"] for x in r["reload_under_load"]["unchanged"])
                                                   or "none: the full reload took the whole load window"),
          "| reload under load, every key new | %s |" % ", ".join(
              "%d ms (%d parsed)" % (x["ms"], x["parsed"]) for x in r["reload_under_load"]["all_new"]),
          "| latency steady p50 / p99 / max | %.2f / %.2f / %.1f ms (%d messages) |" % (
              L["steady"]["p50"], L["steady"]["p99"], L["steady"]["max"], L["steady"]["n"]),
          "| latency during reloads p50 / p99 / max | %.2f / %.2f / %.1f ms (%d messages) |" % (
              L["during_reload"]["p50"], L["during_reload"]["p99"], L["during_reload"]["max"] or 0,
              L["during_reload"]["n"]),
          "| longest time with no message finishing, during a reload | %.0f ms |" % (
              L["longest_gap_without_a_finished_message_ms"] or 0),
          "| RSS, one stream | %.0f MB |" % r["rss_mb"]["one_stream"],
          "| RSS after cold start | %.0f MB (%.1f KB per stream) |" % (r["rss_mb"]["after_cold_start"],
                                                                    r["rss_kb_per_stream_after_start"]),
          "| RSS after signing spread over every stream | %.0f MB |" % r["rss_mb"]["after_spread_signing"],
          "| RSS after the reloads | %.0f MB |" % r["rss_mb"]["after_reloads"],
          "",
          "| senders spread over | msg/s (two rounds) | milter CPU ms/msg | ratio to one stream |",
          "|---|---|---|---|"]
    single = r["throughput"][0]["best_msgs_per_s"]
    for t in r["throughput"]:
        md.append("| %d streams | %s | %s | %.2f |" % (
            t["streams"], " / ".join("%.0f" % x["msgs_per_s"] for x in t["runs"]),
            " / ".join("%.2f" % x["milter_cpu_ms_per_msg"] for x in t["runs"]), t["best_msgs_per_s"] / single))
    md += ["", "| rules | config load | route() | linear scan |", "|---|---|---|---|"]
    for x in r["routing"]:
        md.append("| %d | %.2f s | %.0f ns | %.0f ns |" % (x["rules"], x["config_load_s"], x["route_ns"], x["scan_ns"]))
    md.append("")
    with open(prefix + ".md", "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    main()
