#!/usr/bin/python3
"""Where the running signet-milter holds its private keys, read from outside.

As root, while it signs (rsa-sha256 and ed25519-sha256, messages through the
milter protocol on another thread), this reads the daemon's memory
(/proc/PID/mem over every readable mapping of /proc/PID/smaps) and searches
for the RSA key's private numbers (p, q, d, dmp1, dmq1, iqmp) in both byte
orders (big-endian as DER and PEM hold them, little-endian as OpenSSL's
BIGNUM limbs do on x86-64) and the Ed25519 seed:

- the search finds them (there is no signer process yet: the milter signs,
  so it holds the keys), which proves the search works;
- every copy is in one mapping: the secure heap, locked (VmFlags lo) and
  never dumped (VmFlags dd); none in [heap], a thread's malloc arena, a
  stack or any other mapping; the run reports where each was found;
- after the key set is replaced by a reload with new keys, once the
  connections that signed with the old keys have ended (and messages signed
  with the new ones), none of the old key's numbers nor the old seed is left
  anywhere in the daemon (a dropped snapshot's keys are freed, and the secure
  heap cleanses what it frees), while the new key's numbers and seed are
  found, in the secure heap only. The daemon runs its DNS watch (dns-check
  off, still started), which used to pin the start-up key set through its
  60 s wait.

Core dumps, left at the default (core-dumps = false): the daemon is not
dumpable (its /proc files belong to root); started with `ulimit -c
unlimited` in an empty working directory and sent SIGSEGV, it dies of the
signal without a core: none in its directory, none where core_pattern points
(a file pattern is checked there; a pipe handler (|...) is reported as not
checkable from here, and the kernel's rule that decides it,
fs.suid_dumpable = 0 with a non-dumpable process, is checked instead).
"""
import os
import re
import signal
import subprocess
import sys
import threading
import time

from testkit import Checks, SignetMilter, make_keys, scenario_args

SECRETS_RSA = ("d", "p", "q", "dmp1", "dmq1", "iqmp")


def der_ints(pem_path):
    """The INTEGERs of the RSA PKCS#8 PEM, by openssl's own parser (asn1parse)."""
    out = subprocess.run(["openssl", "pkey", "-in", pem_path, "-noout", "-text"], capture_output=True, text=True,
                         check=True).stdout
    fields = {"privateExponent": "d", "prime1": "p", "prime2": "q", "exponent1": "dmp1", "exponent2": "dmq1",
              "coefficient": "iqmp"}
    numbers, current = {}, None
    for line in out.splitlines():
        m = re.match(r"^(\w+):", line)
        if m:
            current = fields.get(m.group(1))
            if current:
                numbers[current] = ""
            continue
        if current and line.startswith(" "):
            numbers[current] += line.strip().replace(":", "")
    return {k: bytes.fromhex(v).lstrip(b"\0") for k, v in numbers.items()}


def ed25519_seed(pem_path):
    der = subprocess.run(["openssl", "pkey", "-in", pem_path, "-outform", "DER"], capture_output=True,
                         check=True).stdout
    return der[-32:]


def mappings(pid):
    """[(lo, hi, perms, name, vmflags)] of /proc/PID/smaps."""
    out = []
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$", line)
            if m:
                out.append([int(m.group(1), 16), int(m.group(2), 16), m.group(3), m.group(4) or "anonymous", ""])
            elif line.startswith("VmFlags:") and out:
                out[-1][4] = line[8:].strip()
    return out


def search(pid, needles):
    """{needle name: [(mapping name, vmflags, address)]} over every readable mapping."""
    hits = {n: [] for n in needles}
    with open("/proc/%d/mem" % pid, "rb", buffering=0) as mem:
        for lo, hi, perms, name, flags in mappings(pid):
            if perms[0] != "r" or name in ("[vvar]", "[vsyscall]"):
                continue
            try:
                mem.seek(lo)
                data = mem.read(hi - lo)
            except (OSError, ValueError, OverflowError):
                continue
            for n, b in needles.items():
                i = data.find(b)
                while i >= 0:
                    hits[n].append((name, flags, lo + i))
                    i = data.find(b, i + 1)
    return hits


class Signer(threading.Thread):
    """Signs messages on its own connection until stopped: the search runs while the daemon signs."""

    def __init__(self, milter, limit=None):
        super().__init__(daemon=True)
        self.milter, self.stop, self.signed, self.failed = milter, threading.Event(), 0, 0
        self.limit = limit

    def run(self):
        i = 0
        while not self.stop.is_set() and (self.limit is None or i < self.limit):
            i += 1
            cl = self.milter.client()
            try:
                cl.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
                cl.mail("<a@example.com>", {"i": "MEM%d" % i})
                cl.header("From", b" a@example.com")
                cl.eoh()
                cl.body(b"body %d\r\n" % i)
                final, mods = cl.end_of_message()
                cl.quit()
                n = sum(b"DKIM-Signature" in mm[1] for mm in mods)
                self.signed += n == 2
                self.failed += n != 2
            except Exception:  # noqa: BLE001 - counted, reported by the checks
                self.failed += 1


def classify(hits):
    """(in the secure heap, elsewhere) for a list of hits: the secure heap's
    mapping is the one both locked and never dumped."""
    secure = [h for h in hits if " lo" in " " + h[1] and " dd" in " " + h[1]]
    return secure, [h for h in hits if h not in secure]


# OpenSSL 3.0's RSA-2048 CRT exponentiation on a CPU with AVX-512 IFMA
# (ossl_rsaz_mod_exp_avx512_x2, both halves at once) copies the two CRT
# exponents into a buffer on the signing thread's stack for the length of
# one exponentiation and cleanses it after: a search during signing can see
# dmp1 and dmq1 (limbs, little-endian) on a connection thread's stack (an
# anonymous 8 MiB mapping). Seen on this machine, never after signing stops.
RSAZ_IFMA = "avx512ifma" in open("/proc/cpuinfo").read().split()
IN_FLIGHT = ("dmp1 little-endian", "dmq1 little-endian")


def in_flight(needle, hit):
    return RSAZ_IFMA and needle in IN_FLIGHT and hit[0] == "anonymous"


def where(hits):
    return sorted({"%s [%s]" % (name, flags) for name, flags, _ in hits})


def core_check(c, args, base):
    pattern = open("/proc/sys/kernel/core_pattern").read().strip()
    suid_dumpable = open("/proc/sys/fs/suid_dumpable").read().strip()
    cwd = os.path.join(os.path.abspath(args.work), "crash-cwd")
    os.makedirs(cwd, exist_ok=True)
    for name in os.listdir(cwd):
        os.unlink(os.path.join(cwd, name))
    pattern_dir = os.path.dirname(pattern) if pattern.startswith("/") else None
    before = set(os.listdir(pattern_dir)) if pattern_dir and os.path.isdir(pattern_dir) else set()
    m = SignetMilter(args.milter, args.work, base, name="crash")
    m.write_config()
    log = open(os.path.join(args.work, "crash.log"), "wb")
    # ulimit -c unlimited: the only thing that stops the core is signet's own prctl.
    proc = subprocess.Popen(["/bin/sh", "-c", "ulimit -c unlimited && exec \"$0\" \"$@\"", m.binary,
                             "--config", m.conf_path], cwd=cwd, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and "started" not in open(m.log_path, errors="replace").read():
            time.sleep(0.1)
        limits = open("/proc/%d/limits" % proc.pid).read()
        c.check(re.search(r"Max core file size\s+unlimited", limits) is not None,
                "the crash test's daemon runs with RLIMIT_CORE unlimited", limits)
        c.check(os.stat("/proc/%d/status" % proc.pid).st_uid == 0 and os.stat("/proc/%d/mem" % proc.pid).st_uid == 0,
                "core-dumps left at the default: the daemon is not dumpable (its /proc files are root's)")
        os.kill(proc.pid, signal.SIGSEGV)
        rc = proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    c.check(rc == -signal.SIGSEGV, "SIGSEGV killed it (returncode %d)" % rc)
    in_cwd = os.listdir(cwd)
    c.check(not in_cwd, "no core in its working directory (core_pattern %r)" % pattern, in_cwd)
    if pattern.startswith("|"):
        c.check(suid_dumpable == "0", "core_pattern pipes to %r, which this test cannot see into; with "
                "fs.suid_dumpable = %s the kernel never hands a non-dumpable process to it" % (pattern.split()[0],
                                                                                            suid_dumpable))
    elif pattern_dir:
        after = set(os.listdir(pattern_dir)) if os.path.isdir(pattern_dir) else set()
        c.check(not (after - before), "no new core in %s (core_pattern %r)" % (pattern_dir, pattern),
                sorted(after - before))
    print("core_pattern %r, fs.suid_dumpable %s" % (pattern, suid_dumpable))


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    c = Checks()
    if os.geteuid() != 0:
        print("needs root (reads another process's memory)")
        return 77
    work = os.path.abspath(args.work)
    keys_dir = os.path.join(work, "keys")
    make_keys(args.signet, keys_dir, [("example.com", "mem-rsa", "rsa", 2048), ("example.com", "mem-ed", "ed25519")])
    rsa_path = os.path.join(keys_dir, "example.com", "mem-rsa.key")
    ed_path = os.path.join(keys_dir, "example.com", "mem-ed.key")
    numbers = der_ints(rsa_path)
    c.check(sorted(numbers) == sorted(SECRETS_RSA) and len(numbers["p"]) >= 127,
            "openssl shows the RSA key's private numbers", sorted(numbers))
    needles = {}
    for k, v in numbers.items():
        needles[k + " big-endian"] = v
        needles[k + " little-endian"] = v[::-1]
    needles["ed25519 seed"] = ed25519_seed(ed_path)
    # In-process keys: this scenario searches the daemon that holds them
    # (privsep_keys_only_in_the_signer_process searches both processes).
    base = {"key-directory": keys_dir, "trusted-services": "tx", "dns-check": False, "privilege-separation": False,
            "stream.tx": {"domain": "example.com", "selector": ["mem-rsa", "mem-ed"]}, "rule.all": {"stream": "tx"}}

    m = SignetMilter(args.milter, args.work, base, name="memory")
    with m:
        signer = Signer(m)
        signer.start()
        time.sleep(1.0)
        hits = search(m.pid, needles)
        signed_during = signer.signed
        time.sleep(0.3)
        signer.stop.set()
        signer.join(10)
        c.check(signer.signed > 0 and signer.failed == 0 and signed_during > 0,
                "signing went on during the search: %d messages signed twice, %d not" % (signer.signed, signer.failed))
        for n in ("p little-endian", "q little-endian", "d little-endian", "ed25519 seed"):
            c.check(len(hits[n]) >= 1, "the search finds the key's %s in the daemon (it holds the keys: no signer "
                    "process yet), so the search works" % n, where(hits[n]))
        for n, h in sorted(hits.items()):
            print("%-20s %d copies: %s" % (n, len(h), "; ".join(where(h)) or "none"))
        everything = [h for n in needles for h in hits[n]]
        secure, _ = classify(everything)
        elsewhere = sorted({(n, name) for n in needles for h in classify(hits[n])[1] if not in_flight(n, h)
                            for name in [h[0]]})
        flying = sorted({n for n in needles for h in classify(hits[n])[1] if in_flight(n, h)})
        if flying:
            print("in flight on a signing thread's stack (OpenSSL's AVX-512 IFMA exponentiation): %s" % ", ".join(flying))
        c.check(everything and not elsewhere,
                "every copy of every private number and the seed is in the locked, never-dumped secure heap "
                "(%d copies), none in [heap], a malloc arena, a stack or another mapping%s" % (
                    len(secure), "; but for the CRT exponents in flight in OpenSSL's AVX-512 IFMA path" if RSAZ_IFMA else ""),
                elsewhere)
        quiet = search(m.pid, needles)
        left = sorted({(n, h[0]) for n in needles for h in classify(quiet[n])[1]})
        c.check(not left and all(quiet[n] for n in ("p little-endian", "d little-endian")),
                "once signing has stopped, every copy is in the secure heap: none on a stack, even in flight", left)
        heaps = {name for name, flags, _ in secure}
        c.check(len({(name, flags) for name, flags, _ in secure}) == 1 and "[heap]" not in heaps,
                "they are all in one mapping (the secure heap), not the process heap", where(secure))

        # A reload onto new keys drops the old snapshot: its numbers are cleansed.
        # The connections that signed with the old keys have all ended (joined above).
        os.rename(rsa_path, rsa_path + ".old")
        os.rename(ed_path, ed_path + ".old")
        make_keys(args.signet, keys_dir, [("example.com", "mem-rsa", "rsa", 2048), ("example.com", "mem-ed", "ed25519")])
        os.unlink(rsa_path + ".old")
        os.unlink(ed_path + ".old")
        new_numbers = der_ints(rsa_path)
        new_needles = {"new " + k + " little-endian": new_numbers[k][::-1] for k in ("p", "q", "d")}
        new_needles["new ed25519 seed"] = ed25519_seed(ed_path)
        # Wait for the reload's own log line: a fixed sleep lost the race on a
        # loaded machine (the key set loads at nice 10), and the old numbers
        # were still in use when the search ran.
        m.reload_and_wait()
        one = Signer(m, limit=3)
        one.start()
        one.join(20)
        c.check(one.signed == 3 and one.failed == 0,
                "it signs with the new keys after the reload (%d signed twice, %d not)" % (one.signed, one.failed))
        after = search(m.pid, dict(needles, **new_needles))
        old_left = {n: where(after[n]) for n in needles if after[n]}
        c.check(not old_left, "after the reload onto new keys, once no message uses them, no copy of the old key's "
                "numbers (either byte order) nor of the old seed is left in the daemon: freed and cleansed", old_left)
        for n in sorted(new_needles):
            c.check(len(after[n]) >= 1, "the search finds the %s: the daemon holds the key it signs with" % n)
        new_hits = [h for n in new_needles for h in after[n]]
        c.check(new_hits and not classify(new_hits)[1], "the new key's copies are all in the secure heap",
                where(classify(new_hits)[1]))
        c.check(any("reload" in l.lower() for l in m.log_lines()), "the daemon logged the reload")

    core_check(c, args, base)

    # No key material in any log this test made.
    secrets = list(needles.values()) + list(new_needles.values())
    leaked = [name for name in os.listdir(work) if name.endswith(".log")
              for s in secrets if s in open(os.path.join(work, name), "rb").read()]
    c.check(not leaked, "no key material in any log", leaked)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
