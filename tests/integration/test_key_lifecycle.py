#!/usr/bin/python3
"""The key lifecycle through `signet key`, `signet dns records`, `signet
register` and `signet keyset check`, with an injected clock (--now):
new -> standby -> rotate -> drain -> retire -> the next rotation, then an
emergency rotation and a revocation. At each step: the key set, the DNS
records produced, what the daemon would sign with (keyset check runs the
daemon's keys_for), and a message signed before a cutover verifying during
the drain and failing only after retirement. Bad input changes nothing.

usage: test_key_lifecycle.py --signet PATH --work DIR
"""
import json
import os
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, SignetCli, iso, scenario_args  # noqa: E402

DAY = 86400


class Run(Checks):
    def __init__(self, signet, work):
        super().__init__()
        self.signet = signet
        self.work = work
        self.cli = SignetCli(signet, work, {"stream.tx": {
            "domain": "example.com", "owner": "platform-team", "rotate-every": "180d", "overlap": "14d",
            "emergency-overlap": "7d", "propagation-delay": "1h"}})
        self.keys = self.cli.keys

    def signet_cmd(self, args, now, stdin=None):
        if args[:2] == ["key", "rotate"]:
            args = args + ["--force"]  # no DNS here: test_dns_check.py covers the visibility gate
        return self.cli(args, now, stdin)

    def manifest(self):
        with open(os.path.join(self.keys, "manifest")) as f:
            return f.read()

    def states(self, now):
        rc, out, err = self.signet_cmd(["register", "--format", "json"], now)
        return {r["selector"]: r for r in json.loads(out)}

    def signs_with(self, now):
        p = subprocess.run([self.signet, "keyset", "check", "--dir", self.keys, "--now", iso(now)],
                           capture_output=True, text=True)
        for line in p.stdout.splitlines():
            if line.startswith("stream tx signs with:"):
                keys = line.split(":", 1)[1].split()
                return [] if keys == ["(no", "key)"] else keys
        return None

    def keys_file(self, now):
        rc, out, err = self.signet_cmd(["dns", "records", "--format", "json"], now)
        path = os.path.join(self.work, "records-%d.txt" % now)
        with open(path, "w") as f:
            for r in json.loads(out):
                f.write('%s TXT "%s"\n' % (r["name"], r["value"]))
        return path, json.loads(out)


def main():
    args = scenario_args()
    r = Run(args.signet, args.work)
    T0 = 1795687200  # 2026-11-26T07:20:00Z

    # 1. new -> standby (published, not signing)
    for alg in ("rsa", "ed25519"):
        rc, out, err = r.signet_cmd(["key", "new", "--stream", "tx", "--algorithm", alg], T0)
        r.check(rc == 0, "key new --algorithm %s" % alg, err)
    st = r.states(T0)
    r.check(set(st) == {"tx-202611-rsa2048", "tx-202611-ed25519"}, "selectors follow the template", list(st))
    r.check(all(v["state"] == "standby" for v in st.values()), "new keys are standby")
    r.check(r.signs_with(T0) == [], "a standby key does not sign", r.signs_with(T0))
    path, recs = r.keys_file(T0)
    r.check(len(recs) == 2 and all("p=MI" in x["value"] or "k=ed25519" in x["value"] for x in recs),
            "dns records publish both standby keys")
    rsa_rec = [x for x in recs if "k=rsa" in x["value"]][0]
    rc, zone, _ = r.signet_cmd(["dns", "records", "--format", "zone"], T0)
    r.check('" "' in zone and all(len(s) <= 255 for s in zone.split('"')[1::2]),
            "the 2048-bit record is split into strings of at most 255 bytes")
    rc, nsu, _ = r.signet_cmd(["dns", "records", "--format", "nsupdate", "--server", "127.0.0.1 5353"], T0)
    r.check(nsu.startswith("server 127.0.0.1 5353\n") and "update add tx-202611-rsa2048._domainkey.example.com. 3600 TXT"
            in nsu and nsu.rstrip().endswith("send"), "nsupdate output")

    # 2. first rotation: too early for propagation with --at; default waits for it
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx", "--at", iso(T0 + 600)], T0)
    r.check(rc == 2 and "propagated" in err, "a cutover before the record can have propagated is refused", err)
    T1 = T0 + 2 * 3600
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx"], T1)
    r.check(rc == 0 and "first key" in out, "first rotation activates the standby keys", err + out)
    r.check(r.signs_with(T1) == ["tx-202611-rsa2048", "tx-202611-ed25519"], "the daemon signs with them at T1",
            r.signs_with(T1))
    st = r.states(T1)
    r.check(sum(1 for v in st.values() if v["state"] == "standby") == 2, "a new standby per algorithm (emergency readiness)")
    r.check("tx-202611-rsa2048-2" in st, "a taken name is never reused: the template picks -2", list(st))
    r.check(st["tx-202611-rsa2048"]["next-rotation-due"] == iso(T1 + 180 * DAY), "register: next rotation due in 180 d")

    # A message signed before the next cutover.
    msg = "From: a@example.com\r\nTo: b@example.org\r\nSubject: before\r\n\r\nhello\r\n"
    keyfile = os.path.join(r.keys, "example.com", "tx-202611-ed25519.key")
    signed = subprocess.run([args.signet, "sign", "-d", "example.com", "-s", "tx-202611-ed25519", "-k", keyfile,
                             "--time", str(T1 + DAY)], input=msg.encode(), capture_output=True).stdout

    # 3. scheduled rotation at 180 days: the old keys drain 14 days
    T2 = T1 + 180 * DAY
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx"], T2)
    r.check(rc == 0, "scheduled rotation", err)
    r.check(r.signs_with(T2) == ["tx-202611-rsa2048-2", "tx-202611-ed25519-2"], "after the cutover the new keys sign",
            r.signs_with(T2))
    r.check(r.signs_with(T2 - 1) == ["tx-202611-rsa2048", "tx-202611-ed25519"], "one second before, the old ones",
            r.signs_with(T2 - 1))
    st = r.states(T2 + DAY)
    r.check(st["tx-202611-ed25519"]["state"] == "draining" and st["tx-202611-ed25519"]["drain-until"] == iso(T2 + 14 * DAY),
            "the old key drains for 14 days")
    path, recs = r.keys_file(T2 + DAY)
    v = subprocess.run([args.signet, "verify", "--keys", path, "--time", str(T1 + DAY)], input=signed, capture_output=True)
    r.check(v.returncode == 0, "a message signed before the cutover verifies during the drain", v.stdout)

    # 4. retire after the drain: key destroyed, record p= empty, row kept
    T3 = T2 + 15 * DAY
    rc, out, err = r.signet_cmd(["key", "retire"], T3)
    r.check(rc == 0 and out.count("retired") == 2, "key retire retires the drained keys", out + err)
    r.check(not os.path.exists(keyfile), "retiring destroyed the private key file")
    path, recs = r.keys_file(T3)
    old = [x for x in recs if x["name"].startswith("tx-202611-ed25519._domainkey")][0]
    r.check(old["value"] == "v=DKIM1; p=" and old["state"] == "retired", "the retired selector is published with p= empty")
    v = subprocess.run([args.signet, "verify", "--keys", path, "--time", str(T1 + DAY)], input=signed, capture_output=True)
    r.check(v.returncode == 1 and b"revoked" in v.stdout, "after retirement the old message fails (key revoked)", v.stdout)
    st = r.states(T3)
    r.check(st["tx-202611-ed25519"]["retired"] == iso(T3), "the register keeps the retired row with its date")

    def standby(now):
        st = r.states(now)
        return sorted((v["algorithm"], k) for k, v in st.items() if v["state"] == "standby")

    def by_alg(pairs):  # rsa first, as the daemon orders them
        return [k for a, k in sorted(pairs, key=lambda p: p[0] != "rsa")]

    # 4b. a rotation also retires the stream's drained keys
    T3b = T3 + 16 * DAY
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx"], T3b)
    st = r.states(T3b)
    drained_before = [k for k, v in r.states(T3b - 1).items() if v["state"] == "retire-due"]
    r.check(rc == 0, "rotation at T3b", err)
    T4pre = T3b + 15 * DAY
    due = [k for k, v in r.states(T4pre).items() if v["state"] == "retire-due"]
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx"], T4pre)
    st = r.states(T4pre)
    r.check(rc == 0 and due and all(st[k]["state"] == "retired" for k in due) and "drained, retired" in out
            and not any(os.path.exists(os.path.join(r.keys, "example.com", k + ".key")) for k in due),
            "key rotate retires the stream's drained keys in the same change", (due, out, err))
    T3 = T4pre

    # 5. the next rotation, then an emergency one
    T4 = T3 + 10 * DAY
    nxt = by_alg(standby(T4))
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx"], T4)
    r.check(rc == 0 and r.signs_with(T4) == nxt, "the next rotation: the standby keys sign", (err, r.signs_with(T4), nxt))
    T5 = T4 + 30 * DAY
    cur, nxt = r.signs_with(T5), by_alg(standby(T5))
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx", "--emergency"], T5)
    cut = T5 + 300
    r.check(rc == 0 and r.signs_with(cut) == nxt and r.signs_with(cut - 1) == cur,
            "emergency rotation cuts over within 5 minutes", (out, err))
    st = r.states(cut + DAY)
    r.check(all(st[k]["drain-until"] == iso(cut + 7 * DAY) for k in cur), "emergency overlap is 7 days")

    # 6. revoke now: refused without --yes (nothing changed), then done
    compromised = r.signs_with(cut + DAY)
    before = r.manifest()
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx", "--revoke-now"], cut + DAY)
    r.check(rc == 2 and "--yes" in err and r.manifest() == before, "--revoke-now needs --yes and changes nothing", err)
    rc, out, err = r.signet_cmd(["key", "rotate", "--stream", "tx", "--revoke-now", "--yes"], cut + DAY)
    st = r.states(cut + DAY)
    r.check(rc == 0 and all(st[k]["state"] == "retired" for k in compromised)
            and not any(os.path.exists(os.path.join(r.keys, "example.com", k + ".key")) for k in compromised)
            and r.signs_with(cut + DAY) not in ([], compromised),
            "--revoke-now --yes retires the compromised keys at once, the standby signs", (out, err))

    # 7. bad input changes nothing (exit 2, one line)
    before = r.manifest()
    for argv, what in ((["key", "new", "--stream", "nope"], "unknown stream"),
                       (["key", "new", "--stream", "tx", "--bits", "512"], "RSA below 1024"),
                       (["key", "new", "--stream", "tx", "--bits", "1024"], "1024 without --allow-weak"),
                       (["key", "new", "--stream", "tx", "--algorithm", "dsa"], "unknown algorithm"),
                       (["key", "retire", "--selector", r.signs_with(cut + 2 * DAY)[0]], "retiring the active key"),
                       (["key", "rotate", "--stream", "tx", "--at", "tomorrow"], "a bad time")):
        rc, out, err = r.signet_cmd(argv, cut + 2 * DAY)
        r.check(rc == 2 and err.count("\n") == 1 and r.manifest() == before, "refused: " + what, (rc, err))
    rc, out, err = r.signet_cmd(["key", "new", "--stream", "tx", "--bits", "1024", "--allow-weak"], cut + 2 * DAY)
    r.check(rc == 0, "1024 bits with --allow-weak", err)

    # 8. two commands at once never corrupt the key set (flock)
    results = []
    keys_before = r.manifest().splitlines().count("[key]")

    def add(alg):
        results.append(r.signet_cmd(["key", "new", "--stream", "tx", "--algorithm", alg], cut + 3 * DAY)[0])
    threads = [threading.Thread(target=add, args=(a,)) for a in ("ed25519", "ed25519", "rsa", "ed25519")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    p = subprocess.run([args.signet, "keyset", "check", "--dir", r.keys], capture_output=True, text=True)
    r.check(results == [0, 0, 0, 0] and p.returncode == 0 and r.manifest().splitlines().count("[key]") == keys_before + 4 == len(r.states(cut + 3 * DAY)),
            "four concurrent `key new` all land and the key set stays valid", (results, p.stderr))
    rc, table, _ = r.signet_cmd(["register"], cut + 3 * DAY)
    rc2, csv, _ = r.signet_cmd(["register", "--format", "csv"], cut + 3 * DAY)
    r.check(table.startswith("stream") and csv.splitlines()[0].startswith("stream,domain,selector"),
            "register as table and csv")

    return r.finish()


if __name__ == "__main__":
    sys.exit(main())
