#!/usr/bin/python3
"""Writes the seed corpora that come from files in the tree (tests/corpus,
tests/golden) into tests/fuzz/corpus/<target>/: bodies, header fields,
messages, signatures, and MTA event sequences for the session target.

The other seeds are kept as files, each from where it says: real signet.conf
files (packaging/, docs/, the tests), Debian's /etc/opendkim.conf, postconf
output of Debian 12's Postfix, and manifests and key records the signet
binary wrote. Run from anywhere; deterministic; files no target needs (the
1 MB message) are left out so the corpora stay small.
"""
import json
import os
import struct
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = os.path.join(TOP, "tests", "corpus")
OUT = os.path.join(TOP, "tests", "fuzz", "corpus")
MAX_MESSAGE = 20000  # bytes: seeds stay small


def write(target, name, data):
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def crlf(b):
    return b.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def messages():
    for name in sorted(os.listdir(CORPUS)):
        if not name.endswith(".eml"):
            continue
        with open(os.path.join(CORPUS, name), "rb") as f:
            data = f.read()
        if len(data) <= MAX_MESSAGE:
            yield name[:-4], data


def split(msg):
    """(fields as (name, value with LF folding), body), as an MTA hands them over."""
    msg = crlf(msg)
    head, sep, body = msg.partition(b"\r\n\r\n")
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1][1] += b"\n" + line
        elif b":" in line:
            n, _, v = line.partition(b":")
            fields.append([n, v])
    return fields, body


def s(b):
    """fuzz_util.h Reader string: one length byte, or 255 and two more."""
    if len(b) < 255:
        return bytes([len(b)]) + b
    return bytes([255]) + struct.pack("<H", len(b)) + b[:65535]


NEGOTIATE, CONNECT, MACRO, ENVFROM, HEADER, EOH, BODY, EOM, ABORT, CLOSE, CLOCK, HIDE, RELOAD = range(13)


def session_events(msg, variant):
    fields, body = split(msg)
    ev = bytes([NEGOTIATE, 1])
    if variant % 4 == 1:
        ev += bytes([RELOAD, 1]) + bytes([CLOCK]) + struct.pack("<H", 40000)  # past the rsa cutover
    if variant % 4 == 2:
        ev += bytes([HIDE, 1]) + bytes([CLOCK]) + struct.pack("<H", 30000)
    if variant % 4 == 3:
        ev += bytes([RELOAD, 2])
    addr, daemon = (b"203.0.113.9", b"submission") if variant % 2 else (b"127.0.0.1", b"smtpd")
    ev += bytes([CONNECT]) + s(addr) + s(daemon)
    if variant % 3 == 0:
        ev += bytes([MACRO, 0]) + s(b"alice")
    ev += bytes([MACRO, 2]) + s(b"4Q%04d" % variant)
    ev += bytes([ENVFROM]) + s(b"<alice@example.com>")
    for n, v in fields:
        ev += bytes([HEADER]) + s(n) + s(v)
    ev += bytes([EOH])
    for i in range(0, len(body), 4000):
        ev += bytes([BODY]) + s(body[i:i + 4000])
    ev += bytes([EOM])
    return ev


def main():
    names = []
    for i, (name, msg) in enumerate(messages()):
        names.append(name)
        write("fuzz_message", name, msg)
        fields, body = split(msg)
        write("fuzz_body", name, b"\x00" + body)
        if i % 4 == 0:
            cuts = [3, 17, 18, len(body) // 2]
            write("fuzz_body", name + "-cut", bytes([len(cuts)]) + b"".join(struct.pack("<H", c) for c in cuts) + body)
        write("fuzz_session", name, session_events(msg, i))
        for j, (n, v) in enumerate(fields):
            field = n + b":" + v.replace(b"\n", b"\r\n")
            if (j == 0 and i % 3 == 0) or b"\n" in v or b" :" in field or len(field) > 300:
                write("fuzz_header", "%s-%d" % (name, j), field)
    # Two messages on one connection, the first aborted mid-body, and events out of order.
    _, m1 = next(messages())
    both = session_events(m1, 0)
    write("fuzz_session", "two-messages", both[:len(both) // 2] + bytes([ABORT]) + both + both[2:])
    write("fuzz_session", "out-of-order", bytes([HEADER]) + s(b"From") + s(b" a@example.com") + bytes([EOH, BODY]) +
          s(b"x\r\n") + bytes([EOM, ABORT]) + both)
    for c in (b"relaxed/relaxed", b"simple", b"relaxed/simple", b"simple/relaxed"):
        write("fuzz_header", "canon-" + c.decode().replace("/", "-"), c)

    with open(os.path.join(TOP, "tests", "golden", "cli-signatures.json")) as f:
        golden = json.load(f)
    for key, entry in golden.items():
        if not key.startswith(("01-plain", "02-", "16-", "25-")):
            continue
        for k, sig in enumerate(entry["signatures"].split("\r\nDKIM-Signature:")):
            value = sig[len("DKIM-Signature:"):] if sig.startswith("DKIM-Signature:") else sig
            write("fuzz_signature", "%s-%d" % (key.replace(" ", "-").replace("/", "-"), k), value.encode())


if __name__ == "__main__":
    sys.exit(main())
