#!/usr/bin/python3
"""signet dmarc import on reports as receivers send them, generated here with
Python's own zlib/gzip, zipfile and email modules (independent of the C++
code): RFC 7489 and RFC 9990 reports as .xml, .xml.gz, .zip and the report
e-mail (base64 gzip/zip/xml attachments, a plain text/xml one), a gzip file
named .xml (content decides), a 5 000-record report; then broken inputs (one
line each naming the file, exit 2, the good ones still imported), a gzip and
a zip bomb, duplicates (counted once, exit 0), a directory, standard input,
the reports-file option; and the stored records, read back with Python's
sqlite3 and with `signet dmarc records`, equal what was written.

usage: test_dmarc_import.py --signet PATH --work DIR
"""
import csv
import email.message
import gzip
import io
import ipaddress
import os
import sqlite3
import struct
import subprocess
import sys
import time
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, one_line, scenario_args  # noqa: E402

DAY = 86400
DEC1 = 1764547200  # 2025-12-01T00:00:00Z


def report(org, rid, begin, end, rows, v2=False):
    """The XML of a report; rows: (ip, count, header_from, [(d, s, result)]).
    A selector None writes no <selector> (RFC 7489 allows it)."""
    out = ['<?xml version="1.0" encoding="UTF-8"?>']
    if v2:
        out.append('<feedback xmlns="urn:ietf:params:xml:ns:dmarc-2.0">\n  <version>2.0</version>')
    else:
        out.append("<feedback>")
    out.append("  <report_metadata><org_name>%s</org_name><email>dmarc@%s</email>"
               "<report_id>%s</report_id><date_range><begin>%d</begin><end>%d</end></date_range>"
               "</report_metadata>" % (org, org, rid, begin, end))
    out.append("  <policy_published><domain>example.com</domain><p>none</p><sp>none</sp></policy_published>")
    for ip, count, hfrom, dkim in rows:
        out.append("  <record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated>"
                   "<disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>"
                   "<identifiers><header_from>%s</header_from></identifiers><auth_results>" % (ip, count, hfrom))
        for d, s, res in dkim:
            sel = "" if s is None else "<selector>%s</selector>" % s
            out.append("    <dkim><domain>%s</domain>%s<result>%s</result></dkim>" % (d, sel, res))
        out.append("    <spf><domain>%s</domain><result>pass</result></spf></auth_results></record>" % hfrom)
    out.append("</feedback>\n")
    return "\n".join(out).encode()


def expected(org, rid, begin, end, rows):
    """What read_report_records documents for it: one record per DKIM result."""
    day = time.strftime("%Y-%m-%d", time.gmtime(begin + (end - begin) // 2))
    recs = []
    for ip, count, hfrom, dkim in rows:
        norm = str(ipaddress.ip_address(ip))
        for d, s, res in dkim or [("", "", "none")]:
            recs.append((day, org, rid, norm, count, hfrom.lower(), d.lower(), (s or "").lower(), res.lower()))
    return recs


def zipped(name, data):
    """A zip of one entry, deflated; a fixed date, so the bytes are the same each run."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def lying_zip(data, declared):
    """A zip whose one entry declares `declared` bytes uncompressed but holds
    `data` (APPNOTE 4.3.7 and 4.3.12: the size at offset 22 of the local header
    and 24 of the central directory header)."""
    z = bytearray(zipped("r.xml", data))
    size = struct.pack("<I", len(data))
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = z.find(sig)
        assert z[at + off:at + off + 4] == size
        z[at + off:at + off + 4] = struct.pack("<I", declared)
    return bytes(z)


def mail(data, maintype, subtype, filename, cte=None):
    """The report e-mail: a text part and the attachment (base64 by default)."""
    m = email.message.EmailMessage()
    m["From"] = "noreply-dmarc-support@google.com"
    m["To"] = "dmarc@example.com"
    m["Subject"] = "Report domain: example.com Submitter: google.com"
    m.set_content("This is an aggregate report from google.com.")
    if maintype == "text":
        m.add_attachment(data.decode(), subtype=subtype, filename=filename, cte=cte or "base64")
    else:
        m.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    m.set_boundary("report-boundary")
    return m.as_bytes()


def main():
    a = scenario_args()
    checks = Checks()
    check = checks.check
    store = os.path.join(a.work, "reports.sqlite")

    def run(args, stdin=None, reports=store):
        cmd = [a.signet] + args + (["--reports", reports] if reports else [])
        t0 = time.monotonic()
        p = subprocess.run(cmd, input=stdin, capture_output=True, timeout=120)
        return p.returncode, p.stdout.decode(), p.stderr.decode(), time.monotonic() - t0

    def write(name, data):
        path = os.path.join(a.work, "in", name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        return path

    want = []
    good = []  # (file name, org, report id, records)

    def make(name, org, rid, day, rows, wrap, v2=False):
        begin, end = DEC1 + day * DAY, DEC1 + (day + 1) * DAY - 1
        x = report(org, rid, begin, end, rows, v2)
        want.extend(expected(org, rid, begin, end, rows))
        good.append((write(name, wrap(x)), org, rid, len(rows)))

    rows_a = [("192.0.2.1", 12, "example.com", [("example.com", "s2026", "pass"), ("esp.example", "k1", "fail")]),
              ("2001:DB8:0:0::1", 3, "Example.COM", []),
              ("198.51.100.7", 1, "example.com", [("EXAMPLE.com", None, "PermError")])]
    rows_b = [("203.0.113.9", 40, "example.com", [("example.com", "s2026", "pass")])]
    make("01-plain-7489.xml", "google.com", "g-1", 0, rows_a, lambda x: x)
    make("02-plain-9990.xml", "yahoo.com", "y-1", 0, rows_b, lambda x: x, v2=True)
    make("03.xml.gz", "google.com", "g-2", 1, rows_b, gzip.compress)
    make("04-9990.xml.gz", "yahoo.com", "y-2", 1, rows_b, gzip.compress, v2=True)
    make("05.zip", "microsoft.com", "m-1", 1, rows_a, lambda x: zipped("r.xml", x))
    make("06-9990.zip", "microsoft.com", "m-2", 2, rows_b, lambda x: zipped("r.xml", x), v2=True)
    make("07-gzip.eml", "google.com", "g-3", 2, rows_a,
         lambda x: mail(gzip.compress(x), "application", "gzip", "google.com!example.com!1!2.xml.gz"))
    make("08-zip.eml", "outlook.com", "o-1", 2, rows_b,
         lambda x: mail(zipped("r.xml", x), "application", "zip", "outlook.com!example.com!1!2.zip"))
    make("09-xml-base64.eml", "mail.ru", "r-1", 3, rows_b, lambda x: mail(x, "text", "xml", "r.xml"), v2=True)
    make("10-xml-qp.eml", "web.de", "w-1", 3, rows_a,
         lambda x: mail(x, "text", "xml", "r.xml", cte="quoted-printable"))
    make("11-gzip-named.xml", "gmx.net", "x-1", 3, rows_b, gzip.compress)  # content decides, not the name
    make("12-octet-stream.eml", "comcast.net", "c-1", 4, rows_b,
         lambda x: mail(gzip.compress(x), "application", "octet-stream", "report.xml.gz"))

    # 1. Every form imported, one line each.
    files = [g[0] for g in good]
    rc, out, err, _ = run(["dmarc", "import"] + files)
    lines = out.splitlines()
    check(rc == 0 and err == "", "every form and both formats: exit 0, nothing on stderr", (rc, err))
    check(len(lines) == len(good), "one line per file", out)
    for (path, org, rid, n), line in zip(good, lines):
        check(line.startswith("%s: imported: %s report %s, %d records, " % (path, org, rid, n)),
              "imported: " + os.path.basename(path), line)
    check("(RFC 9990, xml)" in lines[1] and "(RFC 7489, xml)" in lines[0], "the format is named", out)
    check("(RFC 7489, e-mail > gzip > xml)" in lines[6] and "(RFC 7489, gzip > xml)" in lines[10],
          "the container path is named (a gzip called .xml is read as gzip)", out)

    def stored_sqlite():
        db = sqlite3.connect(store)
        try:
            return db.execute(
                "SELECT r.day, r.org, r.report_id, c.source_ip, c.count, c.header_from, c.dkim_domain, "
                "c.dkim_selector, c.dkim_result FROM report_records c JOIN reports r ON r.id = c.report "
                "ORDER BY r.day, r.org, r.report_id, c.seq").fetchall()
        finally:
            db.close()

    def stored_cli(since=None):
        rc, out, err, _ = run(["dmarc", "records"] + (["--since", since] if since else []))
        rows = list(csv.reader(io.StringIO(out)))
        return rc, [tuple(r[:4]) + (int(r[4]),) + tuple(r[5:]) for r in rows[1:]], rows[:1]

    def order(recs):  # by day, org, report id; document order within (a stable sort)
        return sorted(recs, key=lambda r: (r[0], r[1], r[2]))

    check(stored_sqlite() == order(want), "sqlite3: the stored records are exactly those written",
          (stored_sqlite()[:4], order(want)[:4]))
    rc, recs, header = stored_cli()
    check(rc == 0 and recs == order(want), "signet dmarc records: the same records", (recs[:3], order(want)[:3]))
    check(header == [["day", "org", "report_id", "source_ip", "count", "header_from", "dkim_domain",
                      "dkim_selector", "dkim_result"]], "signet dmarc records: the CSV header", header)
    rc, recs, _ = stored_cli("2025-12-04")
    check(rc == 0 and recs == [r for r in order(want) if r[0] >= "2025-12-04"] and recs,
          "records --since: that day and later only", recs)

    # 2. Duplicates: the same files again are counted once, exit 0.
    rc, out, err, _ = run(["dmarc", "import", files[0], files[6]])
    check(rc == 0 and out.splitlines() == [
        "%s: duplicate: google.com report g-1 is already imported, skipped" % files[0],
        "%s: duplicate: google.com report g-3 is already imported, skipped" % files[6]],
        "a second import: duplicate, skipped, exit 0", (rc, out, err))
    # The same report in another container (the e-mail and its attachment) is the same report.
    resent = write("13-resent.xml.gz", gzip.compress(report("google.com", "g-1", DEC1, DEC1 + DAY - 1, rows_b)))
    rc, out, _, _ = run(["dmarc", "import", resent])
    check(rc == 0 and "duplicate: google.com report g-1" in out, "a resend under another name is a duplicate", out)
    check(stored_sqlite() == order(want), "duplicates added nothing", len(stored_sqlite()))

    # 3. Broken inputs: one line each naming the file, exit 2, the good ones still imported.
    good_x = report("good.example", "good-1", DEC1 + 5 * DAY, DEC1 + 6 * DAY - 1, rows_b)
    broken = {
        "b1-truncated.xml": (good_x[:len(good_x) // 2], "not well-formed XML"),
        "b2-wrong-root.xml": (b"<?xml version='1.0'?><html><body/></html>", "the root element is <html>, not <feedback>"),
        "b3-invalid-utf8.xml": (good_x.replace(b"good.example</org_name>", b"go\xff\xfe.example</org_name>"),
                                "not well-formed XML"),
        "b4-not-a-report.bin": (bytes(range(256)) * 4, "not a DMARC report: neither XML, gzip, zip nor an e-mail"),
        "b5-no-report-id.xml": (good_x.replace(b"<report_id>good-1</report_id>", b""), "no <report_id>"),
        "b6-no-records.xml": (report("good.example", "nr", DEC1, DEC1 + DAY, []), "no <record>"),
        "b7-no-date-range.xml.gz": (gzip.compress(good_x.replace(
            b"<date_range><begin>%d</begin><end>%d</end></date_range>" % (DEC1 + 5 * DAY, DEC1 + 6 * DAY - 1), b"")),
            "gzip > xml: no <date_range>"),
        "b8-gzip-bomb.xml.gz": (gzip.compress(b"\0" * (100 << 20)), "gzip decompresses to more than 64 MiB"),
        "b9-zip-bomb.zip": (zipped("r.xml", b" " * (100 << 20)), "declares 104857600 bytes, more than 64 MiB"),
        "b14-zip-bomb-lying.zip": (lying_zip(b"\0" * (100 << 20), 1024), "zip entry decompresses to more than 64 MiB"),
        "b10-9990-no-selector.xml": (report("v2.example", "v2", DEC1, DEC1 + DAY,
                                            [("192.0.2.1", 1, "e.com", [("e.com", None, "pass")])], v2=True),
                                     "RFC 9990 makes mandatory"),
        "b11-mail-no-report.eml": (b"From: a@b.example\r\nSubject: hello\r\n\r\njust text\r\n",
                                   "e-mail without a report attachment"),
        "b12-empty.xml": (b"", "empty"),
        "b13-xxe.xml": (b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                        b"<feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>",
                        "DOCTYPE"),
    }
    d = os.path.join(a.work, "mixed")
    os.makedirs(d)
    for name, (data, _) in broken.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
    with open(os.path.join(d, "z-good.xml"), "wb") as f:
        f.write(good_x)
    os.makedirs(os.path.join(d, "subdir"))  # not a regular file: not read
    rc, out, err, secs = run(["dmarc", "import", d])
    errs = err.splitlines()
    check(rc == 2, "a directory with broken files: exit 2", rc)
    check(len(errs) == len(broken), "one stderr line per broken file", err)
    for name, (_, why) in sorted(broken.items()):
        path = os.path.join(d, name)
        line = [l for l in errs if l.startswith("signet dmarc import: %s: refused: " % path)]
        check(len(line) == 1 and why in line[0], "refused with why: " + name, one_line(err if not line else line[0]))
    check(out.splitlines() == ["%s: imported: good.example report good-1, 1 records, 2025-12-06T00:00:00Z.."
                               "2025-12-06T23:59:59Z (RFC 7489, xml)" % os.path.join(d, "z-good.xml")],
          "the good file beside them is imported", out)
    check(secs < 30, "the bombs cost little time (%.1f s for the directory)" % secs, secs)
    check("root:" not in out + err, "nothing of /etc/passwd is read into the output", err)
    want.extend(expected("good.example", "good-1", DEC1 + 5 * DAY, DEC1 + 6 * DAY - 1, rows_b))
    check(stored_sqlite() == order(want), "refused files stored nothing; the good one is stored", len(stored_sqlite()))

    # 4. Standard input, and a large report (5 000 records), timed.
    big_rows = [("10.%d.%d.1" % (i // 256 % 256, i % 256), i, "example.com",
                 [("example.com", "s%d" % (i % 7), "pass" if i % 3 else "fail")]) for i in range(5000)]
    big = report("big.example", "big-1", DEC1 + 6 * DAY, DEC1 + 7 * DAY - 1, big_rows)
    rc, out, err, secs = run(["dmarc", "import", "-"], stdin=gzip.compress(big))
    check(rc == 0 and out.startswith("stdin: imported: big.example report big-1, 5000 records"),
          "- reads standard input (a 5 000-record report, gzip)", (rc, out, err))
    checks.note("5 000-record report (%d KiB of XML) imported from stdin in %.2f s" % (len(big) >> 10, secs))
    want.extend(expected("big.example", "big-1", DEC1 + 6 * DAY, DEC1 + 7 * DAY - 1, big_rows))
    check(stored_sqlite() == order(want), "the 5 000 records are stored exactly", len(stored_sqlite()))

    # 5. The store comes from the configuration's reports-file unless --reports says.
    other = os.path.join(a.work, "from-config.sqlite")
    conf = os.path.join(a.work, "signet.conf")
    with open(conf, "w") as f:
        f.write("key-directory = %s\nreports-file = %s\n" % (os.path.join(a.work, "keys"), other))
    rc, out, err, _ = run(["dmarc", "import", "--config", conf, files[1]], reports=None)
    check(rc == 0 and "imported: yahoo.com report y-1" in out and os.path.exists(other),
          "reports-file from --config", (rc, out, err))

    # 6. Usage and store errors: exit 2, one line.
    rc, out, err, _ = run(["dmarc", "import"])
    check(rc == 2 and len(err.splitlines()) == 1 and "name the report files" in err, "no input: exit 2, one line", err)
    rc, out, err, _ = run(["dmarc", "import", os.path.join(a.work, "missing.xml")])
    check(rc == 2 and "missing.xml: refused: cannot read it" in err, "a missing file is refused by name", err)
    ledger = os.path.join(a.work, "ledger.sqlite")
    sqlite3.connect(ledger).execute("CREATE TABLE ledger (day TEXT)").connection.commit()
    rc, out, err, _ = run(["dmarc", "import", files[0]], reports=ledger)
    check(rc == 2 and len(err.splitlines()) == 1 and "not a signet DMARC report store" in err,
          "another database as --reports is refused, not written", err)
    rc, out, err, _ = run(["dmarc", "records"], reports=os.path.join(a.work, "none.sqlite"))
    check(rc == 2 and "none.sqlite" in err, "records on a missing store: exit 2 naming it", err)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
