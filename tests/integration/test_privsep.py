#!/usr/bin/python3
"""privilege-separation = on: the keys live in the signer process alone.

signet-milter starts its signer (the same binary, --signer-fds) and signs
through it over SOCK_SEQPACKET socketpairs. As root, this test:

- signs rsa-sha256 and ed25519-sha256 through the milter protocol and
  verifies both with dkimpy;
- reads the network-facing process's memory (/proc/PID/mem over its
  mappings, while it signs) for the RSA key's private numbers (p, q, d,
  dmp1, dmq1, iqmp in both byte orders) and the Ed25519 seed: none found;
  the same search in the signer process finds them (the search works), each
  copy in locked, never-dumped memory (the secure heap, or in flight on a
  channel thread's locked stack);
- checks the signer is not dumpable, runs as the configured user's uid, and
  is under a seccomp filter (/proc/PID/status Seccomp: 2); each of its
  channel threads runs on a locked, never-dumped stack (the mapping holding
  the thread's stack pointer has VmFlags lo and dd) and has used under half
  of it (read through /proc/PID/mem);
- reloads (SIGHUP) onto two new keys: the signer, already under its
  allow-list filter, re-reads the configuration and key directory and
  parses them in threads; the next message is signed with the new keys;
- sends malformed frames (short, long, unknown type, wrong digest length,
  unknown key, garbage) into the signer on a copy of one of the milter's
  channels (pidfd_getfd): each is answered REFUSED and logged by the
  signer, which keeps signing;
- kills the signer with SIGKILL while messages flow: every message is either
  signed with two signatures dkimpy verifies or passed unsigned under
  on-error = accept (none signed wrongly, none lost), one log line says the
  signer died, a new signer is started, and signing resumes through it;
- starts a signer (as nobody) under a RLIMIT_MEMLOCK that does not cover
  its secure heap and its locked thread stacks: it refuses to start, saying
  the limit, how many stacks it needs and what to raise; with enough it
  serves.
"""
import ctypes
import os
import pwd
import re
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import (Checks, MilterError, SignetMilter, children, dkimpy_results, load_keys_file, make_dnsfunc,  # noqa: E402
                     make_keys, scenario_args)
from test_key_memory import der_ints, ed25519_seed, mappings, search  # noqa: E402
from test_sealed_keys import signed_message  # noqa: E402 - one message, its added DKIM-Signature fields put in front


def status(pid, field):
    for line in open("/proc/%d/status" % pid):
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].split()
    return []


def thread_stacks(pid):
    """tid -> (lo, hi, VmFlags) of the mapping holding that thread's stack
    pointer, for each thread of pid blocked in a syscall
    (/proc/PID/task/TID/syscall: "nr a1..a6 sp pc"; root reads it even when
    pid is not dumpable)."""
    maps = [(lo, hi, flags.split()) for lo, hi, _, _, flags in mappings(pid)]
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            parts = open("/proc/%d/task/%s/syscall" % (pid, tid)).read().split()
        except OSError:
            continue
        if len(parts) < 9:
            continue  # "running": no stack pointer to read
        sp = int(parts[7], 16)
        out[int(tid)] = next(((lo, hi, flags) for lo, hi, flags in maps if lo <= sp < hi), (0, 0, []))
    return out


def stack_depth(pid, lo, hi):
    """Bytes written at the top of a locked stack [lo, hi): from the lowest
    non-zero byte up (base/locked_thread.h maps it zeroed)."""
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        mem.seek(lo)
        data = mem.read(hi - lo)
    first = next((i for i, b in enumerate(data) if b), len(data))
    return len(data) - first


def seqpacket_fds(pid):
    """The fds of pid that are unix SOCK_SEQPACKET sockets (its signer channels)."""
    seq = set()
    for line in open("/proc/net/unix").readlines()[1:]:
        parts = line.split()
        if len(parts) >= 7 and parts[4] == "0005":  # SOCK_SEQPACKET
            seq.add(parts[6])
    out = []
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", target)
        if m and m.group(1) in seq:
            out.append(int(fd))
    return out


def pidfd_getfd(pid, fd):
    libc = ctypes.CDLL(None, use_errno=True)
    pidfd = os.pidfd_open(pid)
    try:
        got = libc.syscall(438, pidfd, fd, 0)  # SYS_pidfd_getfd
        if got < 0:
            raise OSError(ctypes.get_errno(), "pidfd_getfd")
        return got
    finally:
        os.close(pidfd)


def request(t, rid, key, payload=b""):
    return b"SGNP" + bytes([1, t]) + b"\0\0" + struct.pack(">IQ", rid, key) + payload


class Traffic(threading.Thread):
    """Messages one after another; each classified by what dkimpy says."""

    def __init__(self, milter, dnsfunc):
        super().__init__(daemon=True)
        self.milter, self.dnsfunc, self.stop = milter, dnsfunc, threading.Event()
        self.signed = self.unsigned = self.wrong = self.lost = 0
        self.first_unsigned = self.resumed_at = None

    def run(self):
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                msg = signed_message(self.milter, "PS%d" % i)
            except Exception:  # noqa: BLE001 - a message the milter did not answer
                self.lost += 1
                continue
            results = dkimpy_results(msg, self.dnsfunc)
            if not results:
                self.unsigned += 1
                self.first_unsigned = self.first_unsigned or time.monotonic()
            elif len(results) == 2 and all(ok for _, ok, _ in results):
                self.signed += 1
                if self.first_unsigned and not self.resumed_at:
                    self.resumed_at = time.monotonic()
            else:
                self.wrong += 1


def memlock_budget(c, args):
    """The signer, started as root and running as nobody, locks one 256 KiB
    stack per channel and per core on top of its secure heap: a
    RLIMIT_MEMLOCK below that refuses at start with what to do; one that
    covers it serves."""
    work = os.path.join(os.path.abspath(args.work), "memlock")
    keys_dir = os.path.join(work, "keys")
    make_keys(args.signet, keys_dir, [("example.com", "ml-ed", "ed25519")], dir_mode=0o755)
    nobody = pwd.getpwnam("nobody")
    for root, dirs, files in os.walk(keys_dir):
        for n in dirs + files + [""]:
            os.chown(os.path.join(root, n), nobody.pw_uid, nobody.pw_gid)
    heap = 1 << 20  # the smallest secure-heap-size
    config = {"key-directory": keys_dir, "internal-hosts": "127.0.0.1", "dns-check": False, "user": "nobody",
              "privilege-separation": True, "secure-heap-size": heap,
              "stream.tx": {"domain": "example.com", "selector": "ml-ed"}, "rule.tx": {"stream": "tx"}}
    cores = os.cpu_count() or 1
    stacks = min(max(4 * cores, 8), 64) + cores  # channels (milter/main.cc) + one parser per core
    soft, hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    need = heap + stacks * (256 << 10)
    if hard != resource.RLIM_INFINITY and hard < need + (1 << 20):
        c.check(True, "memlock budget: skipped, the hard RLIMIT_MEMLOCK (%d) is below what the signer needs" % hard)
        return
    m = SignetMilter(args.milter, work, config, name="tight")
    m.write_config()
    tight = heap + 2 * (256 << 10)
    p = subprocess.run(m.argv(), capture_output=True, text=True, timeout=30,
                       preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_MEMLOCK, (tight, hard)))
    out = p.stdout + p.stderr
    c.check(p.returncode == 2, "with RLIMIT_MEMLOCK = secure heap + 2 stacks, signet-milter refuses to start (exit %s)"
            % p.returncode)
    line = next((l for l in out.splitlines() if "cannot lock the channel and key-parsing threads' stacks" in l), "")
    for phrase in ("RLIMIT_MEMLOCK (%d KiB" % (tight >> 10), "raise it (systemd: LimitMEMLOCK=)",
                   "%d stacks of 256 KiB needed, 2 fit" % stacks, "secure-heap-size (%d bytes)" % heap):
        c.check(phrase in line, "the signer's refusal says %r" % phrase, line or out[-600:])
    m = SignetMilter(args.milter, work, config, name="enough")
    resource.setrlimit(resource.RLIMIT_MEMLOCK, (need + (256 << 10), hard))  # inherited by the milter and its signer
    try:
        with m:
            msg = signed_message(m, "ML1")
            c.check(b"DKIM-Signature" in msg, "with secure heap + %d stacks + one spare, the signer serves and signs"
                    % stacks, msg[:300])
    except MilterError as e:
        c.check(False, "with secure heap + %d stacks + one spare, the signer serves and signs" % stacks, str(e)[-600:])
    finally:
        resource.setrlimit(resource.RLIMIT_MEMLOCK, (soft, hard))


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    c = Checks()
    if os.geteuid() != 0:
        print("needs root (reads another process's memory)")
        return 77
    work = os.path.abspath(args.work)
    keys_dir = os.path.join(work, "keys")
    records = os.path.join(work, "records.txt")
    make_keys(args.signet, keys_dir, [("example.com", "ps-rsa", "rsa", 2048), ("example.com", "ps-ed", "ed25519")],
              keys_file=records)
    dnsfunc = make_dnsfunc(load_keys_file(records))
    numbers = der_ints(os.path.join(keys_dir, "example.com", "ps-rsa.key"))
    needles = {}
    for k in ("p", "q", "d", "dmp1", "dmq1", "iqmp"):
        needles[k + " big-endian"] = numbers[k]
        needles[k + " little-endian"] = numbers[k][::-1]
    needles["ed25519 seed"] = ed25519_seed(os.path.join(keys_dir, "example.com", "ps-ed.key"))
    config = {"key-directory": keys_dir, "internal-hosts": "127.0.0.1", "dns-check": False,
              "privilege-separation": True, "on-error": "accept",
              "stream.tx": {"domain": "example.com", "selector": ["ps-rsa", "ps-ed"]}, "rule.tx": {"stream": "tx"}}
    m = SignetMilter(args.milter, work, config, name="privsep")
    with m:
        kids = children(m.pid)
        c.check(len(kids) == 1, "the milter started one child, its signer process", kids)
        signer = kids[0] if kids else None
        cmdline = open("/proc/%d/cmdline" % signer, "rb").read().split(b"\0") if signer else []
        c.check(len(cmdline) > 2 and cmdline[1] == b"--signer-fds", "it is signet-milter --signer-fds (fork + exec)",
                cmdline[:3])
        msg = signed_message(m, "PS0")
        results = dkimpy_results(msg, dnsfunc)
        c.check(sorted(t.get("a") for t, _, _ in results) == ["ed25519-sha256", "rsa-sha256"] and
                all(ok for _, ok, _ in results), "signed through the signer: rsa and ed25519, dkimpy verifies both",
                results)

        traffic = Traffic(m, dnsfunc)
        traffic.start()
        time.sleep(1.0)
        in_milter = search(m.pid, needles)
        in_signer = search(signer, needles)
        c.check(traffic.signed > 0, "messages were signed during the search (%d)" % traffic.signed)
        found = {n: len(h) for n, h in in_milter.items() if h}
        c.check(not found, "no RSA private number (p, q, d, dmp1, dmq1, iqmp, either byte order) nor the Ed25519 "
                "seed in the network-facing process's memory", found)
        for n in ("p little-endian", "q little-endian", "ed25519 seed"):
            c.check(len(in_signer[n]) >= 1, "the same search finds the %s in the signer process (the search works)" % n)
        c.check(status(signer, "Seccomp")[:1] == ["2"], "the signer runs under a seccomp filter",
                status(signer, "Seccomp"))
        c.check(os.stat("/proc/%d/mem" % signer).st_uid == 0 and status(signer, "NoNewPrivs")[:1] == ["1"],
                "the signer is not dumpable and has no_new_privs")
        # Each channel thread's stack (where an RSA CRT signature may hold
        # dmp1/dmq1 while it runs) is locked and never dumped; the main
        # thread, which only waits, is on the process's ordinary stack.
        stacks = thread_stacks(signer)
        # In the signer, every copy found while it signed is in locked,
        # never-dumped memory: the secure heap, or (a CPU with AVX-512 IFMA,
        # OpenSSL 3.0) dmp1/dmq1 in flight on a channel thread's stack.
        copies = [(n, h) for n in needles for h in in_signer[n]]
        outside = sorted({(n, name, flags) for n, (name, flags, _) in copies
                          if not {"lo", "dd"} <= set(flags.split())})
        flying = sorted({n for n, (_, _, at) in copies
                         if any(lo <= at < hi for t, (lo, hi, _) in stacks.items() if t != signer)})
        c.check(copies and not outside, "in the signer every copy (%d) of every private number and the seed is in "
                "locked, never-dumped memory (in flight on a locked channel stack this time: %s)" % (
                    len(copies), ", ".join(flying) or "none"), outside)
        # The in-flight copy lasts one exponentiation: read the channel
        # stacks alone, many times, while messages are signed (a figure, not
        # a check: it depends on the CPU).
        seen, reads, until = 0, 0, time.monotonic() + 1.5
        with open("/proc/%d/mem" % signer, "rb", buffering=0) as mem:
            while time.monotonic() < until:
                for t, (lo, hi, _) in stacks.items():
                    if t == signer:
                        continue
                    mem.seek(lo)
                    data = mem.read(hi - lo)
                    reads += 1
                    seen += any(needles[n] in data for n in ("dmp1 little-endian", "dmq1 little-endian"))
        print("dmp1/dmq1 in flight on a locked channel stack in %d of %d reads of one stack" % (seen, reads))
        channels = {tid: m_[2] for tid, m_ in stacks.items() if tid != signer}
        c.check(len(channels) >= 2 and all("lo" in f and "dd" in f for f in channels.values()),
                "every channel thread of the signer (%d) runs on a locked, never-dumped stack (VmFlags lo dd)" %
                len(channels), channels)
        c.check(signer in stacks and "lo" not in stacks[signer][2],
                "the signer's main thread is on an ordinary stack (the check can tell)", stacks.get(signer))

        # A reload under the filter: the signer reads the configuration and
        # the new key files, parses them in threads, and signs with them.
        traffic.stop.set()
        traffic.join(30)
        time.sleep(0.2)
        quiet = search(signer, needles)
        left = sorted({n for n in needles for _, _, at in quiet[n]
                       if any(lo <= at < hi for t, (lo, hi, _) in stacks.items() if t != signer)})
        c.check(not left and quiet["p little-endian"], "once signing stops no copy is left on a channel stack "
                "(OpenSSL cleanses its in-flight buffer)", left)
        make_keys(args.signet, keys_dir, [("example.com", "ps-rsa2", "rsa", 2048), ("example.com", "ps-ed2", "ed25519")],
                  keys_file=records)
        dnsfunc = make_dnsfunc(load_keys_file(records))
        m.config["stream.tx"] = {"domain": "example.com", "selector": ["ps-rsa2", "ps-ed2"]}
        line = m.reload_and_wait("signing now with tx: ps-rsa2 ps-ed2|reload refused")
        c.check(": reloaded," in line, "a reload through the filtered signer loads the new keys", line)
        results = dkimpy_results(signed_message(m, "PS-reloaded"), dnsfunc)
        c.check(sorted(t.get("s") for t, _, _ in results) == ["ps-ed2", "ps-rsa2"] and all(ok for _, ok, _ in results),
                "the next message is signed with the reloaded keys, dkimpy verifies both", results)

        # Malformed frames on a copy of one of the milter's channels.
        time.sleep(0.3)
        fds = seqpacket_fds(m.pid)
        c.check(len(fds) >= 2, "the milter holds its signer channels (SOCK_SEQPACKET)", fds)
        if fds:
            # The copy shares the milter's file description: it stays blocking
            # (no settimeout, which would set O_NONBLOCK on the milter's end
            # too); select bounds the wait instead.
            s = socket.socket(fileno=pidfd_getfd(m.pid, fds[-1]))
            bad = {
                "short": request(1, 1, 1)[:11],
                "long": request(1, 2, 1, b"\1" * 32) + b"x" * 200,
                "unknown type": request(7, 3, 1, b"\1" * 32),
                "wrong digest length (20, SHA-1's)": request(1, 4, 1, b"\1" * 20),
                "unknown key": request(1, 5, (99 << 32) | 7, b"\1" * 32),
                "SIGN_MANY of 9 items": request(3, 6, 9, b"\1" * 80),
                "garbage": bytes((i * 37 + 11) % 256 for i in range(52)),
            }
            for what, frame in bad.items():
                s.send(frame)
                reply = s.recv(70000) if select.select([s], [], [], 5)[0] else b""
                c.check(reply[:4] == b"SGNP" and len(reply) > 17 and reply[5] == 0xFF,
                        "the signer refuses a %s request" % what, reply[:80])
            s.detach()
            time.sleep(0.3)
            log = open(m.log_path, errors="replace").read()
            c.check(log.count("signer: refused a request from the milter") >= len(bad),
                    "each refusal is logged by the signer (%d)" % log.count("signer: refused a request"))
            for phrase in ("shorter than the 20-byte header", "longer than any valid request", "request type 7",
                           "20 digest bytes", "not a key this signer holds", "magic", "SIGN_MANY request 6 counts 9 items"):
                c.check(phrase in log, "the log says why: %r" % phrase)
        msg = signed_message(m, "PS-after-bad")
        c.check(len(dkimpy_results(msg, dnsfunc)) == 2, "the signer still signs after the malformed requests")
        # How deep the channels' stacks went after signing under load, a
        # LOAD and the refusals: the figure kKeyThreadStack was sized by.
        stacks = {tid: m_ for tid, m_ in thread_stacks(signer).items() if tid != signer and "lo" in m_[2]}
        depths = sorted(stack_depth(signer, lo, hi) for lo, hi, _ in stacks.values())
        size = max((hi - lo for lo, hi, _ in stacks.values()), default=0)
        print("signer channel stacks: %d of %d KiB used at most (%s)" % (
            (depths[-1] if depths else 0) >> 10, size >> 10, ", ".join("%d" % (d >> 10) for d in depths)))
        c.check(depths and 0 < depths[-1] < size // 2, "the signer's channels used under half of their locked stacks")

        # SIGKILL while messages flow.
        traffic = Traffic(m, dnsfunc)
        traffic.start()
        time.sleep(1.0)
        os.kill(signer, signal.SIGKILL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not traffic.resumed_at:
            time.sleep(0.2)
        time.sleep(0.5)
        traffic.stop.set()
        traffic.join(30)
        print("around the kill: %d signed, %d unsigned (on-error accept), %d wrongly signed, %d lost" % (
            traffic.signed, traffic.unsigned, traffic.wrong, traffic.lost))
        c.check(traffic.wrong == 0, "no message signed wrongly around the signer's death")
        c.check(traffic.lost == 0, "no message lost (each answered)")
        c.check(traffic.resumed_at is not None, "signing resumed through a new signer (%.1f s after the first "
                "unsigned message)" % ((traffic.resumed_at or 0) - (traffic.first_unsigned or 0)))
        kids = children(m.pid)
        c.check(len(kids) == 1 and kids[0] != signer, "a new signer process runs", kids)
        log = open(m.log_path, errors="replace").read()
        c.check(log.count("was killed by signal 9") == 1, "one line says the signer died",
                [l for l in log.splitlines() if "signer process" in l][:5])
    c.check(m.returncode == 0, "signet-milter stops cleanly with its signer (exit %s)" % m.returncode)
    memlock_budget(c, args)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
