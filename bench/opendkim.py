#!/usr/bin/python3
"""A private OpenDKIM (Debian's /usr/sbin/opendkim) configured like signet, for the benchmarks.

    from opendkim import OpenDKIM
    with OpenDKIM(workdir, socket="unix", domain="example.com", selector="bench-rsa",
                  key_pem_path=".../bench-rsa.key") as od:      # start() ... stop()
        od.socket   # "unix:WORKDIR/opendkim.sock" or "inet:PORT@127.0.0.1": what Postfix's
                    # smtpd_milters (or milter_bench) is given
        od.pid      # the milter's process id (its CPU is read from /proc/PID/stat)

Equivalent to signet's defaults so the two are compared on the same work:
Mode s (sign only: no verification, hence no DNS lookups; Nameservers points at
127.0.0.1 so even a stray query stays on loopback), relaxed/relaxed, rsa-sha256
with the given 2048-bit key, SignHeaders = signet's default list
(signer/header_select.cc: RFC 6376 §5.4.1's set less what changes in transit)
and OversignHeaders = signet's default oversign list (From, Reply-To, Subject,
Date, To, Cc: listed once more than they occur, RFC 6376 §8.15). No x= (signet
sets none by default), no Authentication-Results, no software header.
Messages from 127.0.0.1 (InternalHosts) for `domain` are signed; logging as
Debian ships it (Syslog yes, no per-message success lines).

It runs in the foreground (-f) as the calling user, its socket world-connectable
(UMask 000) so Postfix's smtpd (user postfix) reaches it; the key is copied
with mode 0600 (RequireSafeKeys) beside the config in a private directory
under /run (opendkim refuses files under a directory others can write, /tmp
included); the socket and opendkim.log are in workdir. stop() sends SIGTERM and waits.

start() raises OpenDKIMError with the exit status and the log's tail when
opendkim exits or does not listen within the timeout; the binary missing is
an OpenDKIMError naming scripts/install-deps.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "integration"))
from testkit import StartStop, free_port, wait_listening  # noqa: E402

BINARY = "/usr/sbin/opendkim"
PRIVATE_PARENT = "/run"  # root-owned 0755 all the way up

# signet's defaults (signer/header_select.cc default_header_policy, normalized:
# From, Subject, To, Date first and always oversigned).
SIGN_HEADERS = ["From", "Subject", "To", "Date", "Sender", "Reply-To", "Message-ID", "Cc", "MIME-Version",
                "Content-Type", "Content-Transfer-Encoding", "Content-ID", "Content-Description", "Resent-Date",
                "Resent-From", "Resent-Sender", "Resent-To", "Resent-Cc", "Resent-Message-ID", "In-Reply-To",
                "References", "List-Id", "List-Help", "List-Unsubscribe", "List-Subscribe", "List-Post",
                "List-Owner", "List-Archive", "List-Unsubscribe-Post"]
OVERSIGN_HEADERS = ["From", "Reply-To", "Subject", "Date", "To", "Cc"]


class OpenDKIMError(RuntimeError):
    pass


class OpenDKIM(StartStop):
    def __init__(self, workdir, socket="unix", domain="example.com", selector="bench-rsa", key_pem_path=None,
                 binary=BINARY):
        if socket not in ("unix", "inet"):
            raise ValueError("OpenDKIM socket must be 'unix' or 'inet', not %r" % (socket,))
        if not key_pem_path:
            raise ValueError("OpenDKIM needs key_pem_path: a PEM RSA private key")
        self.workdir = os.path.abspath(workdir)
        self.binary = binary
        self.domain, self.selector = domain, selector
        self.key_source = key_pem_path
        self.log_path = os.path.join(self.workdir, "opendkim.log")
        self.private_dir = self.conf_path = self.key_path = None  # made by start()
        if socket == "unix":
            self.socket = "unix:" + os.path.join(self.workdir, "opendkim.sock")
            self._milter_socket = "local:" + os.path.join(self.workdir, "opendkim.sock")
        else:
            port = free_port()
            self.socket = "inet:%d@127.0.0.1" % port
            self._milter_socket = self.socket
        self.proc = None

    def config_text(self):
        lines = [
            "# written by bench/opendkim.py: equivalent to signet's defaults",
            "Mode                  s",
            "Domain                " + self.domain,
            "Selector              " + self.selector,
            "KeyFile               " + self.key_path,
            "Canonicalization      relaxed/relaxed",
            "SignatureAlgorithm    rsa-sha256",
            "SignHeaders           " + ",".join(SIGN_HEADERS),
            "OversignHeaders       " + ",".join(OVERSIGN_HEADERS),
            "InternalHosts         127.0.0.1,::1",
            "Nameservers           127.0.0.1",
            "SoftwareHeader        no",
            "AlwaysAddARHeader     no",
            "Syslog                yes",
            "SyslogSuccess         no",
            "UMask                 000",
            "RequireSafeKeys       yes",
            "AutoRestart           no",
            "Background            no",
            "PidFile               " + os.path.join(self.workdir, "opendkim.pid"),
            "Socket                " + self._milter_socket,
        ]
        return "\n".join(lines) + "\n"

    def start(self, timeout=10):
        if not os.access(self.binary, os.X_OK):
            raise OpenDKIMError("%s is not installed: run scripts/install-deps (Debian package opendkim)" % self.binary)
        os.makedirs(self.workdir, exist_ok=True)
        os.chmod(self.workdir, 0o755)  # smtpd (user postfix) must reach the socket
        # opendkim refuses a config or key file with a directory others may write
        # on its path (/tmp included, sticky or not): both go to a private
        # directory under /run, removed by stop().
        self.private_dir = tempfile.mkdtemp(prefix="signet-bench-opendkim.", dir=PRIVATE_PARENT)
        self.conf_path = os.path.join(self.private_dir, "opendkim.conf")
        self.key_path = os.path.join(self.private_dir, "%s.private" % self.selector)
        shutil.copyfile(self.key_source, self.key_path)
        os.chmod(self.key_path, 0o600)
        with open(self.conf_path, "w") as f:
            f.write(self.config_text())
        path = self.socket[5:] if self.socket.startswith("unix:") else None
        if path and os.path.exists(path):
            os.unlink(path)
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen([self.binary, "-f", "-x", self.conf_path], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=log, start_new_session=True)
        where = path or int(self.socket.split(":")[1].split("@")[0])
        if not wait_listening(where, self.proc, timeout):
            status = ("exit %s" % self.proc.returncode if self.proc.poll() is not None
                      else "not within %ss" % timeout)
            self.stop()
            raise OpenDKIMError("opendkim does not listen on %s: %s; log: %s" % (self.socket, status, self.log_tail()))
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, timeout=15):
        """SIGTERM and wait (SIGKILL after timeout seconds); the exit status. Safe to call again."""
        if self.proc is None:
            if self.private_dir:
                shutil.rmtree(self.private_dir, ignore_errors=True)
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.private_dir:
            shutil.rmtree(self.private_dir, ignore_errors=True)
        return self.proc.returncode

    def log_tail(self, n=15):
        try:
            with open(self.log_path, errors="replace") as f:
                return " | ".join(f.read().splitlines()[-n:]) or "empty"
        except OSError:
            return "none"


if __name__ == "__main__":
    # Self-check: python3 bench/opendkim.py KEY.pem [unix|inet] starts it, prints socket and pid, stops it.
    d = tempfile.mkdtemp(prefix="opendkim.")
    try:
        with OpenDKIM(d, sys.argv[2] if len(sys.argv) > 2 else "unix", key_pem_path=sys.argv[1]) as od:
            print(od.socket, od.pid)
        print("stopped: exit", od.proc.returncode)
    finally:
        shutil.rmtree(d, ignore_errors=True)
