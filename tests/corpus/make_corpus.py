#!/usr/bin/python3
"""Generate the signet RFC 5322 test corpus (tests/corpus/NN-*.eml).

This script is the source of truth for the corpus: the .eml files next to it
are its output and can be regenerated at any time with

    /usr/bin/python3 tests/corpus/make_corpus.py [OUTDIR]

(OUTDIR defaults to the directory this script lives in).  Output is fully
deterministic.

Rules every message follows:
  * every line ending is CRLF (no bare CR, no bare LF, no NUL bytes; those
    are exercised by tests/integration/bad_input.py instead);
  * exactly one From header field;
  * only example.com / example.org / example.net addresses.

Messages are written in the source below with "\\n" line endings, which are
turned into CRLF on output; a message whose text does not end in "\\n" ends
without a final CRLF.
"""

import base64
import os
import re
import sys

MESSAGES = []  # list of (filename, bytes)


def crlf(text):
    """Turn a "\\n"-separated str into CRLF-terminated UTF-8 bytes."""
    assert "\r" not in text and "\0" not in text
    return text.replace("\n", "\r\n").encode("utf-8")


def add(name, text):
    MESSAGES.append((name, crlf(text)))


# Standard header block pieces ------------------------------------------------

FROM = "From: Alice Example <alice@example.com>\n"
TO = "To: Bob Example <bob@example.org>\n"
DATE = "Date: Wed, 26 Nov 2025 09:00:00 +0000\n"
MIME = "MIME-Version: 1.0\n"
CT_PLAIN = "Content-Type: text/plain; charset=us-ascii\n"


def subj(s):
    return "Subject: %s\n" % s


def mid(n):
    return "Message-ID: <corpus-%s@example.com>\n" % n


def std(n, subject):
    """Standard header block (no blank line)."""
    return FROM + TO + subj(subject) + DATE + mid(n) + MIME + CT_PLAIN


SIMPLE_BODY = "Hello Bob,\n\nThis is a test message.\n\n-- \nAlice\n"

# 01 ----------------------------------------------------------------------------
add("01-plain.eml",
    std("01", "Plain test message") + "\n" +
    "Hello Bob,\n"
    "\n"
    "This is a plain, boring, well-formed message.\n"
    "It has a few lines and a signature separator.\n"
    "\n"
    "-- \n"
    "Alice\n")

# 02 folded headers (CRLF + space continuation) ---------------------------------
add("02-folded-headers.eml",
    "From: Alice Example\n <alice@example.com>\n"
    "To: Bob Example <bob@example.org>,\n Carol Example <carol@example.net>,\n"
    "  Dave Example <dave@example.org>\n"
    "Subject: This subject is folded\n over several lines\n using a single space\n"
    "Date: Wed, 26 Nov 2025\n 09:00:00 +0000\n"
    + mid("02") + MIME +
    "Content-Type: text/plain;\n charset=us-ascii;\n format=flowed\n"
    "\n" + SIMPLE_BODY)

# 03 tab-indented folded headers ---------------------------------------------
add("03-tab-folded-headers.eml",
    FROM +
    "To: Bob Example <bob@example.org>,\n\tCarol Example <carol@example.net>\n"
    "Subject: Tab folded\n\tsubject line\n\t\tdouble tab continuation\n"
    " \tmixed space-tab continuation\n"
    + DATE + mid("03") + MIME +
    "Content-Type: text/plain;\n\tcharset=us-ascii\n"
    "\n" + SIMPLE_BODY)

# 04 whitespace before the colon (obs-optional, RFC 5322 4.5) -----------------
add("04-space-before-colon.eml",
    FROM +
    "To\t: Bob Example <bob@example.org>\n"
    "Subject  : Whitespace before the colon\n"
    + DATE + mid("04") + MIME + CT_PLAIN +
    "X-Spaced \t : value after spaced colon\n"
    "\n" + SIMPLE_BODY)

# 05 mixed-case header names --------------------------------------------------
add("05-mixed-case-names.eml",
    "fRoM: Alice Example <alice@example.com>\n"
    "tO: Bob Example <bob@example.org>\n"
    "SUBJECT: Mixed case header names\n"
    "DaTe: Wed, 26 Nov 2025 09:00:00 +0000\n"
    "message-id: <corpus-05@example.com>\n"
    "MIME-version: 1.0\n"
    "CONTENT-TYPE: text/plain; charset=us-ascii\n"
    "\n" + SIMPLE_BODY)

# 06 header values with internal runs of WSP and trailing WSP ------------------
add("06-header-internal-whitespace.eml",
    "From:   Alice   Example\t\t<alice@example.com>  \t\n"
    "To: Bob  \t Example <bob@example.org>   \n"
    "Subject: runs   of\t\tspaces \t and \t\t tabs    \t\n"
    "Date:\tWed, 26 Nov 2025  09:00:00   +0000\n"
    + mid("06") + MIME + CT_PLAIN +
    "X-Trailing: trailing spaces   \n"
    "X-Trailing-Tab: trailing tab\t\n"
    "\n" + SIMPLE_BODY)

# 07 empty body (headers, blank line, nothing) -------------------------------
add("07-empty-body.eml", std("07", "Empty body") + "\n")

# 08 no blank line at all (headers only) -------------------------------------
add("08-headers-only.eml", std("08", "Headers only, no blank line"))

# 09 body without final CRLF --------------------------------------------------
add("09-body-no-final-crlf.eml",
    std("09", "Body without final CRLF") + "\n" +
    "line one\nline two\nlast line has no CRLF")

# 10 trailing whitespace on last line, no final CRLF --------------------------
add("10-trailing-ws-last-line-no-crlf.eml",
    std("10", "Trailing whitespace on unterminated last line") + "\n" +
    "line one\nline two  \nlast line  \t ")

# 11 fifty trailing blank lines ----------------------------------------------
add("11-fifty-trailing-blank-lines.eml",
    std("11", "Fifty trailing blank lines") + "\n" +
    "Some text.\n" + "\n" * 50)

# 12 whitespace-only lines inside and at end of body --------------------------
add("12-whitespace-only-lines.eml",
    std("12", "Whitespace-only lines") + "\n" +
    "first line\n"
    "   \n"
    "\t\n"
    "second line\n"
    " \t \t\n"
    "third line\n"
    "  \n"
    "\t \n"
    "    \n")

# 13 lines with trailing spaces and tabs --------------------------------------
add("13-trailing-spaces-tabs.eml",
    std("13", "Trailing spaces and tabs") + "\n" +
    "trailing space \n"
    "trailing spaces    \n"
    "trailing tab\t\n"
    "trailing tabs\t\t\n"
    "space then tab \t\n"
    "tab then space\t \n"
    "clean line\n"
    "mixed  \t  \t\n")

# 14 internal runs of mixed spaces/tabs --------------------------------------
add("14-internal-mixed-whitespace.eml",
    std("14", "Internal mixed whitespace") + "\n" +
    "a \t b\t\t c  \t\t  d\n"
    "\tleading tab\n"
    "  leading spaces\n"
    " \t leading mixed \t  with   internal\t\truns\n"
    "word\tword\tword\n")

# 15 long body lines (1500 and 5000 bytes, over the 998 limit) --------------
def long_line(n, seed):
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789 "
    out = []
    x = seed
    for _ in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        out.append(alphabet[(x >> 16) % len(alphabet)])
    s = "".join(out)
    return "X" + s[1:-1] + "Y"  # never starts/ends with a space


L1500 = long_line(1500, 15)
L5000 = long_line(5000, 5000)
assert len(L1500) == 1500 and len(L5000) == 5000
add("15-long-body-lines.eml",
    std("15", "Body lines of 1500 and 5000 bytes") + "\n" +
    "short line\n" + L1500 + "\n" + "middle\n" + L5000 + "\nend\n")

# 16 long unfolded header line ----------------------------------------------
add("16-long-header-line.eml",
    std("16", "Unfolded 1500-byte header field") +
    "X-Long: " + L1500 + "\n"
    "\n" + SIMPLE_BODY)

# 17 UTF-8 in a header and in the body --------------------------------------
add("17-utf8-header-and-body.eml",
    "From: Jürgen Müller <juergen@example.com>\n"
    + TO +
    "Subject: Grüße aus Köln — 日本語のテスト ✓\n"
    + DATE + mid("17") + MIME +
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Grüße, Bob!\n"
    "Ελληνικά, русский, עברית, العربية, 中文, 日本語, 한국어.\n"
    "Emoji: 📧🔏✅  \n"
    "Non-breaking\u00a0space and zero\u200bwidth.\n")

# 18 multipart/alternative ---------------------------------------------------
add("18-multipart-alternative.eml",
    FROM + TO + subj("multipart/alternative") + DATE + mid("18") + MIME +
    'Content-Type: multipart/alternative;\n boundary="==alt-boundary-18=="\n'
    "\n"
    "This is a multi-part message in MIME format.\n"
    "\n"
    "--==alt-boundary-18==\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "Plain text version.  \n"
    "\n"
    "--==alt-boundary-18==\n"
    "Content-Type: text/html; charset=us-ascii\n"
    "Content-Transfer-Encoding: 7bit\n"
    "\n"
    "<html>\n"
    "  <body>\n"
    "\t<p>HTML   version.</p>\n"
    "  </body>\n"
    "</html>\n"
    "\n"
    "--==alt-boundary-18==--\n"
    "\n")

# 19 multipart/mixed with base64 attachment ----------------------------------
ATTACH = bytes(range(256)) * 6 + b"signet corpus attachment\n"
B64 = base64.b64encode(ATTACH).decode("ascii")
B64_LINES = "\n".join(B64[i:i + 76] for i in range(0, len(B64), 76))
add("19-multipart-mixed-base64.eml",
    FROM + TO + subj("multipart/mixed with attachment") + DATE + mid("19") +
    MIME +
    'Content-Type: multipart/mixed; boundary="mixed-19"\n'
    "\n"
    "--mixed-19\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "See the attached file.\n"
    "\n"
    "--mixed-19\n"
    "Content-Type: application/octet-stream; name=\"data.bin\"\n"
    "Content-Transfer-Encoding: base64\n"
    "Content-Disposition: attachment; filename=\"data.bin\"\n"
    "\n" + B64_LINES + "\n"
    "\n"
    "--mixed-19--\n")

# 20 quoted-printable part ---------------------------------------------------
add("20-quoted-printable.eml",
    FROM + TO + subj("Quoted-printable body") + DATE + mid("20") + MIME +
    "Content-Type: text/plain; charset=iso-8859-1\n"
    "Content-Transfer-Encoding: quoted-printable\n"
    "\n"
    "Caf=E9 cr=E8me br=FBl=E9e. This line is long enough that it needs a soft=\n"
    " line break, and continues here.=20\n"
    "Trailing encoded space=20\n"
    "Trailing encoded tab=09\n"
    "Equals sign: 1 + 1 =3D 2\n"
    "Soft break at the very end=\n")

# 21-24 missing headers --------------------------------------------------------
add("21-missing-to.eml",
    FROM + subj("No To header") + DATE + mid("21") + MIME + CT_PLAIN +
    "\n" + SIMPLE_BODY)
add("22-missing-subject.eml",
    FROM + TO + DATE + mid("22") + MIME + CT_PLAIN + "\n" + SIMPLE_BODY)
add("23-missing-date.eml",
    FROM + TO + subj("No Date header") + mid("23") + MIME + CT_PLAIN +
    "\n" + SIMPLE_BODY)
add("24-missing-to-subject-date.eml",
    FROM + mid("24") + "\n" + "Only From and Message-ID here.\n")

# 25 duplicate Subject --------------------------------------------------------
add("25-duplicate-subject.eml",
    FROM + TO + subj("First subject") + DATE + mid("25") +
    subj("Second subject") + MIME + CT_PLAIN + "\n" + SIMPLE_BODY)

# 26 two Cc headers ----------------------------------------------------------
add("26-two-cc.eml",
    FROM + TO +
    "Cc: Carol Example <carol@example.net>\n"
    + subj("Two Cc header fields") + DATE +
    "Cc: Dave Example <dave@example.org>\n"
    + mid("26") + MIME + CT_PLAIN + "\n" + SIMPLE_BODY)

# 27 Received trail -------------------------------------------------------------
add("27-received-trail.eml",
    "Return-Path: <alice@example.com>\n"
    "Received: from mx2.example.org (mx2.example.org [192.0.2.20])\n"
    "\tby mx3.example.org with ESMTPS id 4C1A2B3C4D\n"
    "\tfor <bob@example.org>; Wed, 26 Nov 2025 09:00:04 +0000\n"
    "Received: from relay.example.net (relay.example.net [198.51.100.7])\n"
    "\tby mx2.example.org with ESMTP id 3B0F1E2D3C;\n"
    "\tWed, 26 Nov 2025 09:00:03 +0000\n"
    "Received: from mail.example.com (mail.example.com [203.0.113.5])\n"
    "        by relay.example.net (Postfix) with ESMTP id 2A9E0D1C2B\n"
    "        for <bob@example.org>; Wed, 26 Nov 2025 09:00:02 +0000 (UTC)\n"
    "Received: by mail.example.com (Postfix, from userid 1000)\n"
    "\tid 19D8C0B1A2; Wed, 26 Nov 2025 09:00:01 +0000 (UTC)\n"
    + std("27", "Several Received headers") + "\n" + SIMPLE_BODY)

# 28 long folded References ---------------------------------------------------
REFS = ["<thread-%02d.%s@example.%s>" % (i, "x" * (i % 7 + 3),
                                          ("com", "org", "net")[i % 3])
        for i in range(40)]
add("28-long-references.eml",
    FROM + TO + subj("Re: Re: Re: a very long thread") + DATE + mid("28") +
    "In-Reply-To: " + REFS[-1] + "\n"
    "References: " + "\n ".join(REFS) + "\n"
    + MIME + CT_PLAIN + "\n" + "Replying at the end of a long thread.\n")

# 29 empty header value -------------------------------------------------------
add("29-empty-header-value.eml",
    FROM + TO + "Subject:\n" + DATE + mid("29") + MIME + CT_PLAIN +
    "X-Empty:\n"
    "\n" + SIMPLE_BODY)

# 30 header with only whitespace as value ------------------------------------
add("30-whitespace-only-header-value.eml",
    FROM + TO + "Subject: \t  \n" + DATE + mid("30") + MIME + CT_PLAIN +
    "X-Blank:    \n"
    "X-Blank-Tab:\t\t\n"
    "X-Blank-Folded: \n \t\n"
    "\n" + SIMPLE_BODY)

# 31 body that is exactly one CRLF -------------------------------------------
add("31-body-single-crlf.eml", std("31", "Body is one CRLF") + "\n" + "\n")

# 32 body of only blank lines ------------------------------------------------
add("32-body-only-blank-lines.eml",
    std("32", "Body of only blank lines") + "\n" + "\n" * 7)

# 33 body starting with blank lines ------------------------------------------
add("33-body-leading-blank-lines.eml",
    std("33", "Body starts with blank lines") + "\n" +
    "\n\n\nText after three leading blank lines.\n\nMore text.\n")

# 34 lone dot lines -----------------------------------------------------------
add("34-dot-lines.eml",
    std("34", "Lines with lone dots") + "\n" +
    "Before the dot\n"
    ".\n"
    "..\n"
    ". \n"
    ".\t\n"
    "...\n"
    "After the dots\n"
    ".\n")

# 35 headers that look like DKIM-Signature but are not -----------------------
add("35-dkim-lookalike-headers.eml",
    FROM + TO + subj("Headers that look like DKIM-Signature") + DATE +
    mid("35") + MIME + CT_PLAIN +
    "X-DKIM-Note: v=1; a=rsa-sha256; d=example.net; s=fake; h=from;\n"
    " bh=AAAA; b=AAAA\n"
    "DKIM-Signature-Like: v=1; a=ed25519-sha256; d=example.org; s=nope;\n"
    "\tbh=BBBB; b=BBBB\n"
    "X-DKIM-Signature: not a signature either\n"
    "\n" + SIMPLE_BODY)

# 36 Reply-To and Sender ------------------------------------------------------
add("36-reply-to-sender.eml",
    FROM +
    "Sender: Mailing List <list-owner@example.net>\n"
    "Reply-To: Discussion List <list@example.net>\n"
    + TO + subj("Reply-To and Sender") + DATE + mid("36") + MIME + CT_PLAIN +
    "List-Id: <list.example.net>\n"
    "\n" + SIMPLE_BODY)

# 37 long subject folded many times, WSP before the fold points -------------
add("37-subject-folded-with-trailing-ws.eml",
    FROM + TO +
    "Subject: word  \n"
    "\tanother word \t\n"
    " yet\tanother   \n"
    "  \t final part\t \n"
    + DATE + mid("37") + MIME + CT_PLAIN + "\n" + SIMPLE_BODY)

# 38 nested multipart ---------------------------------------------------------
add("38-nested-multipart.eml",
    FROM + TO + subj("Nested multipart") + DATE + mid("38") + MIME +
    'Content-Type: multipart/mixed; boundary="outer-38"\n'
    "\n"
    "--outer-38\n"
    'Content-Type: multipart/alternative; boundary="inner-38"\n'
    "\n"
    "--inner-38\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Plain part — with UTF-8.\n"
    "--inner-38\n"
    "Content-Type: text/html; charset=utf-8\n"
    "\n"
    "<p>HTML part</p>\n"
    "--inner-38--\n"
    "\n"
    "--outer-38\n"
    "Content-Type: text/plain; name=\"notes.txt\"\n"
    "Content-Disposition: attachment; filename=\"notes.txt\"\n"
    "\n"
    "attached notes   \n"
    "\t\n"
    "--outer-38--\n")

# 39 mbox-ish "From " lines and colons in header values -----------------------
add("39-from-lines-and-colons.eml",
    FROM + TO + subj("Re: Fwd: [list] topic: a: b:: c") + DATE + mid("39") +
    MIME + CT_PLAIN +
    "X-Colons: a:b::c:::\n"
    "X-Semicolons: v=1; b=; bh=;\n"
    "\n"
    "From the beginning of a line.\n"
    ">From an escaped line.\n"
    "From: not a header, this is body text\n"
    "Subject: also body text\n")


# 40 one-megabyte body --------------------------------------------------------
def megabyte_body(target=1048576):
    words = ("alpha bravo charlie delta echo foxtrot golf hotel india juliet "
             "kilo lima mike november oscar papa quebec romeo sierra tango "
             "uniform victor whiskey xray yankee zulu signet dkim canonical "
             "relaxed simple header body hash 0123 4567 89").split()
    x = 40
    lines = []
    size = 0
    n = 0
    while size < target:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        r = x >> 8
        n += 1
        kind = r % 23
        if kind == 0:
            line = ""                                   # blank line
        elif kind == 1:
            line = " \t " [: 1 + r % 3]                 # whitespace only
        else:
            count = 1 + (r >> 5) % 18
            parts = []
            y = r
            for _ in range(count):
                y = (y * 69069 + 1) & 0xFFFFFFFF
                parts.append(words[(y >> 7) % len(words)])
                parts.append(("  ", " ", " ", "\t", " ", " ")[(y >> 3) % 6])
            line = "".join(parts).rstrip(" \t")
            if kind == 2:
                line += "   "                            # trailing spaces
            elif kind == 3:
                line += "\t"                             # trailing tab
            elif kind == 4:
                line += " \t "                           # mixed trailing
            line = "%06d %s" % (n, line)
        lines.append(line)
        size += len(line) + 1
    return "\n".join(lines) + "\n"


add("40-one-megabyte-body.eml",
    std("40", "One megabyte body") + "\n" + megabyte_body())


def header_names(data):
    """Names of the header fields of a message (up to the first empty line)."""
    names = []
    for line in data.split(b"\r\n"):
        if line == b"":
            break
        if line[:1] in (b" ", b"\t"):
            continue
        names.append(line.split(b":", 1)[0].rstrip(b" \t").lower())
    return names


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    os.makedirs(outdir, exist_ok=True)
    names = set()
    for name, data in MESSAGES:
        assert name not in names, name
        names.add(name)
        # Sanity checks on the corpus rules.
        assert b"\0" not in data, name
        assert data.replace(b"\r\n", b"").count(b"\r") == 0, name
        assert data.replace(b"\r\n", b"").count(b"\n") == 0, name
        assert len(data) <= 1100000, name
        assert header_names(data).count(b"from") == 1, name
        for dom in re.findall(rb"@([A-Za-z0-9.-]+)", data):
            assert dom.rstrip(b".").lower() in (
                b"example.com", b"example.org", b"example.net") or \
                dom.lower().endswith((b".example.com", b".example.org",
                                      b".example.net")), (name, dom)
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
    print("wrote %d messages to %s" % (len(MESSAGES), outdir))


if __name__ == "__main__":
    main()
