#!/usr/bin/python3
"""privilege-separation = on with log = syslog: the signer's lines reach syslog.

The signer's seccomp filter (privsep/sandbox.h) is an allow list without
socket or connect: its syslog lines go out on the socket openlog(LOG_NDELAY)
connected before the filter. Every other scenario logs to stderr, so this one
runs signet-milter (started as root, user = nobody, so the signer logs
nothing before its filter) in a mount namespace whose /dev/log is a datagram
socket the test reads, and checks:

- the signer's start line, logged after its filter is on, arrives from the
  signer's pid, facility mail;
- a reload refused by the signer (a key file that is not there) is logged by
  the signer through syslog, and the daemon's refusal too;
- a signer killed with SIGKILL is replaced, and the new one (its filter on
  before it logs) logs its start line through syslog as well;
- a message is still signed through the signer.
"""
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, SignetMilter, make_keys, scenario_args  # noqa: E402
from test_privsep import children  # noqa: E402
from test_sealed_keys import signed_message  # noqa: E402

NOBODY = pwd.getpwnam("nobody")
NOGROUP = grp.getgrgid(NOBODY.pw_gid).gr_name

# A /dev of its own for the daemon: the real null/zero/random/urandom bound
# back, and the test's socket bound on /dev/log. Exec keeps the pid.
LAUNCH = r"""
set -e
mount --make-rprivate /
mkdir -p "$WORK/olddev"
mount --bind /dev "$WORK/olddev"
mount -t tmpfs -o size=64k tmpfs /dev
for d in null zero random urandom; do touch /dev/$d; mount --bind "$WORK/olddev/$d" /dev/$d; done
touch /dev/log
mount --bind "$WORK/syslog.sock" /dev/log
exec "$@"
"""


class Syslog:
    """The datagrams sent to /dev/log: (priority, text) each."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        os.chmod(path, 0o666)  # as syslogd's /dev/log: any user may log
        self.sock.settimeout(0.1)
        self.lines = []

    def wait(self, pattern, timeout=15):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            for line in self.lines:
                if rx.search(line[1]):
                    return line
            if time.monotonic() > deadline:
                return None
            try:
                data = self.sock.recv(65536).decode(errors="replace")
            except socket.timeout:
                continue
            m = re.match(r"<(\d+)>(.*)", data, re.S)
            self.lines.append((int(m.group(1)), m.group(2)) if m else (-1, data))


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    c = Checks()
    if os.geteuid() != 0 or not shutil.which("unshare"):
        print("needs root and unshare (a mount namespace with its own /dev/log)")
        return 77
    work = os.path.abspath(args.work)
    keys_dir = os.path.join(work, "keys")
    make_keys(args.signet, keys_dir, [("example.com", "sl-ed", "ed25519")])
    # user = nobody: the signer logs nothing before its filter (no "running
    # as root" line that would connect to syslog lazily), so its lines arrive
    # only through the socket Log::init connected up front; its restart,
    # as nobody, reads the keys as their owner.
    for d, _, files in os.walk(keys_dir):
        for name in [d] + [os.path.join(d, f) for f in files]:
            os.chown(name, NOBODY.pw_uid, NOBODY.pw_gid)
    syslog = Syslog(os.path.join(work, "syslog.sock"))
    launcher = os.path.join(work, "launch.sh")
    with open(launcher, "w") as f:
        f.write(LAUNCH)
    wrapper = os.path.join(work, "signet-milter-in-namespace")
    with open(wrapper, "w") as f:
        f.write('#!/bin/sh\nWORK=%s exec unshare --mount sh %s %s "$@"\n' % (work, launcher, os.path.abspath(args.milter)))
    os.chmod(wrapper, 0o755)
    config = {"key-directory": keys_dir, "internal-hosts": "127.0.0.1", "dns-check": False, "log": "syslog", "user": "nobody", "group": NOGROUP,
              "privilege-separation": True, "on-error": "accept",
              "stream.tx": {"domain": "example.com", "selector": ["sl-ed"]}, "rule.tx": {"stream": "tx"}}
    if subprocess.run(["unshare", "--mount", "true"]).returncode != 0:
        print("no mount namespace here")
        return 77
    m = SignetMilter(wrapper, work, config, name="privsep_syslog")
    with m:
        kids = children(m.pid)
        c.check(len(kids) == 1, "the milter started its signer process", kids)
        signer = kids[0] if kids else 0
        line = syslog.wait(r"signer: serving \d+ channels, seccomp filter on")
        c.check(line is not None and ("[%d]:" % signer) in line[1],
                "the signer's start line, logged under its filter, reaches syslog from the signer's pid", line)
        c.check(line is not None and line[0] == (2 << 3) | 6, "facility mail, priority info (<22>)", line)
        msg = signed_message(m, "SL1")
        c.check(b"DKIM-Signature:" in msg and b"s=sl-ed" in msg, "a message is signed through the signer")

        m.config["stream.tx"] = {"domain": "example.com", "selector": ["sl-missing"]}
        m.reload()
        line = syslog.wait(r"signer: key set refused, the running one stays: .*sl-missing")
        c.check(line is not None and ("[%d]:" % signer) in line[1],
                "a reload the signer refuses is logged by the signer, under its filter, through syslog", line)
        c.check(syslog.wait(r"reload refused") is not None, "and the daemon's refusal too")
        m.config["stream.tx"] = {"domain": "example.com", "selector": ["sl-ed"]}
        m.write_config()

        before = len(syslog.lines)
        os.kill(signer, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and (children(m.pid) in ([], [signer])):
            time.sleep(0.1)
        kids = children(m.pid)
        c.check(len(kids) == 1 and kids[0] != signer, "a new signer process runs", kids)
        syslog.lines = syslog.lines[before:]
        line = syslog.wait(r"signer: serving \d+ channels, seccomp filter on")
        c.check(line is not None and kids and ("[%d]:" % kids[0]) in line[1],
                "the new signer's start line reaches syslog from its pid", line)
        time.sleep(0.5)
        msg = signed_message(m, "SL2")
        c.check(b"s=sl-ed" in msg, "the new signer signs")
    c.check(m.returncode == 0, "signet-milter stops cleanly (exit %s)" % m.returncode)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
