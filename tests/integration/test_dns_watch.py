#!/usr/bin/python3
"""The daemon checks the next key's DNS record before its cutover (dnsmasq on
127.0.0.1 as the DNS). The next key's record is missing at the cutover: the
current key keeps signing (its record is still published) and the daemon
logs it loudly; once the record appears, the new key signs.

usage: test_dns_watch.py --milter PATH --signet PATH --work DIR
"""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from milter_client import send_one  # noqa: E402
from postfix_harness import free_port  # noqa: E402
from testkit import Checks, Dnsmasq, iso  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--signet", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    keys = os.path.join(a.work, "keys")
    os.makedirs(os.path.join(keys, "example.com"), mode=0o700)
    checks = Checks()
    check = checks.check

    now = int(time.time())
    cut = now + 8
    records = {}
    for sel in ("old", "new"):
        txt = subprocess.run([a.signet, "keygen", "--algorithm", "ed25519", "--out",
                              os.path.join(keys, "example.com", sel + ".key")], capture_output=True, text=True).stdout
        records[sel] = txt.strip().strip('"')
    with open(os.path.join(keys, "manifest"), "w") as f:
        for sel, frm, until, retire in (("old", now - 100, cut, now + 3600), ("new", cut, None, None)):
            f.write("[key]\nstream = tx\ndomain = example.com\nselector = %s\nalgorithm = ed25519\nbits = 256\n"
                    "owner = t\nfile = example.com/%s.key\ncreated = %s\npublished-at = %s\nactive-from = %s\n"
                    "active-until = %s\nretire-at = %s\n\n" % (sel, sel, iso(now - 200), iso(now - 200), iso(frm),
                                                                iso(until) if until else "", iso(retire) if retire else ""))
    dns_port, milter_port = free_port(), free_port()
    dns = Dnsmasq(a.work, dns_port)

    def serve(names):
        dns.serve([("%s._domainkey.example.com" % n, records[n]) for n in names])

    def sign(qid):
        final, mods = send_one("127.0.0.1", milter_port, qid, b"x\r\n")
        data = b"".join(m[1] for m in mods)
        return data.split(b"s=")[1].split(b";")[0].decode() if mods else None

    conf = os.path.join(a.work, "signet.conf")
    with open(conf, "w") as f:
        f.write("socket = inet:%d@127.0.0.1\nlog = stderr\nforeground = true\nkey-directory = %s\n"
                "internal-hosts = 127.0.0.1/32\ndns-server = 127.0.0.1:%d\ndns-check-interval = 1s\n"
                "[stream.tx]\ndomain = example.com\n[rule.all]\nstream = tx\n" % (milter_port, keys, dns_port))
    log = os.path.join(a.work, "milter.log")
    serve(["old"])
    milter = subprocess.Popen([a.milter, "--config", conf], stderr=open(log, "wb"))
    try:
        time.sleep(1.5)
        check(sign("BEFORE") == "old", "before the cutover the current key signs")
        text = open(log).read()
        check("cuts over at" in text and "not visible yet" in text, "the missing record is warned about before the cutover", text)
        time.sleep(max(0, cut + 1.5 - time.time()))
        check(sign("AFTER") == "old", "at the cutover the new key's record is missing: the current key keeps signing")
        text = open(log).read()
        check("should sign since" in text and "still signing with the key it replaces" in text,
              "the daemon logs it loudly", text)
        serve(["old", "new"])
        time.sleep(2.5)
        check(sign("VISIBLE") == "new", "once its record is visible the new key signs")
        check("is visible now" in open(log).read(), "and the daemon says so")
    finally:
        milter.send_signal(signal.SIGTERM)
        milter.wait(timeout=30)
        dns.stop()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
