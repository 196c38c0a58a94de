#!/usr/bin/python3
"""The delayed-ACK stall over inet: must not come back.

usage: test_tcp_stall.py --milter PATH --signet PATH --work DIR [--messages N]

One connection sends N messages the way Postfix does: each command is
preceded by a macro packet that needs no reply, and header packets need no
reply (SMFIP_NR_HDR), all written back to back with Nagle on (the client's
default). Without TCP_QUICKACK on the milter's side, the milter delays its
ACK and the MTA's next small write waits for it: ~40 ms per stall.

Three runs in one go: unix socket, inet with signet's TCP tuning, inet with
the tuning turned off (SIGNET_TCP_TUNING=off). Passes when tuned inet is at
least 0.5 of unix (signet's target is 0.8, measured by make bench; the margin
is for a noisy machine), and the untuned control shows the stall is real here
(under 0.5), so the first check can fail.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from postfix_harness import free_port  # noqa: E402
from milter_client import MilterClient  # noqa: E402




class UnixMilterClient(MilterClient):
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.send(b"O", __import__("struct").pack(">III", 6, 0x1FF, 0x001FFFFF))
        cmd, data = self.recv()
        self.version, self.actions, self.steps = __import__("struct").unpack(">III", data[:12])


def one_session(client, n):
    client.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
    start = time.monotonic()
    for i in range(n):
        r = client.mail("<a@example.com>", {"i": "STALL%d" % i, "{mail_addr}": "a@example.com"})
        assert r[0] == b"c", r
        for name, value in (("From", b" a@example.com"), ("To", b" b@example.org"),
                            ("Subject", b" stall test %d" % i), ("Date", b" Thu, 26 Nov 2026 10:00:00 +0000")):
            client.header(name, value)
        client.macro(b"N", {"i": "STALL%d" % i})
        assert client.eoh()[0] == b"c"
        assert client.body(b"body line\r\n" * 20)[0] == b"c"
        client.macro(b"E", {"i": "STALL%d" % i})
        final, mods = client.end_of_message()
        assert final[0] == b"c" and len(mods) == 2, (final, mods)
    elapsed = time.monotonic() - start
    client.quit()
    return n / elapsed


def run(milter, work, name, sock_spec, env_extra, n):
    conf = os.path.join(work, name + ".conf")
    with open(conf, "w") as f:
        f.write("socket = %s\nlog = stderr\nforeground = true\nkey-directory = %s\n"
                "internal-hosts = 127.0.0.1/32\nshutdown-timeout = 2\n"
                "[stream.tx]\ndomain = example.com\nselector = st-rsa\nselector = st-ed\n"
                "[rule.all]\nstream = tx\n" % (sock_spec, os.path.join(work, "keys")))
    log = open(os.path.join(work, name + ".log"), "wb")
    proc = subprocess.Popen([milter, "--config", conf], stderr=log, env=dict(os.environ, **env_extra))
    try:
        for _ in range(100):
            try:
                if sock_spec.startswith("unix:"):
                    client = UnixMilterClient(sock_spec[5:])
                else:
                    client = MilterClient("127.0.0.1", int(sock_spec.split(":")[1].split("@")[0]))
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("milter did not start: " + name)
        return one_session(client, n)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--milter", required=True)
    ap.add_argument("--signet", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--messages", type=int, default=40)
    args = ap.parse_args()
    shutil.rmtree(args.work, ignore_errors=True)
    keydir = os.path.join(args.work, "keys", "example.com")
    os.makedirs(keydir)
    for sel, alg in (("st-rsa", "rsa"), ("st-ed", "ed25519")):
        subprocess.run([args.signet, "keygen", "--algorithm", alg, "--out", os.path.join(keydir, sel + ".key")],
                       check=True, stdout=subprocess.DEVNULL)
    unix = run(args.milter, args.work, "unix", "unix:" + os.path.join(args.work, "m.sock"), {}, args.messages)
    inet = run(args.milter, args.work, "inet", "inet:%d@127.0.0.1" % free_port(), {}, args.messages)
    plain = run(args.milter, args.work, "inet-untuned", "inet:%d@127.0.0.1" % free_port(),
                {"SIGNET_TCP_TUNING": "off"}, args.messages)
    print("unix: %.1f msg/s   inet (signet): %.1f msg/s   inet (tuning off): %.1f msg/s" % (unix, inet, plain))
    print("ratio inet/unix: %.2f (tuning off: %.2f)" % (inet / unix, plain / unix))
    passed = failed = 0
    for ok, what in ((inet / unix >= 0.5, "inet throughput >= 0.5 of unix with signet's TCP tuning"),
                     (plain / unix < 0.5, "control: without the tuning the stall shows (so the check above can fail)")):
        print(("ok   " if ok else "FAIL ") + what)
        passed += ok
        failed += not ok
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
