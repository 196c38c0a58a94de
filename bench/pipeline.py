#!/usr/bin/python3
"""make bench: the Postfix pipeline (issue 12, part 2).

    smtp-source -> a private Postfix (127.0.0.1, with or without a milter) -> smtp-sink

one SMTP connection per message (smtp-source without -d), RSA-2048,
relaxed/relaxed. Configurations, all running at once and measured in turn,
interleaved within each round (round 1: every configuration at every size and
session count, then round 2 the same), so that a slow minute of this shared
machine spreads over all of them instead of landing on one:

    none          no milter (the control)
    signet-unix   signet-milter on a unix socket, rsa-2048
    signet-inet   signet-milter on 127.0.0.1 TCP, rsa-2048
    signet-dual   signet-milter on a unix socket, rsa-2048 + ed25519
    opendkim-unix Debian's opendkim on a unix socket (bench/opendkim.py),
                  configured like signet, same RSA key

at 1 and 8 parallel sessions, 2 KB and 1 MB bodies. Each configuration has
its own Postfix instance (tests/integration/postfix_harness.py) so its CPU is
its own; all relay to one smtp-sink that writes every message to a tmpfs
file.

Per run it records:
  messages/s        messages delivered to the sink over the time from starting
                    smtp-source to the last delivery (Postfix's log line
                    status=sent, polled every 10 ms); the sink's files are
                    counted too, and both counts must equal what was sent;
  Postfix CPU/msg   user+system CPU of every process of that Postfix instance,
                    see postfix_cpu();
  milter CPU/msg    user+system CPU of the milter process (/proc/PID/stat,
                    every thread; plus any live children);
  signatures        the DKIM-Signature fields of every delivered message are
                    counted (1, 2 for dual, 0 for the control) and a sample is
                    verified with dkimpy against the test keys' records.
Any delivered message unsigned, a short count or a failed verification makes
the exit status 1.

The queue and the captures live on tmpfs (/dev/shm) so that the shared disk's
fsync latency does not set the rate: the benchmark is about CPU.

usage: pipeline.py BUILD_DIR [--quick] [--configs A,B] [--sizes 2k,1m]
                   [--sessions 1,8] [--rounds N] [--messages N] [--out DIR]

Each run sends FULL_SECONDS (QUICK_SECONDS) worth of messages at the
control's rate, at least MIN_COUNT. Full mode (2 rounds, 40 runs) measured
2-3 minutes at load average 22 on this 2-CPU machine, and should stay under
5 with it idle (more messages per run then); --quick (1 round) took 1m40s
at load 22, 55 s of it five `postfix start`s, which take a few seconds idle.
Results: OUT/pipeline.md and OUT/pipeline.json (OUT/pipeline-quick.* with
--quick; default OUT is bench/results).
"""
import argparse
import concurrent.futures
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "tests", "integration"))
sys.path.insert(0, os.path.join(top, "bench"))
from postfix_harness import PostfixInstance  # noqa: E402
from testkit import SignetMilter, dkimpy_results, free_port, make_dnsfunc, make_keys  # noqa: E402

try:
    from opendkim import OpenDKIM  # bench/opendkim.py (the milter-protocol bench's helper)
except ImportError:
    OpenDKIM = None

SMTP_SOURCE = "/usr/sbin/smtp-source"
SMTP_SINK = "/usr/sbin/smtp-sink"
DOMAIN = "example.com"
RSA_SELECTOR, ED_SELECTOR = "bench-rsa", "bench-ed"

CONFIGS = ("none", "signet-unix", "signet-inet", "signet-dual", "opendkim-unix")
LABELS = {"none": "no milter", "signet-unix": "signet unix", "signet-inet": "signet inet",
          "signet-dual": "signet rsa+ed25519", "opendkim-unix": "OpenDKIM unix"}
EXPECTED_SIGNATURES = {"none": 0, "signet-unix": 1, "signet-inet": 1, "signet-dual": 2, "opendkim-unix": 1}
SIZES = {"2k": 2048, "1m": 1 << 20}
SIZE_LABELS = {"2k": "2 KB", "1m": "1 MB"}
# Messages per run: the control's rate in that cell (measured first, see
# calibrate()) times this many seconds, within the bounds; every
# configuration and round of a cell sends the same number. A fixed count
# would not bound the time: this machine's rates vary tenfold with its load.
FULL_SECONDS, QUICK_SECONDS = 3.0, 0.8
# A loaded machine: no fewer, for the CPU figures' precision (half with --quick).
MIN_COUNT = {"2k": 120, "1m": 16}
MAX_COUNT = {"2k": 2000, "1m": 200}
TICK = os.sysconf("SC_CLK_TCK")


# -- CPU accounting -----------------------------------------------------------

def proc_stat(pid):
    """(ppid, utime, stime, cutime, cstime) in clock ticks, or None when gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()   # comm may hold spaces and parentheses
    # fields[0] is state (stat field 3): ppid is field 4, utime..cstime 14-17.
    return int(fields[1]), int(fields[11]), int(fields[12]), int(fields[13]), int(fields[14])


def children_of(parent):
    """Live direct children of parent: {pid: stat}. From each thread's
    /proc/PID/task/TID/children (CONFIG_PROC_CHILDREN), else by a scan of
    /proc (slower: every process's stat)."""
    out = {}
    try:
        pids = set()
        for tid in os.listdir("/proc/%d/task" % parent):
            with open("/proc/%d/task/%s/children" % (parent, tid)) as f:
                pids.update(int(p) for p in f.read().split())
    except FileNotFoundError:
        pids = [int(n) for n in os.listdir("/proc") if n.isdigit()]
    for pid in pids:
        st = proc_stat(pid)
        if st and st[0] == parent:
            out[pid] = st
    return out


def run_ns(pid):
    """CPU time of a single-threaded process in ns (/proc/PID/schedstat's
    first field, the scheduler's exact sum), or None."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def postfix_cpu(master_pid):
    """CPU used so far by one Postfix instance, in seconds: the master's
    own, what it reaped, each live daemon's {pid: (name, seconds)}; see
    postfix_by_daemon() for a run's share.

    Every Postfix daemon (smtpd, cleanup, qmgr, trivial-rewrite, smtp,
    postlogd, anvil, ...) is a direct child of that instance's master, which
    reaps each one when it exits (max_use, max_idle). So the instance's total
    is the master's own utime+stime, plus cutime+cstime (the children it has
    reaped), plus the CPU of the children alive now (and what they reaped).
    Taken before and after a run, the difference is the run's CPU: a child
    alive at both is counted by its growth, one that exits in between moves
    from the live sum to the master's cutime whole. (A cgroup would do the
    same, but without systemd here the v1 hierarchy is the container's and
    cannot be split safely.)

    Precision: /proc/PID/stat reports in clock ticks (10 ms), each field
    truncated, and a run has some 15 live daemons; so a live daemon is read
    from /proc/PID/schedstat in ns instead (Postfix daemons have one thread;
    the kernel scales utime+stime to that same sum, so a child's time does
    not jump when it is reaped). Only a child exiting in the instant between
    the reads could be miscounted; they are taken while the instance is idle."""
    m = proc_stat(master_pid)
    if m is None:
        raise RuntimeError("Postfix master %d is gone" % master_pid)
    live = {}
    for pid, st in children_of(master_pid).items():
        ns = run_ns(pid)
        try:
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
        except OSError:
            comm = "?"
        live[pid] = (comm, (ns / 1e9 if ns is not None else (st[1] + st[2]) / TICK) + (st[3] + st[4]) / TICK)
    return {"master": (m[1] + m[2]) / TICK, "reaped": (m[3] + m[4]) / TICK, "live": live}


def postfix_by_daemon(before, after):
    """{daemon name: CPU seconds between two postfix_cpu() readings}: a
    daemon alive at both by its growth, one started since whole, and the
    ones that exited in between (smtpd after max_use connections, mostly)
    together as "exited": what the master reaped less what they had used
    at the first reading. The values sum to the instance's total."""
    out = {"master": after["master"] - before["master"]}
    for pid, (comm, secs) in after["live"].items():
        out[comm] = out.get(comm, 0.0) + secs - before["live"].get(pid, (comm, 0.0))[1]
    out["exited"] = after["reaped"] - before["reaped"] - sum(
        secs for pid, (_, secs) in before["live"].items() if pid not in after["live"])
    return out


def milter_cpu(pid):
    """CPU seconds of the milter process (all its threads, the ended ones
    too: signet and libmilter (OpenDKIM) run a thread per connection, so most of them have
    ended), plus live children. Only /proc/PID/stat has the ended threads'
    time, in clock ticks: a run's figure is good to 1/TICK s, i.e. 0.08 ms
    per message over 120 messages."""
    st = proc_stat(pid)
    if st is None:
        raise RuntimeError("milter process %d is gone" % pid)
    ticks = st[1] + st[2] + st[3] + st[4]
    for c in children_of(pid).values():
        ticks += c[1] + c[2]
    return ticks / TICK


# -- the message, the sink ------------------------------------------------------

def write_message(path, body_bytes):
    """A message file for smtp-source -F: LF lines (smtp-source sends CRLF),
    a header a sender would write, and body_bytes of body in 72-character
    lines (74 bytes with the CRLF on the wire), none starting with '.'."""
    head = ("From: Bench Sender <bench@%s>\nTo: Recipient <rcpt@example.org>\n"
            "Subject: pipeline benchmark\nDate: Wed, 02 Dec 2026 10:00:00 +0000\n"
            "Message-ID: <pipeline-bench@%s>\nMIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n\n" % (DOMAIN, DOMAIN))
    line = ("The quick brown fox jumps over the lazy dog; pipeline benchmark body. " * 2)[:72] + "\n"
    with open(path, "w") as f:
        f.write(head + line * max(1, body_bytes // (len(line) + 1)))


class Delivered:
    """Counts the messages an instance's smtp client handed to the sink
    (its log's status=sent lines: the sink answered 250 to the end of
    DATA), reading only what the log gained since the last call."""

    def __init__(self, maillog):
        self.maillog = maillog
        self.offset = 0
        self.count = 0
        self.partial = b""

    def poll(self):
        try:
            with open(self.maillog, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return self.count
        self.offset += len(data)
        data = self.partial + data
        cut = data.rfind(b"\n") + 1
        self.partial = data[cut:]
        self.count += data[:cut].count(b" status=sent ")
        return self.count


class Sink:
    """/usr/sbin/smtp-sink writing each message to CAP/cur/HHMMSS.RANDOM.
    next_run() moves what it captured aside (the sink recreates cur/)."""

    def __init__(self, work):
        self.base = os.path.join(work, "capture")
        os.makedirs(self.base)
        shutil.chown(self.base, "nobody")   # the sink runs as nobody (-u)
        self.cur = os.path.join(self.base, "cur")
        self.port = free_port()
        self.proc = None
        self.runs = 0

    def start(self):
        self.log = open(os.path.join(os.path.dirname(self.base), "smtp-sink.log"), "wb")
        # -m: enough simultaneous connections for every Postfix smtp client.
        self.proc = subprocess.Popen([SMTP_SINK, "-u", "nobody", "-m", "512",
                                      "-d", os.path.join(self.cur, "%H%M%S."),
                                      "127.0.0.1:%d" % self.port, "256"],
                                     stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 10
        from testkit import listening_ports
        while self.port not in listening_ports():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("smtp-sink did not listen on 127.0.0.1:%d (exit %s)"
                                   % (self.port, self.proc.poll()))
            time.sleep(0.05)

    def take(self):
        """Move the current captures aside; return their directory."""
        self.runs += 1
        dest = os.path.join(self.base, "run%03d" % self.runs)
        if os.path.isdir(self.cur):
            os.rename(self.cur, dest)
        else:
            os.makedirs(dest)
        return dest

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def captured_message(data):
    """The message as Postfix sent it, from one smtp-sink dump file: the
    sink's own records (X-Client-Addr ... and its 3-line Received) dropped,
    LF lines back to CRLF."""
    lines = data.split(b"\n")
    i = 0
    while i < len(lines) and lines[i].startswith(b"X-"):
        i += 1
    if i < len(lines) and lines[i].startswith(b"Received: ") and b"smtp-sink" in lines[i + 1]:
        i += 3
    return b"\r\n".join(lines[i:])


def signature_count(msg):
    """DKIM-Signature fields in the header block."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    return sum(1 for line in head.split(b"\r\n") if line[:15].lower() == b"dkim-signature:")


# -- the configurations ------------------------------------------------------

class Config:
    def __init__(self, name, work, milter, sink_port):
        self.name = name
        self.milter = milter     # None, a SignetMilter or an OpenDKIM
        self.postfix = PostfixInstance(os.path.join(work, "postfix-" + name),
                                       milter.socket if milter else None, sink_port=sink_port)
        self.delivered = Delivered(self.postfix.maillog)

    def start(self):
        if self.milter:
            self.milter.start()
        self.postfix.start(timeout=120)   # 5 at once on a loaded machine: postfix check is slow

    def stop(self):
        self.postfix.stop()
        if self.milter:
            self.milter.stop()

    @property
    def milter_pid(self):
        return self.milter.pid if self.milter else None


def signet_milter(binary, work, name, socket, selectors):
    return SignetMilter(binary, work, {
        "user": "postfix", "group": "postfix",
        "key-directory": os.path.join(work, "keys"),
        "trusted-services": "tx-out",
        "shutdown-timeout": 5,
        "stream.tx": {"domain": DOMAIN, "selector": selectors, "canonicalization": "relaxed/relaxed"},
        "rule.all": {"stream": "tx"},
    }, name=name, socket=socket)


def make_config(name, milter_bin, work, sink_port):
    if name == "none":
        milter = None
    elif name == "signet-unix":
        milter = signet_milter(milter_bin, work, name, "unix", [RSA_SELECTOR])
    elif name == "signet-inet":
        milter = signet_milter(milter_bin, work, name, "inet", [RSA_SELECTOR])
    elif name == "signet-dual":
        milter = signet_milter(milter_bin, work, name, "unix", [RSA_SELECTOR, ED_SELECTOR])
    elif name == "opendkim-unix":
        milter = OpenDKIM(os.path.join(work, "opendkim"), socket="unix", domain=DOMAIN, selector=RSA_SELECTOR,
                          key_pem_path=os.path.join(work, "keys", DOMAIN, RSA_SELECTOR + ".key"))
    else:
        raise ValueError(name)
    return Config(name, work, milter, sink_port)


# -- one run ---------------------------------------------------------------------

def send(cfg, msg_file, sessions, n, timeout):
    """smtp-source -s sessions -m n, one connection per message (no -d);
    waits until Postfix has handed every message to the sink. Returns
    (seconds from starting smtp-source to the last hand-over, messages
    handed over, smtp-source's complaint or "")."""
    argv = [SMTP_SOURCE, "-s", str(sessions), "-m", str(n), "-F", msg_file, "-M", "bench.test",
            "-f", "bench@" + DOMAIN, "-t", "rcpt@example.org", "127.0.0.1:%d" % cfg.postfix.ports["tx"]]
    base = cfg.delivered.poll()
    start = time.monotonic()
    src = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           text=True)
    # Postfix relays each message after it answered its DATA: poll the log
    # (10 ms, small against runs of seconds) until all n are through, or the
    # count stops moving once smtp-source is done.
    end = last = None
    moved = time.monotonic()
    while True:
        got = cfg.delivered.poll() - base
        now = time.monotonic()
        if got >= n:
            end = now
            break
        if got != last:
            last, moved = got, now
        if src.poll() is not None and now - moved > 5:
            break
        if now - start > timeout:
            src.kill()
            break
        time.sleep(0.01)
    err = src.communicate()[1]
    complaint = "" if src.returncode == 0 else "smtp-source exit %s: %s" % (src.returncode, err.strip()[-300:])
    if end is None:
        end = moved
    return max(end - start, 1e-6), got, complaint


def check_run(capture_dir, expected, dnsfunc, sample):
    """Count signatures in every captured message; verify `sample` of them
    (spread over the run) with dkimpy. Returns (messages, wrong signature
    count, verified, failed [(file, detail)])."""
    names = sorted(os.listdir(capture_dir))
    pick = set(names[i * len(names) // sample] for i in range(sample)) if expected and names and sample else set()
    unsigned, verified, failed = 0, 0, []
    for name in names:
        with open(os.path.join(capture_dir, name), "rb") as f:
            msg = captured_message(f.read())
        count = signature_count(msg)
        if count != expected:
            unsigned += 1
            if len(failed) < 5:
                failed.append((name, "%d DKIM-Signature fields, expected %d" % (count, expected)))
            continue
        if name in pick:
            results = dkimpy_results(msg, dnsfunc)
            bad = [(t.get("s"), err) for t, ok, err in results if not ok]
            if bad or len(results) != expected:
                failed.append((name, "dkimpy: %r" % (bad,)))
            else:
                verified += 1
    shutil.rmtree(capture_dir)
    return len(names), unsigned, verified, failed


def measure(cfg, sink, msg_file, size, sessions, n, round_no, dnsfunc, sample):
    pf_pid = cfg.postfix.master_pid
    mpid = cfg.milter_pid
    pf0 = postfix_cpu(pf_pid)
    m0 = milter_cpu(mpid) if mpid else 0.0
    seconds, handed, complaint = send(cfg, msg_file, sessions, n, timeout=300)
    capture_dir = sink.take()
    time.sleep(0.2)   # qmgr removes the queue files after the smtp client's report: count that too
    pf1 = postfix_cpu(pf_pid)
    by_daemon = postfix_by_daemon(pf0, pf1)
    m1 = milter_cpu(mpid) if mpid else 0.0
    checking = time.monotonic()
    delivered, unsigned, verified, failed = check_run(capture_dir, EXPECTED_SIGNATURES[cfg.name], dnsfunc,
                                                      sample if size == "2k" else min(sample, 1))
    checking = time.monotonic() - checking
    per = max(delivered, 1)
    r = {"config": cfg.name, "size": size, "sessions": sessions, "round": round_no, "sent": n,
         "delivered": delivered, "seconds": round(seconds, 4), "msgs_per_s": round(delivered / seconds, 2),
         "postfix_cpu_ms": round(sum(by_daemon.values()) * 1000 / per, 3),
         "postfix_cpu_ms_by_daemon": {k: round(v * 1000 / per, 3) for k, v in sorted(by_daemon.items())},
         "milter_cpu_ms": round((m1 - m0) * 1000 / per, 3) if mpid else None,
         "unsigned": unsigned, "verified": verified, "check_seconds": round(checking, 2),
         "load1": round(os.getloadavg()[0], 1), "failures": failed + ([("smtp-source", complaint)]
                                                                           if complaint else [])}
    if delivered != n or handed != n:
        r["failures"].append(("count", "%d of %d messages reached the sink (%d logged as sent)"
                              % (delivered, n, handed)))
    return r


def calibrate(cfg, sink, msg_file, size, sessions, budget):
    """Messages per run for one cell: budget seconds at the rate of a short
    run of the first configuration (the control when it runs), bounded."""
    n = max(4, 2 * sessions) if size == "2k" else max(3, sessions)
    seconds, handed, _ = send(cfg, msg_file, sessions, n, timeout=120)
    shutil.rmtree(sink.take())
    rate = handed / seconds
    floor = MIN_COUNT[size] if budget >= FULL_SECONDS else MIN_COUNT[size] // 2
    return int(min(MAX_COUNT[size], max(floor, rate * budget)))


# -- the report ----------------------------------------------------------------

def span(values, fmt="%.0f"):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return fmt % lo if fmt % lo == fmt % hi else (fmt % lo) + "-" + (fmt % hi)


def pick(runs, **kw):
    return [r for r in runs if all(r[k] == v for k, v in kw.items())]


def paired_ratios(runs, num, den, key, size, sessions):
    """num/den of `key` within each round (both measured minutes apart at most)."""
    out = []
    for a in pick(runs, config=num, size=size, sessions=sessions):
        for b in pick(runs, config=den, size=size, sessions=sessions, round=a["round"]):
            if a[key] and b[key]:
                out.append(a[key] / b[key])
    return out


def verdict(values, target, at_least):
    if not values:
        return "not measured"
    ok = min(values) >= target if at_least else max(values) <= target
    return "met" if ok else ("missed" if (max(values) < target if at_least else min(values) > target) else "partly")


def daemon_table(runs, configs, sizes, sessions_list):
    """Where Postfix's CPU goes, at 2 KB and the most sessions (the target's
    cell): per daemon, per message, the mean over the rounds."""
    size, s = ("2k" if "2k" in sizes else sizes[0]), max(sessions_list)
    cell = {c: pick(runs, config=c, size=size, sessions=s) for c in configs}
    names = sorted({d for rs in cell.values() for r in rs for d in r.get("postfix_cpu_ms_by_daemon", {})},
                   key=lambda d: -max(sum(r["postfix_cpu_ms_by_daemon"].get(d, 0) for r in rs) / max(1, len(rs))
                                      for rs in cell.values()))
    if not names:
        return []
    out = ["### Postfix CPU per message by daemon, %s, %d sessions (mean of the rounds)" % (SIZE_LABELS[size], s),
           "", "\"exited\": daemons that ended during the run (smtpd after max_use = 100 connections, mostly), "
           "counted from what the master reaped.", "",
           "| daemon | %s |" % " | ".join(LABELS[c] for c in configs), "|---|" + "---|" * len(configs)]
    for d in names:
        out.append("| %s | %s |" % (d, " | ".join(
            "%.2f ms" % (sum(r["postfix_cpu_ms_by_daemon"].get(d, 0) for r in cell[c]) / max(1, len(cell[c])))
            for c in configs)))
    return out + [""]


def tick_per_message(meta, sizes):
    """One clock tick over each size's smallest run, as text."""
    per_run = meta.get("messages_per_run", {})
    out = []
    for size in sizes:
        n = min((v for k, v in per_run.items() if k.startswith(size + "/")), default=0)
        if n:
            out.append("%.2f ms per message at %s" % (1000.0 / TICK / n, SIZE_LABELS[size]))
    return ", ".join(out)


def report(meta, runs, configs, sizes, sessions_list):
    out = ["# Postfix pipeline benchmark (issue 12, part 2)", "",
           "Generated by `bench/pipeline.py%s` on %s UTC. smtp-source -> private Postfix %s (127.0.0.1, "
           "queue on tmpfs) with the milter -> smtp-sink, one SMTP connection per message, RSA-2048, "
           "relaxed/relaxed, %d round(s) interleaved. Machine: %s, %d CPUs, load average %s at start and %s "
           "at the end: **a shared machine (other agents compile), so the spread between rounds is noise, "
           "not signal**." % (" --quick" if meta["quick"] else "", meta["date"], meta["postfix"], meta["rounds"],
                              meta["machine"], meta["cpus"], meta["load_start"], meta["load_end"]), "",
           "Messages per run (the same for every configuration of a cell, sized from the control's rate "
           "at the start): %s. Ranges are min-max over the rounds. messages/s counts messages the sink received (checked "
           "against what was sent); Postfix CPU is every process of that configuration's Postfix instance "
           "(master, its reaped and live children), milter CPU is the milter process, both per delivered "
           "message. CPU precision: the milter's figure comes in clock ticks, %d ms per run (%s), Postfix's "
           "live daemons in ns." % (", ".join("%s %s" % (k, v) for k, v in meta.get("messages_per_run", {}).items()),
                                    1000 // TICK, tick_per_message(meta, sizes)), ""]
    for size in sizes:
        out += ["## %s body" % SIZE_LABELS[size], "",
                "| %s | %s |" % (SIZE_LABELS[size], " | ".join(LABELS[c] for c in configs)),
                "|---|" + "---|" * len(configs)]
        for s in sessions_list:
            out.append("| msgs/s, %d session%s | %s |" % (s, "s" if s > 1 else "", " | ".join(
                span([r["msgs_per_s"] for r in pick(runs, config=c, size=size, sessions=s)]) for c in configs)))
        for what, key in (("milter CPU per message", "milter_cpu_ms"), ("Postfix CPU per message", "postfix_cpu_ms")):
            for s in sessions_list:
                out.append("| %s, %d session%s | %s |" % (what, s, "s" if s > 1 else "", " | ".join(
                    (span([r[key] for r in pick(runs, config=c, size=size, sessions=s)], "%.2f") + " ms")
                    .replace("- ms", "-") for c in configs)))
        out.append("")
    out += daemon_table(runs, configs, sizes, sessions_list)
    out += ["## Ratios", "", "Each ratio is taken within one round (its two runs follow each other within seconds); "
            "a range is over the rounds. Issue 12's targets are marked met, partly (some rounds) or missed.", ""]
    # (title, key, against, higher is better, target(configuration, size, sessions))
    tables = (("messages/s with the milter / no milter (target: signet >= 0.70 at 2 KB, %d sessions)"
               % max(sessions_list), "msgs_per_s", "none", True,
               lambda c, size, s: 0.70 if c.startswith("signet") and size == "2k" and s == max(sessions_list) else None),
              ("Postfix CPU per message with the milter / no milter (target: signet <= 1.15)",
               "postfix_cpu_ms", "none", False, lambda c, size, s: 1.15 if c.startswith("signet") else None),
              ("messages/s signet / OpenDKIM", "msgs_per_s", "opendkim-unix", True, lambda c, size, s: None),
              ("milter CPU per message signet / OpenDKIM", "milter_cpu_ms", "opendkim-unix", False,
               lambda c, size, s: None))
    for title, key, against, at_least, target in tables:
        cols = [c for c in configs if c != "none" and c != against and (against == "none" or c.startswith("signet"))]
        if against not in configs or not cols:
            continue
        out += ["### " + title, "", "| | %s |" % " | ".join(LABELS[c] for c in cols), "|---|" + "---|" * len(cols)]
        for size in sizes:
            for s in sessions_list:
                cells = []
                for c in cols:
                    v = paired_ratios(runs, c, against, key, size, s)
                    t = target(c, size, s)
                    cells.append(span(v, "%.2f") + (" %s" % verdict(v, t, at_least) if t else ""))
                out.append("| %s, %d session%s | %s |" % (SIZE_LABELS[size], s, "s" if s > 1 else "",
                                                          " | ".join(cells)))
        out.append("")
    delivered = sum(r["delivered"] for r in runs)
    verified = sum(r["verified"] for r in runs)
    signed = sum(r["delivered"] for r in runs if EXPECTED_SIGNATURES[r["config"]])
    unsigned = sum(r["unsigned"] for r in runs)
    out += ["## Checks", "",
            "%d messages delivered in %d runs; of the %d that should carry signatures, %d had the wrong "
            "number of DKIM-Signature fields; %d sampled messages verified with dkimpy against the test keys."
            % (delivered, len(runs), signed, unsigned, verified)]
    problems = [(r, f) for r in runs for f in r["failures"]]
    for r, f in problems:
        out.append("- FAILED %s %s %d sessions round %d: %s: %s" % (r["config"], r["size"], r["sessions"],
                                                                   r["round"], f[0], f[1]))
    if meta.get("skipped"):
        out.append("- skipped: %s" % meta["skipped"])
    return "\n".join(out) + "\n"


def versions(milter_bin):
    def first_line(argv):
        try:
            p = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (p.stdout + p.stderr).strip().splitlines()[0]
        except (OSError, IndexError, subprocess.TimeoutExpired):
            return "?"
    return {"postfix": first_line(["/usr/sbin/postconf", "-dh", "mail_version"]),
            "opendkim": first_line(["/usr/sbin/opendkim", "-V"]),
            "signet": first_line([milter_bin, "--version"])}


def in_parallel(configs, method):
    """cfg.start() or cfg.stop() on every configuration at once; the first
    exception raised (after all have finished)."""
    with concurrent.futures.ThreadPoolExecutor(max(1, len(configs))) as ex:
        for f in [ex.submit(getattr(cfg, method)) for cfg in configs]:
            f.result()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build")
    ap.add_argument("--milter", help="signet-milter (default BUILD/milter/signet-milter)")
    ap.add_argument("--signet", help="the signet tool (default BUILD/tools/signet)")
    ap.add_argument("--quick", action="store_true", help="one round, fewer messages (about a minute)")
    ap.add_argument("--configs", default=",".join(CONFIGS))
    ap.add_argument("--sizes", default="2k,1m")
    ap.add_argument("--sessions", default="1,8")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--messages", type=int, help="messages per run (default: per size and sessions)")
    ap.add_argument("--verify-sample", type=int, default=3,
                    help="messages verified with dkimpy per run (at most 1 of 1 MB: dkimpy takes seconds)")
    ap.add_argument("--out", default=os.path.join(top, "bench", "results"))
    ap.add_argument("--work", default="/dev/shm" if os.path.isdir("/dev/shm") else None)
    args = ap.parse_args()
    build = os.path.abspath(args.build)
    milter_bin = os.path.abspath(args.milter or os.path.join(build, "milter", "signet-milter"))
    signet_bin = os.path.abspath(args.signet or os.path.join(build, "tools", "signet"))
    configs = [c for c in args.configs.split(",") if c]
    sizes = [s for s in args.sizes.split(",") if s]
    sessions_list = [int(s) for s in args.sessions.split(",") if s]
    for c in configs:
        if c not in CONFIGS:
            ap.error("unknown configuration %r: choose from %s" % (c, ", ".join(CONFIGS)))
    for s in sizes:
        if s not in SIZES:
            ap.error("unknown size %r: choose from %s" % (s, ", ".join(SIZES)))
    for tool in (SMTP_SOURCE, SMTP_SINK):
        if not os.access(tool, os.X_OK):
            sys.exit("pipeline.py: %s is missing: it comes with Debian's postfix package (scripts/install-deps)"
                     % tool)
    if os.geteuid() != 0:
        sys.exit("pipeline.py: must run as root (a private Postfix instance needs it)")
    meta = {"quick": args.quick, "date": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
            "machine": platform.node() + " " + platform.machine(), "cpus": os.cpu_count(),
            "load_start": "%.1f" % os.getloadavg()[0]}
    meta.update(versions(milter_bin))
    if "opendkim-unix" in configs and OpenDKIM is None:
        configs.remove("opendkim-unix")
        meta["skipped"] = "OpenDKIM (bench/opendkim.py is missing)"
    rounds = args.rounds or (1 if args.quick else 2)
    meta["rounds"] = rounds
    budget = QUICK_SECONDS if args.quick else FULL_SECONDS

    began = time.monotonic()

    def phase(what):
        print("%6.1f s  %s" % (time.monotonic() - began, what), flush=True)

    work = tempfile.mkdtemp(prefix="signet-pipeline.", dir=args.work)
    os.chmod(work, 0o755)
    sink, running = None, []
    runs = []
    try:
        keys = make_keys(signet_bin, os.path.join(work, "keys"),
                         [(DOMAIN, RSA_SELECTOR, "rsa", 2048), (DOMAIN, ED_SELECTOR, "ed25519")])
        dnsfunc = make_dnsfunc({k.name: k.record for k in keys})
        phase("keys made")
        msg_files = {}
        for size in sizes:
            msg_files[size] = os.path.join(work, "message-%s.txt" % size)
            write_message(msg_files[size], SIZES[size])
        sink = Sink(work)
        sink.start()
        running = [make_config(c, milter_bin, work, sink.port) for c in configs]
        # In parallel: `postfix start` takes 3-20 s here, most of it postfix check.
        in_parallel(running, "start")
        phase("%s started" % ", ".join(configs))
        # Warm-up: every instance's daemons started, the milters' first
        # connections made, nothing of it counted.
        with concurrent.futures.ThreadPoolExecutor(len(running)) as ex:
            for f in [ex.submit(send, cfg, msg_files[sizes[0]], max(sessions_list), 2 * max(sessions_list), 60)
                      for cfg in running]:
                f.result()
        shutil.rmtree(sink.take())
        phase("warmed up")
        counts = {}
        for size in sizes:
            for s in sessions_list:
                counts[(size, s)] = args.messages or calibrate(running[0], sink, msg_files[size], size, s, budget)
        meta["messages_per_run"] = {"%s/%d" % k: v for k, v in counts.items()}
        phase("calibrated: messages per run %s" % meta["messages_per_run"])
        t0 = time.monotonic()
        for round_no in range(1, rounds + 1):
            for size in sizes:
                for s in sessions_list:
                    n = counts[(size, s)]
                    for cfg in running:
                        r = measure(cfg, sink, msg_files[size], size, s, n, round_no, dnsfunc, args.verify_sample)
                        runs.append(r)
                        print("round %d %-13s %s %d session%s: %4d/%d delivered %8.1f msg/s  Postfix %6.2f ms/msg"
                              "  milter %s  %s" % (round_no, cfg.name, size, s, "s" if s > 1 else " ",
                                                    r["delivered"], n, r["msgs_per_s"], r["postfix_cpu_ms"],
                                                    "%6.2f ms/msg" % r["milter_cpu_ms"] if r["milter_cpu_ms"]
                                                    is not None else "     -      ",
                                                    "FAILED" if r["failures"] else "ok"), flush=True)
        meta["seconds"] = round(time.monotonic() - t0, 1)
    finally:
        in_parallel(running, "stop")
        if sink:
            sink.stop()
        shutil.rmtree(work, ignore_errors=True)
        phase("stopped")
    meta["load_end"] = "%.1f" % os.getloadavg()[0]

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, "pipeline-quick" if args.quick else "pipeline")
    with open(stem + ".json", "w") as f:
        json.dump({"meta": meta, "runs": runs}, f, indent=1)
    with open(stem + ".md", "w") as f:
        f.write(report(meta, runs, configs, sizes, sessions_list))
    print("wrote %s.md and %s.json (%.0f s measured)" % (stem, stem, meta["seconds"]))
    bad = [r for r in runs if r["failures"]]
    if bad:
        print("FAILED: %d of %d runs: a message unsigned, unverified or missing (see %s.md)"
              % (len(bad), len(runs), stem), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
