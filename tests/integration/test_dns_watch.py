#!/usr/bin/python3
"""The daemon checks the next key's DNS record before its cutover (dnsmasq on
127.0.0.1 as the DNS). The next key's record is missing at the cutover: the
current key keeps signing (its record is still published) and the daemon
logs it loudly; once the record appears, the new key signs.

usage: test_dns_watch.py --milter PATH --signet PATH --work DIR
"""
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from testkit import Checks, Dnsmasq, SignetMilter, free_port, iso, make_keys, scenario_args  # noqa: E402


def main():
    a = scenario_args(milter=True)
    keys = os.path.join(a.work, "keys")
    checks = Checks()
    check = checks.check

    now = int(time.time())
    cut = now + 8
    records = {k.selector: k.record.decode() for k in make_keys(
        a.signet, keys, [("example.com", sel, "ed25519") for sel in ("old", "new")], dir_mode=0o700)}
    with open(os.path.join(keys, "manifest"), "w") as f:
        for sel, frm, until, retire in (("old", now - 100, cut, now + 3600), ("new", cut, None, None)):
            f.write("[key]\nstream = tx\ndomain = example.com\nselector = %s\nalgorithm = ed25519\nbits = 256\n"
                    "owner = t\nfile = example.com/%s.key\ncreated = %s\npublished-at = %s\nactive-from = %s\n"
                    "active-until = %s\nretire-at = %s\n\n" % (sel, sel, iso(now - 200), iso(now - 200), iso(frm),
                                                                iso(until) if until else "", iso(retire) if retire else ""))
    dns_port = free_port()
    dns = Dnsmasq(a.work, dns_port)
    milter = SignetMilter(a.milter, a.work, {
        "key-directory": keys,
        "internal-hosts": "127.0.0.1/32",
        "dns-server": "127.0.0.1:%d" % dns_port,
        "dns-check-interval": "1s",
        "stream.tx": {"domain": "example.com"},
        "rule.all": {"stream": "tx"},
    })

    def serve(names):
        dns.serve([("%s._domainkey.example.com" % n, records[n]) for n in names])

    def sign(qid):
        final, mods = milter.send_one(qid, b"x\r\n")
        data = b"".join(m[1] for m in mods)
        return data.split(b"s=")[1].split(b";")[0].decode() if mods else None

    serve(["old"])
    try:
        milter.start()
        time.sleep(1.5)
        check(sign("BEFORE") == "old", "before the cutover the current key signs")
        text = milter.log()
        check("cuts over at" in text and "not visible yet" in text, "the missing record is warned about before the cutover", text)
        time.sleep(max(0, cut + 1.5 - time.time()))
        check(sign("AFTER") == "old", "at the cutover the new key's record is missing: the current key keeps signing")
        text = milter.log()
        check("should sign since" in text and "still signing with the key it replaces" in text,
              "the daemon logs it loudly", text)
        serve(["old", "new"])
        time.sleep(2.5)
        check(sign("VISIBLE") == "new", "once its record is visible the new key signs")
        check("is visible now" in milter.log(), "and the daemon says so")
    finally:
        milter.stop(timeout=30)
        dns.stop()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
