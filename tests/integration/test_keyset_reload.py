#!/usr/bin/python3
"""Keys change while mail flows, and nothing is lost.

usage: test_keyset_reload.py --milter PATH --signet PATH --load PATH --work DIR
                             [--messages 20000] [--rsa-bits 2048] [--no-postfix]

One stream (rsa + ed25519) with 11 keys per algorithm and 10 scheduled
cutovers 3 s apart. While milter_load sends --messages messages over 8
concurrent milter connections (and a trickle goes through a real Postfix),
the key set is rewritten 100 times: by `signet keyset install` (the tool's
atomic write), by hand (temp file + rename), and by a Kubernetes-style
symlink swap of `..data`; 5 invalid key sets are dropped in by hand
(truncated manifest, unknown algorithm, missing key file, unsafe
permissions, duplicate selector), each of which the tool refuses too.
Required: 0 messages unsigned, 0 tempfails, 0 crashes, every signature
verifies against the key whose window held its t= (milter_load checks),
every invalid set refused with its reason, every cutover logged.
"""
import os
import shutil
import smtplib
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from testkit import Checks, SignetMilter, iso, make_keys, scenario_args, write_keys_file  # noqa: E402

CUTOVERS = 10
SPACING = 3  # seconds between cutovers
REWRITES = 100
INVALID_AT = {12: "truncated", 31: "unknown-algorithm", 50: "missing-key-file", 69: "unsafe-permissions",
              88: "duplicate-selector"}  # positions among the REWRITES + 5 writes


class KeySet:
    def __init__(self, signet, keydir, rsa_bits):
        self.signet = signet
        self.dir = keydir
        self.rows = []  # (selector, algorithm, bits, file, from, until)
        specs = [("example.com", "tx-%s-%02d" % (alg, k), alg, bits if alg == "rsa" else None)
                 for alg, bits in (("rsa", rsa_bits), ("ed25519", 256)) for k in range(CUTOVERS + 1)]
        self.keys = make_keys(signet, keydir, specs, dir_mode=0o700)
        # The schedule starts after the keys exist: 22 keys take seconds to
        # make on a slow (sanitized, loaded) build, and a first cutover already
        # past when the daemon starts would never be logged as one.
        now = int(time.time())
        self.t0 = now + 8  # first cutover
        cuts = [self.t0 + SPACING * k for k in range(CUTOVERS)]
        for alg, bits in (("rsa", rsa_bits), ("ed25519", 256)):
            for k in range(CUTOVERS + 1):
                sel = "tx-%s-%02d" % (alg, k)
                frm = now - 60 if k == 0 else cuts[k - 1]
                until = cuts[k] if k < CUTOVERS else None
                self.rows.append((sel, alg, bits, "example.com/%s.key" % sel, frm, until))
        self.created = now - 120
        self.cuts = cuts
        self.last_cut = cuts[-1]

    def manifest(self, rev, extra=""):
        out = ["# load-test key set, revision %d" % rev]
        for sel, alg, bits, f, frm, until in self.rows:
            out += ["", "[key]", "stream = tx", "domain = example.com", "selector = " + sel, "algorithm = " + alg,
                    "bits = %d" % bits, "owner = load-test rev %d" % rev, "file = " + f,
                    "created = " + iso(self.created), "published-at = " + iso(self.created),
                    "active-from = " + iso(frm), "active-until = " + (iso(until) if until else ""),
                    "retire-at = " + (iso(until + 3600) if until else ""), "retired-at = "]
        return "\n".join(out) + "\n" + extra

    def schedule_file(self, path):
        with open(path, "w") as f:
            for sel, alg, bits, _, frm, until in self.rows:
                f.write("%s %s %d %s\n" % (sel, alg, frm, until if until else "-"))

    def invalid(self, kind, rev):
        text = self.manifest(rev)
        first = self.rows[0]
        if kind == "truncated":
            return text[: len(text) // 2]
        if kind == "unknown-algorithm":
            return text.replace("algorithm = ed25519", "algorithm = dsa", 1)
        if kind == "missing-key-file":
            return text.replace("file = example.com/tx-rsa-00.key", "file = example.com/not-there.key", 1)
        if kind == "unsafe-permissions":
            unsafe = os.path.join(self.dir, "example.com", "unsafe.key")
            shutil.copyfile(os.path.join(self.dir, first[3]), unsafe)
            os.chmod(unsafe, 0o644)
            return text.replace("file = example.com/tx-rsa-00.key", "file = example.com/unsafe.key", 1)
        if kind == "duplicate-selector":
            block = text[text.index("[key]"):text.index("[key]", text.index("[key]") + 1)]
            return text + "\n" + block
        raise ValueError(kind)

    # -- the three ways a key set is rewritten -------------------------------
    def install_with_tool(self, text):
        p = subprocess.run([self.signet, "keyset", "install", "--dir", self.dir], input=text.encode(),
                           capture_output=True)
        return p.returncode, p.stderr.decode().strip()

    def write_by_hand(self, text):
        tmp = os.path.join(self.dir, "manifest.new")
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(self.dir, "manifest"))

    def symlink_swap(self, text, rev):
        version = os.path.join(self.dir, "..v%03d" % rev)
        os.mkdir(version)
        with open(os.path.join(version, "manifest"), "w") as f:
            f.write(text.replace("file = example.com/", "file = example.com/"))
        tmp_link = os.path.join(self.dir, "..data.tmp")
        if os.path.lexists(tmp_link):
            os.unlink(tmp_link)
        os.symlink(os.path.basename(version), tmp_link)
        os.replace(tmp_link, os.path.join(self.dir, "..data"))  # the atomic swap
        link = os.path.join(self.dir, "manifest")
        if not os.path.islink(link):
            tmp = os.path.join(self.dir, "manifest.link")
            if os.path.lexists(tmp):
                os.unlink(tmp)
            os.symlink("..data/manifest", tmp)
            os.replace(tmp, link)


class Trickle:
    """Messages one after another through a real Postfix (tx service, the
    milter behind it) to a sink, while the load runs."""

    def __init__(self, work, milter):
        from postfix_harness import PostfixInstance
        from smtp_sink import SmtpSink
        self.send_on = PostfixInstance.send_on
        self.relayed_dir = os.path.join(work, "relayed")
        self.sink = SmtpSink(self.relayed_dir)
        self.sink.start()
        self.postfix = PostfixInstance(os.path.join(work, "postfix"), milter.socket, sink_port=self.sink.port)
        self.postfix.start()
        self.stopping = threading.Event()
        self.sent = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        body = b"".join(b"Postfix pipeline line %d.\r\n" % i for i in range(20))
        with smtplib.SMTP("127.0.0.1", self.postfix.ports["tx"], local_hostname="load.test", timeout=60) as s:
            s.ehlo()
            while not self.stopping.is_set():
                msg = (b"From: Pipeline <pipe@example.com>\r\nTo: rcpt@example.org\r\nSubject: pipeline %d\r\n"
                       b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n\r\n" % self.sent) + body
                self.send_on(s, msg, "pipe@example.com", ["rcpt@example.org"])
                self.sent += 1
                time.sleep(0.05)

    def check_relayed(self, c, load, keys_file, schedule):
        """All arrived; every one verifies against the key scheduled for its t=."""
        time.sleep(0.5)
        deadline = time.time() + 60
        while self.sink.count() < self.sent and time.time() < deadline:
            time.sleep(0.2)
        c.check(self.sink.count() == self.sent and self.sent > 0,
                "Postfix relayed all %d pipeline messages" % self.sent, "relayed %d" % self.sink.count())
        self.postfix.stop()
        self.sink.stop()
        v = subprocess.run([load, "--keys", keys_file, "--schedule", schedule, "--verify-dir", self.relayed_dir],
                           capture_output=True, text=True)
        print(v.stdout.rstrip())
        c.check(v.returncode == 0, "every message through Postfix verifies against the key scheduled for its t=")


def rewrite_while_loading(ks, min_seconds):
    """REWRITES valid key sets (tool, hand, symlink swap in turn) and the
    INVALID_AT ones, evenly over the load; returns (writes per mode, invalid
    sets the tool refused without changing anything)."""
    manifest = os.path.join(ks.dir, "manifest")
    modes = {"tool": 0, "hand": 0, "symlink": 0}
    refused_by_tool = 0
    rev = 0
    interval = (min_seconds + 2) / (REWRITES + len(INVALID_AT) + 5)
    for i in range(REWRITES + len(INVALID_AT)):
        time.sleep(interval)
        rev += 1
        if i in INVALID_AT:
            bad = ks.invalid(INVALID_AT[i], rev)
            before = open(manifest).read()
            rc, err = ks.install_with_tool(bad)
            unchanged = open(manifest).read() == before
            if rc == 2 and unchanged and err:
                refused_by_tool += 1
            else:
                print("tool accepted invalid %s: rc=%s err=%s" % (INVALID_AT[i], rc, err))
            ks.write_by_hand(bad)  # dropped in anyway, by hand
            continue
        text = ks.manifest(rev)
        mode = ("tool", "hand", "symlink")[sum(modes.values()) % 3]
        if mode == "tool":
            rc, err = ks.install_with_tool(text)
            if rc != 0:
                print("tool refused a valid key set: " + err)
        elif mode == "hand":
            ks.write_by_hand(text)
        else:
            ks.symlink_swap(text, rev)
        modes[mode] += 1
    return modes, refused_by_tool


def check_milter_log(c, milter, modes, refused_by_tool, pipeline_messages, cuts):
    """Every invalid set refused with its reason, every cutover logged."""
    log = milter.log_lines()
    refused = [l for l in log if "reload refused" in l]
    reasons = {kind: any(marker in l for l in refused) for kind, marker in (
        ("truncated", "truncated"), ("unknown-algorithm", "unknown algorithm dsa"),
        ("missing-key-file", "not-there.key"), ("unsafe-permissions", "chmod 600"),
        ("duplicate-selector", "is already used"))}
    for kind, seen in reasons.items():
        c.check(seen, "invalid key set refused with its reason: " + kind)
    c.check(refused_by_tool == len(INVALID_AT), "signet keyset install refused all %d invalid sets, changing nothing"
            % len(INVALID_AT), "refused %d" % refused_by_tool)
    reloads = sum(1 for l in log if ": reloaded," in l)
    c.check(sum(modes.values()) == REWRITES, "%d valid rewrites (tool, hand, symlink swap)" % REWRITES)
    schedule_lines = [l for l in log if "key schedule:" in l]
    c.check(len(schedule_lines) >= CUTOVERS, "%d scheduled cutovers logged" % CUTOVERS, "saw %d" % len(schedule_lines))
    # Each instant at its own time, in order, once, however late the reloader
    # thread woke (a loaded host used to fold two instants into one line).
    stamped = [l.split("key schedule: at ", 1)[1].split(" ", 1)[0] for l in schedule_lines]
    want = [iso(t) for t in cuts]
    c.check([s for s in stamped if s in want] == want, "every cutover instant logged once, in order, at its instant",
            "logged %s" % stamped)
    print("rewrites: %d (tool %d, hand %d, symlink swap %d) + %d invalid; reloads applied %d, refused %d; "
          "cutovers logged %d; Postfix pipeline messages %d"
          % (sum(modes.values()), modes["tool"], modes["hand"], modes["symlink"], len(INVALID_AT), reloads,
             len(refused), len(schedule_lines), pipeline_messages))


def main():
    def options(ap):
        ap.add_argument("--load", required=True)
        ap.add_argument("--messages", type=int, default=20000)
        ap.add_argument("--rsa-bits", type=int, default=2048)
        ap.add_argument("--no-postfix", action="store_true")
    args = scenario_args(milter=True, extra=options)
    os.chmod(args.work, 0o755)
    c = Checks()

    keydir = os.path.join(args.work, "keys")
    ks = KeySet(args.signet, keydir, args.rsa_bits)
    ks.write_by_hand(ks.manifest(0))
    keys_file = os.path.join(args.work, "keys.txt")
    write_keys_file(keys_file, ks.keys)
    schedule = os.path.join(args.work, "schedule.txt")
    ks.schedule_file(schedule)

    milter = SignetMilter(args.milter, args.work, {
        "key-directory": keydir,
        "internal-hosts": "127.0.0.1/32",
        "trusted-services": "tx-out",
        "shutdown-timeout": 10,
        "dns-check": False,
        "stream.tx": {"domain": "example.com"},
        "rule.all": {"stream": "tx"},
    })
    c.check(milter.check_config()[0] == 0, "the starting key set passes --check-config")
    milter.start()
    time.sleep(0.5)  # as before the fixture waited for the socket: the same head start
    trickle = None if args.no_postfix else Trickle(args.work, milter)

    # The load runs at least until the last cutover has passed.
    min_seconds = max(0, ks.last_cut + 3 - time.time())
    load_out = os.path.join(args.work, "load.out")
    load = subprocess.Popen([args.load, "--socket", milter.socket, "--connections", "8",
                             "--messages", str(args.messages), "--min-seconds", "%.1f" % min_seconds,
                             "--keys", keys_file, "--schedule", schedule], stdout=open(load_out, "wb"))
    modes, refused_by_tool = rewrite_while_loading(ks, min_seconds)
    load.wait(timeout=600)
    if trickle:
        trickle.stopping.set()
    crashed = not milter.running
    print(open(load_out).read().rstrip())
    c.check(load.returncode == 0, "milter_load: 0 unsigned, 0 tempfails, 0 transport errors, all verified")
    c.check(not crashed, "signet-milter still running after the load (0 crashes)")
    if trickle:
        trickle.check_relayed(c, args.load, keys_file, schedule)

    rc = milter.stop(timeout=60)
    c.check(rc == 0, "signet-milter exits 0 on SIGTERM", "rc=%s" % rc)
    check_milter_log(c, milter, modes, refused_by_tool, trickle.sent if trickle else 0, ks.cuts)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
