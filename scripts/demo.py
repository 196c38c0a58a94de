#!/usr/bin/python3
"""make demo: signet-milter signing inline behind a real Postfix, on loopback.

Generates a demo key set (rsa-2048 + ed25519 for example.com), writes the
embedded default configuration, starts signet-milter and an isolated Postfix
instance (its own config and queue under a temporary directory, 127.0.0.1
only), submits one message with SASL authentication, captures what Postfix
relays, prints the signed message, the DNS records to publish and the
verification by signet and by dkimpy, then stops everything.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

top = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(top, "tests", "integration"))
from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from testkit import SignetMilter, make_keys  # noqa: E402

# The embedded demo configuration (see docs/configuration.md); testkit's
# SignetMilter adds socket (a free port on 127.0.0.1), foreground and log.
DEFAULT_CONFIG = {
    "user": "nobody",
    "group": "nogroup",
    "key-directory": None,          # set below
    "trusted-services": "submission",
    "on-error": "accept",
    "stream.tx": {"domain": "example.com", "selector": ["demo-rsa2048", "demo-ed25519"],
                  "expire": "7d", "owner": "demo"},
    "rule.default": {"stream": "tx"},
}

MESSAGE = b"""\
From: Signet Demo <demo@example.com>\r
To: Operator <postmaster@example.net>\r
Subject: Signed inline by signet-milter\r
Date: Thu, 26 Nov 2026 10:00:00 +0000\r
Message-ID: <demo-milter-1@example.com>\r
\r
Hello from signet-milter, signing behind Postfix on 127.0.0.1.\r
"""


def banner(title):
    print("\n=== %s %s" % (title, "=" * max(3, 66 - len(title))))


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else os.path.join(top, "build")
    signet = os.path.join(build, "tools", "signet")
    milter_bin = os.path.join(build, "milter", "signet-milter")
    work = tempfile.mkdtemp(prefix="signet-demo.")
    os.chmod(work, 0o755)  # the postfix user must reach its queue below it
    milter = None
    try:
        keys_file = os.path.join(work, "keys.txt")
        keys = make_keys(signet, os.path.join(work, "keys"),
                         [("example.com", "demo-rsa2048", "rsa"), ("example.com", "demo-ed25519", "ed25519")],
                         keys_file=keys_file)

        milter = SignetMilter(milter_bin, work, {**DEFAULT_CONFIG, "key-directory": os.path.join(work, "keys")})
        milter.start()

        sink = SmtpSink(os.path.join(work, "captured"))
        sink.start()
        try:
            with PostfixInstance(os.path.join(work, "postfix"), milter.socket,
                                 sink_port=sink.port, sasl_users={"demo": "demo-password"}) as pf:
                pf.send(pf.ports["submission"], MESSAGE, "demo@example.com", ["postmaster@example.net"],
                        sasl=("demo", "demo-password"))
                deadline = time.time() + 60
                while sink.count() < 1 and time.time() < deadline:
                    time.sleep(0.1)
        finally:
            sink.stop()
        paths = sink.paths()
        if not paths:
            print("demo: Postfix relayed nothing within 60 s; see %s" % work, file=sys.stderr)
            return 1
        with open(paths[0], "rb") as f:
            signed = f.read()

        banner("message as Postfix relayed it (signed by signet-milter)")
        print(signed.decode("utf-8", "replace").replace("\r\n", "\n"))
        banner("DNS records to publish")
        for key in keys:
            print("%s. IN TXT ( %s )" % (key.name, key.txt))
        banner("signet-milter log")
        milter.stop(timeout=20)
        print(milter.log().rstrip())
        banner("signet verify")
        v1 = subprocess.run([signet, "verify", "--keys", keys_file], input=signed)
        banner("dkimpy (independent verifier)")
        v2 = subprocess.run(["/usr/bin/python3", os.path.join(top, "tests", "integration", "dkimpy_verify.py"),
                             keys_file], input=signed)
        return 0 if v1.returncode == 0 and v2.returncode == 0 else 1
    finally:
        if milter is not None:
            milter.stop(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
