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
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

try:
    import dkim  # noqa: E402,F401  (dkimpy_results needs it: fail early)
except ImportError:  # pragma: no cover
    sys.stderr.write("dkimpy not importable; run with /usr/bin/python3 "
                     "(Debian package python3-dkim)\n")
    sys.exit(2)

from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from testkit import (Checks, MilterError, SignetMilter, describe, dkimpy_results,  # noqa: E402
                     header_fields, keygen, load_keys_file, make_dnsfunc, one_line,
                     signatures, signet_verify, write_keys_file)

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
# Messages (header fields and DKIM-Signature tags: testkit.py)
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


# --------------------------------------------------------------------------
# The fixture: keys, signet-milter, the sink and Postfix, sending, receiving
# and the two verifiers
# --------------------------------------------------------------------------

MILTER_CONFIG = {
    "trusted-services": "submission tx-out",
    "stream.tx": {"domain": "example.com", "selector": ["tx-202611-rsa2048", "tx-202611-ed25519"]},
    "stream.acme": {"domain": "acme.example", "selector": ACME_SELECTOR, "sasl-logins": "acme"},
    "stream.sub": {"domain": "example.com", "selector": SUB_SELECTOR},
    "rule.acme": {"from-domain": "acme.example", "stream": "acme"},
    "rule.tx": {"daemon-name": "tx-out", "stream": "tx"},
    "rule.sub": {"daemon-name": "submission", "stream": "sub"},
}


class Rig:
    """What every scenario shares; rig.c is the tally."""

    def __init__(self, args, checks):
        self.args = args
        self.c = checks
        self.work = os.path.abspath(args.work)
        self.signet = os.path.abspath(args.signet)
        self.milter_bin = os.path.abspath(args.milter)
        self.keys_file = os.path.join(self.work, "keys.txt")
        self.dnsfunc = None
        self.milter = None
        self.sink = None
        self.pf = None
        self.rcpt_seq = 0
        self.cases_ran = False
        self.accepted = 0           # messages Postfix accepted (milter saw)
        self.accepted_lock = threading.Lock()

    def milter_tail(self, n=15):
        return self.milter.log_tail(n) if self.milter else ""

    # -- setup ------------------------------------------------------------
    def setup(self):
        check = self.c.check
        if not check(os.access("/usr/sbin/postfix", os.X_OK) and
                     os.access("/usr/sbin/saslpasswd2", os.X_OK),
                     "postfix and saslpasswd2 installed",
                     "run scripts/install-postfix"):
            raise Stop
        if not check(os.geteuid() == 0,
                     "running as root (Postfix's master needs it)"):
            raise Stop
        if not self.args.no_milter and not check(
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
            None if self.args.no_milter else self.milter.socket,
            sink_port=self.sink.port,
            capture_dir=self.sink.out_dir,
            sasl_users=USERS)
        t0 = time.monotonic()
        try:
            self.pf.start()
        except Exception as e:
            self.c.fail("Postfix instance starts", one_line(str(e), 2000))
            raise Stop
        self.c.ok("Postfix instance starts in %.1fs (inbound %d, submission %d, "
                  "tx %d; relay to sink %d)" % (
                      time.monotonic() - t0, self.pf.ports["inbound"],
                      self.pf.ports["submission"], self.pf.ports["tx"],
                      self.sink.port))

    def make_keys(self):
        keys = []
        for domain, selector, alg in KEYS:
            d = os.path.join(self.work, "keys", domain)
            os.makedirs(d, exist_ok=True)
            key = keygen(self.signet, os.path.join(d, selector + ".key"), alg,
                         domain=domain, selector=selector, timeout=30)
            if not self.c.check(key.ok and key.mode == 0o600,
                                "signet keygen %s %s/%s.key (mode %o)" % (
                                    alg, domain, selector, key.mode),
                                one_line(key.stderr) or "exit %s" % key.returncode):
                raise Stop
            keys.append(key)
        write_keys_file(self.keys_file, keys)
        self.dnsfunc = make_dnsfunc(load_keys_file(self.keys_file))

    def start_milter(self):
        self.milter = SignetMilter(
            self.milter_bin, self.work,
            {"key-directory": os.path.join(self.work, "keys"), **MILTER_CONFIG},
            args=["--foreground", "--log", "stderr"])
        rc, out = self.milter.check_config()
        if not self.c.check(rc == 0, "signet-milter --check-config",
                            one_line(out) or "exit %d" % rc):
            raise Stop
        what = "signet-milter listens on %s" % self.milter.socket
        try:
            self.milter.start()
        except MilterError as e:
            self.c.fail(what, str(e))
            raise Stop
        self.c.ok(what)

    # -- teardown ---------------------------------------------------------
    def teardown(self):
        check, note = self.c.check, self.c.note
        if self.pf is not None:
            t0 = time.monotonic()
            self.pf.stop()
            note("Postfix stopped in %.1fs" % (time.monotonic() - t0))
            warnings = [l for l in self.pf.log_lines()
                        if re.search(r"(warning|error|fatal|panic):", l)]
            if self.cases_ran:
                check(not warnings, "Postfix logged no warnings or errors",
                      one_line("\n".join(warnings[:8]), 1500))
        if self.milter is not None and self.milter.proc is not None:
            t0 = time.monotonic()
            rc = self.milter.stop(timeout=10)
            note("signet-milter stopped in %.1fs" % (time.monotonic() - t0))
            check(rc == 0, "signet-milter exits 0 on SIGTERM",
                  "exit %s; log: %s" % (rc, self.milter_tail()))
            if self.cases_ran:
                self.check_milter_log()
        if self.sink is not None:
            self.sink.stop()
            check(not self.sink.errors, "sink had no session errors",
                  "; ".join(self.sink.errors))

    def check_milter_log(self):
        """One log line per message: signed, or not signed with the reason."""
        lines = self.milter.log_lines()
        per_msg = [l for l in lines
                   if re.search(r": (signed|not signed|skipped)\b", l)]
        unsigned = [l for l in per_msg if not re.search(r": signed\b", l)]
        self.c.check(len(per_msg) == self.accepted,
                     "signet-milter logged one line per message (%d)"
                     % self.accepted, "%d per-message lines" % len(per_msg))
        self.c.check(len(unsigned) == 1 and "inbound" in unsigned[0],
                     "signet-milter logged exactly the inbound message as not "
                     "signed", one_line("\n".join(unsigned[:4])) or "none")
        if unsigned:
            self.c.note("milter: %s" % unsigned[0])

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
            self.c.fail(what, "Postfix refused the message on %s: %r; milter log: %s"
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
            self.c.fail(what, "nothing arrived at the sink for %s within %ds; "
                        "Postfix log: %s" % (rcpt, timeout, one_line(
                            "\n".join(self.pf.log_lines()[-6:]), 1200)))
            return None
        return got[rcpt]

    def send_and_receive(self, what, service, msg, mail_from, rcpt, sasl=None, timeout=30):
        """The message as the sink got it, or None (reported)."""
        if not self.send(what, service, msg, mail_from, rcpt, sasl=sasl):
            return None
        return self.receive(what, rcpt, timeout=timeout)

    def submit(self, what, login, from_addr, subject, tag):
        """A message From from_addr on the submission service, SASL login."""
        return self.send_and_receive(what, "submission", make_message(from_addr, subject), from_addr,
                                     self.rcpt(tag), sasl=(login, USERS[login]))

    # -- verification -------------------------------------------------------
    def dkimpy_verify(self, msg, quiet=False):
        """(all pass, [per-signature bool]) with dkimpy."""
        results = dkimpy_results(msg, self.dnsfunc)
        if not quiet:
            for i, (_, _, err) in enumerate(results):
                if err:
                    self.c.note("dkimpy: signature %d: %s" % (i, err))
        per = [passed for _, passed, _ in results]
        return (len(per) > 0 and all(per)), per

    def signet_verify(self, msg):
        rc, out, err = signet_verify(self.signet, self.keys_file, msg)
        return rc, len(re.findall(r"dkim=pass", out)), one_line(out + err)

    def verify_both(self, what, msg, expect_sigs):
        """Check dkimpy and signet verify on every signature of msg."""
        ok, per = self.dkimpy_verify(msg)
        self.c.check(ok and len(per) == expect_sigs,
                     "%s: dkimpy verifies %d signature(s)" % (what, expect_sigs),
                     "dkimpy results %r for %s" % (per, describe(signatures(msg))))
        rc, passes, out = self.signet_verify(msg)
        self.c.check(rc == 0 and passes == expect_sigs,
                     "%s: signet verify passes %d signature(s)" % (
                         what, expect_sigs),
                     "exit %d, %d pass: %s" % (rc, passes, out))

    def expect_signed(self, what, msg, expected):
        """expected: [(d, s, a)] in any order; checks exactly those."""
        sigs = signatures(msg)
        if self.args.no_milter:
            return self.c.check(not sigs, "%s: relayed (no milter, no signature)"
                                % what, describe(sigs))
        got = sorted((s.get("d"), s.get("s"), s.get("a")) for s in sigs)
        if not self.c.check(got == sorted(expected), "%s: signed %s" % (
                what, ", ".join("d=%s s=%s a=%s" % e for e in expected)),
                "got %s" % describe(sigs)):
            if sigs:
                self.verify_both(what, msg, len(sigs))
            return False
        self.verify_both(what, msg, len(expected))
        return True


# --------------------------------------------------------------------------
# The scenarios, in the order they run
# --------------------------------------------------------------------------

TX_BOTH = [("example.com", "tx-202611-rsa2048", "rsa-sha256"),
           ("example.com", "tx-202611-ed25519", "ed25519-sha256")]


def submitted_and_signed(rig, what, login, from_addr, subject, tag, expected):
    got = rig.submit(what, login, from_addr, subject, tag)
    if got is not None:
        rig.expect_signed(what, got, expected)


def sasl_submission(rig):
    submitted_and_signed(rig, "submission (SASL carol)", "carol", "carol@example.com", "authenticated submission",
                         "sub", [("example.com", SUB_SELECTOR, "ed25519-sha256")])


def untrusted_inbound(rig):
    what = "untrusted inbound (no AUTH)"
    # From our own domain: being ours by From is not enough.
    msg = make_message("alice@example.com", "untrusted inbound")
    got = rig.send_and_receive(what, "inbound", msg, "alice@example.com", rig.rcpt("inbound"))
    if got is None:
        return
    rig.c.check(not signatures(got) and b"dkim-signature" not in got.lower(),
                "%s: arrives without any DKIM-Signature" % what, describe(signatures(got)))
    body = msg.split(b"\r\n\r\n", 1)[1]
    rig.c.check(got.endswith(b"\r\n\r\n" + body),
                "%s: body arrives unchanged (dot line, trailing spaces)" % what)


def daemon_name_streams(rig):
    what = "selection by {daemon_name}"
    msg = make_message("carol@example.com", "same message, two services")
    r_tx, r_sub = rig.rcpt("dn-tx"), rig.rcpt("dn-sub")
    if not rig.send(what + " (tx)", "tx", msg, "carol@example.com", r_tx):
        return
    if not rig.send(what + " (submission)", "submission", msg, "carol@example.com", r_sub,
                    sasl=("carol", USERS["carol"])):
        return
    got = rig.wait_rcpts([r_tx, r_sub], 30)
    if not rig.c.check(len(got) == 2, "%s: both copies arrive" % what, "arrived: %s" % sorted(got)):
        return
    s_tx = {s.get("s") for s in signatures(got[r_tx])}
    s_sub = {s.get("s") for s in signatures(got[r_sub])}
    rig.c.check(s_tx == TX_SELECTORS and s_sub == {SUB_SELECTOR},
                "%s: tx-out signs with %s, submission with %s" % (
                    what, "+".join(sorted(TX_SELECTORS)), SUB_SELECTOR),
                "tx: %s; submission: %s" % (describe(signatures(got[r_tx])),
                                            describe(signatures(got[r_sub]))))
    rig.c.check(s_tx.isdisjoint(s_sub) and s_tx and s_sub,
                "%s: different selectors for the same message" % what,
                "tx %s, submission %s" % (sorted(s_tx), sorted(s_sub)))
    rig.verify_both(what + " (tx copy)", got[r_tx], len(s_tx) or 1)
    rig.verify_both(what + " (submission copy)", got[r_sub], len(s_sub) or 1)


def from_domain_stream(rig):
    submitted_and_signed(rig, "selection by From domain (SASL acme)", "acme", "x@acme.example", "tenant acme",
                         "acme", [("acme.example", ACME_SELECTOR, "rsa-sha256")])


def tenant_binding(rig):
    what = "tenant binding (SASL carol, From acme.example)"
    got = rig.submit(what, "carol", "x@acme.example", "carol pretends to be acme", "carol-as-acme")
    if got is None:
        return
    sigs = signatures(got)
    rig.c.check(not any(s.get("d", "").lower() == "acme.example" for s in sigs),
                "%s: no d=acme.example signature" % what, describe(sigs))
    rig.c.note("%s: %s" % (what, describe(sigs)))
    if sigs:
        rig.verify_both(what, got, len(sigs))


def dual_signing(rig):
    what = "dual rsa + ed25519 on tx"
    got = rig.send_and_receive(what, "tx", make_message("news@example.com", "dual signature"),
                               "news@example.com", rig.rcpt("dual"))
    if got is None:
        return
    n = len([1 for name, _ in header_fields(got) if name == b"dkim-signature"])
    rig.c.check(n == 2, "%s: two DKIM-Signature header fields" % what,
                "%d: %s" % (n, describe(signatures(got))))
    if not rig.expect_signed(what, got, TX_BOTH):
        return
    # Control: the verifiers really check (a changed body fails both).
    bad = got.replace(b"Hello Bob,", b"Hello Rob,", 1)
    ok, per = rig.dkimpy_verify(bad, quiet=True)
    rc, passes, out = rig.signet_verify(bad)
    rig.c.check(bad != got and not any(per) and rc == 1 and passes == 0,
                "%s: a tampered copy fails in dkimpy and signet verify" % what,
                "dkimpy %r, signet exit %d: %s" % (per, rc, out))


def one_megabyte(rig):
    what = "1 MB message on tx"
    body = big_body(1 << 20)
    got = rig.send_and_receive(what, "tx", make_message("news@example.com", "one megabyte", body=body),
                               "news@example.com", rig.rcpt("big"), timeout=60)
    if got is None:
        return
    rig.c.check(got.endswith(b"\r\n\r\n" + body),
                "%s: arrives complete (%d body bytes)" % (what, len(body)),
                "received %d bytes" % len(got))
    rig.expect_signed(what, got, TX_BOTH)


def load_sessions(rig):
    what = "load: %d sessions x %d messages on tx" % (LOAD_SESSIONS, LOAD_PER_SESSION)
    total = LOAD_SESSIONS * LOAD_PER_SESSION
    rcpts = [["load-%d-%03d@example.org" % (t, i) for i in range(LOAD_PER_SESSION)]
             for t in range(LOAD_SESSIONS)]
    errors = []
    port = rig.pf.ports["tx"]

    def worker(t):
        try:
            with smtplib.SMTP("127.0.0.1", port, local_hostname="load%d.client.test" % t, timeout=60) as s:
                s.ehlo()
                for i, r in enumerate(rcpts[t]):
                    msg = make_message("load%d@example.com" % t, "load %d message %d" % (t, i),
                                       body=load_body(t, i))
                    PostfixInstance.send_on(s, msg, "load%d@example.com" % t, [r])
                    rig.count_accepted()
        except Exception as e:
            errors.append("session %d: %r" % (t, e))

    t0 = time.monotonic()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(LOAD_SESSIONS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(remaining(120))
    t_sent = time.monotonic() - t0
    if not rig.c.check(not errors and not any(th.is_alive() for th in threads),
                       "%s: Postfix accepts all %d in %.1fs" % (what, total, t_sent),
                       "; ".join(errors[:4]) + " milter log: " + rig.milter_tail(5)):
        if errors and len(errors) == LOAD_SESSIONS:
            return
    got = rig.wait_rcpts([r for rs in rcpts for r in rs], 120)
    t_all = time.monotonic() - t0
    if not rig.c.check(len(got) == total,
                       "%s: all %d captured (%.1fs after the first send)" % (what, total, t_all),
                       "%d of %d arrived" % (len(got), total)):
        if not got:
            return
    if rig.args.no_milter:
        return
    t1 = time.monotonic()
    bad_sig, bad_verify = [], []
    want = sorted(TX_BOTH)
    for r, msg in got.items():
        sigs = signatures(msg)
        if sorted((s.get("d"), s.get("s"), s.get("a")) for s in sigs) != want:
            bad_sig.append("%s: %s" % (r, describe(sigs)))
            continue
        ok, per = rig.dkimpy_verify(msg, quiet=True)
        if not ok:
            bad_verify.append("%s: %r" % (r, per))
    rig.c.check(not bad_sig, "%s: every message carries the tx rsa + ed25519 signatures" % what,
                "%d wrong, e.g. %s" % (len(bad_sig), "; ".join(bad_sig[:3])))
    rig.c.check(not bad_verify and len(got) == total,
                "%s: dkimpy verifies all %d (%d signatures) in %.1fs" % (
                    what, len(got), 2 * len(got), time.monotonic() - t1),
                "%d failed, e.g. %s" % (len(bad_verify), "; ".join(bad_verify[:3])))
    sample = random.Random(6376).sample(sorted(got), min(LOAD_SIGNET_SAMPLE, len(got)))
    bad = []
    t2 = time.monotonic()
    for r in sample:
        rc, passes, out = rig.signet_verify(got[r])
        if rc != 0 or passes != 2:
            bad.append("%s: exit %d: %s" % (r, rc, out))
    rig.c.check(not bad, "%s: signet verify passes a sample of %d in %.1fs"
                % (what, len(sample), time.monotonic() - t2),
                "%d failed, e.g. %s" % (len(bad), "; ".join(bad[:2])))


def still_up(rig):
    if rig.milter is not None:
        rig.c.check(rig.milter.running, "signet-milter still running after all cases",
                    "exit %s; log: %s" % (rig.milter.poll(), rig.milter_tail()))
    try:
        q = rig.pf.queue_size()
        rig.c.check(q == 0, "Postfix queue is empty (nothing deferred)",
                    "%d message(s) left in the queue" % q)
    except Exception as e:
        rig.c.fail("Postfix queue is empty (nothing deferred)", repr(e))


# (scenario, needs the milter)
SCENARIOS = [
    (sasl_submission, False),
    (untrusted_inbound, False),
    (daemon_name_streams, True),
    (from_domain_stream, True),
    (tenant_binding, True),
    (dual_signing, True),
    (one_megabyte, False),
    (load_sessions, False),
]


def run_scenarios(rig):
    for scenario, needs_milter in SCENARIOS:
        if needs_milter and rig.args.no_milter:
            continue
        t0 = time.monotonic()
        try:
            scenario(rig)
        except Exception as e:
            rig.c.fail(scenario.__name__, "unexpected %r" % e)
        rig.c.note("%s: %.1fs" % (scenario.__name__, time.monotonic() - t0))
    still_up(rig)
    rig.cases_ran = True


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

    checks = Checks()
    rig = Rig(args, checks)
    try:
        rig.setup()
        run_scenarios(rig)
    except Stop:
        pass
    except KeyboardInterrupt:
        checks.fail("run", "interrupted")
    finally:
        # Teardown must finish even if a second signal arrives.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        rig.teardown()
    if args.no_milter:
        checks.note("--no-milter: DKIM checks skipped")
    checks.note("total %.1fs" % (time.monotonic() - START))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
