#!/usr/bin/python3
"""Verify every DKIM-Signature on stdin with dkimpy, keys from a signet keys file.

usage: dkimpy_verify.py KEYS_FILE < message
Prints one line per signature; exits 0 only if all pass. Used by `make demo`.
"""
import re
import sys

import dkim


def load_keys(path):
    records = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[0].startswith("#"):
                continue
            name, rtype, rest = parts
            if rtype.upper() == "IN":
                rtype, rest = rest.split(None, 1)
            strings = re.findall(r'"([^"]*)"', rest)
            value = "".join(strings) if strings else rest.strip()
            records[name.lower().rstrip(".")] = value.encode()
    return records


def main():
    records = load_keys(sys.argv[1])
    message = sys.stdin.buffer.read()
    d = dkim.DKIM(message)
    sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
    ok = True
    for i in range(len(sigs)):
        tags = dkim.util.parse_tag_value(re.sub(rb"\s", b"", sigs[i][1]))
        passed = d.verify(idx=i, dnsfunc=lambda n, timeout=5: records.get(n.decode().lower().rstrip(".")))
        print("dkimpy: %s s=%s a=%s" % ("pass" if passed else "FAIL", tags[b"s"].decode(), tags[b"a"].decode()))
        ok = ok and passed
    sys.exit(0 if ok and sigs else 1)


if __name__ == "__main__":
    main()
