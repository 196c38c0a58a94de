#!/usr/bin/python3
"""signet inspect: every finding it must raise, exact key sizes from the DER,
--json that parses, and bad input as exit 2 with one line.

usage: test_inspect.py --signet PATH --work DIR
"""
import base64
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, scenario_args  # noqa: E402


def main():
    a = scenario_args()
    checks = Checks()
    check = checks.check

    def run(args, stdin=None):
        p = subprocess.run([a.signet, "inspect"] + args, input=stdin, capture_output=True)
        return p.returncode, p.stdout.decode(), p.stderr.decode()

    def spki(bits):
        key = os.path.join(a.work, "rsa%d.pem" % bits)
        subprocess.run(["openssl", "genrsa", "-out", key, str(bits)], check=True, capture_output=True)
        der = subprocess.run(["openssl", "rsa", "-in", key, "-pubout", "-outform", "DER"], check=True,
                             capture_output=True).stdout
        return base64.b64encode(der).decode()

    p2048, p1024 = spki(2048), spki(1024)
    rc, out, _ = run(["record", "v=DKIM1; k=rsa; p=" + p2048, "--json"])
    j = json.loads(out)
    check(rc == 0 and j["key size"].startswith("2048 bits") and j["findings"] == [], "2048-bit record: exact size, no findings", out)
    rc, out, _ = run(["record", "v=DKIM1; k=rsa; p=" + p1024])
    check("1024 bits" in out and "rotate to 2048" in out, "1024-bit key flagged as weak", out)
    rc, out, _ = run(["record", "v=DKIM1; k=rsa; t=y; p=" + p2048])
    check("t=y (testing) is on" in out, "t=y flagged", out)
    rc, out, _ = run(["record", "v=DKIM1; k=rsa; h=sha1; p=" + p2048])
    check("does not allow sha256" in out, "h=sha1 only flagged as an error", out)
    rc, out, _ = run(["record", "v=DKIM1; p="])
    check("revoked" in out, "empty p= read as revoked", out)
    rc, out, _ = run(["record", "v=DKIM1; k=dsa; p=AAAA"])
    check("unknown key type k=dsa" in out, "unknown k= flagged", out)
    rc, out, _ = run(["record", "k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="])
    check("256 bits" in out and "no v= tag" in out, "ed25519 key of 256 bits, missing v= noted", out)

    sig = "v=1; a=rsa-sha1; c=simple/simple; d=example.com; s=s; l=100; h=from:subject; bh=AA; b=AA"
    rc, out, _ = run(["signature", sig])
    for text, what in (("rsa-sha1", "rsa-sha1"), ("l= present", "l="), ("c=simple/simple", "simple canonicalization"),
                       ("no t=", "missing t="), ("no x=", "missing x="), ("to is listed 0x", "To not oversigned")):
        check(text in out, "signature finding: " + what, out)
    rc, out, _ = run(["signature", "v=1; a=rsa-sha256; d=example.com; s=s; t=100; x=3600; h=from:from; bh=AA; b=AA"])
    check("less than a day" in out, "x= too short for queued mail", out)
    rc, out, _ = run(["signature", "v=1; a=rsa-sha256; d=example.com; s=s; t=12x; x=99999999999999999999; h=from; bh=AA; b=AA"])
    check(rc == 0 and "t=12x is not a timestamp" in out and "x=" in out and "is not a timestamp" in out,
          "malformed t= and x= are findings, not crashes", out)

    msg = os.path.join(a.work, "m.eml")
    with open(msg, "wb") as f:
        f.write(b"From: a@example.com\r\nSubject: s\r\nTo: b@example.org\r\n\r\nbody\r\n")
    rc, out, _ = run(["signature", "v=1; a=rsa-sha256; d=example.com; s=s; t=1; h=from:subject:to:to:date; bh=AA; b=AA",
                      "--message", msg])
    check("from           in h= 1x, in the message 1x" in out and "from is not oversigned" in out
          and "to             in h= 2x, in the message 1x: oversigned" in out,
          "oversigning counted against the message", out)
    key = os.path.join(a.work, "ed.key")
    subprocess.run([a.signet, "keygen", "--algorithm", "ed25519", "--out", key], check=True, capture_output=True)
    signed = subprocess.run([a.signet, "sign", "-d", "example.com", "-s", "s", "-k", key, "--expire", "7d"],
                            input=open(msg, "rb").read(), capture_output=True).stdout
    rc, out, _ = run(["message", "--json"], stdin=signed)
    j = json.loads(out)
    check(rc == 0 and j["a="] == "ed25519-sha256" and j["findings"] == [] and "oversigned" in j["from"],
          "a message signed by signet has no findings", out)

    for args, what in ((["record", "not a record"], "garbage record"), (["record"], "missing value"),
                       (["nonsense", "x"], "unknown kind")):
        rc, out, err = run(args)
        check(rc == 2 and err.count("\n") == 1, "bad input: " + what, (rc, err))
    rc, out, err = run(["message"], stdin=b"\x00\x01garbage without colon\r\n")
    check(rc == 2 and err.count("\n") == 1, "bad input: garbage message", (rc, err))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
