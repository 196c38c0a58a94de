#!/usr/bin/python3
"""The first PKCS#11 key brought into a running key set, with privilege-separation = on.

The signer process chooses its seccomp filter from the set it reads at start
(privsep/sandbox.h): with no pkcs11: key, no file writes, and a token's module
(SoftHSM2) cannot open its token files under that filter. So a reload that
brings the first token key in must not be sent to that process: the milter
kills it and the supervisor starts one that reads the new set and chooses the
filter with writes (privsep/client.h, load). Checked here, over the milter
protocol (no MTA), with a SoftHSM2 token made in the work directory:
  - at start the stream signs with a file key (rsa): messages carry one signature,
    dkimpy verifies it, and the signer logged the filter without file writes;
  - `signet key new --algorithm ed25519 --pkcs11 URI` adds a key made in the
    token and the milter is sent SIGHUP: it logs one line naming the reason it
    restarts the signer, a new signer process starts with file writes allowed
    for the module, and the key set is reloaded through it;
  - the next messages carry both signatures (the file key's rsa and the
    token's ed25519) and dkimpy verifies both; the milter stops cleanly.

usage: test_pkcs11_first_token_key.py --milter PATH --signet PATH --work DIR
"""
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, SignetCli, SignetMilter, dkimpy_results, make_dnsfunc, scenario_args  # noqa: E402
from test_pkcs11 import LABEL, make_token  # noqa: E402
from test_privsep import children, status  # noqa: E402
from test_sealed_keys import signed_message  # noqa: E402


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    c = Checks()
    work = os.path.abspath(args.work)
    os.chmod(work, 0o755)
    module, pin_file, _ = make_token(work)
    token_uri = "pkcs11:token=%s?module-path=%s&pin-source=%s" % (LABEL, module, pin_file)
    stream = {"domain": "example.com", "owner": "ops", "propagation-delay": "1h"}
    cli = SignetCli(args.signet, work, {"stream.tx": stream})
    now = int(time.time())
    rc, out, err = cli(["key", "new", "--stream", "tx", "--algorithm", "rsa"], now - 5 * 3600)
    c.check(rc == 0, "key new --algorithm rsa: a file key", out + err)
    rc, out, err = cli(["key", "rotate", "--stream", "tx", "--force"], now - 4 * 3600)
    c.check(rc == 0, "key rotate: the file key signs", out + err)

    def dnsfunc():
        rc, out, err = cli(["dns", "records", "--format", "json"], now)
        return make_dnsfunc({r["name"].rstrip(".").lower(): r["value"].encode() for r in json.loads(out)} if rc == 0 else {})

    config = {"key-directory": cli.keys, "internal-hosts": "127.0.0.1", "dns-check": False,
              "privilege-separation": True, "on-error": "accept", "stream.tx": stream, "rule.all": {"stream": "tx"}}
    m = SignetMilter(args.milter, work, config, name="milter")
    with m:
        m.wait_log("signer: serving", timeout=10)
        first = children(m.pid)
        c.check(len(first) == 1 and status(first[0], "Seccomp") == ["2"], "a signer process under its seccomp filter", first)
        c.check(any("signer: serving" in l and "no file writes" in l for l in m.log_lines()),
                "it started with the filter without file writes (no token key in the set)", m.log_tail(4))
        results = dkimpy_results(signed_message(m, "Q1"), dnsfunc())
        c.check([t.get("a") for t, _, _ in results] == ["rsa-sha256"] and all(ok for _, ok, _ in results),
                "before: one rsa-sha256 signature from the file key, dkimpy verifies it", results)

        before = len(m.log_lines())
        rc, out, err = cli(["key", "new", "--stream", "tx", "--algorithm", "ed25519", "--pkcs11", token_uri], now - 3 * 3600)
        c.check(rc == 0, "key new --algorithm ed25519 --pkcs11: a key pair made in the token", out + err)
        rc, out, err = cli(["key", "rotate", "--stream", "tx", "--force"], now - 2 * 3600)
        c.check(rc == 0, "key rotate: the token's ed25519 key signs (and a file rsa key rotated to)", out + err)
        m.signal(signal.SIGHUP)
        # The watch may reload between key new and key rotate (the restart's
        # reload then has no signing ed25519 key yet): wait for the set that signs with it.
        line, _ = m.wait_log(r": reloaded,.*signing now with tx:.*ed25519", after=before, timeout=30)
        after = m.log_lines()[before:]
        why = [l for l in after if "started without a PKCS#11 key" in l]
        c.check(len(why) == 1 and "killed and restarted" in why[0],
                "one line: the signer process is restarted because the set now names a token key", why or after[-6:])
        second = children(m.pid)
        c.check(len(second) == 1 and second != first and status(second[0], "Seccomp") == ["2"],
                "a new signer process, under its filter", (first, second))
        c.check(any("signer: serving" in l and "file writes allowed for the PKCS#11 module" in l for l in after),
                "the new one chose the filter that lets the token's module write", after[-6:])
        for qid in ("Q2", "Q3"):
            results = dkimpy_results(signed_message(m, qid), dnsfunc())
            c.check(sorted(t.get("a") for t, _, _ in results) == ["ed25519-sha256", "rsa-sha256"]
                    and all(ok for _, ok, _ in results),
                    "after (%s): the file key's rsa and the token's ed25519 signatures, dkimpy verifies both" % qid,
                    (results, m.log_tail(4)))
    c.check(m.returncode == 0, "signet-milter stops cleanly", m.log_tail())
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
