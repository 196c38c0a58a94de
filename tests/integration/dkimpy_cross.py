#!/usr/bin/python3
"""Cross-implementation DKIM test: signet <-> dkimpy.

Usage:
    /usr/bin/python3 tests/integration/dkimpy_cross.py \\
        --signet build/tools/signet --corpus tests/corpus --work TMPDIR

For every corpus message x canonicalization {relaxed/relaxed, simple/simple}
x algorithm {rsa-sha256, ed25519-sha256}:

  (a) signet->dkimpy   `signet sign` the message, verify with dkimpy;
  (b) dkimpy->signet   sign with dkimpy, verify with `signet verify --keys`;

once per message:

  signet-preserves-input   `signet sign` output is the original message with
                           DKIM-Signature header field(s) prepended, byte for
                           byte;

and for a few messages, both canonicalizations and both algorithms:

  (c) tamper          modify a signet-signed message (body append, extra
                      From/Subject/To/Date at the top or at the bottom of the
                      header block, changed Subject value) and require both
                      dkimpy and `signet verify` to reject it.

Messages that dkimpy itself cannot parse (dkimpy 1.1 rejects whitespace before
the header colon, which RFC 5322 obs-syntax allows) cannot take part in (a)
and (b); for those a signet sign -> signet verify round trip is run instead
and the dkimpy checks are reported as `skip`.

Output: one `ok   ...` / `FAIL ...` / `skip ...` line per check (testkit's
Checks), then exactly one final line `N passed, M failed`.  Exit status is 1
if anything failed.

Only the Python standard library and dkimpy (python3-dkim, which pulls in
python3-nacl for ed25519) are needed; run with /usr/bin/python3.
"""

import base64
import logging
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import (Checks, executable, field_name, keygen, load_keys_file,  # noqa: E402
                     make_dnsfunc, one_line, record_to_keys_line, scenario_args,
                     split_header_fields, verify_passed)

try:
    import dkim
except ImportError:  # pragma: no cover
    sys.stderr.write("dkimpy not importable; run with /usr/bin/python3 "
                     "(Debian package python3-dkim)\n")
    sys.exit(2)

DOMAIN = "example.com"
SIGN_TIME = "1764150000"
CANONS = ("relaxed/relaxed", "simple/simple")
ALGS = ("rsa-sha256", "ed25519-sha256")
SELECTORS = {"rsa-sha256": "rsasel", "ed25519-sha256": "edsel"}
DKIMPY_HEADERS = (b"from", b"to", b"subject", b"date", b"cc", b"message-id",
                  b"mime-version", b"content-type")
# Messages used for the tampering checks (those that exist are used).
TAMPER_MESSAGES = ("01-plain.eml", "05-mixed-case-names.eml",
                   "18-multipart-alternative.eml",
                   "19-multipart-mixed-base64.eml")
SUBPROCESS_TIMEOUT = 60

# Places where dkimpy 1.1.4 is known to deviate from (or read differently)
# RFC 6376; appended to a FAIL reason so that the failure is easier to judge.
KNOWN_DKIMPY_QUIRKS = {
    ("10-trailing-ws-last-line-no-crlf.eml", "relaxed"):
        "note: dkimpy's relaxed body canonicalization does not strip trailing "
        "WSP from a last body line that has no CRLF (it only strips WSP "
        "before CRLF, then appends CRLF); RFC 6376 3.4.4 says to ignore "
        "whitespace at the end of lines",
}


# --------------------------------------------------------------------------
# Key helpers (the keys file and keygen output: testkit.py)
# --------------------------------------------------------------------------

def ed25519_seed_from_pem(pem_bytes):
    """Base64 of the raw 32-byte Ed25519 seed in a PKCS#8 PEM private key."""
    m = re.search(rb"-----BEGIN PRIVATE KEY-----(.*?)-----END PRIVATE KEY-----",
                  pem_bytes, re.S)
    if not m:
        raise ValueError("no PKCS#8 'BEGIN PRIVATE KEY' block in ed25519 key")
    der = base64.b64decode(b"".join(m.group(1).split()))
    # PrivateKeyInfo.privateKey is an OCTET STRING wrapping the CurvePrivateKey
    # OCTET STRING: 04 22 04 20 <32 bytes>.  Fall back to the last 32 bytes.
    idx = der.find(b"\x04\x22\x04\x20")
    if idx >= 0 and len(der) >= idx + 4 + 32:
        seed = der[idx + 4:idx + 36]
    else:
        seed = der[-32:]
    if len(seed) != 32:
        raise ValueError("cannot find the ed25519 seed in the PKCS#8 DER")
    return base64.b64encode(seed)


# --------------------------------------------------------------------------
# Message helpers
# --------------------------------------------------------------------------

def insert_after_signature(msg, new_field):
    fields, sep, body = split_header_fields(msg)
    idx = 0
    for i, f in enumerate(fields):
        if field_name(f) == b"dkim-signature":
            idx = i + 1
            break
    fields.insert(idx, new_field)
    return b"".join(fields) + sep + body


def insert_at_header_end(msg, new_field):
    fields, sep, body = split_header_fields(msg)
    fields.append(new_field)
    return b"".join(fields) + (sep or b"\r\n") + body


def change_last_header_value(msg, name, value):
    fields, sep, body = split_header_fields(msg)
    for i in range(len(fields) - 1, -1, -1):
        if field_name(fields[i]) == name:
            fields[i] = fields[i].split(b":", 1)[0] + b": " + value + b"\r\n"
            return b"".join(fields) + sep + body
    raise ValueError("no %r header to change" % name)


# --------------------------------------------------------------------------
# The test runner
# --------------------------------------------------------------------------

class ListHandler(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        try:
            self.messages.append(record.getMessage())
        except Exception:
            pass


class Runner(Checks):
    def __init__(self, signet, work):
        super().__init__()
        self.signet = signet
        self.work = work
        self.keys_file = os.path.join(work, "keys.txt")
        self.key_files = {}
        self.dkimpy_keys = {}
        self.records = {}
        self.dnsfunc = None
        self.log_handler = ListHandler()
        self.logger = logging.getLogger("dkimpy-cross")
        self.logger.propagate = False
        self.logger.setLevel(logging.WARNING)
        self.logger.addHandler(self.log_handler)

    # -- processes --------------------------------------------------------
    def run_signet(self, args, stdin_bytes):
        try:
            p = subprocess.run([self.signet] + args, input=stdin_bytes,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            return None, b"", b"timed out after %ds" % SUBPROCESS_TIMEOUT
        return p.returncode, p.stdout, p.stderr

    def signet_sign(self, msg, canon, alg):
        return self.run_signet(
            ["sign", "--domain", DOMAIN, "--selector", SELECTORS[alg],
             "--key", self.key_files[alg], "--canon", canon,
             "--time", SIGN_TIME], msg)

    def signet_verify(self, msg):
        return self.run_signet(["verify", "--keys", self.keys_file], msg)

    def dkimpy_verify(self, msg):
        """Returns (True, None) or (False, reason)."""
        handler = self.log_handler
        handler.messages = []
        try:
            d = dkim.DKIM(msg, logger=self.logger, minkey=1024)
            res = d.verify(dnsfunc=self.dnsfunc)
        except dkim.DKIMException as e:
            return False, "dkimpy: %s: %s" % (type(e).__name__, e)
        except Exception as e:  # dkimpy bugs on odd input
            return False, "dkimpy crashed: %s: %s" % (type(e).__name__, e)
        if res:
            return True, None
        errs = handler.messages
        return False, "dkimpy: signature did not verify" + (
            " (%s)" % one_line("; ".join(errs[-3:]), 200) if errs else "")

    # -- setup ------------------------------------------------------------
    def setup_keys(self):
        os.makedirs(self.work, exist_ok=True)
        lines = []
        specs = (("rsa-sha256", "rsa.key", "rsa", 2048),
                 ("ed25519-sha256", "ed.key", "ed25519", None))
        for alg, fname, algorithm, bits in specs:
            path = os.path.join(self.work, fname)
            key = keygen(self.signet, path, algorithm, bits,
                         timeout=SUBPROCESS_TIMEOUT)
            if not key.ok:
                raise RuntimeError(key.error())
            record = key.record
            if b"p=" not in record:
                raise RuntimeError("keygen output has no p= tag: %r" % record)
            if key.mode != 0o600:
                raise RuntimeError("keygen wrote %s with mode %o, not 600" %
                                   (path, key.mode))
            self.key_files[alg] = path
            with open(path, "rb") as f:
                pem = f.read()
            if alg == "rsa-sha256":
                self.dkimpy_keys[alg] = pem
            else:
                self.dkimpy_keys[alg] = ed25519_seed_from_pem(pem)
                self.check_ed25519_pair(self.dkimpy_keys[alg], record)
            lines.append(record_to_keys_line(
                "%s._domainkey.%s" % (SELECTORS[alg], DOMAIN), record))
        with open(self.keys_file, "w", encoding="ascii") as f:
            f.writelines(lines)
        self.records = load_keys_file(self.keys_file)
        self.dnsfunc = make_dnsfunc(self.records)

    @staticmethod
    def check_ed25519_pair(seed_b64, record):
        """Make sure the seed we extracted matches the published p=."""
        try:
            import nacl.signing
        except ImportError:
            return
        pub = nacl.signing.SigningKey(base64.b64decode(seed_b64)) \
            .verify_key.encode()
        tags = dict((k.strip(), v.strip()) for k, _, v in
                    (t.partition(b"=") for t in record.split(b";")) if k.strip())
        p = base64.b64decode(re.sub(rb"\s+", b"", tags.get(b"p", b"")))
        if p != pub:
            raise RuntimeError("ed25519 seed extracted from the PEM does not "
                               "match the p= value printed by keygen")

    # -- checks -----------------------------------------------------------
    def check_signet_to_dkimpy(self, name, msg, canon, alg, signed_cache):
        what = "signet->dkimpy %s %s %s" % (canon, alg, name)
        rc, out, err = self.signet_sign(msg, canon, alg)
        if rc != 0:
            self.fail(what, "signet sign exit %s: %s" % (rc, one_line(err)))
            return
        signed_cache[(canon, alg)] = out
        good, reason = self.dkimpy_verify(out)
        if good:
            self.ok(what)
        else:
            note = KNOWN_DKIMPY_QUIRKS.get((name, canon.split("/")[1]))
            self.fail(what, reason + (" [%s]" % note if note else ""))

    def check_dkimpy_to_signet(self, name, msg, canon, alg, present):
        what = "dkimpy->signet %s %s %s" % (canon, alg, name)
        hcanon, bcanon = canon.encode().split(b"/")
        include = [h for h in DKIMPY_HEADERS if h == b"from" or h in present]
        try:
            sig = dkim.sign(msg, SELECTORS[alg].encode(), DOMAIN.encode(),
                            self.dkimpy_keys[alg],
                            canonicalize=(hcanon, bcanon),
                            signature_algorithm=alg.encode(),
                            include_headers=include)
        except Exception as e:
            self.fail(what, "dkimpy sign failed: %s: %s" %
                      (type(e).__name__, e))
            return
        signed = sig + msg
        # Sanity check: dkimpy must accept its own signature.
        good, reason = self.dkimpy_verify(signed)
        if not good:
            self.fail(what, "dkimpy does not verify its own signature (test "
                      "harness problem): " + reason)
            return
        rc, out, err = self.signet_verify(signed)
        if verify_passed(rc, out):
            self.ok(what)
        else:
            note = KNOWN_DKIMPY_QUIRKS.get((name, canon.split("/")[1]))
            self.fail(what, "signet verify exit %s, stdout: %s; stderr: %s%s"
                      % (rc, one_line(out), one_line(err),
                         " [%s]" % note if note else ""))

    def check_signet_roundtrip(self, name, msg, canon, alg):
        what = "signet->signet %s %s %s" % (canon, alg, name)
        rc, out, err = self.signet_sign(msg, canon, alg)
        if rc != 0:
            self.fail(what, "signet sign exit %s: %s" % (rc, one_line(err)))
            return
        rc, vout, verr = self.signet_verify(out)
        if verify_passed(rc, vout):
            self.ok(what)
        else:
            self.fail(what, "signet verify exit %s, stdout: %s; stderr: %s" %
                      (rc, one_line(vout), one_line(verr)))

    def check_preserves_input(self, name, msg, signed):
        what = "signet-preserves-input %s" % name
        if signed is None:
            self.fail(what, "no signet output to inspect (signing failed)")
            return
        # The message as it travels: SMTP ends the last line with CRLF.
        travels = msg if not msg or msg.endswith(b"\r\n") else msg + b"\r\n"
        if not signed.endswith(travels):
            self.fail(what, "output is not <DKIM-Signature fields> + the "
                      "unmodified input message (with its final CRLF)")
            return
        prefix = signed[:len(signed) - len(travels)]
        fields, sep, rest = split_header_fields(prefix + b"\r\n")
        if sep != b"\r\n" or rest or not fields or \
                any(field_name(f) != b"dkim-signature" for f in fields) or \
                any(not f.endswith(b"\r\n") for f in fields):
            self.fail(what, "prepended text is not only CRLF-terminated "
                      "DKIM-Signature header fields: %r" % prefix[:200])
            return
        self.ok(what)

    def check_verifies_as_it_travels(self, name, signed, canon, alg):
        """A message whose last line has no line break gets one from SMTP:
        what signet signed must still verify, by dkimpy and by signet."""
        what = "verifies-as-it-travels %s %s %s" % (canon, alg, name)
        travels = signed if signed.endswith(b"\r\n") else signed + b"\r\n"
        good, reason = self.dkimpy_verify(travels)
        rc, out, err = self.signet_verify(travels)
        if good and rc == 0:
            self.ok(what)
        else:
            self.fail(what, "dkimpy: %s; signet verify exit %s: %s" % (reason or "pass", rc, one_line(out)))

    def tamper_variants(self, signed):
        """Yield (label, tampered message)."""
        yield "append-body", signed + b"Appended by an attacker.\r\n"
        extra = {
            b"from": b"From: Mallory <mallory@example.net>\r\n",
            b"subject": b"Subject: Injected subject\r\n",
            b"to": b"To: Victim <victim@example.org>\r\n",
            b"date": b"Date: Thu, 27 Nov 2025 10:00:00 +0000\r\n",
        }
        for hname, field in extra.items():
            yield ("add-%s-top" % hname.decode(),
                   insert_after_signature(signed, field))
        for hname, field in extra.items():
            yield ("add-%s-bottom" % hname.decode(),
                   insert_at_header_end(signed, field))
        yield ("change-subject",
               change_last_header_value(signed, b"subject",
                                        b"Tampered subject value"))

    def check_tamper(self, name, signed, canon, alg):
        for label, tampered in self.tamper_variants(signed):
            what = "tamper %s dkimpy-rejects %s %s %s" % (label, canon, alg,
                                                          name)
            good, _ = self.dkimpy_verify(tampered)
            if good:
                self.fail(what, "dkimpy accepted the tampered message")
            else:
                self.ok(what)
            what = "tamper %s signet-rejects %s %s %s" % (label, canon, alg,
                                                          name)
            rc, out, err = self.signet_verify(tampered)
            lines = out.decode("utf-8", "replace").splitlines()
            if rc == 1 and any(l.startswith("dkim=fail") for l in lines):
                self.ok(what)
            else:
                self.fail(what, "expected exit 1 and a dkim=fail line; got "
                          "exit %s, stdout: %s; stderr: %s" %
                          (rc, one_line(out), one_line(err)))

    def run_message(self, path):
        name = os.path.basename(path)
        with open(path, "rb") as f:
            msg = f.read()
        try:
            parsed = dkim.DKIM(msg)
            present = set(h.lower() for h, _ in parsed.headers)
            dkimpy_ok = True
        except dkim.DKIMException as e:
            dkimpy_ok = False
            why = "dkimpy cannot parse the message (%s: %s)" % (
                type(e).__name__, one_line(str(e), 120))
        signed_cache = {}
        for canon in CANONS:
            for alg in ALGS:
                if dkimpy_ok:
                    self.check_signet_to_dkimpy(name, msg, canon, alg,
                                                signed_cache)
                    self.check_dkimpy_to_signet(name, msg, canon, alg,
                                                present)
                else:
                    self.skip("signet->dkimpy %s %s %s" % (canon, alg, name),
                              why)
                    self.skip("dkimpy->signet %s %s %s" % (canon, alg, name),
                              why)
                    self.check_signet_roundtrip(name, msg, canon, alg)
        if dkimpy_ok:
            self.check_preserves_input(
                name, msg, signed_cache.get(("relaxed/relaxed",
                                             "rsa-sha256")))
        else:
            rc, out, err = self.signet_sign(msg, "relaxed/relaxed",
                                            "rsa-sha256")
            self.check_preserves_input(name, msg, out if rc == 0 else None)
        if not msg.endswith(b"\r\n") and not msg.endswith(b"\n"):
            for canon in CANONS:
                for alg in ALGS:
                    signed = signed_cache.get((canon, alg))
                    if signed is None:
                        rc, signed, err = self.signet_sign(msg, canon, alg)
                    self.check_verifies_as_it_travels(name, signed, canon, alg)
        if name in TAMPER_MESSAGES:
            for canon in CANONS:
                for alg in ALGS:
                    signed = signed_cache.get((canon, alg))
                    if signed is None:
                        rc, signed, err = self.signet_sign(msg, canon, alg)
                        if rc != 0:
                            self.fail("tamper %s %s %s" % (canon, alg, name),
                                      "signet sign exit %s: %s" %
                                      (rc, one_line(err)))
                            continue
                    self.check_tamper(name, signed, canon, alg)


def main():
    args = scenario_args(__doc__.split("\n\n")[0], fresh=False, extra=lambda ap: ap.add_argument(
        "--corpus", required=True, help="directory of *.eml"))

    signet = executable(args.signet)
    corpus = sorted(os.path.join(args.corpus, f)
                    for f in os.listdir(args.corpus) if f.endswith(".eml"))
    if not corpus:
        print("no .eml files in %s" % args.corpus, file=sys.stderr)
        return 2

    start = time.monotonic()
    runner = Runner(signet, os.path.abspath(args.work))
    try:
        runner.setup_keys()
    except Exception as e:
        runner.fail("setup (signet keygen / keys file)", str(e))
        return runner.finish()
    for path in corpus:
        runner.run_message(path)
    if runner.skipped:
        print("note: %d checks skipped (dkimpy cannot parse those messages; "
              "signet->signet round trips were run instead)" % runner.skipped)
    print("note: %d messages, %.1fs" % (len(corpus),
                                        time.monotonic() - start))
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
