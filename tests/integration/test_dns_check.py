#!/usr/bin/python3
"""signet dns check and the rotate gate against a real DNS server (dnsmasq on
127.0.0.1, started and stopped here, serving what each case says).

usage: test_dns_check.py --signet PATH --work DIR
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, Dnsmasq, SignetCli, free_port, scenario_args  # noqa: E402

DAY = 86400


def main():
    a = scenario_args()
    signet = SignetCli(a.signet, a.work, {"stream.tx": {"domain": "example.com", "owner": "ops"}})
    keys, conf = signet.keys, signet.conf
    checks = Checks()
    check = checks.check

    T0 = 1795687200
    for alg in ("rsa", "ed25519"):
        signet(["key", "new", "--stream", "tx", "--algorithm", alg], T0)
    T1, T2 = T0 + 2 * 3600, T0 + 2 * 3600 + DAY
    signet(["key", "rotate", "--stream", "tx", "--force"], T1)
    signet(["key", "rotate", "--stream", "tx", "--force"], T2)
    T3 = T2 + 15 * DAY
    rc, out, err = signet(["key", "retire"], T3)
    check(rc == 0 and out.count("retired") == 2, "set up: 2 retired, 2 active, 2 standby", out + err)
    records = json.loads(signet(["dns", "records", "--format", "json"], T3)[1])

    port = free_port()
    dns = Dnsmasq(a.work, port)

    def serve(recs, extra_lines=()):
        dns.serve([(r["name"], r["value"]) for r in recs], extra_lines)

    def dns_check():
        return signet(["dns", "check", "--server", "127.0.0.1:%d" % port], T3)

    try:
        serve(records)
        rc, out, err = dns_check()
        check(rc == 0 and out.count("ok ") == 6 and "retired, p= empty" in out, "all six records as the key set says", out + err)

        standby = [r for r in records if r["state"] == "standby"]
        active = [r for r in records if r["state"] == "active"]
        retired = [r for r in records if r["state"] == "retired"]
        serve([r for r in records if r is not standby[0]])
        rc, out, _ = dns_check()
        check(rc == 1 and "missing" in out, "a missing record is an error", out)

        wrong = dict(active[0], value=active[0]["value"].replace("p=", "p=AAAA", 1))
        serve([wrong] + [r for r in records if r is not active[0]])
        rc, out, _ = dns_check()
        check(rc == 1 and ("does not match" in out or "does not parse" in out), "a mismatched p= is an error", out)

        testing = dict(active[1], value=active[1]["value"].replace("v=DKIM1; ", "v=DKIM1; t=y; ", 1))
        serve([testing] + [r for r in records if r is not active[1]])
        rc, out, _ = dns_check()
        check("t=y (testing) is published" in out, "t=y is reported", out)

        still = dict(retired[0], value=active[1]["value"])
        serve([still] + [r for r in records if r is not retired[0]])
        rc, out, _ = dns_check()
        check(rc == 1 and "retired selector still publishes a key" in out, "a retired selector with a key is an error", out)

        rsa = [r for r in records if r["state"] == "active" and "k=rsa" in r["value"]][0]
        v = rsa["value"]
        split = ['txt-record=%s,"%s"' % (rsa["name"].rstrip("."), v[:200]),
                 'txt-record=%s,"%s"' % (rsa["name"].rstrip("."), v[200:])]
        serve([r for r in records if r is not rsa], split)
        rc, out, _ = dns_check()
        check(rc == 1 and ("separate records" in out or "does not parse" in out), "a record split into separate records", out)

        # The rotate gate: the standby keys are visible -> the rotation goes through.
        serve(records)
        before = open(os.path.join(keys, "manifest")).read()
        rc, out, err = signet(["key", "rotate", "--stream", "tx", "--server", "127.0.0.1:%d" % port], T3)
        check(rc == 0, "rotate to keys whose records are visible", err)
        # The new standby keys are not in DNS: the next rotation is refused, nothing changes.
        before = open(os.path.join(keys, "manifest")).read()
        rc, out, err = signet(["key", "rotate", "--stream", "tx", "--server", "127.0.0.1:%d" % port], T3 + DAY)
        check(rc == 2 and "missing" in err and "--force" in err and open(os.path.join(keys, "manifest")).read() == before,
              "rotate to a key whose record is not visible is refused, nothing changed", err)
        rc, out, err = signet(["key", "rotate", "--stream", "tx", "--force"], T3 + DAY)
        check(rc == 0, "--force overrides the gate", err)

        # signet audit, with the DNS as the key set says it should be.
        T = T3 + DAY
        records = json.loads(signet(["dns", "records", "--format", "json"], T)[1])
        serve(records)
        srv = ["--server", "127.0.0.1:%d" % port]
        rc, out, err = signet(["audit"] + srv, T)
        check(rc == 0 and out.strip() == "no findings", "audit of a healthy key set: no findings", out + err)
        rc, out, err = signet(["register", "add-delegated", "--domain", "example.com", "--selector", "esp1",
                               "--target", "esp1.dkim.vendor.example", "--owner", "marketing"], T)
        check(rc == 0, "register add-delegated", err)
        rc, out, err = signet(["register", "add-delegated", "--domain", "example.com", "--selector",
                               records[0]["selector"], "--target", "x.vendor.example", "--owner", "m"], T)
        check(rc == 2 and "never reused" in err, "a delegated selector cannot take a used name", err)
        rc, out, _ = signet(["register", "--format", "csv"], T)
        check("esp1" in out and "delegated" in out, "the register lists the delegated selector", out)
        rc, out, _ = signet(["audit"] + srv, T)
        check(rc == 1 and "delegated esp1._domainkey.example.com" in out, "audit: a delegated selector that does not resolve", out)
        serve(records + [{"name": "esp1._domainkey.example.com.", "value": "v=DKIM1; k=rsa; p=MIIBvendor"}])
        rc, out, _ = signet(["audit"] + srv, T)
        check(rc == 0 and "esp1" not in out, "audit: the delegated selector resolves again", out)
        rc, out, _ = signet(["audit", "--no-dns"], T + 200 * DAY)
        check(rc == 0 and "rotation overdue" in out and "warning" in out, "audit: rotation overdue is a warning", out)
        rc, out, _ = signet(["audit", "--no-dns", "--fail-on", "warning"], T + 200 * DAY)
        check(rc == 1, "audit --fail-on warning exits 1 on it", out)
        rc, out, _ = signet(["audit", "--no-dns"], T + 260 * DAY)
        check(rc == 1 and "error" in out and "rotation overdue" in out, "audit: a month overdue is an error", out)
        rc, out, _ = signet(["audit", "--no-dns"], T + 20 * DAY)
        check("draining past its window" in out, "audit: a drained key not yet retired", out)
        with open(conf, "a") as f:
            f.write("[stream.mkt]\ndomain = example.com\n")
        rc, out, _ = signet(["audit", "--no-dns"], T)
        check(rc == 1 and "mkt: no key signs this stream now" in out, "audit: a stream with no key", out)
        signet(["key", "new", "--stream", "mkt", "--algorithm", "rsa", "--bits", "1024", "--allow-weak"], T)
        signet(["key", "rotate", "--stream", "mkt", "--force"], T)
        standby_mkt = [r for r in json.loads(signet(["register", "--format", "json"], T)[1])
                       if r["stream"] == "mkt" and r["state"] == "standby"]
        signet(["key", "retire", "--selector", standby_mkt[0]["selector"]], T)
        rc, out, _ = signet(["audit", "--no-dns"], T + 2 * 3600)  # after the 1 h propagation delay: active
        check("1024-bit RSA key: shorter than 2048" in out, "audit: a key under 2048 bits", out)
        check("mkt: no rsa standby key" in out, "audit: no standby key (no emergency readiness)", out)
        check("no owner" in out, "audit: a key without an owner", out)
    finally:
        dns.stop()
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
