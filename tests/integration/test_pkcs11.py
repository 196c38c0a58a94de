#!/usr/bin/python3
"""Keys in a PKCS#11 token (SoftHSM2), end to end (docs/key-custody.md "PKCS#11").

A SoftHSM2 token is made in the work directory (SOFTHSM2_CONF names a
softhsm2.conf whose tokendir is there; the module is a copy of libsofthsm2.so
in the work directory, so the test can take it away). `signet key new
--pkcs11 URI` makes rsa and ed25519 keys inside the token, `signet key
rotate` makes the next standbys there too; no key file is ever written, the
manifest rows name the keys by URI and `signet dns records` gives their
records from the token's public keys. signet-milter signs through a real
Postfix and dkimpy verifies both signatures. Then the token goes wrong, each
way with exactly one NOT SIGNED line per message (on-error = accept: the
message arrives unsigned) and no PIN in any log, and signing comes back on
the next message once the token is back, with no reload:
  - the signing key's objects deleted from the token (their files moved away)
  - the token gone and back with a wrong PIN in pin-source (login refused)
  - the module file gone: a reload is refused whole and the keys loaded sign on
Finally `signet key retire` destroys the drained keys' objects in the token.

usage: test_pkcs11.py --milter PATH --signet PATH --work DIR
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, SignetCli, SignetMilter, dkimpy_results, make_dnsfunc, scenario_args  # noqa: E402
from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402

SYSTEM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
PIN = "246813"
LABEL = "signet-it"


def make_token(work):
    conf = os.path.join(work, "softhsm2.conf")
    tokens = os.path.join(work, "tokens")
    os.makedirs(tokens, mode=0o700)
    with open(conf, "w") as f:
        f.write("directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n" % tokens)
    os.environ["SOFTHSM2_CONF"] = conf  # every signet and signet-milter below inherits it
    subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", LABEL, "--pin", PIN,
                    "--so-pin", "13572468"], check=True, capture_output=True)
    module = os.path.join(work, "libsofthsm2.so")
    shutil.copy(SYSTEM_MODULE, module)
    pin_file = os.path.join(work, "token.pin")
    with open(pin_file, "w") as f:
        f.write(PIN + "\n")
    os.chmod(pin_file, 0o600)
    token_dir = glob.glob(os.path.join(tokens, "*"))[0]
    return module, pin_file, token_dir


def objects(token_dir):
    return set(f for f in os.listdir(token_dir) if f.endswith(".object") and f != "token.object")


def make_message(subject):
    return ("From: a@example.com\r\nTo: b@example.org\r\nSubject: %s\r\nDate: Wed, 02 Dec 2026 10:00:00 +0000\r\n"
            "Message-ID: <%s@example.com>\r\n\r\nsigned in a token\r\n" % (subject, subject.replace(" ", "-"))).encode()


def main():
    args = scenario_args(__doc__, milter=True, extra=lambda ap: ap.add_argument(
        "--privilege-separation", action="store_true",
        help="run the milter with privilege-separation = on: the token opened by its signer process"))
    c = Checks()
    work = os.path.abspath(args.work)
    os.chmod(work, 0o755)  # the postfix user reaches its spool under here
    module, pin_file, token_dir = make_token(work)
    token_uri = "pkcs11:token=%s?module-path=%s&pin-source=%s" % (LABEL, module, pin_file)
    stream = {"domain": "example.com", "owner": "ops", "propagation-delay": "1h"}
    cli = SignetCli(args.signet, work, {"stream.tx": stream})
    now = int(time.time())

    rc, out, err = cli(["key", "new", "--stream", "tx", "--pkcs11", token_uri.replace("pin-source=" + pin_file,
                                                                                      "pin-value=" + PIN)], now - 3 * 3600)
    c.check(rc == 2 and "pin-source" in err and PIN not in err, "key new --pkcs11 with pin-value= is refused", err)
    made = {}
    for alg in ("rsa", "ed25519"):
        before = objects(token_dir)
        rc, out, err = cli(["key", "new", "--stream", "tx", "--algorithm", alg, "--pkcs11", token_uri], now - 3 * 3600)
        made[alg] = objects(token_dir) - before
        c.check(rc == 0 and "publish before it signs" in out and len(made[alg]) == 2,
                "key new --algorithm %s --pkcs11: a key pair made in the token" % alg, out + err)
    rc, out, err = cli(["key", "rotate", "--stream", "tx", "--force"], now - 2 * 3600)
    c.check(rc == 0 and len(objects(token_dir)) == 8, "key rotate: the next standbys are made in the token too",
            out + err + " objects: %d" % len(objects(token_dir)))
    files = [f for f in os.listdir(os.path.join(cli.keys)) if f not in ("manifest", ".lock")]
    c.check(files == [], "no key file in the key directory", files)
    manifest = open(os.path.join(cli.keys, "manifest")).read()
    c.check(manifest.count("file = pkcs11:token=%s;object=tx-" % LABEL) == 4 and PIN not in manifest,
            "the manifest names the four keys by URI (object = SELECTOR._domainkey.DOMAIN), no PIN", manifest[-600:])
    p = subprocess.run([args.signet, "keyset", "check", "--dir", cli.keys], capture_output=True, text=True)
    c.check(p.returncode == 0 and "4 keys" in p.stdout, "keyset check loads the token keys", p.stdout + p.stderr)

    rc, out, err = cli(["dns", "records", "--format", "json"], now)
    records = {r["name"].rstrip(".").lower(): r["value"].encode() for r in json.loads(out)} if rc == 0 else {}
    c.check(rc == 0 and len(records) == 4, "dns records from the token's public keys", err)

    # signet sign --key pkcs11:URI: the token signs outside the daemon too.
    blocks = [dict(l.split(" = ", 1) for l in b.splitlines() if " = " in l) for b in manifest.split("\n[key]\n")[1:]]
    sign_argv = [args.signet, "sign", "--domain", "example.com"]
    for b in blocks[:2]:
        sign_argv += ["--selector", b["selector"], "--key", b["file"]]
    p = subprocess.run(sign_argv, input=make_message("signet sign"), capture_output=True)
    results = dkimpy_results(p.stdout, make_dnsfunc(records)) if p.returncode == 0 else []  # the signed message
    c.check(sorted(t.get("a") for t, _, _ in results) == ["ed25519-sha256", "rsa-sha256"] and all(ok for _, ok, _ in results),
            "signet sign --key pkcs11:URI (twice): the token's rsa and ed25519 signatures, dkimpy verifies both",
            (results, p.stderr[-300:]))
    with_pin = blocks[0]["file"].replace("pin-source=" + pin_file, "pin-value=" + PIN)
    p = subprocess.run([args.signet, "sign", "--domain", "example.com", "--selector", blocks[0]["selector"], "--key", with_pin],
                       input=make_message("pin value"), capture_output=True, text=False)
    c.check(p.returncode != 0 and b"pin-source" in p.stderr and PIN.encode() not in p.stderr and not p.stdout,
            "signet sign --key with pin-value= is refused, the PIN not shown", p.stderr[-300:])
    dnsfunc = make_dnsfunc(records)

    config = {"key-directory": cli.keys, "internal-hosts": "127.0.0.1", "dns-check": False,
              "trusted-services": "tx-out", "stream.tx": stream, "rule.tx": {"daemon-name": "tx-out", "stream": "tx"}}
    if args.privilege_separation:
        config["privilege-separation"] = True
    milter = SignetMilter(args.milter, work, config, name="milter", args=["--foreground", "--log", "stderr"])
    rc, out = milter.check_config()
    c.check(rc == 0, "signet-milter --check-config loads the token keys", out)
    sink = SmtpSink(os.path.join(work, "capture")).start()  # its port is Postfix's relayhost
    pf = PostfixInstance(os.path.join(work, "postfix"), milter.socket, sink_port=sink.port, capture_dir=sink.out_dir)
    seq = [0]

    def send(subject):
        seq[0] += 1
        rcpt = "r%d@example.org" % seq[0]
        pf.send(pf.ports["tx"], make_message(subject), "a@example.com", [rcpt])
        end = time.monotonic() + 30
        while time.monotonic() < end:
            for name, _, to in list(sink.envelopes):
                if rcpt in to:
                    return open(os.path.join(sink.out_dir, name), "rb").read()
            time.sleep(0.05)
        return None

    def signed(subject, what):
        msg = send(subject)
        results = dkimpy_results(msg, dnsfunc) if msg else []
        algs = sorted(t.get("a") for t, _, _ in results)
        return c.check(algs == ["ed25519-sha256", "rsa-sha256"] and all(ok for _, ok, _ in results),
                       what + ": rsa and ed25519 signatures through Postfix, dkimpy passes both", (results, milter.log_tail(4)))

    def unsigned_once(subject, what, why):
        before = len(milter.log_lines())
        msg = send(subject)
        time.sleep(0.3)
        lines = [l for l in milter.log_lines()[before:] if "NOT SIGNED" in l]
        c.check(msg is not None and b"DKIM-Signature" not in msg and len(lines) == 1 and why in lines[0],
                what + ": the message arrives unsigned (on-error = accept), one NOT SIGNED line", lines or milter.log_tail(4))

    active = None
    with milter, pf:
        signed("first", "signet-milter signs with the token's keys")
        # The active rsa key is the first one made (rotated to): its two objects.
        away = os.path.join(work, "objects-away")
        os.makedirs(away)
        for f in made["rsa"]:
            os.rename(os.path.join(token_dir, f), os.path.join(away, f))
        unsigned_once("deleted", "the signing key's objects deleted from the token", "private key object is not in the token")
        unsigned_once("deleted again", "still deleted: the next message too", "not in the token")
        for f in made["rsa"]:
            os.rename(os.path.join(away, f), os.path.join(token_dir, f))
        time.sleep(5.2)  # a missing object makes the module read the token again at most every 5 s
        signed("restored", "the objects back: the next message is signed, no reload")

        # The token gone, then back with a wrong PIN in pin-source: the login is refused.
        os.rename(token_dir, token_dir + ".away")
        # SoftHSM2 notices its token directory gone on a later operation, not
        # always the first: up to 5 messages, the first unsigned one is checked.
        for i in range(5):
            before = len(milter.log_lines())
            msg = send("token gone %d" % i)
            time.sleep(0.3)
            lines = [l for l in milter.log_lines()[before:] if "NOT SIGNED" in l]
            if msg is not None and b"DKIM-Signature" not in msg:
                break
        c.check(msg is not None and b"DKIM-Signature" not in msg and len(lines) == 1 and "token %s" % LABEL in lines[0],
                "the token gone: within 5 messages one arrives unsigned with one NOT SIGNED line (%d signed first)" % i,
                lines or milter.log_tail(4))
        with open(pin_file, "w") as f:
            f.write("999999\n")
        os.rename(token_dir + ".away", token_dir)
        time.sleep(1.2)  # the module is initialised again at most once a second
        unsigned_once("wrong pin", "the token back, a wrong PIN in pin-source", "CKR_PIN_INCORRECT")
        unsigned_once("wrong pin again", "the wrong PIN is not tried again", "not tried again")
        with open(pin_file, "w") as f:
            f.write(PIN + "\n")
        signed("pin fixed", "the right PIN back: the next message is signed, no reload")

        # The module file gone: a reload is refused whole; the loaded module signs on.
        os.rename(module, module + ".away")
        line = milter.reload_and_wait("reload refused")
        c.check(module in line, "module gone: the reload is refused, naming the module", line)
        signed("module gone", "the keys loaded before sign on")
        os.rename(module + ".away", module)
        milter.reload_and_wait()
        signed("module back", "the module back: reloaded, signing")
    sink.stop()
    logs = "\n".join(milter.log_lines() + pf.log_lines())
    c.check(PIN not in logs and "999999" not in logs, "no PIN in the milter's or Postfix's log")
    c.check(milter.returncode == 0, "signet-milter stops cleanly", milter.log_tail())
    os.rename(module, module + ".away")
    rc, out = milter.check_config()
    c.check(rc == 2 and module in out, "signet-milter --check-config with the module gone refuses the key set", out)
    os.rename(module + ".away", module)

    # A second rotation now (the first one only activated): the first keys
    # drain for 14 days, new standbys are made in the token; once drained,
    # retiring destroys the first keys' objects.
    rc, out, err = cli(["key", "rotate", "--stream", "tx", "--force"], now)
    c.check(rc == 0 and "drains until" in out and len(objects(token_dir)) == 12,
            "a second rotation: two more standbys made in the token", out + err)
    later = now + 30 * 86400
    rc, out, err = cli(["key", "retire"], later)
    c.check(rc == 0 and out.count("retired") == 2, "key retire: the two drained keys", out + err)
    left = objects(token_dir)
    c.check(not (made["rsa"] | made["ed25519"]) & left and len(left) == 8,
            "their objects are destroyed in the token; the other four keys' remain", sorted(left))
    rc, out, err = cli(["register", "--format", "json"], later)
    reg = json.loads(out) if rc == 0 else []
    c.check(sum(1 for r in reg if r.get("state") == "retired") == 2, "the register keeps the retired rows", out[-400:])
    p = subprocess.run([args.signet, "keyset", "check", "--dir", cli.keys], capture_output=True, text=True)
    c.check(p.returncode == 0, "the key set after retirement loads", p.stdout + p.stderr)
    sys.exit(c.finish())


if __name__ == "__main__":
    main()
