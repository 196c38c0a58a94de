#!/usr/bin/python3
"""The Debian package, for real, on this machine: built with `make deb`
(dpkg-buildpackage, lintian), installed with dpkg, used the way the README
says behind a Postfix configured as Debian's package configures a fresh
"Internet Site" (master.cf.dist's services, smtpd chrooted in its queue
directory, the README's four main.cf lines), then reinstalled, upgraded,
removed and purged. The machine is left as it was found.

    test_package.py --top SOURCE_DIR --work DIR [--deb FILE]

What is checked:
- the package: lintian without errors; files, modes and owners as the
  packaging promises (signet user and group, /var/lib/signet/keys signet
  0700, /etc/signet/signet.conf a conffile, the unit, the tmpfiles entry,
  the man pages); on a fresh install a first stream for /etc/mailname's
  domain with standby keys;
- the unit: `systemd-analyze verify` clean, `systemd-analyze security
  --offline=true` exposure under 2.0;
- the service: `signet-milter --check-config` on the shipped configuration;
  signet-milter started exactly as the unit's ExecStartPre/ExecStart would
  (as User=signet, NOTIFY_SOCKET set): READY=1 after it listens, RELOADING=1
  and READY=1 around SIGHUP, STOPPING=1 and exit 0 on SIGTERM;
- mail: a message through the chrooted Postfix arrives signed (rsa and
  ed25519, d= the mailname domain) and verifies with dkimpy and with
  `signet verify`, against the records `signet dns records` prints;
- maintainer scripts: installing again and upgrading change nothing that is
  right (the edited conffile kept, keys untouched, the same signet uid);
  remove keeps configuration and keys; purge removes the configuration and
  the user, never the private keys.
"""
import argparse
import glob
import hashlib
import json
import os
import resource
import pwd
import grp
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from postfix_harness import PostfixInstance
from smtp_sink import SmtpSink
from testkit import Checks, Dnsmasq, dkimpy_results, free_port, verify_passed

DOMAIN = "pkg.example.com"  # written to /etc/mailname for the install
UNIT = "/lib/systemd/system/signet.service"
KEYS = "/var/lib/signet/keys"
MAILNAME = "/etc/mailname"
ENV = dict(os.environ, DEBIAN_FRONTEND="noninteractive")


def run(*cmd, check=False, env=None, **kw):
    p = subprocess.run(list(cmd), capture_output=True, text=True, env=env or ENV, **kw)
    if check and p.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(cmd), p.returncode, (p.stderr or p.stdout)[-2000:]))
    return p


def installed():
    return run("dpkg-query", "-W", "-f=${Status}", "signet").stdout.startswith("install ok installed")


def key_files():
    """{path: (sha256, mode, uid)} of every file in the key directory."""
    out = {}
    for path in sorted(glob.glob(KEYS + "/**/*.key", recursive=True)):
        st = os.stat(path)
        with open(path, "rb") as f:
            out[path] = (hashlib.sha256(f.read()).hexdigest(), st.st_mode & 0o7777, st.st_uid)
    return out


def owner(path):
    st = os.stat(path)
    return pwd.getpwuid(st.st_uid).pw_name, grp.getgrgid(st.st_gid).gr_name, st.st_mode & 0o7777


def unit_value(name):
    """The unit's settings of `name`, in order (ExecStart, User, ...)."""
    values = []
    with open(UNIT) as f:
        for line in f:
            if line.startswith(name + "="):
                values.append(line.split("=", 1)[1].strip())
    return values


class StockDebianPostfix(PostfixInstance):
    """Postfix as Debian's package sets up a fresh Internet Site: every
    service from /usr/share/postfix/master.cf.dist with its chroot column
    (smtpd, cleanup, smtp... chrooted in the queue directory), main.cf.debian's
    settings, and the README's four milter lines. Private to the work
    directory and on 127.0.0.1 only, relaying to the capture sink."""

    def main_cf(self):
        text = super().main_cf()
        with open("/usr/share/postfix/main.cf.debian") as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#") and "=" in line:
                    name = line.split("=", 1)[0].strip()
                    text = re.sub(r"^%s = .*\n" % re.escape(name), "", text, flags=re.M) + line + "\n"
        return text

    def master_cf(self):
        lines = []
        with open("/usr/share/postfix/master.cf.dist") as f:
            service = None
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                if not line[0].isspace():
                    service = line.split()
                    if service[0] == "smtp" and service[1] == "inet":
                        # The stock smtpd (chroot y), on the harness's loopback ports.
                        line = "\n".join("127.0.0.1:%d inet n - y - - smtpd" % port
                                          for port in self.ports.values()) + "\n"
                    elif service[-1] in ("pipe", "local", "virtual"):  # deliveries the test has no use for
                        service = None
                        continue
                elif service is None:
                    continue
                lines.append(line.rstrip("\n"))
        return "\n".join(lines) + "\n"


class NotifySocket:
    """The end of NOTIFY_SOCKET that systemd holds: collects sd_notify messages."""

    def __init__(self):
        self.name = "@signet-test-notify-%d" % os.getpid()
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind("\0" + self.name[1:])
        self.messages = []

    def wait_for(self, field, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if any(field in m.split("\n") for m in self.messages):
                return True
            self.sock.settimeout(max(0.05, deadline - time.time()))
            try:
                self.messages.append(self.sock.recv(4096).decode("utf-8", "replace"))
            except socket.timeout:
                pass
        return any(field in m.split("\n") for m in self.messages)

    def close(self):
        self.sock.close()


def unit_bytes(text):
    """A systemd size (64M, 1G, 4096) in bytes."""
    scale = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    return int(text[:-1]) * scale[text[-1]] if text[-1] in scale else int(text)


def as_unit_runs(argv_text):
    """The unit's command as its User=/Group= and Limit*= would run it (no
    systemd here): the secure heap needs LimitMEMLOCK= as User=signet."""
    user, group = unit_value("User")[0], unit_value("Group")[0]
    limits = []
    for key, flag, which in (("LimitMEMLOCK", "--memlock", resource.RLIMIT_MEMLOCK),
                             ("LimitCORE", "--core", resource.RLIMIT_CORE)):
        for v in unit_value(key):
            # No further than this machine's hard limit: a container may not
            # let even root raise it (systemd, as PID 1 of a host, can).
            hard = resource.getrlimit(which)[1]
            n = unit_bytes(v) if hard == resource.RLIM_INFINITY else min(unit_bytes(v), hard)
            limits.append("%s=%d:%d" % (flag, n, n))
    return (["prlimit"] + limits if limits else []) + \
        ["setpriv", "--reuid=" + user, "--regid=" + group, "--init-groups"] + argv_text.split()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--deb", help="use this package instead of building one")
    a = ap.parse_args()
    shutil.rmtree(a.work, ignore_errors=True)
    os.makedirs(a.work)
    os.chmod(a.work, 0o755)
    checks = Checks()
    check = checks.check

    if installed():
        run("dpkg", "--purge", "signet", check=True)  # a leftover of an interrupted run
    keys_existed = os.path.exists("/var/lib/signet")
    saved_mailname = open(MAILNAME).read() if os.path.exists(MAILNAME) else None
    procs = []
    try:
        # ---------------------------------------------------------- build
        deb = a.deb
        if not deb:
            p = run(os.path.join(a.top, "scripts", "make-deb"), os.path.join(a.work, "deb"),
                    env=dict(ENV, DEB_BUILD_OPTIONS="nocheck"))
            deb = p.stdout.strip().splitlines()[-1] if p.returncode == 0 else None
            check(p.returncode == 0 and deb and os.path.exists(deb), "make deb builds a package, lintian finds no error",
                  p.stderr[-3000:])
            if not deb:
                return checks.finish()
            lint = open(os.path.join(a.work, "deb", "lintian.txt")).read()
            check(not re.search(r"^E: ", lint, re.M), "lintian: no errors", lint)
        fields = run("dpkg-deb", "-f", deb, "Package", "Version", "Depends").stdout
        check("libc6" in fields and "libssl3" in fields and "libsodium23" in fields,
              "Depends computed from the shared libraries (dh_shlibdeps)", fields)

        # ---------------------------------------------------------- install
        with open(MAILNAME, "w") as f:
            f.write(DOMAIN + "\n")
        p = run("dpkg", "-i", deb)
        check(p.returncode == 0, "dpkg -i installs it", p.stdout + p.stderr)
        check("publish" in p.stdout or "_domainkey." + DOMAIN in p.stdout,
              "a fresh install says which DNS records to publish", p.stdout)
        for path, mode in (("/usr/sbin/signet-milter", 0o755), ("/usr/bin/signet", 0o755)):
            check(os.path.exists(path) and (os.stat(path).st_mode & 0o777) == mode, "installs %s" % path)
        for page in ("man1/signet.1.gz", "man5/signet.conf.5.gz", "man8/signet-milter.8.gz"):
            check(os.path.exists("/usr/share/man/" + page), "installs the man page " + page)
        check(os.path.exists(UNIT), "installs the systemd unit")
        check(os.path.exists("/usr/lib/tmpfiles.d/signet.conf"), "installs the tmpfiles entry for /run/signet")
        conffiles = run("dpkg-query", "-W", "-f=${Conffiles}", "signet").stdout
        check("/etc/signet/signet.conf" in conffiles, "/etc/signet/signet.conf is a conffile", conffiles)
        check(os.path.isdir("/etc/signet/streams.d"), "creates /etc/signet/streams.d")
        try:
            uid = pwd.getpwnam("signet").pw_uid
            check(pwd.getpwnam("signet").pw_shell in ("/usr/sbin/nologin", "/bin/false"), "the signet user is a system user")
        except KeyError:
            uid = None
            check(False, "creates the signet user")
        check(owner(KEYS) == ("signet", "signet", 0o700), "/var/lib/signet/keys is signet's, mode 0700", owner(KEYS))
        check(owner("/etc/signet/signet.conf") == ("root", "signet", 0o640),
              "signet.conf is root's, readable by signet", owner("/etc/signet/signet.conf"))
        keys = key_files()
        check(len(keys) == 2 and all(m == 0o600 and u == uid for _, m, u in keys.values()),
              "a fresh install makes the first stream's two keys, signet's, mode 0600", keys)
        check(os.path.exists("/etc/signet/streams.d/main.conf") and DOMAIN in open("/etc/signet/streams.d/main.conf").read(),
              "a fresh install makes the first stream for /etc/mailname's domain")

        # ---------------------------------------------------------- the unit
        p = run("systemd-analyze", "verify", UNIT)
        check(p.returncode == 0 and not p.stderr.strip(), "systemd-analyze verify: clean", p.stderr)
        p = run("systemd-analyze", "security", "--offline=true", UNIT)
        m = re.search(r"Overall exposure level for signet.service: ([0-9.]+)", p.stdout)
        exposure = float(m.group(1)) if m else 99
        print("systemd-analyze security: exposure %.1f" % exposure)
        check(exposure < 2.0, "systemd-analyze security --offline=true: exposure %.1f, under 2.0" % exposure, p.stdout[-1500:])
        check(unit_value("Type") == ["notify"] and unit_value("User") == ["signet"], "Type=notify, User=signet")
        p = run("/usr/sbin/signet-milter", "--config", "/etc/signet/signet.conf", "--check-config")
        check(p.returncode == 0, "signet-milter --check-config passes on the shipped configuration", p.stdout + p.stderr)

        # ---------------------------------------------------------- publish, switch (the README's steps)
        dns_port = free_port()
        records = json.loads(run("signet", "dns", "records", "--format", "json", check=True).stdout)
        dns = Dnsmasq(a.work, dns_port)
        dns.serve([(r["name"], r["value"]) for r in records])
        keys_file = os.path.join(a.work, "keys.txt")
        with open(keys_file, "w") as f:
            for r in records:
                f.write('%s TXT "%s"\n' % (r["name"].rstrip("."), r["value"]))
        # The operator's edit of the conffile: the DNS server the checks use.
        with open("/etc/signet/signet.conf", "a") as f:
            f.write("\n# edited by the package test\ndns-server = 127.0.0.1:%d\n" % dns_port)
        p = run("signet", "dns", "check", "--server", "127.0.0.1:%d" % dns_port)
        check(p.returncode == 0, "signet dns check: the published records match the keys", p.stdout + p.stderr)
        # The records are visible now (dns check): no need to wait out the
        # default propagation delay in a test.
        main_conf = "/etc/signet/streams.d/main.conf"
        text = open(main_conf).read()
        with open(main_conf, "w") as f:
            f.write(text.replace("[stream.main]\n", "[stream.main]\npropagation-delay = 0\n"))
        p = run("signet", "key", "rotate", "--stream", "main", "--server", "127.0.0.1:%d" % dns_port)
        check(p.returncode == 0 and "signs from" in p.stdout, "signet key rotate --stream main switches to the keys",
              p.stdout + p.stderr)
        records = json.loads(run("signet", "dns", "records", "--format", "json", check=True).stdout)
        dns.serve([(r["name"], r["value"]) for r in records])  # the new standbys too
        keys_before = key_files()

        # ---------------------------------------------------------- the service, as the unit runs it
        notify = NotifySocket()
        env = dict(ENV, NOTIFY_SOCKET=notify.name)
        for pre in unit_value("ExecStartPre"):
            p = subprocess.run(as_unit_runs(pre), capture_output=True, text=True, env=env)
            check(p.returncode == 0, "ExecStartPre passes as User=signet: " + pre, p.stdout + p.stderr)
        log = open(os.path.join(a.work, "signet-milter.log"), "w")
        milter = subprocess.Popen(as_unit_runs(unit_value("ExecStart")[0]), stdout=log, stderr=subprocess.STDOUT, env=env)
        procs.append(milter)
        ready = notify.wait_for("READY=1")
        check(ready and milter.poll() is None, "ExecStart as User=signet: READY=1 sent, running", notify.messages)
        with open("/proc/%d/status" % milter.pid) as f:
            status = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        uids = status.get("Uid", "").split()
        check(uids and all(int(u) == uid for u in uids), "signet-milter runs as signet (real, effective, saved)",
              status.get("Uid"))

        sink_dir = os.path.join(a.work, "sink")
        with SmtpSink(sink_dir) as sink:
            pf = StockDebianPostfix(os.path.join(a.work, "postfix"), "inet:127.0.0.1:8891", sink_port=sink.port,
                                    capture_dir=sink_dir, extra_main={"milter_default_action": "accept"})
            with pf:
                maincf = run("postconf", "-c", pf.config_dir, "-h", "smtpd_milters", "non_smtpd_milters",
                             "milter_default_action", "milter_protocol").stdout.split()
                check(maincf == ["inet:127.0.0.1:8891", "inet:127.0.0.1:8891", "accept", "6"],
                      "Postfix has the README's four milter lines", maincf)
                chroot = run("postconf", "-c", pf.config_dir, "-M").stdout
                check(re.search(r"^127\.0\.0\.1:\d+\s+inet\s+n\s+-\s+y\s", chroot, re.M) is not None,
                      "Postfix's smtpd runs chrooted, as Debian ships it", chroot[:500])
                msg = (b"From: Alice <alice@" + DOMAIN.encode() + b">\r\nTo: bob@example.org\r\n"
                       b"Subject: installed from the package\r\nDate: Tue, 01 Dec 2026 12:00:00 +0000\r\n"
                       b"Message-ID: <pkg-1@" + DOMAIN.encode() + b">\r\n\r\nSigned by the packaged signet.\r\n")
                pf.send(pf.ports["inbound"], msg, "alice@" + DOMAIN, ["bob@example.org"])
                got = pf.wait_for(1, timeout=60)
                check(len(got) == 1, "the message goes through Postfix", got)
                if got:
                    signed = got[0]
                    lookup = {r["name"].rstrip(".").lower(): r["value"].encode() for r in records}
                    results = dkimpy_results(signed, lambda name, timeout=5: lookup.get(
                        name.decode().rstrip(".").lower(), b""))
                    algs = sorted(t.get("a", "") for t, _, _ in results)
                    check(algs == ["ed25519-sha256", "rsa-sha256"] and all(ok for _, ok, _ in results) and
                          all(t.get("d") == DOMAIN for t, _, _ in results),
                          "it arrives signed rsa-sha256 and ed25519-sha256 by d=%s, dkimpy verifies both" % DOMAIN,
                          results)
                    p = subprocess.run(["signet", "verify", "--keys", keys_file], input=signed, capture_output=True)
                    check(verify_passed(p.returncode, p.stdout), "signet verify passes both", p.stdout + p.stderr)

        milter.send_signal(signal.SIGHUP)
        reloaded = notify.wait_for("RELOADING=1")
        deadline = time.time() + 20
        while reloaded and sum(m.startswith("READY=1") for m in notify.messages) < 2 and time.time() < deadline:
            notify.wait_for("never", timeout=0.2)
        check(reloaded and sum(m.startswith("READY=1") for m in notify.messages) >= 2,
              "SIGHUP (systemctl reload): RELOADING=1, then READY=1 again", notify.messages)
        milter.send_signal(signal.SIGTERM)
        try:
            rc = milter.wait(timeout=60)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0 and notify.wait_for("STOPPING=1", timeout=1), "SIGTERM: STOPPING=1, exit 0", (rc, notify.messages))
        # The ledger, written by the daemon as User=signet under the unit's
        # ReadWritePaths: the message's two signatures, flushed at the stop.
        p = run("signet", "ledger", "--format", "json")
        rows = json.loads(p.stdout) if p.returncode == 0 else []
        check(sorted(r["algorithm"] for r in rows) == ["ed25519-sha256", "rsa-sha256"] and
              all(r["signatures"] == 1 and r["domain"] == DOMAIN for r in rows),
              "signet ledger: the message's two signatures, in /var/lib/signet/ledger.sqlite", p.stdout + p.stderr)
        notify.close()
        log.close()

        # ---------------------------------------------------------- reinstall, upgrade, remove, purge
        edited = open("/etc/signet/signet.conf").read()
        p = run("dpkg", "-i", deb)
        check(p.returncode == 0, "installing again works", p.stdout + p.stderr)
        check(open("/etc/signet/signet.conf").read() == edited, "installing again keeps the edited conffile")
        check(key_files() == keys_before, "installing again leaves every key as it was")
        check(pwd.getpwnam("signet").pw_uid == uid, "installing again keeps the signet user")

        repack = os.path.join(a.work, "repack")
        run("dpkg-deb", "-R", deb, repack, check=True)
        control = os.path.join(repack, "DEBIAN", "control")
        text = open(control).read()
        version = re.search(r"^Version: (.*)$", text, re.M).group(1)
        newer = version.rsplit("-", 1)[0] + "-" + str(int(version.rsplit("-", 1)[1]) + 1)
        with open(control, "w") as f:
            f.write(re.sub(r"^Version: .*$", "Version: " + newer, text, flags=re.M))
        upgrade = os.path.join(a.work, "signet_%s_upgrade.deb" % newer)
        run("dpkg-deb", "-b", repack, upgrade, check=True)
        p = run("dpkg", "-i", upgrade)
        check(p.returncode == 0 and run("dpkg-query", "-W", "-f=${Version}", "signet").stdout == newer,
              "upgrade %s -> %s" % (version, newer), p.stdout + p.stderr)
        check(open("/etc/signet/signet.conf").read() == edited and key_files() == keys_before and
              len(os.listdir("/etc/signet/streams.d")) == 1,
              "the upgrade keeps the edited conffile and the keys, and makes no new stream")

        p = run("dpkg", "-r", "signet")
        check(p.returncode == 0 and not os.path.exists("/usr/sbin/signet-milter"), "dpkg -r removes the programs",
              p.stdout + p.stderr)
        check(os.path.exists("/etc/signet/signet.conf") and key_files() == keys_before,
              "remove keeps the configuration and the keys")
        p = run("dpkg", "-P", "signet")
        check(p.returncode == 0, "dpkg -P purges", p.stdout + p.stderr)
        check(not os.path.exists("/etc/signet"), "purge removes the configuration")
        gone = True
        try:
            pwd.getpwnam("signet")
            gone = False
        except KeyError:
            pass
        check(gone, "purge removes the signet user")
        after = key_files()
        check([v[0] for v in after.values()] == [v[0] for v in keys_before.values()] and len(after) == len(keys_before),
              "purge never deletes the private keys (%d kept)" % len(after), (after, keys_before))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        try:
            dns.stop()
        except NameError:
            pass
        if installed():
            run("dpkg", "--purge", "signet")
        if not keys_existed:
            shutil.rmtree("/var/lib/signet", ignore_errors=True)  # the keys this test made
        if saved_mailname is None:
            if os.path.exists(MAILNAME):
                os.unlink(MAILNAME)
        else:
            with open(MAILNAME, "w") as f:
                f.write(saved_mailname)
        for name in ("signet",):
            if run("getent", "passwd", name).returncode == 0 and not installed():
                run("deluser", "--system", "--quiet", name)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
