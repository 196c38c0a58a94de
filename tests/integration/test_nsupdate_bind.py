#!/usr/bin/python3
"""signet dns records --format nsupdate against a real BIND: a private named
on 127.0.0.1 (its own config, zone and journal under --work, started and
stopped here) with a dynamic test zone. The records are applied with BIND's
nsupdate (RFC 2136), then `signet dns check` reads them back from the same
server: every selector (standby, active, draining, retired as p= empty,
2048-bit values in several strings) must match; again after a rotation.

usage: test_nsupdate_bind.py --signet PATH --work DIR
"""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, SignetCli, free_port, scenario_args  # noqa: E402

DAY = 86400


def main():
    a = scenario_args()
    bind = os.path.join(a.work, "bind")
    os.makedirs(bind)
    signet = SignetCli(a.signet, a.work, {"stream.tx": {"domain": "example.com", "owner": "ops"}})
    checks = Checks()
    check = checks.check

    port = free_port()
    with open(os.path.join(bind, "example.com.zone"), "w") as f:
        f.write("$TTL 300\n@ IN SOA ns.example.com. hostmaster.example.com. 1 3600 600 86400 300\n"
                "@ IN NS ns.example.com.\nns IN A 127.0.0.1\n")
    with open(os.path.join(bind, "named.conf"), "w") as f:
        f.write('options { directory "%s"; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };\n'
                '  pid-file "%s/named.pid"; session-keyfile "%s/session.key"; recursion no;\n'
                '  dnssec-validation no; allow-query { 127.0.0.1; }; notify no; };\n'
                'controls { };\n'
                'zone "example.com" { type primary; file "%s/example.com.zone"; allow-update { 127.0.0.1; }; };\n'
                % (bind, port, bind, bind, bind))
    named = subprocess.Popen(["named", "-g", "-c", os.path.join(bind, "named.conf")],
                             stdout=open(os.path.join(a.work, "named.log"), "wb"), stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if "running" in open(os.path.join(a.work, "named.log"), errors="replace").read():
                break
            time.sleep(0.1)
        T0 = 1795687200
        for alg in ("rsa", "ed25519"):
            signet(["key", "new", "--stream", "tx", "--algorithm", alg], T0)
        signet(["key", "rotate", "--stream", "tx", "--force"], T0 + 2 * 3600)
        signet(["key", "rotate", "--stream", "tx", "--force"], T0 + 2 * DAY)
        signet(["key", "retire", "--selector", "tx-202611-ed25519"], T0 + 3 * DAY)
        T = T0 + 3 * DAY

        def publish_and_check(now, label):
            rc, script, err = signet(["dns", "records", "--format", "nsupdate", "--server", "127.0.0.1 %d" % port], now)
            p = subprocess.run(["nsupdate"], input=script, capture_output=True, text=True, timeout=30)
            check(p.returncode == 0, "nsupdate applies signet's update (%s)" % label, p.stdout + p.stderr)
            rc, out, err = signet(["dns", "check", "--server", "127.0.0.1:%d" % port], now)
            lines = out.strip().splitlines()
            check(rc == 0 and lines and all(l.startswith("ok") for l in lines),
                  "dns check reads every record back from BIND as the key set says (%s: %d records)" % (label, len(lines)),
                  out + err)
            return out

        out = publish_and_check(T, "draining, active, standby, retired")
        check("retired, p= empty" in out and "draining" in out and "standby" in out, "all four states published", out)
        dig = subprocess.run(["dig", "+short", "-p", str(port), "@127.0.0.1", "TXT",
                              "tx-202611-rsa2048-2._domainkey.example.com"], capture_output=True, text=True).stdout
        check(dig.count('" "') >= 1, "BIND holds the 2048-bit value as several strings", dig)
        signet(["key", "rotate", "--stream", "tx", "--force"], T + DAY)
        publish_and_check(T + DAY, "after another rotation (replaced records)")
    finally:
        named.send_signal(signal.SIGTERM)
        named.wait(timeout=30)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
