#!/usr/bin/python3
"""Sealed key files (key-protection = sealed, docs/key-custody.md) end to end.

`signet key master-key`, then `signet key new|rotate` with protection on: no
file under the key directory parses as a private key (`openssl pkey`), every
key file is sealed. signet-milter signs with the sealed keys and both
`signet verify` and dkimpy verify (and milter_load verifies 400 more). A reload with a wrong master key is
refused and signing goes on with the last good keys. `signet key unseal
--yes` gives back the same keys (the sealed bytes never held their DER),
`signet audit` and `signet keyset check` report the plaintext keys while
protection is on, and `signet key seal` seals them again: the same keys
sign throughout. With user = nobody and a root-owned 0600 master key file,
a reload after the privilege drop uses the master key read at start (and
the signer process warns at start that a restarted signer cannot read it).

usage: test_sealed_keys.py --milter PATH --signet PATH --load PATH --work DIR
"""
import base64
import calendar
import json
import os
import pwd
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import (Checks, SignetCli, SignetMilter, children, dkimpy_results, load_keys_file,  # noqa: E402
                     make_dnsfunc, scenario_args, signet_verify, verify_passed)

BODY = b"sealed keys sign this\r\n"


def key_files(keys):
    out = []
    for root, _, files in os.walk(keys):
        for f in files:
            if f not in ("manifest", ".lock", "delegated"):
                out.append(os.path.join(root, f))
    return sorted(out)


def parses_as_private_key(path):
    return subprocess.run(["openssl", "pkey", "-in", path, "-noout"], capture_output=True).returncode == 0


def der_of(path):
    return subprocess.run(["openssl", "pkey", "-in", path, "-outform", "DER"], capture_output=True, check=True).stdout


def signed_message(milter, qid):
    _, mods = milter.send_one(qid, BODY, headers=((b"From", b" a@example.com"), (b"Subject", b" sealed")))
    fields = b""
    for _, m in mods:
        if b"DKIM-Signature\0" in m:
            value = m.split(b"DKIM-Signature\0", 1)[1].rstrip(b"\0").replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
            fields += b"DKIM-Signature:" + value + b"\r\n"
    return fields + b"From: a@example.com\r\nSubject: sealed\r\n\r\n" + BODY


def selector_line_keys(c, args, master, now):
    """A stream's `selector =` key (DOMAIN/NAME.key, outside the manifest) is
    sealed and unsealed with the rest: DOMAIN/NAME.sealed under sealed."""
    work = os.path.join(os.path.abspath(args.work), "selector-line")
    os.makedirs(work)
    stream = {"domain": "example.com", "selector": "old"}
    cli = SignetCli(args.signet, work, {"key-protection": "sealed", "master-key-file": master, "stream.legacy": stream})
    os.makedirs(os.path.join(cli.keys, "example.com"), mode=0o700)
    plain = os.path.join(cli.keys, "example.com", "old.key")
    subprocess.run([args.signet, "keygen", "--algorithm", "ed25519", "--out", plain], check=True, capture_output=True)
    milter = SignetMilter(args.milter, work, {"key-directory": cli.keys, "key-protection": "sealed",
                                              "master-key-file": master, "stream.legacy": stream,
                                              "rule.all": {"stream": "legacy"}}, name="milter")
    rc, out = milter.check_config()
    c.check(rc == 2 and "old.sealed" in out, "selector line under sealed: DOMAIN/NAME.sealed is the file it loads", out)
    rc, out, err = cli(["key", "seal"], now)
    sealed = os.path.join(cli.keys, "example.com", "old.sealed")
    c.check(rc == 0 and "1 keys sealed" in out and os.path.exists(sealed) and not os.path.exists(plain)
            and not parses_as_private_key(sealed), "key seal seals a selector line's key too", out + err)
    rc, out = milter.check_config()
    c.check(rc == 0, "signet-milter loads the sealed selector-line key", out)
    rc, out, err = cli(["key", "unseal", "--yes"], now)
    c.check(rc == 0 and os.path.exists(plain) and not os.path.exists(sealed) and parses_as_private_key(plain),
            "key unseal --yes gives it back as DOMAIN/NAME.key", out + err)
    milter.config["key-protection"] = "plain"
    rc, out = milter.check_config()
    c.check(rc == 0, "and signet-milter loads it under plain", out)


def selectors(msg):
    return sorted(m.decode() for m in re.findall(rb"\bs=([A-Za-z0-9._-]+)", msg))


def root_owned_master_key(c, args, now):
    """user = nobody, master-key-file root's and 0600, key files nobody's: the
    process that unseals (the daemon, or the signer process) reads the master
    key as root at start; a reload as nobody cannot open it and uses the key
    it read then, so a rotated key comes in (it was refused before). A missing
    file or an unsafe mode is still refused, a readable replaced master key is
    still noticed, the note is logged once; with the signer process a warning
    at start says a restarted signer cannot read the file, which a killed
    signer then shows."""
    work = os.path.join(os.path.abspath(args.work), "root_master")
    os.makedirs(work)
    os.chmod(work, 0o755)
    nobody = pwd.getpwnam("nobody")
    master = os.path.join(work, "master.key")
    subprocess.run([args.signet, "key", "master-key", "--out", master], check=True, capture_output=True)
    stream = {"domain": "example.com", "owner": "ops", "propagation-delay": "1h"}
    cli = SignetCli(args.signet, work, {"key-protection": "sealed", "master-key-file": master, "stream.tx": stream})

    def give_keys_to_nobody():
        for root, dirs, files in os.walk(cli.keys):
            for n in dirs + files:
                os.chown(os.path.join(root, n), nobody.pw_uid, nobody.pw_gid)
        os.chown(cli.keys, nobody.pw_uid, nobody.pw_gid)

    rc, out, err = cli(["key", "new", "--stream", "tx", "--algorithm", "ed25519"], now - 3 * 3600)
    c.check(rc == 0, "root-owned master key: key new", err)
    rc, out, err = cli(["key", "rotate", "--stream", "tx", "--force"], now - 2 * 3600)
    c.check(rc == 0, "root-owned master key: the first key active", err)
    give_keys_to_nobody()
    config = {"key-directory": cli.keys, "key-protection": "sealed", "master-key-file": master, "user": "nobody",
              "group": "nogroup", "internal-hosts": "127.0.0.1", "dns-check": False, "stream.tx": stream,
              "rule.tx": {"stream": "tx"}}
    if args.privilege_separation:
        config["privilege-separation"] = True
    milter = SignetMilter(args.milter, work, config, name="milter")
    note = "cannot be opened by this process"
    warning = "a signer process restarted after a crash runs as nobody"
    with milter:
        first = selectors(signed_message(milter, "R1"))
        c.check(len(first) == 1, "root-owned master key: signs as nobody with the key read at start", first)
        log = milter.log()
        if args.privilege_separation:
            c.check(warning in log and "chown nobody " + master in log and "signet-master-key" in log,
                    "a warning at start: a restarted signer cannot read the root-owned master key, and the fix",
                    milter.log_tail())
        else:
            c.check(warning not in log, "no restarted-signer warning without the signer process", milter.log_tail())

        # The standby becomes the active key, a new standby is written.
        rc, out, err = cli(["key", "rotate", "--stream", "tx", "--force"], now - 3600)
        c.check(rc == 0, "root-owned master key: key rotate", err)
        give_keys_to_nobody()
        try:
            line = milter.reload_and_wait(": reloaded,|reload refused")
        except Exception as e:  # noqa: BLE001 - the check says what happened
            line = str(e)
        c.check(": reloaded," in line, "a reload as nobody with a root-owned 0600 master key file is taken", line)
        after = selectors(signed_message(milter, "R2"))
        c.check(len(after) == 1 and after != first, "the rotated key signs after that reload", (first, after))
        line = milter.reload_and_wait(": reloaded,|reload refused")
        c.check(": reloaded," in line and milter.log().count(note) == 1,
                "the master key read at start is used, said once, not per reload", milter.log_tail())

        os.rename(master, master + ".away")
        line = milter.reload_and_wait(": reloaded,|reload refused")
        c.check("reload refused" in line and "No such file" in line, "a missing master key file is still refused", line)
        os.rename(master + ".away", master)
        os.chmod(master, 0o640)
        line = milter.reload_and_wait(": reloaded,|reload refused")
        c.check("reload refused" in line, "a master key file of mode 0640 is still refused", line)
        os.chmod(master, 0o600)
        line = milter.reload_and_wait(": reloaded,|reload refused")
        c.check(": reloaded," in line, "mode 0600 again: the reload is taken", line)

        # Readable by nobody: read anew, so a replaced master key is noticed.
        os.rename(master, master + ".good")
        subprocess.run([args.signet, "key", "master-key", "--out", master], check=True, capture_output=True)
        os.chown(master, nobody.pw_uid, nobody.pw_gid)
        line = milter.reload_and_wait(": reloaded,|reload refused")
        c.check("does not open with this master key" in line,
                "a replaced master key nobody can read is noticed at the reload", line)
        os.replace(master + ".good", master)
        line = milter.reload_and_wait(": reloaded,|reload refused")
        c.check(": reloaded," in line, "the root-owned right master key back: the reload is taken", line)
        c.check(signed_message(milter, "R3").count(b"DKIM-Signature:") == 1, "and it signs", milter.log_tail())
        secret = open(master, "rb").read()
        log = milter.log()
        c.check(secret.hex() not in log and base64.b64encode(secret).decode() not in log,
                "no master key bytes in the log (hex or base64)")

        if args.privilege_separation:
            # What the warning says: a signer restarted as nobody cannot read it.
            signer = children(milter.pid)
            before = len(milter.log_lines())
            for pid in signer:
                os.kill(pid, signal.SIGKILL)
            try:
                line, _ = milter.wait_log("Permission denied", after=before, timeout=20)
            except Exception as e:  # noqa: BLE001
                line = str(e)
            c.check(len(signer) == 1 and "Permission denied" in line,
                    "a signer restarted after a kill cannot read the root-owned master key", line)
    milter.stop()


def main():
    def extra(ap):
        ap.add_argument("--load", required=True)
        ap.add_argument("--privilege-separation", action="store_true",
                        help="privilege-separation = on: the signer process alone reads the master key")
    args = scenario_args(__doc__, milter=True, extra=extra)
    c = Checks()
    work = os.path.abspath(args.work)
    master = os.path.join(work, "master.key")
    stream = {"domain": "example.com", "owner": "ops", "propagation-delay": "1h"}
    cli = SignetCli(args.signet, work, {"key-protection": "sealed", "master-key-file": master, "stream.tx": stream})
    keys = cli.keys
    now = int(time.time())

    p = subprocess.run([args.signet, "key", "master-key", "--out", master], capture_output=True, text=True)
    c.check(p.returncode == 0 and os.stat(master).st_mode & 0o777 == 0o600 and os.path.getsize(master) == 32,
            "key master-key writes a 32-byte key, mode 0600", p.stderr)
    p = subprocess.run([args.signet, "key", "master-key", "--out", master], capture_output=True, text=True)
    c.check(p.returncode == 2 and "already exists" in p.stderr, "key master-key never overwrites", p.stderr)

    # Keys made 3 h ago, rotated to 2 h ago: active now, with a sealed standby each.
    for alg in ("rsa", "ed25519"):
        rc, out, err = cli(["key", "new", "--stream", "tx", "--algorithm", alg], now - 3 * 3600)
        c.check(rc == 0, "key new --algorithm %s with key-protection = sealed" % alg, err)
    rc, out, err = cli(["key", "rotate", "--stream", "tx", "--force"], now - 2 * 3600)
    c.check(rc == 0, "key rotate with key-protection = sealed", err)
    files = key_files(keys)
    c.check(len(files) == 4, "four key files (two active, two standby)", files)
    c.check(all(f.endswith(".sealed") for f in files), "every key file is named .sealed", files)
    c.check(not any(parses_as_private_key(f) for f in files), "openssl pkey parses none of the key files",
            [f for f in files if parses_as_private_key(f)])
    c.check(all(open(f, "rb").read(8) == b"SIGNETSK" for f in files), "every key file begins with SIGNETSK")
    sealed_bytes = {f: open(f, "rb").read() for f in files}

    p = subprocess.run([args.signet, "keyset", "check", "--dir", keys, "--key-protection", "sealed",
                        "--master-key-file", master], capture_output=True, text=True)
    c.check(p.returncode == 0 and "key set valid, 4 keys" in p.stdout, "keyset check --key-protection sealed", p.stderr)
    p = subprocess.run([args.signet, "keyset", "check", "--dir", keys], capture_output=True, text=True)
    c.check(p.returncode == 2 and "is sealed but key-protection = plain" in p.stderr,
            "keyset check without the master key refuses the sealed files, saying so", p.stderr)

    rc, out, err = cli(["dns", "records", "--format", "json"], now)
    c.check(rc == 0, "dns records reads the sealed keys", err)
    records = json.loads(out) if rc == 0 else []
    keys_file = os.path.join(work, "records.txt")
    with open(keys_file, "w") as f:
        for r in records:
            f.write('%s TXT "%s"\n' % (r["name"], r["value"]))
    dnsfunc = make_dnsfunc(load_keys_file(keys_file))

    config = {"key-directory": keys, "key-protection": "sealed", "master-key-file": master,
              "internal-hosts": "127.0.0.1", "dns-check": False, "stream.tx": stream, "rule.tx": {"stream": "tx"}}
    if args.privilege_separation:
        config["privilege-separation"] = True
    milter = SignetMilter(args.milter, work, config, name="milter")  # its own config: the CLI's stays sealed

    def signs(qid, what):
        msg = signed_message(milter, qid)
        rc, out, err = signet_verify(args.signet, keys_file, msg)
        results = dkimpy_results(msg, dnsfunc)
        algs = sorted(t.get("a") for t, _, _ in results)
        c.check(verify_passed(rc, out) and algs == ["ed25519-sha256", "rsa-sha256"] and all(ok for _, ok, _ in results),
                what + ": rsa and ed25519 signatures, signet verify and dkimpy pass", (out, err, results))

    rc, out = milter.check_config()
    c.check(rc == 0, "signet-milter --check-config loads the sealed key set", out)
    milter.config["key-protection"] = "plain"
    rc, out = milter.check_config()
    c.check(rc == 2 and "is sealed but key-protection = plain" in out, "--check-config under plain refuses sealed keys", out)
    milter.config["key-protection"] = "sealed"
    os.chmod(master, 0o644)
    rc, out = milter.check_config()
    c.check(rc == 2 and "0644" in out and "chmod 600" in out, "a master key file of mode 0644 is refused", out)
    os.chmod(master, 0o600)

    # What milter_load checks every signature against: the active keys' windows.
    rc, out, err = cli(["register", "--format", "json"], now)
    schedule = os.path.join(work, "schedule.txt")
    with open(schedule, "w") as f:
        for r in json.loads(out) if rc == 0 else []:
            if r["state"] == "active":
                frm = int(calendar.timegm(time.strptime(r["active-from"], "%Y-%m-%dT%H:%M:%SZ")))
                f.write("%s %s %d -\n" % (r["selector"], r["algorithm"], frm))

    with milter:
        signs("S1", "signet-milter signs with sealed keys")
        p = subprocess.run([args.load, "--socket", milter.socket, "--connections", "4", "--messages", "400",
                            "--keys", keys_file, "--schedule", schedule], capture_output=True, text=True, timeout=120)
        c.check(p.returncode == 0 and "signed: 400  unsigned: 0" in p.stdout and "400 ok, 0 bad" in p.stdout,
                "milter_load: 400 messages signed with the sealed keys, every signature verified",
                p.stdout[-400:] + p.stderr[-400:])

        # A wrong master key at reload: refused whole, the last good keys sign on.
        os.rename(master, master + ".good")
        subprocess.run([args.signet, "key", "master-key", "--out", master], check=True, capture_output=True)
        line = milter.reload_and_wait("reload refused")
        c.check("does not open with this master key" in line, "a reload with a wrong master key is refused, saying why", line)
        signs("S2", "after the refused reload")
        os.replace(master + ".good", master)
        milter.reload_and_wait()
        signs("S3", "with the right master key back")

        # Unseal: the same keys in plaintext; the sealed bytes never held them.
        rc, out, err = cli(["key", "unseal"], now)
        c.check(rc == 2 and "--yes" in err, "key unseal without --yes is refused", err)
        rc, out, err = cli(["key", "unseal", "--yes"], now)
        c.check(rc == 0 and "4 keys stored in plaintext" in out, "key unseal --yes", err + out)
        plain = key_files(keys)
        c.check(len(plain) == 4 and all(f.endswith(".key") and parses_as_private_key(f) for f in plain),
                "every key is a plaintext .key file again, the .sealed ones are gone", plain)
        leaked = []
        for f in plain:
            der = der_of(f)
            pem_body = base64.b64encode(der)
            for sf, sb in sealed_bytes.items():
                if der in sb or pem_body[:48] in sb:
                    leaked.append((f, sf))
        c.check(not leaked and len(plain) == 4, "no sealed file contained its key's DER or PEM bytes", leaked)
        rc, out, err = cli(["dns", "records", "--format", "json"], now)
        c.check(rc == 2 and "signet key seal" in err,
                "the tools refuse plaintext keys while key-protection = sealed (dns records)", err)

        # Plaintext keys while protection is on: reported, and refused by the loaders.
        rc, out, err = cli(["audit", "--no-dns"], now)
        c.check(rc == 1 and out.count("stored in plaintext while key-protection = sealed") == 4,
                "audit reports each plaintext key as an error under key-protection = sealed", out + err)
        p = subprocess.run([args.signet, "keyset", "check", "--dir", keys, "--key-protection", "sealed",
                            "--master-key-file", master], capture_output=True, text=True)
        c.check(p.returncode == 2 and "signet key seal" in p.stderr,
                "keyset check --key-protection sealed refuses plaintext keys, naming the fix", p.stderr)
        line = milter.reload_and_wait("reload refused")
        c.check("plaintext" in line, "the daemon refuses plaintext keys under key-protection = sealed", line)
        signs("S4", "plaintext keys refused: the last good (sealed) keys sign on")

        milter.config["key-protection"] = "plain"
        milter.reload_and_wait()
        signs("S5", "key-protection = plain with the unsealed keys (the records of before verify: the same keys)")

        # And sealed again.
        rc, out, err = cli(["key", "seal"], now)
        c.check(rc == 0 and "4 keys sealed" in out, "key seal", err + out)
        files = key_files(keys)
        c.check(len(files) == 4 and not any(parses_as_private_key(f) for f in files), "sealed again: no plaintext file", files)
        rc, out, err = cli(["key", "seal"], now)
        c.check(rc == 0 and "already sealed" in out, "a second seal has nothing to do", err + out)
        milter.config["key-protection"] = "sealed"
        milter.reload_and_wait()
        signs("S6", "after seal, the same keys sign")
    c.check(milter.returncode == 0, "signet-milter stops cleanly", milter.log_tail())
    selector_line_keys(c, args, master, now)
    root_owned_master_key(c, args, now)
    sys.exit(c.finish())


if __name__ == "__main__":
    main()
