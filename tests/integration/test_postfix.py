#!/usr/bin/python3
"""signet-milter behind a real Postfix: who gets signed, with which key.

usage: test_postfix.py --milter build/milter/signet-milter --signet build/tools/signet
                       --work DIR [--no-milter]

Postfix is the Debian package (scripts/install-postfix), run as a private
instance under DIR/postfix (postfix_harness.py): config, queue and data
directories there, chroot off, listening only on 127.0.0.1 high ports, three
smtpd services -- "inbound" (untrusted), "submission" (SASL AUTH, Cyrus
sasldb) and "tx" ({daemon_name} tx-out) -- all relaying to a capture SMTP
sink (smtp_sink.py).  This script

  1. generates keys with `signet keygen` into DIR/keys/<domain>/<selector>.key
     and the keys file DIR/keys.txt (`sel._domainkey.domain TXT "..." "..."`);
  2. writes DIR/signet.conf (docs/configuration.md): trusted-services
     submission tx-out, streams tx (example.com, rsa + ed25519), acme
     (acme.example, rsa, sasl-logins acme) and sub (example.com, ed25519);
     rules from-domain acme.example -> acme, daemon-name tx-out -> tx,
     daemon-name submission -> sub;
  3. starts signet-milter (stderr to DIR/milter.log), the sink and Postfix;
  4. runs the cases: authenticated submission signed with `sub`; untrusted
     inbound unsigned; selection by {daemon_name} (tx vs submission);
     selection by From domain with tenant binding (acme may, carol may not
     sign as acme.example); rsa + ed25519 dual signature on tx; a 1 MB
     message; 8 concurrent SMTP sessions x 100 messages on tx.
     Every signature is verified by dkimpy (keys from DIR/keys.txt) and
     every case message by `signet verify --keys DIR/keys.txt` (the load
     case: dkimpy for all 800, signet verify for a sample of 60); a
     tampered copy must fail both (control);
  5. at the end: the milter still runs, the Postfix queue is empty, Postfix
     logged no warning/error, signet-milter exits 0 on SIGTERM and logged
     one line per message (only the inbound one "not signed").

Lines stay under 998 bytes: Postfix's smtp client would wrap longer ones
after signing (smtp_line_length_limit) and break every signature.

Each message gets a unique envelope recipient; the sink's envelope tells
which message is which.  --no-milter (development only) runs Postfix with
no milter and checks just the relay path.

Prints ok/FAIL lines, ends with "N passed, M failed", exits 1 on any failure.
Needs root (Postfix's master).  Everything runs on 127.0.0.1.
"""

import argparse
import os
import random
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import dkim  # noqa: E402
except ImportError:  # pragma: no cover
    sys.stderr.write("dkimpy not importable; run with /usr/bin/python3 "
                     "(Debian package python3-dkim)\n")
    sys.exit(2)

from dkimpy_cross import (keygen_output_to_record, record_to_keys_line,  # noqa: E402
                          load_keys_file, make_dnsfunc, one_line, Tally)
from postfix_harness import PostfixInstance, free_port, listening_ports  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402

KEYS = (
    # (domain, selector, algorithm)
    ("example.com", "tx-202611-rsa2048", "rsa"),
    ("example.com", "tx-202611-ed25519", "ed25519"),
    ("example.com", "sub-202611-ed25519", "ed25519"),
    ("acme.example", "acme-202611-rsa2048", "rsa"),
)
TX_SELECTORS = {"tx-202611-rsa2048", "tx-202611-ed25519"}
SUB_SELECTOR = "sub-202611-ed25519"
ACME_SELECTOR = "acme-202611-rsa2048"
USERS = {"carol": "carol-secret-1", "acme": "acme-secret-2"}

LOAD_SESSIONS = 8
LOAD_PER_SESSION = 100
LOAD_SIGNET_SAMPLE = 60
TOTAL_BUDGET = 170          # seconds: the whole run stays well under 3 min
START = time.monotonic()


def remaining(cap):
    return max(1.0, min(cap, TOTAL_BUDGET - (time.monotonic() - START)))


class Stop(Exception):
    """Setup failed (already reported): skip to the teardown."""


# --------------------------------------------------------------------------
# Messages and signatures
# --------------------------------------------------------------------------

def make_message(from_addr, subject, body=None, msgid=None):
    msgid = msgid or "<%s.%d@client.test>" % (
        re.sub(r"[^A-Za-z0-9.-]", "-", subject), random.getrandbits(48))
    body = body if body is not None else (
        b"Hello Bob,\r\n\r\n"
        b".a line that starts with a dot (dot-stuffed on the wire)\r\n"
        b"trailing spaces   \r\n\r\n-- \r\nthe signet test\r\n")
    return (b"From: Sender <%s>\r\n"
            b"To: Bob Example <bob@example.org>\r\n"
            b"Subject: %s\r\n"
            b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: %s\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=us-ascii\r\n"
            b"\r\n" % (from_addr.encode(), subject.encode(), msgid.encode())
            ) + body


def big_body(size):
    """About `size` bytes of 76-character lines, some starting with '.'."""
    lines = []
    n = 0
    i = 0
    while n < size:
        if i % 50 == 7:
            line = b"." + (b"dot line %08d " % i) * 4
        else:
            line = (b"line %08d abcdefghijklmnopqrstuvwxyz " % i) * 2
        line = line[:76] + b"\r\n"
        lines.append(line)
        n += len(line)
        i += 1
    return b"".join(lines)


def load_body(t, i):
    """A body of 1 to ~4000 bytes.  Lines stay under 998 bytes: Postfix's
    smtp client wraps longer ones (smtp_line_length_limit) after the milter
    has signed, which would break any signature."""
    n = i * 37 % 4000
    line = b"x" * 75 + b"\r\n"
    return (b"message %d of session %d\r\n" % (i, t) +
            line * (n // len(line)) + b"y" * (n % len(line)) + b"\r\n")


def header_fields(msg):
    """[(lower-case name, raw value bytes)] of the header block."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    out = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + b"\r\n" + line)
        elif b":" in line:
            name, value = line.split(b":", 1)
            out.append((name.strip().lower(), value))
    return out


def signatures(msg):
    """[{tag: value}] for every DKIM-Signature, top to bottom."""
    sigs = []
    for name, value in header_fields(msg):
        if name == b"dkim-signature":
            tags = {}
            for part in re.sub(rb"\s+", b"", value).split(b";"):
                if b"=" in part:
                    k, v = part.split(b"=", 1)
                    tags[k.decode()] = v.decode("ascii", "replace")
            sigs.append(tags)
    return sigs


def describe(sigs):
    return ", ".join("d=%s s=%s a=%s" % (s.get("d"), s.get("s"), s.get("a"))
                     for s in sigs) or "no DKIM-Signature"


# --------------------------------------------------------------------------
# The run
# --------------------------------------------------------------------------

class Run(Tally):
    def __init__(self, args):
        super().__init__()
        self.args = args
        self.work = os.path.abspath(args.work)
        self.signet = os.path.abspath(args.signet)
        self.milter_bin = os.path.abspath(args.milter)
        self.keys_file = os.path.join(self.work, "keys.txt")
        self.milter_log = os.path.join(self.work, "milter.log")
        self.dnsfunc = None
        self.milter = None
        self.milter_port = None
        self.sink = None
        self.pf = None
        self.rcpt_seq = 0
        self.cases_ran = False
        self.accepted = 0           # messages Postfix accepted (milter saw)
        self.accepted_lock = threading.Lock()

    def check(self, cond, what, detail=""):
        if cond:
            self.ok(what)
        else:
            self.fail(what, detail or "failed")
        return cond

    def note(self, text):
        print("#      %s" % text, flush=True)

    def milter_tail(self, n=15):
        try:
            with open(self.milter_log, "rb") as f:
                lines = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return ""
        return " | ".join(lines[-n:])

    # -- setup ------------------------------------------------------------
    def setup(self):
        if not self.check(os.access("/usr/sbin/postfix", os.X_OK) and
                          os.access("/usr/sbin/saslpasswd2", os.X_OK),
                          "postfix and saslpasswd2 installed",
                          "run scripts/install-postfix"):
            raise Stop
        if not self.check(os.geteuid() == 0,
                          "running as root (Postfix's master needs it)"):
            raise Stop
        if not self.args.no_milter and not self.check(
                os.access(self.milter_bin, os.X_OK),
                "signet-milter binary exists", self.milter_bin):
            raise Stop
        shutil.rmtree(self.work, ignore_errors=True)
        os.makedirs(self.work)
        os.chmod(self.work, 0o755)   # the postfix user reads the sasldb here

        self.make_keys()
        if not self.args.no_milter:
            self.start_milter()
        self.sink = SmtpSink(os.path.join(self.work, "capture")).start()
        self.pf = PostfixInstance(
            os.path.join(self.work, "postfix"),
            None if self.args.no_milter else
            "inet:127.0.0.1:%d" % self.milter_port,
            sink_port=self.sink.port,
            capture_dir=self.sink.out_dir,
            sasl_users=USERS)
        t0 = time.monotonic()
        try:
            self.pf.start()
        except Exception as e:
            self.fail("Postfix instance starts", one_line(str(e), 2000))
            raise Stop
        self.ok("Postfix instance starts in %.1fs (inbound %d, submission %d, "
                "tx %d; relay to sink %d)" % (
                    time.monotonic() - t0, self.pf.ports["inbound"],
                    self.pf.ports["submission"], self.pf.ports["tx"],
                    self.sink.port))

    def make_keys(self):
        lines = []
        for domain, selector, alg in KEYS:
            d = os.path.join(self.work, "keys", domain)
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, selector + ".key")
            p = subprocess.run([self.signet, "keygen", "--algorithm", alg,
                                "--out", path], capture_output=True,
                               text=True, timeout=30)
            mode = os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0
            if not self.check(p.returncode == 0 and mode == 0o600,
                              "signet keygen %s %s/%s.key (mode %o)" % (
                                  alg, domain, selector, mode),
                              one_line(p.stderr) or "exit %d" % p.returncode):
                raise Stop
            record = keygen_output_to_record(p.stdout)
            lines.append(record_to_keys_line(
                "%s._domainkey.%s" % (selector, domain), record))
        with open(self.keys_file, "w") as f:
            f.writelines(lines)
        self.dnsfunc = make_dnsfunc(load_keys_file(self.keys_file))

    def write_config(self):
        conf = os.path.join(self.work, "signet.conf")
        with open(conf, "w") as f:
            f.write("""# generated by test_postfix.py
socket = inet:%(port)d@127.0.0.1
log = stderr
foreground = true
key-directory = %(keys)s
trusted-services = submission tx-out

[stream.tx]
domain = example.com
selector = tx-202611-rsa2048
selector = tx-202611-ed25519

[stream.acme]
domain = acme.example
selector = acme-202611-rsa2048
sasl-logins = acme

[stream.sub]
domain = example.com
selector = sub-202611-ed25519

[rule.acme]
from-domain = acme.example
stream = acme

[rule.tx]
daemon-name = tx-out
stream = tx

[rule.sub]
daemon-name = submission
stream = sub
""" % {"port": self.milter_port, "keys": os.path.join(self.work, "keys")})
        return conf

    def start_milter(self):
        self.milter_port = free_port()
        conf = self.write_config()
        p = subprocess.run([self.milter_bin, "--config", conf,
                            "--check-config"], capture_output=True, text=True,
                           timeout=30)
        if not self.check(p.returncode == 0, "signet-milter --check-config",
                          one_line(p.stderr + p.stdout) or
                          "exit %d" % p.returncode):
            raise Stop
        log = open(self.milter_log, "wb")
        self.milter = subprocess.Popen(
            [self.milter_bin, "--config", conf, "--foreground",
             "--log", "stderr"],
            stdin=subprocess.DEVNULL, stdout=log, stderr=log,
            start_new_session=True)
        log.close()
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if self.milter_port in listening_ports():
                self.ok("signet-milter listens on inet:%d@127.0.0.1"
                        % self.milter_port)
                return
            if self.milter.poll() is not None:
                break
            time.sleep(0.05)
        self.fail("signet-milter listens on inet:%d@127.0.0.1"
                  % self.milter_port, "exit %s; log: %s" % (
                      self.milter.poll(), self.milter_tail()))
        raise Stop

    # -- teardown ---------------------------------------------------------
    def teardown(self):
        if self.pf is not None:
            t0 = time.monotonic()
            self.pf.stop()
            self.note("Postfix stopped in %.1fs" % (time.monotonic() - t0))
            warnings = [l for l in self.pf.log_lines()
                        if re.search(r"(warning|error|fatal|panic):", l)]
            if self.cases_ran:
                self.check(not warnings, "Postfix logged no warnings or errors",
                           one_line("\n".join(warnings[:8]), 1500))
        if self.milter is not None:
            t0 = time.monotonic()
            rc = stop_process(self.milter)
            self.note("signet-milter stopped in %.1fs" % (time.monotonic() - t0))
            self.check(rc == 0, "signet-milter exits 0 on SIGTERM",
                       "exit %s; log: %s" % (rc, self.milter_tail()))
            if self.cases_ran:
                self.check_milter_log()
        if self.sink is not None:
            self.sink.stop()
            self.check(not self.sink.errors, "sink had no session errors",
                       "; ".join(self.sink.errors))

    def check_milter_log(self):
        """One log line per message: signed, or not signed with the reason."""
        with open(self.milter_log, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        per_msg = [l for l in lines
                   if re.search(r": (signed|not signed|skipped)\b", l)]
        unsigned = [l for l in per_msg if not re.search(r": signed\b", l)]
        self.check(len(per_msg) == self.accepted,
                   "signet-milter logged one line per message (%d)"
                   % self.accepted, "%d per-message lines" % len(per_msg))
        self.check(len(unsigned) == 1 and "inbound" in unsigned[0],
                   "signet-milter logged exactly the inbound message as not "
                   "signed", one_line("\n".join(unsigned[:4])) or "none")
        if unsigned:
            self.note("milter: %s" % unsigned[0])

    # -- sending and receiving ---------------------------------------------
    def rcpt(self, tag):
        self.rcpt_seq += 1
        return "%s-%d@example.org" % (tag, self.rcpt_seq)

    def send(self, what, service, msg, mail_from, rcpt, sasl=None):
        try:
            self.pf.send(service, msg, mail_from, [rcpt], sasl=sasl)
            self.count_accepted()
            return True
        except (smtplib.SMTPException, OSError) as e:
            self.fail(what, "Postfix refused the message on %s: %r; milter log: %s"
                      % (service, e, self.milter_tail(5)))
            return False

    def count_accepted(self):
        with self.accepted_lock:
            self.accepted += 1

    def wait_rcpts(self, rcpts, timeout):
        """{rcpt: message bytes} for the given envelope recipients; those
        that did not arrive within timeout are missing from the result."""
        want = set(rcpts)
        found = {}
        end = time.monotonic() + remaining(timeout)
        while True:
            for name, _, to in list(self.sink.envelopes):
                for r in to:
                    if r in want and r not in found:
                        with open(os.path.join(self.sink.out_dir, name),
                                  "rb") as f:
                            found[r] = f.read()
            if len(found) == len(want) or time.monotonic() > end:
                return found
            time.sleep(0.05)

    def receive(self, what, rcpt, timeout=30):
        got = self.wait_rcpts([rcpt], timeout)
        if rcpt not in got:
            self.fail(what, "nothing arrived at the sink for %s within %ds; "
                      "Postfix log: %s" % (rcpt, timeout, one_line(
                          "\n".join(self.pf.log_lines()[-6:]), 1200)))
            return None
        return got[rcpt]

    # -- verification -------------------------------------------------------
    def dkimpy_verify(self, msg, quiet=False):
        """(all pass, [per-signature bool]) with dkimpy."""
        d = dkim.DKIM(msg)
        n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
        results = []
        for i in range(n):
            try:
                results.append(bool(d.verify(idx=i, dnsfunc=self.dnsfunc)))
            except Exception as e:  # dkimpy raises on malformed signatures
                results.append(False)
                if not quiet:
                    self.note("dkimpy: signature %d: %r" % (i, e))
        return (n > 0 and all(results)), results

    def signet_verify(self, msg):
        p = subprocess.run([self.signet, "verify", "--keys", self.keys_file],
                           input=msg, capture_output=True, timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        passes = len(re.findall(r"dkim=pass", out))
        return p.returncode, passes, one_line(out + p.stderr.decode(
            "utf-8", "replace"))

    def verify_both(self, what, msg, expect_sigs):
        """Check dkimpy and signet verify on every signature of msg."""
        ok, per = self.dkimpy_verify(msg)
        self.check(ok and len(per) == expect_sigs,
                   "%s: dkimpy verifies %d signature(s)" % (what, expect_sigs),
                   "dkimpy results %r for %s" % (per, describe(signatures(msg))))
        rc, passes, out = self.signet_verify(msg)
        self.check(rc == 0 and passes == expect_sigs,
                   "%s: signet verify passes %d signature(s)" % (
                       what, expect_sigs),
                   "exit %d, %d pass: %s" % (rc, passes, out))

    def expect_signed(self, what, msg, expected):
        """expected: [(d, s, a)] in any order; checks exactly those."""
        sigs = signatures(msg)
        if self.args.no_milter:
            return self.check(not sigs, "%s: relayed (no milter, no signature)"
                              % what, describe(sigs))
        got = sorted((s.get("d"), s.get("s"), s.get("a")) for s in sigs)
        if not self.check(got == sorted(expected), "%s: signed %s" % (
                what, ", ".join("d=%s s=%s a=%s" % e for e in expected)),
                "got %s" % describe(sigs)):
            if sigs:
                self.verify_both(what, msg, len(sigs))
            return False
        self.verify_both(what, msg, len(expected))
        return True

    # -- the cases ----------------------------------------------------------
    def case_submission(self):
        what = "submission (SASL carol)"
        rcpt = self.rcpt("sub")
        msg = make_message("carol@example.com", "authenticated submission")
        if not self.send(what, "submission", msg, "carol@example.com", rcpt,
                         sasl=("carol", USERS["carol"])):
            return
        got = self.receive(what, rcpt)
        if got is None:
            return
        self.expect_signed(what, got, [("example.com", SUB_SELECTOR,
                                        "ed25519-sha256")])

    def case_inbound(self):
        what = "untrusted inbound (no AUTH)"
        rcpt = self.rcpt("inbound")
        # From our own domain: being ours by From is not enough.
        msg = make_message("alice@example.com", "untrusted inbound")
        if not self.send(what, "inbound", msg, "alice@example.com", rcpt):
            return
        got = self.receive(what, rcpt)
        if got is None:
            return
        self.check(not signatures(got) and b"dkim-signature" not in got.lower(),
                   "%s: arrives without any DKIM-Signature" % what,
                   describe(signatures(got)))
        body = msg.split(b"\r\n\r\n", 1)[1]
        self.check(got.endswith(b"\r\n\r\n" + body),
                   "%s: body arrives unchanged (dot line, trailing spaces)" % what)

    def case_daemon_name(self):
        what = "selection by {daemon_name}"
        msg = make_message("carol@example.com", "same message, two services")
        r_tx, r_sub = self.rcpt("dn-tx"), self.rcpt("dn-sub")
        if not self.send(what + " (tx)", "tx", msg, "carol@example.com", r_tx):
            return
        if not self.send(what + " (submission)", "submission", msg,
                         "carol@example.com", r_sub,
                         sasl=("carol", USERS["carol"])):
            return
        got = self.wait_rcpts([r_tx, r_sub], 30)
        if not self.check(len(got) == 2, "%s: both copies arrive" % what,
                          "arrived: %s" % sorted(got)):
            return
        s_tx = {s.get("s") for s in signatures(got[r_tx])}
        s_sub = {s.get("s") for s in signatures(got[r_sub])}
        self.check(s_tx == TX_SELECTORS and s_sub == {SUB_SELECTOR},
                   "%s: tx-out signs with %s, submission with %s" % (
                       what, "+".join(sorted(TX_SELECTORS)), SUB_SELECTOR),
                   "tx: %s; submission: %s" % (describe(signatures(got[r_tx])),
                                               describe(signatures(got[r_sub]))))
        self.check(s_tx.isdisjoint(s_sub) and s_tx and s_sub,
                   "%s: different selectors for the same message" % what,
                   "tx %s, submission %s" % (sorted(s_tx), sorted(s_sub)))
        self.verify_both(what + " (tx copy)", got[r_tx], len(s_tx) or 1)
        self.verify_both(what + " (submission copy)", got[r_sub],
                         len(s_sub) or 1)

    def case_from_domain(self):
        what = "selection by From domain (SASL acme)"
        rcpt = self.rcpt("acme")
        msg = make_message("x@acme.example", "tenant acme")
        if self.send(what, "submission", msg, "x@acme.example", rcpt,
                     sasl=("acme", USERS["acme"])):
            got = self.receive(what, rcpt)
            if got is not None:
                self.expect_signed(what, got, [("acme.example", ACME_SELECTOR,
                                                "rsa-sha256")])

        what = "tenant binding (SASL carol, From acme.example)"
        rcpt = self.rcpt("carol-as-acme")
        msg = make_message("x@acme.example", "carol pretends to be acme")
        if not self.send(what, "submission", msg, "x@acme.example", rcpt,
                         sasl=("carol", USERS["carol"])):
            return
        got = self.receive(what, rcpt)
        if got is None:
            return
        sigs = signatures(got)
        self.check(not any(s.get("d", "").lower() == "acme.example"
                           for s in sigs),
                   "%s: no d=acme.example signature" % what, describe(sigs))
        self.note("%s: %s" % (what, describe(sigs)))
        if sigs:
            self.verify_both(what, got, len(sigs))

    def case_dual(self):
        what = "dual rsa + ed25519 on tx"
        rcpt = self.rcpt("dual")
        msg = make_message("news@example.com", "dual signature")
        if not self.send(what, "tx", msg, "news@example.com", rcpt):
            return
        got = self.receive(what, rcpt)
        if got is None:
            return
        n = len([1 for name, _ in header_fields(got)
                 if name == b"dkim-signature"])
        self.check(n == 2, "%s: two DKIM-Signature header fields" % what,
                   "%d: %s" % (n, describe(signatures(got))))
        if not self.expect_signed(what, got, [
                ("example.com", "tx-202611-rsa2048", "rsa-sha256"),
                ("example.com", "tx-202611-ed25519", "ed25519-sha256")]):
            return
        # Control: the verifiers really check (a changed body fails both).
        bad = got.replace(b"Hello Bob,", b"Hello Rob,", 1)
        ok, per = self.dkimpy_verify(bad, quiet=True)
        rc, passes, out = self.signet_verify(bad)
        self.check(bad != got and not any(per) and rc == 1 and passes == 0,
                   "%s: a tampered copy fails in dkimpy and signet verify"
                   % what, "dkimpy %r, signet exit %d: %s" % (per, rc, out))

    def case_big(self):
        what = "1 MB message on tx"
        rcpt = self.rcpt("big")
        body = big_body(1 << 20)
        msg = make_message("news@example.com", "one megabyte", body=body)
        if not self.send(what, "tx", msg, "news@example.com", rcpt):
            return
        got = self.receive(what, rcpt, timeout=60)
        if got is None:
            return
        self.check(got.endswith(b"\r\n\r\n" + body),
                   "%s: arrives complete (%d body bytes)" % (what, len(body)),
                   "received %d bytes" % len(got))
        self.expect_signed(what, got, [
            ("example.com", "tx-202611-rsa2048", "rsa-sha256"),
            ("example.com", "tx-202611-ed25519", "ed25519-sha256")])

    def case_load(self):
        what = "load: %d sessions x %d messages on tx" % (LOAD_SESSIONS,
                                                          LOAD_PER_SESSION)
        total = LOAD_SESSIONS * LOAD_PER_SESSION
        rcpts = [["load-%d-%03d@example.org" % (t, i)
                  for i in range(LOAD_PER_SESSION)]
                 for t in range(LOAD_SESSIONS)]
        errors = []
        port = self.pf.ports["tx"]

        def worker(t):
            try:
                with smtplib.SMTP("127.0.0.1", port,
                                  local_hostname="load%d.client.test" % t,
                                  timeout=60) as s:
                    s.ehlo()
                    for i, r in enumerate(rcpts[t]):
                        msg = make_message(
                            "load%d@example.com" % t,
                            "load %d message %d" % (t, i),
                            body=load_body(t, i))
                        PostfixInstance.send_on(s, msg, "load%d@example.com"
                                                % t, [r])
                        self.count_accepted()
            except Exception as e:
                errors.append("session %d: %r" % (t, e))

        t0 = time.monotonic()
        threads = [threading.Thread(target=worker, args=(t,))
                   for t in range(LOAD_SESSIONS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(remaining(120))
        t_sent = time.monotonic() - t0
        if not self.check(not errors and not any(th.is_alive() for th in threads),
                          "%s: Postfix accepts all %d in %.1fs" % (
                              what, total, t_sent),
                          "; ".join(errors[:4]) + " milter log: " +
                          self.milter_tail(5)):
            if errors and len(errors) == LOAD_SESSIONS:
                return
        flat = [r for rs in rcpts for r in rs]
        got = self.wait_rcpts(flat, 120)
        t_all = time.monotonic() - t0
        if not self.check(len(got) == total,
                          "%s: all %d captured (%.1fs after the first send)" % (
                              what, total, t_all),
                          "%d of %d arrived" % (len(got), total)):
            if not got:
                return
        if self.args.no_milter:
            return
        t1 = time.monotonic()
        bad_sig, bad_verify = [], []
        want = sorted([("example.com", "tx-202611-ed25519", "ed25519-sha256"),
                       ("example.com", "tx-202611-rsa2048", "rsa-sha256")])
        for r, msg in got.items():
            sigs = signatures(msg)
            if sorted((s.get("d"), s.get("s"), s.get("a")) for s in sigs) != want:
                bad_sig.append("%s: %s" % (r, describe(sigs)))
                continue
            ok, per = self.dkimpy_verify(msg, quiet=True)
            if not ok:
                bad_verify.append("%s: %r" % (r, per))
        self.check(not bad_sig, "%s: every message carries the tx rsa + ed25519 "
                   "signatures" % what, "%d wrong, e.g. %s" % (
                       len(bad_sig), "; ".join(bad_sig[:3])))
        self.check(not bad_verify and len(got) == total,
                   "%s: dkimpy verifies all %d (%d signatures) in %.1fs" % (
                       what, len(got), 2 * len(got), time.monotonic() - t1),
                   "%d failed, e.g. %s" % (len(bad_verify),
                                           "; ".join(bad_verify[:3])))
        sample = random.Random(6376).sample(sorted(got),
                                            min(LOAD_SIGNET_SAMPLE, len(got)))
        bad = []
        t2 = time.monotonic()
        for r in sample:
            rc, passes, out = self.signet_verify(got[r])
            if rc != 0 or passes != 2:
                bad.append("%s: exit %d: %s" % (r, rc, out))
        self.check(not bad, "%s: signet verify passes a sample of %d in %.1fs"
                   % (what, len(sample), time.monotonic() - t2),
                   "%d failed, e.g. %s" % (len(bad), "; ".join(bad[:2])))

    def final_checks(self):
        if self.milter is not None:
            self.check(self.milter.poll() is None,
                       "signet-milter still running after all cases",
                       "exit %s; log: %s" % (self.milter.poll(),
                                             self.milter_tail()))
        try:
            q = self.pf.queue_size()
            self.check(q == 0, "Postfix queue is empty (nothing deferred)",
                       "%d message(s) left in the queue" % q)
        except Exception as e:
            self.fail("Postfix queue is empty (nothing deferred)", repr(e))

    def run_cases(self):
        cases = [self.case_submission, self.case_inbound]
        if not self.args.no_milter:
            cases += [self.case_daemon_name, self.case_from_domain,
                      self.case_dual]
        cases += [self.case_big, self.case_load]
        for case in cases:
            t0 = time.monotonic()
            try:
                case()
            except Exception as e:
                self.fail(case.__name__, "unexpected %r" % e)
            self.note("%s: %.1fs" % (case.__name__, time.monotonic() - t0))
        self.final_checks()
        self.cases_ran = True


def stop_process(proc, timeout=10):
    """SIGTERM, wait, SIGKILL what is left; returns the exit status."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--milter", default="build/milter/signet-milter")
    ap.add_argument("--signet", default="build/tools/signet")
    ap.add_argument("--work", required=True)
    ap.add_argument("--no-milter", action="store_true",
                    help="development: relay through Postfix without the milter")
    args = ap.parse_args()

    # SIGTERM (e.g. from a test driver) unwinds like Ctrl-C: stop everything.
    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    run = Run(args)
    interrupted = False
    try:
        run.setup()
        run.run_cases()
    except Stop:
        pass
    except KeyboardInterrupt:
        interrupted = True
        run.fail("run", "interrupted")
    finally:
        # Teardown must finish even if a second signal arrives.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        run.teardown()
    if args.no_milter:
        run.note("--no-milter: DKIM checks skipped")
    run.note("total %.1fs" % (time.monotonic() - START))
    print("%d passed, %d failed" % (run.passed, run.failed), flush=True)
    return 1 if run.failed or interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
