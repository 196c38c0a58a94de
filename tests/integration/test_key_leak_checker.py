#!/usr/bin/python3
"""scripts/check-key-leaks finds what it must: an RSA key's secret PEM
lines and an Ed25519 seed pasted into a log are reported, a public key
record and a clean log are not (so its "0 leaks" at the end of make test
means something)."""
import os
import shutil
import subprocess
import sys

from testkit import Checks, scenario_args


def main():
    args = scenario_args(__doc__.split("\n\n")[0], extra=lambda ap: ap.add_argument("--top", required=True))
    c = Checks()
    d = os.path.join(args.work, "tests", "x")
    os.makedirs(d)
    check_leaks = os.path.join(args.top, "scripts", "check-key-leaks")
    rsa = subprocess.run([args.signet, "keygen", "--algorithm", "rsa", "--out", os.path.join(d, "r.key")],
                         capture_output=True, text=True, check=True).stdout
    subprocess.run([args.signet, "keygen", "--algorithm", "ed25519", "--out", os.path.join(d, "e.key")],
                   capture_output=True, check=True)
    log = os.path.join(d, "milter.log")
    cases = (
        ("an RSA key's private exponent lines", open(os.path.join(d, "r.key")).read().splitlines()[14], 1),
        ("an Ed25519 key's seed", open(os.path.join(d, "e.key")).read().splitlines()[1], 1),
        ("the public key record", rsa, 0),
        ("a clean log", "signed stream=tx d=example.com s=x a=rsa-sha256", 0),
    )
    for what, text, want in cases:
        with open(log, "w") as f:
            f.write("signet-milter: %s\n" % text)
        p = subprocess.run([check_leaks, args.work], capture_output=True, text=True)
        c.check(p.returncode == want, "%s: %s" % (what, "reported" if want else "not reported"), p.stdout + p.stderr)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
