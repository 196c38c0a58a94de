#!/usr/bin/python3
"""Golden signatures: `signet sign` with fixed keys and a fixed clock must give
the same bytes, signature for signature, as the recorded goldens
(tests/golden/cli-signatures.json). RSASSA-PKCS1-v1_5 and Ed25519 are both
deterministic, so any change in canonicalization, header selection, tag
order, folding or output shows up here as a byte difference.

    golden_signatures.py --signet BIN --corpus DIR --golden DIR --work DIR [--regenerate]

Every corpus message is signed dual (rsa-sha256 + ed25519-sha256) in
relaxed/relaxed, simple/simple and relaxed/simple, the last with --expire 7d
(x=). The golden holds the DKIM-Signature fields and the SHA-256 of the whole
output (the message as written, after them).
"""
import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys

from testkit import Checks

NOW = "1764150000"
CASES = (("relaxed/relaxed", []), ("simple/simple", []), ("relaxed/simple", ["--expire", "7d"]))


def signature_block(out):
    """The DKIM-Signature fields signet prepended: everything before the
    first line that does not belong to one."""
    lines = out.split(b"\r\n")
    block = []
    for i, line in enumerate(lines):
        if line.startswith(b"DKIM-Signature:") or (block and line[:1] in (b" ", b"\t")):
            block.append(line)
        else:
            break
    return b"\r\n".join(block).decode("ascii")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--signet", required=True)
    ap.add_argument("--corpus", required=True)
    ap.add_argument("--golden", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--regenerate", action="store_true")
    a = ap.parse_args()

    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    keys = {}
    for name in ("golden-rsa.key", "golden-ed25519.key"):
        # Key files must be 0600 (signet refuses others); git keeps 0644.
        dst = os.path.join(a.work, name)
        shutil.copyfile(os.path.join(a.golden, name), dst)
        os.chmod(dst, 0o600)
        keys[name] = dst

    results = {}
    for msg in sorted(f for f in os.listdir(a.corpus) if f.endswith(".eml")):
        with open(os.path.join(a.corpus, msg), "rb") as f:
            data = f.read()
        for canon, extra in CASES:
            cmd = [a.signet, "sign", "--domain", "example.com", "--time", NOW, "--canon", canon,
                   "--selector", "golden-rsa", "--key", keys["golden-rsa.key"],
                   "--selector", "golden-ed", "--key", keys["golden-ed25519.key"]] + extra
            p = subprocess.run(cmd, input=data, capture_output=True)
            key = "%s %s" % (msg, canon)
            if p.returncode != 0:
                results[key] = {"exit": p.returncode, "stderr": p.stderr.decode("utf-8", "replace").strip()}
            else:
                results[key] = {"signatures": signature_block(p.stdout),
                                "output_sha256": hashlib.sha256(p.stdout).hexdigest()}

    path = os.path.join(a.golden, "cli-signatures.json")
    if a.regenerate:
        with open(path, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
            f.write("\n")
        print("wrote %d cases to %s" % (len(results), path))
        return 0

    with open(path) as f:
        golden = json.load(f)
    checks = Checks()
    checks.check(sorted(golden) == sorted(results), "the same %d cases as the golden" % len(golden),
                 set(golden) ^ set(results))
    for key in sorted(golden):
        got = results.get(key)
        checks.check(got == golden[key], "byte-identical output: " + key,
                     "\n  golden: %r\n  now:    %r" % (golden[key], got))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
