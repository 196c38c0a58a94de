#!/usr/bin/python3
"""make bench, last step: bench/RESULTS.md from the parts the benchmarks wrote.

usage: results.py [--results DIR] [--out FILE] [--quick]

Each benchmark writes its own section (bench/results/NAME.md, with the
ratios against issue 12's targets computed in its own run, so every ratio
compares figures taken minutes apart on the same machine, never across
runs). This puts them in one file in a fixed order, under a header saying
which machine, which versions and how loaded the machine was, since on a
shared 2-core machine the load is the first thing a reader must know.
With --quick it reads the NAME-quick.md files the benchmarks' quick modes
write and marks the result as not for figures.
"""
import argparse
import datetime
import os
import platform
import subprocess

here = os.path.dirname(os.path.abspath(__file__))
top = os.path.dirname(here)

# The order a reader wants: the limit first, then each layer outward.
SECTIONS = [
    ("milter_protocol", "signet and OpenDKIM through the milter protocol, against the limits"),
    ("pipeline", "through a real Postfix: smtp-source -> Postfix -> smtp-sink"),
    ("scale", "up to 100 000 streams"),
    ("config_load", "loading the configuration of 20 000 and 100 000 streams (bench/config_load_bench, JSON)"),
    ("pkcs11", "signing through a PKCS#11 token (SoftHSM2, a software token: not an HSM), bench/pkcs11_bench"),
    ("signet_bench", "micro-benchmarks (bench/signet_bench, Google Benchmark)"),
    ("privsep_cost", "privilege-separation = on against off: the signer process's cost (bench/privsep_cost.py)"),
    ("memory", "resident memory: one 50 MB message, 100 000 small ones (bench/memory.py)"),
    ("soak", "the soak"),
]


def command(*argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "not found"


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name):
    v = command("dpkg-query", "-W", "-f=${Version}", name)
    return v or "not installed"


def header(quick):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rev = command("git", "-C", top, "rev-parse", "--short", "HEAD")
    dirty = command("git", "-C", top, "status", "--porcelain", "--untracked-files=no")
    load = open("/proc/loadavg").read().split()[:3]
    lines = [
        "# signet benchmark results",
        "",
        "Written by `make bench` (bench/results.py) on %s from signet %s%s." % (now, rev, " (uncommitted changes)" if dirty else ""),
        "The method is in docs/PERFORMANCE.md; every ratio below was measured within one benchmark's run.",
        "",
        "| machine | |",
        "|---|---|",
        "| CPU | %d x %s |" % (os.cpu_count() or 0, cpu_model()),
        "| kernel | %s |" % platform.release(),
        "| load average when written (1, 5, 15 min) | %s |" % ", ".join(load),
        "| OpenSSL | %s |" % command("openssl", "version"),
        "| libsodium | %s |" % package_version("libsodium23"),
        "| libmilter | %s |" % package_version("libmilter1.0.1"),
        "| Postfix | %s |" % package_version("postfix"),
        "| OpenDKIM | %s |" % package_version("opendkim"),
        "| SoftHSM2 | %s |" % package_version("softhsm2"),
        "",
    ]
    if quick:
        lines += ["**Quick mode**: fewer messages and rounds, for development; not for the figures.", ""]
    if float(load[0]) > 1.5:
        lines += ["The machine was shared while this ran (load average above 1.5): CPU-time ratios hold,",
                  "wall-clock rates are depressed and drift between rounds; each benchmark gives ranges.", ""]
    return lines


def google_benchmark_section(json_path, title):
    """A Google Benchmark --benchmark_out JSON as a table (signet_bench and pkcs11_bench write no markdown)."""
    import json
    data = json.load(open(json_path))
    rows = ["## " + title[0].upper() + title[1:], "",
            "| benchmark | CPU time per iteration | bytes/s or items/s |", "|---|---|---|"]
    for b in data.get("benchmarks", []):
        if b.get("run_type") == "aggregate":
            continue
        rate = ""
        if "bytes_per_second" in b:
            rate = "%.2f MB/s" % (b["bytes_per_second"] / 1e6)
        elif "items_per_second" in b:
            rate = "%.0f/s" % b["items_per_second"]
        rows.append("| %s | %.3g %s | %s |" % (b["name"], b["cpu_time"], b.get("time_unit", "ns"), rate))
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--results", default=os.path.join(here, "results"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    out = a.out or os.path.join(here, "RESULTS-quick.md" if a.quick else "RESULTS.md")
    lines = header(a.quick)
    missing = []
    for name, title in SECTIONS:
        path = os.path.join(a.results, name + ("-quick" if a.quick else "") + ".md")
        gb = path[:-3] + ".json"
        if name in ("signet_bench", "pkcs11") and os.path.exists(gb):
            lines += google_benchmark_section(gb, title) + [""]
            continue
        txt = path[:-3] + ".txt"
        if not os.path.exists(path) and os.path.exists(txt):
            # A benchmark that prints its figures (the soak): its output as written.
            lines += ["## " + title[0].upper() + title[1:], "", "```"] + open(txt).read().strip().splitlines() + ["```", ""]
            continue
        if not os.path.exists(path):
            missing.append("%s (%s)" % (name, title))
            continue
        text = open(path).read().strip().splitlines()
        # Each part's headings go one level down: its "# Title" becomes a
        # section of this file.
        text = ["#" + t if t.startswith("#") else t for t in text]
        lines += text + [""]
    if missing:
        lines += ["## Not in this run", ""] + ["- " + m for m in missing] + [""]
    with open(out + ".tmp", "w") as f:
        f.write("\n".join(lines))
    os.replace(out + ".tmp", out)
    print("results: wrote %s (%d sections%s)" % (out, len(SECTIONS) - len(missing),
                                                  ", missing: " + ", ".join(m.split()[0] for m in missing) if missing else ""))


if __name__ == "__main__":
    main()
