#!/usr/bin/python3
"""Writes the seed corpora that come from files in the tree (tests/corpus,
tests/golden) into tests/fuzz/corpus/<target>/: bodies, header fields,
messages, signatures, and MTA event sequences for the session target;
PKCS#11 URIs as the docs write them; sealed key files of the golden keys
(sealed with libsodium, as signet does, under fuzz_sealed's test master key)
and forged ones.

The other seeds are kept as files, each from where it says: real signet.conf
files (packaging/, docs/, the tests), Debian's /etc/opendkim.conf, postconf
output of Debian 12's Postfix, and manifests and key records the signet
binary wrote. Run from anywhere; deterministic; files no target needs (the
1 MB message) are left out so the corpora stay small.
"""
import ctypes
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
    milter_wire_seeds(m1)
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
    pkcs11_seeds()
    sealed_seeds()


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def nul(*parts):
    return b"".join(p + b"\0" for p in parts)


def milter_wire_seeds(msg):
    """What Postfix 3.7 sends signet-milter for one message (milter8.c), after
    its option negotiation: the first byte is fuzz_milter_wire's piece size."""
    fields, body = split(msg)
    conv = packet(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF))
    conv += packet(b"D", b"C" + nul(b"{daemon_name}", b"submission", b"{client_addr}", b"192.0.2.7"))
    conv += packet(b"C", nul(b"client.example") + b"4" + struct.pack(">H", 1234) + nul(b"192.0.2.7"))
    conv += packet(b"D", b"M" + nul(b"{auth_authen}", b"carol", b"{mail_addr}", b"carol@example.com"))
    conv += packet(b"M", nul(b"<carol@example.com>"))
    for n, v in fields:
        conv += packet(b"L", nul(n, v))
    conv += packet(b"D", b"N" + nul(b"i", b"Q1")) + packet(b"N")
    for i in range(0, len(body), 4096):
        conv += packet(b"D", b"B") + packet(b"B", body[i:i + 4096])
    conv += packet(b"E")
    write("fuzz_milter_wire", "postfix-message", b"\0" + conv)
    write("fuzz_milter_wire", "postfix-message-pieces", b"\x07" + conv)
    write("fuzz_milter_wire", "two-messages-abort-quit-nc", b"\0" + conv[:len(conv) // 2] + packet(b"A") + conv[17:] +
          packet(b"K") + conv[17:] + packet(b"Q"))
    old = packet(b"O", struct.pack(">III", 2, 0x3F, 0x7F)) + conv[17:]
    write("fuzz_milter_wire", "version-2-mta", b"\x01" + old)


# RFC 7512 URIs as signet's docs and tests write them, and the edges of §2.3.
PKCS11_URIS = [
    b"pkcs11:token=signet;object=tx-202612-rsa2048._domainkey.example.com?module-path="
    b"/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so&pin-source=/etc/signet/token.pin",
    b"pkcs11:token=signet?module-path=/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so&pin-source=/etc/signet/token.pin",
    b"pkcs11:token=my%20token;object=tx%2Fkey;id=%01%02;type=private?module-path=/usr/lib/x.so&pin-source=file:/etc/p",
    b"pkcs11:token=t;object=s1._domainkey.example.com;id=%00%ff?module-path=/m.so&pin-value=secret99",
    b"pkcs11:token=t;slot-id=3;manufacturer=SoftHSM%20project;serial=1234?module-path=/m.so&pin-value=a%26b",
    b"pkcs11:token=t;object=o;colour=red?module-path=/m.so",
    b"pkcs11:token=t;object=%zz?module-path=/m.so",
]


def sealed(plain, alg, domain, selector, version=1, declared=None, nonce=b"\x07" * 24):
    """keystore/sealed.h format 1, sealed with the fuzz target's test master
    key (32 bytes of 0x5a) through libsodium's own call; a fixed nonce so the
    seeds are deterministic."""
    n = len(plain) + 16
    fixed = b"SIGNETSK" + bytes([version, alg, 0, 0]) + struct.pack(">I", n if declared is None else declared)
    ad = fixed + domain + b"\0" + selector
    lib = ctypes.CDLL("libsodium.so.23")
    out = ctypes.create_string_buffer(n)
    out_len = ctypes.c_ulonglong(0)
    lib.crypto_aead_xchacha20poly1305_ietf_encrypt(out, ctypes.byref(out_len), plain, ctypes.c_ulonglong(len(plain)),
                                                   ad, ctypes.c_ulonglong(len(ad)), None, nonce, b"\x5a" * 32)
    return fixed + nonce + out.raw[:out_len.value]


def sealed_seeds():
    """fuzz_sealed: mode byte 0 then a file (good, forged, truncated), or
    mode byte 1 then a plaintext to seal and a change to make to it."""
    keys = []
    for name, alg in (("golden-rsa.key", 1), ("golden-ed25519.key", 2)):
        with open(os.path.join(TOP, "tests", "golden", name), "rb") as f:
            keys.append((name[:-4], f.read(), alg))
    d, sel = b"example.com", b"tx-202612"
    for name, pem, alg in keys:
        good = sealed(pem, alg, d, sel)
        write("fuzz_sealed", name + "-sealed", b"\x00" + good)
        write("fuzz_sealed", name + "-other-selector", b"\x00" + sealed(pem, alg, d, b"tx-202611"))
        write("fuzz_sealed", name + "-truncated", b"\x00" + good[:len(good) // 2])
        write("fuzz_sealed", name + "-trailing", b"\x00" + good + b"\n")
        write("fuzz_sealed", name + "-plaintext", b"\x00" + pem)
        write("fuzz_sealed", name + "-tamper", b"\x01" + s(pem) + struct.pack("<H", 9) + b"\x03" + bytes([alg << 6]))
    pem = keys[1][1]
    write("fuzz_sealed", "future-version", b"\x00" + sealed(pem, 2, d, sel, version=2))
    write("fuzz_sealed", "huge-length", b"\x00" + sealed(pem, 2, d, sel, declared=0xFFFFFFFF))
    write("fuzz_sealed", "length-under-tag", b"\x00" + sealed(b"", 2, d, sel, declared=15))
    write("fuzz_sealed", "empty-plaintext", b"\x00" + sealed(b"", 2, d, sel))
    write("fuzz_sealed", "header-only", b"\x00" + b"SIGNETSK\x01\x02\x00\x00\x00\x00\x00\x10")
    write("fuzz_sealed", "reserved-set", b"\x00" + sealed(pem, 2, d, sel)[:10] + b"\x01" + sealed(pem, 2, d, sel)[11:])


def pkcs11_seeds():
    for i, uri in enumerate(PKCS11_URIS):
        write("fuzz_pkcs11_uri", "uri-%d" % i, uri)


if __name__ == "__main__":
    sys.exit(main())
