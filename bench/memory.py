#!/usr/bin/python3
"""make bench: signet-milter's resident memory stays flat (issue 12: a 50 MB
message adds less than 1 MB of resident memory; no growth over 100 000
messages).

usage: memory.py BUILD_DIR [--quick] [--out DIR] [--messages N] [--sample-every N]
                 [--connections C] [--large-mb MB] [--milter PATH] [--signet PATH] [--bench PATH]

signet-milter runs on a unix socket with one RSA-2048 and one Ed25519 key
(two signatures per message, as `signet dual` in bench/milter_protocol.py);
build/bench/milter_bench drives it as Postfix's smtpd does (one milter
connection per message, the body in 65535-byte chunks). Resident memory is
VmRSS from /proc/PID/status; the peak during a step is VmHWM after resetting
it (`echo 5 > /proc/PID/clear_refs`, proc(5)), and a sampler polling VmRSS
every 2 ms gives a peak where that reset is not allowed.

  warm-up   2000 small (2 KB) messages over the same connections as the long
            run, then the baseline: VmRSS with the milter idle.
  (a) large one message of --large-mb MB (default 50; the file is written to a
            temporary directory), on its own: the peak over the baseline
            (VmHWM) and what is still resident after it, then after 200
            more small messages.
  (b) long  --messages small messages (default 100 000) over --connections
            concurrent connections (default 4), in batches of --sample-every
            (default 5000), VmRSS sampled after each batch. Growth is the last
            sample minus the first plateau (the first sample from which three
            in a row lie within 256 KB), and a least-squares slope over the
            samples from the plateau on, in KB per 10 000 messages.

Every message must come back with both signatures (milter_bench
--expect-signatures 2) and a sample of each batch, and the large message, is
verified against the public keys. Targets: the large message's peak and its
retained memory each under 1 MB over the baseline; over the long run, growth
under 256 KB and a slope under 25 KB per 10 000 messages (no growth beyond the
+-50 KB the samples move by when the allocator is flat). At the baseline and the end /proc/PID/smaps is summed by kind
(the heap, anonymous mappings such as glibc's per-thread arenas and stacks,
files, locked memory: the secure heap) so a growth can be placed.

Writes OUT/memory.md and OUT/memory.json (OUT defaults to bench/results;
--quick writes memory-quick.*: 20 000 messages, for development). Exit 1
when a run fails (a message unsigned, a signature not verifying, the milter
not starting) or, with --assert-large, when the large message misses its
bound; a missed target is otherwise reported, not an exit status.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(here), "tests", "integration"))
sys.path.insert(0, here)
from milter_protocol import bench_argparser  # noqa: E402
from testkit import SignetMilter, make_keys, one_line  # noqa: E402

SMALL = 2048
LARGE_BOUND_KB = 1024          # issue 12: a 50 MB message adds less than 1 MB
# "No growth" over the long run, with room for noise: with a flat allocator
# samples move by +-50 KB (a thread stack's pages touched 20 KB at a time), so
# growth from the plateau to the end under 256 KB, and a slope under 25 KB per
# 10 000 messages (under 256 KB per 100 000).
GROWTH_BOUND_KB = 256
SLOPE_BOUND_KB = 25
PLATEAU_KB = 256               # three samples in a row within this: a plateau


def status(pid, fds=True):
    """VmRSS, VmHWM (KB), threads and (unless fds=False) open descriptors of a process."""
    with open("/proc/%d/status" % pid) as f:
        st = dict(l.split(":", 1) for l in f if ":" in l)
    out = {"rss_kb": int(st["VmRSS"].split()[0]), "hwm_kb": int(st["VmHWM"].split()[0]), "threads": int(st["Threads"])}
    if fds:
        out["fds"] = len(os.listdir("/proc/%d/fd" % pid))
    return out


def reset_hwm(pid):
    """VmHWM back to the current RSS (proc(5), clear_refs value 5); False when not allowed."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def smaps(pid):
    """Rss (KB) summed by kind of mapping, and the count of anonymous mappings."""
    kinds = {"heap": 0, "anon": 0, "stack": 0, "file": 0, "locked": 0}
    anon_maps = 0
    kind = None
    detail = {}  # "start-end" of each anonymous mapping or the heap -> its Rss, to place a growth
    where = None
    try:
        with open("/proc/%d/smaps" % pid) as f:
            for line in f:
                first = line.split(None, 1)[0]
                if not first.endswith(":"):  # a mapping's header line: range perms offset dev inode [path]
                    parts = line.split()
                    path = parts[5] if len(parts) > 5 else ""
                    kind = ("heap" if path == "[heap]" else "stack" if path.startswith("[stack") else
                            "anon" if not path else "file" if path.startswith("/") else None)
                    anon_maps += kind == "anon"
                    # Keyed by where a mapping starts: the heap's end moves as it grows.
                    where = "[heap]" if kind == "heap" else parts[0].split("-")[0] if kind == "anon" else None
                elif first == "Rss:" and kind:
                    kinds[kind] += int(line.split()[1])
                    if where and int(line.split()[1]):
                        detail[where] = int(line.split()[1])
                elif first == "Locked:":
                    kinds["locked"] += int(line.split()[1])
    except OSError:
        return None
    kinds["anon_mappings"] = anon_maps
    kinds["detail"] = detail
    return kinds


class Sampler:
    """VmRSS every 2 ms on a thread: the peak when VmHWM cannot be reset."""

    def __init__(self, pid):
        self.pid, self.peak, self.stop = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        while not self.stop.is_set():
            try:
                self.peak = max(self.peak, status(self.pid, fds=False)["rss_kb"])
            except OSError:
                return
            time.sleep(0.002)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def drive(a, milter, keys_file, extra, label, sample):
    argv = [a.bench, "--socket", milter.socket, "--pid", str(milter.pid), "--expect-signatures", "2", "--keys", keys_file,
            "--verify-sample", str(sample), "--label", label] + extra
    p = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    js = [json.loads(l) for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not js:
        raise RuntimeError("milter_bench %s failed (exit %d): %s" % (label, p.returncode, one_line(p.stderr + p.stdout)))
    return js[0]


def large_message(path, megabytes):
    line = b"The quick brown fox jumps over the lazy dog; a benchmark line of 76 chars..\r\n"
    with open(path, "wb") as f:
        f.write(b"From: Bench Sender <sender@example.com>\r\nTo: Recipient <rcpt@example.org>\r\n"
                b"Subject: a large message\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
                b"Message-ID: <large@example.com>\r\nMIME-Version: 1.0\r\n"
                b"Content-Type: text/plain; charset=us-ascii\r\n\r\n")
        block = line * 13797  # about 1 MiB
        for _ in range(megabytes):
            f.write(block)
    return os.path.getsize(path)


def plateau(samples):
    """Index of the first sample from which three in a row lie within PLATEAU_KB."""
    rss = [s["rss_kb"] for s in samples]
    for i in range(len(rss) - 2):
        if max(rss[i:i + 3]) - min(rss[i:i + 3]) <= PLATEAU_KB:
            return i
    return max(0, len(rss) // 10)


def slope_per_10k(samples):
    """Least-squares slope of VmRSS over messages sent, in KB per 10 000 messages."""
    if len(samples) < 2:
        return 0.0
    xs = [s["messages"] for s in samples]
    ys = [s["rss_kb"] for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return 0.0 if den == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den * 10000


def grown(before, after):
    """The anonymous mappings (and the heap) whose Rss changed between two smaps() sums, KB."""
    if not before or not after:
        return {}
    b, e = before["detail"], after["detail"]
    return {k: e.get(k, 0) - b.get(k, 0) for k in sorted(set(b) | set(e)) if e.get(k, 0) != b.get(k, 0)}


def run(a, work):
    keys_file = os.path.join(work, "keys.txt")
    make_keys(a.signet, os.path.join(work, "keys"),
              [("example.com", "bench-rsa", "rsa", 2048), ("example.com", "bench-ed", "ed25519")], keys_file=keys_file)
    milter = SignetMilter(a.milter, work, {
        "user": "postfix", "group": "postfix", "key-directory": os.path.join(work, "keys"),
        "internal-hosts": "127.0.0.1/32", "shutdown-timeout": 5,
        "stream.tx": {"domain": "example.com", "selector": ["bench-rsa", "bench-ed"]},
        "rule.all": {"stream": "tx"}}, name="signet-memory", socket="unix",
        env=dict(e.split("=", 1) for e in a.milter_env) or None)
    conns = ["--connections", str(a.connections)]
    small = ["--size", str(SMALL)]
    out = {"started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with milter:
        pid = milter.pid
        out["start"] = status(pid)
        drive(a, milter, keys_file, conns + small + ["--messages", "2000", "--warmup", "0"], "warm-up", 5)
        time.sleep(0.5)
        base = status(pid)
        out["baseline"] = dict(base, smaps=smaps(pid))
        print("baseline after 2000 small messages: VmRSS %d KB, VmHWM %d KB, %d threads" % (
            base["rss_kb"], base["hwm_kb"], base["threads"]), flush=True)

        # (a) one large message on its own.
        path = os.path.join(work, "large.eml")
        size = large_message(path, a.large_mb)
        hwm_reset = reset_hwm(pid)
        before = status(pid)
        with Sampler(pid) as sampler:
            r = drive(a, milter, keys_file, ["--connections", "1", "--messages", "1", "--warmup", "0",
                                             "--message", path], "%d MB" % a.large_mb, 1)
        after = status(pid)
        peak = after["hwm_kb"] if hwm_reset else sampler.peak
        drive(a, milter, keys_file, conns + small + ["--messages", "200", "--warmup", "0"], "after", 5)
        time.sleep(0.2)
        later = status(pid)
        large = {"bytes": size, "signed_and_verified": r["verified"] == 1, "seconds": r["seconds"],
                 "rss_before_kb": before["rss_kb"], "peak_kb": peak, "peak_from": "VmHWM" if hwm_reset else "sampler",
                 "sampler_peak_kb": sampler.peak, "rss_after_kb": after["rss_kb"],
                 "rss_after_200_small_kb": later["rss_kb"],
                 "peak_increase_kb": peak - base["rss_kb"], "retained_kb": after["rss_kb"] - base["rss_kb"],
                 "retained_after_small_kb": later["rss_kb"] - base["rss_kb"], "smaps_after": smaps(pid)}
        large["met"] = large["peak_increase_kb"] < LARGE_BOUND_KB and large["retained_kb"] < LARGE_BOUND_KB
        out["large"] = large
        print("%d MB message (%.1f s, verified): peak %+d KB over the baseline (%s), %+d KB resident after it, "
              "%+d KB after 200 small ones" % (a.large_mb, r["seconds"], large["peak_increase_kb"], large["peak_from"],
                                               large["retained_kb"], large["retained_after_small_kb"]), flush=True)
        os.unlink(path)

        # (b) the long run, sampled every batch.
        samples = [dict(status(pid), messages=0)]
        sent = verified = 0
        t0 = time.monotonic()
        while sent < a.messages:
            n = min(a.sample_every, a.messages - sent)
            r = drive(a, milter, keys_file, conns + small + ["--messages", str(n), "--warmup", "0"],
                      "batch %d" % (sent // a.sample_every + 1), 5)
            sent += n
            verified += r["verified"]
            samples.append(dict(status(pid), messages=sent, msgs_per_s=r["msgs_per_s"],
                                milter_cpu_ms_per_msg=r["milter_cpu_ms_per_msg"], smaps=smaps(pid)))
            s = samples[-1]
            print("  %6d messages: VmRSS %d KB, VmHWM %d KB, %d threads, %d fds (%.0f msgs/s)" % (
                sent, s["rss_kb"], s["hwm_kb"], s["threads"], s["fds"], r["msgs_per_s"]), flush=True)
        seconds = time.monotonic() - t0
        p = plateau(samples[1:]) + 1
        long_run = {"messages": sent, "connections": a.connections, "sample_every": a.sample_every,
                    "seconds": seconds, "verified": verified, "samples": samples, "plateau_index": p,
                    "milter_cpu_ms_per_msg": sum(s["milter_cpu_ms_per_msg"] * (s["messages"] - q["messages"])
                                                 for q, s in zip(samples, samples[1:])) / sent,
                    "plateau_messages": samples[p]["messages"], "plateau_rss_kb": samples[p]["rss_kb"],
                    "end_rss_kb": samples[-1]["rss_kb"], "growth_kb": samples[-1]["rss_kb"] - samples[p]["rss_kb"],
                    "slope_kb_per_10k": slope_per_10k(samples[p:]),
                    "threads": [samples[1]["threads"], samples[-1]["threads"]],
                    "fds": [samples[1]["fds"], samples[-1]["fds"]], "smaps_plateau": samples[p].get("smaps"),
                    "smaps_end": smaps(pid)}
        long_run["grown_mappings_kb"] = grown(long_run["smaps_plateau"], long_run["smaps_end"])
        for s in samples:
            s.pop("smaps", None)
        long_run["met"] = long_run["growth_kb"] < GROWTH_BOUND_KB and long_run["slope_kb_per_10k"] < SLOPE_BOUND_KB
        out["long"] = long_run
        print("%d messages in %.0f s (%d verified, milter CPU %.3f ms per message): plateau %d KB at %d messages, end %d KB: growth %+d KB, "
              "slope %+.1f KB per 10 000 messages" % (
                  sent, seconds, verified, long_run["milter_cpu_ms_per_msg"], long_run["plateau_rss_kb"], long_run["plateau_messages"],
                  long_run["end_rss_kb"], long_run["growth_kb"], long_run["slope_kb_per_10k"]), flush=True)
        print("mappings whose Rss changed from the plateau to the end (KB): %s" % (
            ", ".join("%s %+d" % kv for kv in long_run["grown_mappings_kb"].items()) or "none"), flush=True)
    if milter.returncode != 0:
        raise RuntimeError("signet-milter exited %s: %s" % (milter.returncode, milter.log_tail()))
    return out


def fmt_smaps(s):
    if not s:
        return "-"
    return "heap %d, anon %d (%d mappings), stacks %d, files %d, locked %d" % (
        s["heap"], s["anon"], s["anon_mappings"], s["stack"], s["file"], s["locked"])


def markdown(a, out, seconds):
    lg, lr, b = out["large"], out["long"], out["baseline"]
    L = ["# Resident memory (issue 12: memory flat)", "",
         "Written by `bench/memory.py%s` on %s in %.0f s; load average %.1f at the end. signet-milter on a unix "
         "socket, RSA-2048 + Ed25519 (two signatures per message), driven by milter_bench as Postfix drives it "
         "(one milter connection per message, body in 65535-byte chunks); every message came back with both "
         "signatures and a sample of each batch verified. VmRSS/VmHWM from /proc/PID/status." % (
             " --quick" if a.quick else "", out["started"], seconds, os.getloadavg()[0]), "",
         "| | |", "|---|---|",
         "| at start | VmRSS %d KB, %d threads |" % (out["start"]["rss_kb"], out["start"]["threads"]),
         "| baseline (after 2000 small messages over %d connections, idle) | VmRSS %d KB, %d threads |" % (
             a.connections, b["rss_kb"], b["threads"]),
         "| baseline by mapping (smaps Rss, KB) | %s |" % fmt_smaps(b["smaps"]),
         "", "## One %d MB message" % a.large_mb, "",
         "| | KB over the baseline | target | met |", "|---|---|---|---|",
         "| peak while it was signed (%s) | %+d | < %d | %s |" % (
             lg["peak_from"], lg["peak_increase_kb"], LARGE_BOUND_KB,
             "yes" if lg["peak_increase_kb"] < LARGE_BOUND_KB else "**no**"),
         "| resident after it | %+d | < %d | %s |" % (lg["retained_kb"], LARGE_BOUND_KB,
                                                       "yes" if lg["retained_kb"] < LARGE_BOUND_KB else "**no**"),
         "| resident after 200 more small messages | %+d | | |" % lg["retained_after_small_kb"],
         "", "By mapping after it (smaps Rss, KB): %s." % fmt_smaps(lg["smaps_after"]),
         "", "## %d small messages over %d connections" % (lr["messages"], lr["connections"]), "",
         "%.0f s (%.0f msgs/s, milter CPU %.3f ms per message), VmRSS sampled every %d messages; %d of the sampled "
         "messages verified." % (lr["seconds"], lr["messages"] / lr["seconds"], lr["milter_cpu_ms_per_msg"],
                                 lr["sample_every"], lr["verified"]), "",
         "| | | target | met |", "|---|---|---|---|",
         "| first plateau | %d KB at %d messages | | |" % (lr["plateau_rss_kb"], lr["plateau_messages"]),
         "| end | %d KB | | |" % lr["end_rss_kb"],
         "| growth, plateau to end | %+d KB | < %d KB | %s |" % (lr["growth_kb"], GROWTH_BOUND_KB,
                                                              "yes" if lr["growth_kb"] < GROWTH_BOUND_KB else "**no**"),
         "| fitted slope from the plateau | %+.1f KB per 10 000 messages | < %d | %s |" % (
             lr["slope_kb_per_10k"], SLOPE_BOUND_KB, "yes" if lr["slope_kb_per_10k"] < SLOPE_BOUND_KB else "**no**"),
         "| threads, fds (first sample -> end) | %d -> %d, %d -> %d | | |" % (
             lr["threads"][0], lr["threads"][1], lr["fds"][0], lr["fds"][1]),
         "", "By mapping at the end (smaps Rss, KB): %s." % fmt_smaps(lr["smaps_end"]), "",
         "VmRSS (KB) per sample: " + ", ".join("%d: %d" % (s["messages"], s["rss_kb"]) for s in lr["samples"]) + ".",
         ""]
    return "\n".join(L)


def main():
    ap = bench_argparser()
    ap.add_argument("--messages", type=int)
    ap.add_argument("--sample-every", type=int)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--large-mb", type=int, default=50)
    ap.add_argument("--assert-large", action="store_true",
                    help="exit 1 when the large message's peak or retained memory reaches 1 MB")
    ap.add_argument("--milter-env", action="append", default=[], metavar="NAME=VALUE",
                    help="in the milter's environment (compare allocator settings: GLIBC_TUNABLES=...)")
    ap.add_argument("--milter")
    ap.add_argument("--signet")
    ap.add_argument("--bench")
    a = ap.parse_args()
    build = os.path.abspath(a.build)
    a.milter = a.milter or os.path.join(build, "milter", "signet-milter")
    a.signet = a.signet or os.path.join(build, "tools", "signet")
    a.bench = a.bench or os.path.join(build, "bench", "milter_bench")
    a.messages = a.messages or (20000 if a.quick else 100000)
    a.sample_every = a.sample_every or max(1, a.messages // 20)
    for what, path in (("signet-milter", a.milter), ("signet", a.signet), ("milter_bench", a.bench)):
        if not os.access(path, os.X_OK):
            print("memory: %s not found at %s: build it first (cmake --build %s --target %s), or give its path "
                  "with --%s" % (what, path, build, what, {"signet-milter": "milter", "signet": "signet",
                                                            "milter_bench": "bench"}[what]), file=sys.stderr)
            return 2
    started = time.monotonic()
    work = tempfile.mkdtemp(prefix="signet-memory.")
    os.chmod(work, 0o755)
    try:
        out = run(a, work)
    except (RuntimeError, OSError) as e:
        print("memory: " + str(e), file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(work, ignore_errors=True)
    seconds = time.monotonic() - started
    out.update(mode="quick" if a.quick else "full", seconds=seconds, targets={
        "large_kb": LARGE_BOUND_KB, "growth_kb": GROWTH_BOUND_KB, "slope_kb_per_10k": SLOPE_BOUND_KB})
    os.makedirs(a.out, exist_ok=True)
    stem = os.path.join(a.out, "memory" + ("-quick" if a.quick else ""))
    with open(stem + ".md", "w") as f:
        f.write(markdown(a, out, seconds))
    with open(stem + ".json", "w") as f:
        json.dump(out, f, indent=1)
    print("large message: %s; long run: %s; wrote %s.md and .json (%.0f s)" % (
        "met" if out["large"]["met"] else "MISSED", "flat" if out["long"]["met"] else "MISSED (grows)", stem, seconds))
    return 1 if a.assert_large and not out["large"]["met"] else 0


if __name__ == "__main__":
    sys.exit(main())
