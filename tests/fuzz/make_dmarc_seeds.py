#!/usr/bin/python3
"""Writes the fuzz_dmarc seeds into tests/fuzz/corpus/fuzz_dmarc/: small DMARC
aggregate reports (RFC 7489 and RFC 9990) in every form `signet dmarc import`
reads (xml, gzip, zip, the report e-mail with base64 gzip/zip/xml and a
quoted-printable xml attachment) and a few broken ones, made with the
generators of tests/integration/test_dmarc_import.py. Deterministic (gzip
mtime 0, a fixed zip date and MIME boundary); run from anywhere.
"""
import gzip
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(TOP, "tests", "integration"))
from test_dmarc_import import DAY, DEC1, mail, report, zipped  # noqa: E402

OUT = os.path.join(TOP, "tests", "fuzz", "corpus", "fuzz_dmarc")


def main():
    os.makedirs(OUT, exist_ok=True)
    rows = [("192.0.2.1", 12, "example.com", [("example.com", "s2026", "pass"), ("esp.example", "k1", "fail")]),
            ("2001:db8::1", 3, "example.com", []),
            ("198.51.100.7", 1, "example.com", [("example.com", None, "permerror")])]
    rows2 = [("203.0.113.9", 40, "example.com", [("example.com", "s2026", "pass")])]
    v1 = report("google.com", "g-1", DEC1, DEC1 + DAY - 1, rows)
    v2 = report("yahoo.com", "y-1", DEC1, DEC1 + DAY - 1, rows2, v2=True)
    gz = lambda b: gzip.compress(b, mtime=0)  # noqa: E731
    seeds = {
        "01-7489.xml": v1,
        "02-9990.xml": v2,
        "03-7489.xml.gz": gz(v1),
        "04-9990.zip": zipped("r.xml", v2),
        "05-gzip-base64.eml": mail(gz(v1), "application", "gzip", "r.xml.gz"),
        "06-zip-base64.eml": mail(zipped("r.xml", v2), "application", "zip", "r.zip"),
        "07-xml-base64.eml": mail(v2, "text", "xml", "r.xml"),
        "08-xml-qp.eml": mail(v1, "text", "xml", "r.xml", cte="quoted-printable"),
        "09-octet-stream.eml": mail(gz(v2), "application", "octet-stream", "report.gz"),
        "10-truncated.xml": v1[:len(v1) // 2],
        "11-wrong-root.xml": b"<?xml version='1.0'?><html><body/></html>",
        "12-doctype.xml": b'<?xml version="1.0"?><!DOCTYPE feedback [<!ENTITY x "y">]><feedback>&x;</feedback>',
        "13-tolerant.xml": (b"\xef\xbb\xbf<feedback><report_metadata><org_name> O </org_name><report_id><![CDATA[r]]>"
                            b"</report_id><date_range><begin> 1 </begin><end>2</end></date_range></report_metadata>"
                            b"<record><row><source_ip>::FFFF:192.0.2.1</source_ip><count>1</count>"
                            b"<policy_evaluated><reason/></policy_evaluated></row><auth_results><dkim>"
                            b"<domain>E.COM</domain><result>PASS</result></dkim></auth_results></record></feedback>"),
        "14-gzip-in-zip.zip": zipped("r.xml.gz", gz(v1)),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
