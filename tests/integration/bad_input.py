#!/usr/bin/python3
"""Robustness test: feed signet malformed and hostile input.

Usage:
    /usr/bin/python3 tests/integration/bad_input.py --signet PATH --work TMPDIR

For every generated input this runs

  sign      `signet sign --domain example.com --selector edsel --key ed.key`
            (ed25519 key made with `signet keygen`): must exit 0 or 2;
  verify    `signet verify --keys keys.txt` on the raw input: exit 0, 1 or 2;
  verify+sig  the same, with a genuine DKIM-Signature (taken from signing a
            normal message) prepended, so the verifier really has to parse
            and hash the hostile header/body: exit 0, 1 or 2;
  roundtrip if `signet sign` accepted the input (exit 0): its output must
            start with a DKIM-Signature field and `signet verify` must pass
            it (exit 0, dkim=pass) -- signet must not sign what it cannot
            verify itself.

Every process must not die from a signal, must finish within 20 s, and
whenever it exits with 2 its stderr must be exactly one non-empty line (and
for sign, stdout must be empty: no half-signed or unsigned message).

The LF-only case is stricter: signing must succeed (exit 0) for both
canonicalizations and the result must verify with dkimpy (after dkimpy's own
LF->CRLF parsing) and with `signet verify`.

One `ok   ...` / `FAIL ...` line per check, then a final line
`N passed, M failed`; exit status 1 if anything failed.
"""

import os
import random
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import (Checks, executable, field_name, keygen, load_keys_file,  # noqa: E402
                     make_dnsfunc, one_line, record_to_keys_line, scenario_args,
                     split_header_fields, verify_passed)

import dkim  # noqa: E402

TIME_LIMIT = 20.0
DOMAIN = "example.com"
SELECTOR = "edsel"

GOOD = (b"From: Alice Example <alice@example.com>\r\n"
        b"To: Bob Example <bob@example.org>\r\n"
        b"Subject: A perfectly normal message\r\n"
        b"Date: Wed, 26 Nov 2025 09:00:00 +0000\r\n"
        b"Message-ID: <bad-input-good@example.com>\r\n"
        b"\r\n"
        b"Hello Bob,\r\n"
        b"\r\n"
        b"nothing to see here.\r\n")


def hdrs(extra=b""):
    return (b"From: Alice Example <alice@example.com>\r\n"
            b"To: Bob Example <bob@example.org>\r\n"
            b"Subject: bad input\r\n" + extra)


def gen_cases():
    """Yield (name, input bytes)."""
    yield "nul-in-header", (
        b"From: Alice\x00Example <alice@example.com>\r\n"
        b"To: Bob Example <bob@example.org>\r\n"
        b"Subject: nul\x00in subject\r\n"
        b"X-Nul: \x00\x00\x00\r\n"
        b"\r\nbody\r\n")
    yield "nul-in-header-name", hdrs(b"X-N\x00ul: value\r\n") + b"\r\nbody\r\n"
    yield "nul-in-body", hdrs() + b"\r\nline\x00with nul\r\n\x00\r\n\x00"
    yield "bare-cr-in-header", (
        b"From: Alice Example <alice@example.com>\r\n"
        b"To: Bob\rExample <bob@example.org>\r\n"
        b"Subject: bare\rCR\r\r\n"
        b"\r\nbody\r\n")
    yield "bare-cr-in-body", hdrs() + b"\r\nline one\rstill line one\r\n\r\r\rx\r"
    yield "bare-cr-line-endings", GOOD.replace(b"\r\n", b"\r")
    yield "mixed-line-endings", (
        b"From: Alice Example <alice@example.com>\n"
        b"To: Bob Example <bob@example.org>\r\n"
        b"Subject: mixed\r\n\tfolded with LF\n continuation\r\n"
        b"\n"
        b"crlf line\r\nlf line\nbare cr\rend\n\r\n\n")
    yield "100000-header-fields", hdrs(b"".join(
        b"X-Header-%06d: value %d\r\n" % (i, i) for i in range(100000))) + \
        b"\r\nbody\r\n"
    yield "10MB-header-field-unfolded", hdrs(
        b"X-Huge: " + b"a" * (10 * 1024 * 1024) + b"\r\n") + b"\r\nbody\r\n"
    yield "10MB-header-field-folded", hdrs(
        b"X-Huge:" + b"\r\n ".join([b"abcdefghij" * 7] * 150000) + b"\r\n") + \
        b"\r\nbody\r\n"
    yield "10MB-subject", (
        b"From: Alice Example <alice@example.com>\r\n"
        b"Subject: " + b"s " * (5 * 1024 * 1024) + b"\r\n\r\nbody\r\n")
    yield "10MB-body-line-no-crlf", hdrs() + b"\r\n" + b"x" * (10 * 1024 * 1024)
    for seed in range(20):
        rnd = random.Random(seed)
        yield "random-64KiB-seed-%02d" % seed, rnd.randbytes(65536)
    for seed in range(3):
        rnd = random.Random(1000 + seed)
        yield ("from-header-then-random-64KiB-seed-%02d" % seed,
               b"From: alice@example.com\r\n" + rnd.randbytes(65536))
    yield "empty-input", b""
    yield "only-blank-line", b"\r\n"
    yield "only-lf", b"\n"
    yield "only-crlfs", b"\r\n" * 100
    yield "header-without-colon", (
        b"From: Alice Example <alice@example.com>\r\n"
        b"This header line has no colon\r\n"
        b"Subject: x\r\n\r\nbody\r\n")
    yield "header-without-colon-first", (
        b"No colon on the first line\r\n"
        b"From: Alice Example <alice@example.com>\r\n\r\nbody\r\n")
    yield "continuation-before-any-header", (
        b" continuation line first\r\n"
        b"From: Alice Example <alice@example.com>\r\n"
        b"Subject: x\r\n\r\nbody\r\n")
    yield "tab-continuation-before-any-header", (
        b"\tcontinuation line first\r\n"
        b"From: Alice Example <alice@example.com>\r\n\r\nbody\r\n")
    yield "empty-header-name", (
        b": no name\r\nFrom: Alice Example <alice@example.com>\r\n\r\nb\r\n")
    yield "no-from-header", (
        b"To: Bob Example <bob@example.org>\r\nSubject: no from\r\n\r\nb\r\n")
    yield "two-from-headers", (
        b"From: Alice Example <alice@example.com>\r\n"
        b"From: Mallory <mallory@example.net>\r\n\r\nb\r\n")
    yield "headers-no-final-crlf", (
        b"From: Alice Example <alice@example.com>\r\nSubject: x")
    yield "existing-garbage-dkim-signature", (
        b"DKIM-Signature: v=1; a=rsa-sha256; b=;;;==; h=\x00; bh\r\n"
        b"DKIM-Signature: \r\n"
        b"DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=edsel;\r\n"
        b" h=from; bh=!!!!; b=????\r\n" + GOOD)
    yield "high-bit-header-names", (
        b"From: Alice Example <alice@example.com>\r\n"
        b"X-\xff\xfe: v\r\n\xc3\xa9t\xc3\xa9: v\r\n\r\nbody\r\n")


class Runner(Checks):
    def __init__(self, signet, work):
        super().__init__()
        self.signet = signet
        self.work = work
        self.key = os.path.join(work, "ed.key")
        self.keys_file = os.path.join(work, "keys.txt")
        self.good_sig = None
        self.dnsfunc = None

    def run(self, args, data):
        """Returns (rc or None on timeout, stdout, stderr, seconds)."""
        start = time.monotonic()
        try:
            p = subprocess.run([self.signet] + args, input=data,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=TIME_LIMIT)
        except subprocess.TimeoutExpired:
            return None, b"", b"", time.monotonic() - start
        return p.returncode, p.stdout, p.stderr, time.monotonic() - start

    def sign_args(self, canon=None):
        a = ["sign", "--domain", DOMAIN, "--selector", SELECTOR,
             "--key", self.key]
        if canon:
            a += ["--canon", canon]
        return a

    def verify_args(self):
        return ["verify", "--keys", self.keys_file]

    def check_process(self, what, rc, out, err, secs, allowed,
                      empty_stdout_on_2=False):
        """Common rules.  Returns True if the check passed."""
        if rc is None:
            self.fail(what, "did not finish within %.0f s (killed)" %
                      TIME_LIMIT)
            return False
        if rc < 0:
            try:
                sig = signal.Signals(-rc).name
            except ValueError:
                sig = str(-rc)
            self.fail(what, "killed by signal %s; stderr: %s" %
                      (sig, one_line(err)))
            return False
        if rc not in allowed:
            self.fail(what, "exit code %d not in %s; stderr: %s" %
                      (rc, sorted(allowed), one_line(err)))
            return False
        if rc == 2:
            text = err
            if text.endswith(b"\n"):
                text = text[:-1]
            if text.endswith(b"\r"):
                text = text[:-1]
            if not text.strip() or b"\n" in text:
                self.fail(what, "exit 2 but stderr is not exactly one "
                          "non-empty line: %r" % err[:300])
                return False
            if empty_stdout_on_2 and out:
                self.fail(what, "exit 2 but wrote %d bytes to stdout" %
                          len(out))
                return False
        self.ok("%s (exit %d, %.2fs)" % (what, rc, secs))
        return True

    def verify_passes(self, what, data):
        rc, out, err, secs = self.run(self.verify_args(), data)
        if rc is None:
            self.fail(what, "did not finish within %.0f s" % TIME_LIMIT)
            return
        if verify_passed(rc, out):
            self.ok("%s (%.2fs)" % (what, secs))
        else:
            self.fail(what, "exit %s, stdout: %s; stderr: %s" %
                      (rc, one_line(out), one_line(err)))

    def setup(self):
        os.makedirs(self.work, exist_ok=True)
        key = keygen(self.signet, self.key, "ed25519", timeout=TIME_LIMIT)
        if not key.ok:
            raise RuntimeError(key.error())
        record = key.record
        with open(self.keys_file, "w", encoding="ascii") as f:
            f.write(record_to_keys_line("%s._domainkey.%s" % (SELECTOR,
                                                            DOMAIN), record))
        self.dnsfunc = make_dnsfunc(load_keys_file(self.keys_file))
        rc, out, err, _ = self.run(self.sign_args(), GOOD)
        if rc != 0:
            raise RuntimeError("signet sign of a normal message failed "
                               "(exit %s): %s" % (rc, one_line(err)))
        fields, _, _ = split_header_fields(out)
        if not fields or field_name(fields[0]) != b"dkim-signature":
            raise RuntimeError("signet sign output does not start with a "
                               "DKIM-Signature field")
        self.good_sig = fields[0]

    def run_case(self, name, data):
        rc, out, err, secs = self.run(self.sign_args(), data)
        signed_ok = self.check_process("sign %s" % name, rc, out, err, secs,
                                       {0, 2}, empty_stdout_on_2=True)
        rc2, out2, err2, secs2 = self.run(self.verify_args(), data)
        self.check_process("verify %s" % name, rc2, out2, err2, secs2,
                           {0, 1, 2})
        rc3, out3, err3, secs3 = self.run(self.verify_args(),
                                          self.good_sig + data)
        self.check_process("verify+sig %s" % name, rc3, out3, err3, secs3,
                           {0, 1, 2})
        if signed_ok and rc == 0 and b"dkim-signature" not in data.lower():
            what = "roundtrip %s" % name
            if not out[:15].lower() == b"dkim-signature:":
                self.fail(what, "sign exit 0 but output does not start with "
                          "DKIM-Signature: %r" % out[:60])
            else:
                self.verify_passes(what, out)

    def run_lf_case(self):
        name = "lf-line-endings"
        data = GOOD.replace(b"\r\n", b"\n")
        for canon in (None, "relaxed/relaxed", "simple/simple"):
            label = "%s %s" % (name, canon or "default-canon")
            rc, out, err, secs = self.run(self.sign_args(canon), data)
            if rc != 0:
                self.fail("sign " + label, "must sign LF-only input with exit "
                          "0; got exit %s, stderr: %s" % (rc, one_line(err)))
                continue
            self.ok("sign %s (exit 0, %.2fs)" % (label, secs))
            try:
                good = dkim.verify(out, dnsfunc=self.dnsfunc, minkey=1024)
                why = "dkim.verify returned False"
            except Exception as e:
                good, why = False, "%s: %s" % (type(e).__name__, e)
            if good:
                self.ok("dkimpy-verify " + label)
            else:
                self.fail("dkimpy-verify " + label, why)
            self.verify_passes("signet-verify " + label, out)


def main():
    args = scenario_args(__doc__.split("\n\n")[0], fresh=False)
    signet = executable(args.signet)
    start = time.monotonic()
    r = Runner(signet, os.path.abspath(args.work))
    try:
        r.setup()
    except Exception as e:
        r.fail("setup", str(e))
        return r.finish()
    r.run_lf_case()
    for name, data in gen_cases():
        r.run_case(name, data)
    print("note: %.1fs" % (time.monotonic() - start))
    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
