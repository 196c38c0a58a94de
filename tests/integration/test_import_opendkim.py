#!/usr/bin/python3
"""signet import-opendkim: OpenDKIM's setup imported, then signing through a real Postfix.

usage: test_import_opendkim.py --milter build/milter/signet-milter --signet build/tools/signet --work DIR

Keys are made by `opendkim-genkey` (opendkim-tools): its .private files are
what OpenDKIM signs with, its .txt files the records already published. Two
setups (docs/migrating-from-opendkim.md):

  1. debian: /etc/opendkim.conf as the Debian opendkim package installs it,
     with only its own commented lines made real: Domain/Selector/KeyFile
     (the key under DIR), Socket the shipped inet:8891@localhost line with a
     free port (Postfix's smtpd is not in the opendkim group the unix socket
     would need), PidFile under DIR.
  2. multi: KeyTable (file:) and SigningTable (refile:) for three domains,
     a subdomain pattern (*@*.example.com), a signing subdomain
     (sub.example.net), a per-user line, InternalHosts and
     ExternalIgnoreList refile: lists, SignatureTTL, On-Default.

For each: the import writes DIR/out (signet.conf, keys/manifest, keys),
`signet-milter --check-config` accepts it, signet-milter runs it as written
(testkit.SignetMilter, only log and foreground added, and dns-server: the
.txt records are served by dnsmasq on 127.0.0.1, because signet-milter looks
a scheduled key's record up before it signs with it), and mail from each
domain goes through a private Postfix (postfix_harness) to a capture sink:
every message must carry exactly the d= and s= OpenDKIM would have used for
its sender, and verify with dkimpy and `signet verify --keys` against the
records from opendkim-genkey's .txt files (DNS stays in files). A sender no
SigningTable line covers must arrive unsigned.

The debian setup is imported once more with --seal --master-key-file: every
key file under the key directory is sealed (none parses as a private key or
holds the key's bytes), signet.conf says key-protection = sealed, and the
sealed keys sign through Postfix as above; --seal with a loose, missing or
no master key is refused with nothing written.

Then bad input, each: exit 2, one stderr line naming the file and line, the
--out directory absent: a truncated opendkim.conf, a contradictory one
(KeyTable and KeyFile), Mode v, a KeyTable naming a missing key file, a
512-bit key (RFC 8301), an inexpressible SigningTable pattern, an unreadable
input; and an --out that already holds a signet.conf is refused and left as
it was. Every OpenDKIM key file keeps its bytes and mode throughout.

Prints ok/FAIL lines and "N passed, M failed"; exits 1 on any failure. Needs
root (Postfix's master). Everything runs on 127.0.0.1.
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from testkit import (Checks, Dnsmasq, MilterError, SignetMilter, describe, dkimpy_results, free_port,  # noqa: E402
                     keygen_output_to_record, load_keys_file, make_dnsfunc, one_line, record_to_keys_line,
                     scenario_args, signatures, signet_verify, verify_passed)

SHIPPED_CONF = "/etc/opendkim.conf"
GENKEY = "/usr/sbin/opendkim-genkey"


class Stop(Exception):
    """Setup failed (already reported)."""


def genkey(c, keydir, domain, selector, bits=2048):
    """opendkim-genkey into keydir: (private key path, keys-file line)."""
    os.makedirs(keydir, exist_ok=True)
    p = subprocess.run([GENKEY, "-b", str(bits), "-d", domain, "-s", selector, "-D", keydir],
                       capture_output=True, text=True, timeout=60)
    private = os.path.join(keydir, selector + ".private")
    if not c.check(p.returncode == 0 and os.path.exists(private),
                   "opendkim-genkey -d %s -s %s" % (domain, selector), one_line(p.stderr)):
        raise Stop
    with open(os.path.join(keydir, selector + ".txt")) as f:
        record = keygen_output_to_record(f.read())
    return private, record_to_keys_line("%s._domainkey.%s" % (selector, domain), record)


def fingerprint(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest(), os.stat(path).st_mode & 0o7777, os.stat(path).st_mtime


def import_cmd(signet, conf, out, *extra):
    p = subprocess.run([signet, "import-opendkim", conf, "--out", out] + list(extra),
                       capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def read_signet_conf(path):
    """signet.conf as testkit's config dict: globals, then {"stream.x": {...}}; repeats become lists."""
    config, section = {}, None
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            m = re.fullmatch(r"\[(.+)\]", line)
            if m:
                section = config.setdefault(m.group(1), {})
                continue
            k, v = (s.strip() for s in line.split("=", 1))
            target = config if section is None else section
            if k in target:
                target[k] = (target[k] if isinstance(target[k], list) else [target[k]]) + [v]
            else:
                target[k] = v
    return config


def make_message(from_addr, subject):
    return (b"From: Sender <%s>\r\nTo: Bob <bob@example.org>\r\nSubject: %s\r\n"
            b"Date: Thu, 26 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%s.%d@client.test>\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n"
            b"Hello Bob,\r\n.a dot line\r\ntrailing spaces   \r\n\r\n-- \r\nthe import test\r\n"
            % (from_addr.encode(), subject.encode(), re.sub(r"\W", "-", subject).encode(), time.time_ns()))


class Setup:
    """One imported OpenDKIM setup: import, check, run, send, verify."""

    def __init__(self, c, args, name):
        self.c, self.args, self.name = c, args, name
        self.dir = os.path.join(os.path.abspath(args.work), name)
        os.makedirs(self.dir)
        self.keys_file = os.path.join(self.dir, "keys.txt")
        self.key_lines, self.sources = [], []
        self.port = free_port()

    def key(self, domain, selector):
        private, line = genkey(self.c, os.path.join(self.dir, "opendkim-keys"), domain, selector)
        self.key_lines.append(line)
        self.sources.append(private)
        return private

    def write(self, rel, text):
        path = os.path.join(self.dir, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        return path

    def run(self, conf, cases, extra=()):
        c = self.c
        with open(self.keys_file, "w") as f:
            f.writelines(self.key_lines)
        before = {p: fingerprint(p) for p in self.sources}
        out = os.path.join(self.dir, "out")
        rc, stdout, stderr = import_cmd(self.args.signet, conf, out, *extra)
        if not c.check(rc == 0 and not stderr, "%s: signet import-opendkim exits 0" % self.name,
                       "exit %d: %s" % (rc, one_line(stderr))):
            raise Stop
        c.note("%s report: %s" % (self.name, one_line(stdout, 600)))
        c.check(re.search(r"^not translated:", stdout, re.M) and re.search(r"^translated:", stdout, re.M),
                "%s: the report lists settings translated and not translated" % self.name, one_line(stdout))
        manifest = open(os.path.join(out, "keys", "manifest")).read()
        c.check(len(re.findall(r"(?m)^\[key\]$", manifest)) == len(self.sources) and "owner = imported from opendkim" in manifest,
                "%s: the key set has one imported row per OpenDKIM key" % self.name, manifest[:300])
        if "--seal" in extra:
            self.check_sealed(out)
        ages = re.findall(r"active-from = (\S+)", manifest)
        want = sorted(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(before[p][2]))) for p in self.sources)
        c.check(sorted(ages) == want, "%s: each key is active since its file's date" % self.name,
                "%s vs %s" % (ages, want))
        milter_bin = os.path.abspath(self.args.milter)
        p = subprocess.run([milter_bin, "--config", os.path.join(out, "signet.conf"), "--check-config"],
                           capture_output=True, text=True, timeout=60)
        if not c.check(p.returncode == 0, "%s: signet-milter --check-config accepts the imported signet.conf" % self.name,
                       one_line(p.stdout + p.stderr)):
            raise Stop
        config = read_signet_conf(os.path.join(out, "signet.conf"))
        # The records OpenDKIM's keys already published, on a loopback DNS server:
        # signet-milter checks a scheduled key's record before it signs with it.
        dns = Dnsmasq(self.dir, free_port())
        dns.serve([(n, v.decode()) for n, v in load_keys_file(self.keys_file).items()],
                  ["local=/example.org/", "local=/example.net/"])
        config["dns-server"] = "127.0.0.1:%d" % dns.port
        milter = SignetMilter(milter_bin, self.dir, config, name="imported")
        sink = SmtpSink(os.path.join(self.dir, "capture")).start()
        pf = PostfixInstance(os.path.join(self.dir, "postfix"), config["socket"], sink_port=sink.port,
                             capture_dir=sink.out_dir)
        try:
            try:
                milter.start()
                c.ok("%s: signet-milter runs the imported configuration on %s" % (self.name, milter.socket))
            except MilterError as e:
                c.fail("%s: signet-milter runs the imported configuration" % self.name, str(e))
                raise Stop
            pf.start()
            self.send_cases(pf, sink, milter, cases)
        finally:
            pf.stop()
            rc = milter.stop()
            sink.stop()
            dns.stop()
        c.check(rc == 0, "%s: signet-milter exits 0 on SIGTERM" % self.name, milter.log_tail())
        after = {p: fingerprint(p) for p in self.sources}
        c.check(after == before, "%s: OpenDKIM's key files keep their bytes, mode and date" % self.name,
                "%s -> %s" % (before, after))

    def check_sealed(self, out):
        """--seal: every key file is sealed (no file under the key directory
        parses as a private key or holds the OpenDKIM key's DER) and signet.conf
        runs them sealed."""
        c = self.c
        files = [os.path.join(r, f) for r, _, fs in os.walk(os.path.join(out, "keys")) for f in fs
                 if f not in ("manifest", ".lock", "delegated")]
        ders = [subprocess.run(["openssl", "pkey", "-in", p, "-outform", "DER"], capture_output=True,
                               check=True).stdout for p in self.sources]
        plain = [f for f in files if subprocess.run(["openssl", "pkey", "-in", f, "-noout"],
                                                    capture_output=True).returncode == 0]
        with_der = [f for f in files if any(d[-64:] in open(f, "rb").read() for d in ders)]
        c.check(len(files) == len(self.sources) and all(f.endswith(".sealed") for f in files) and not plain
                and not with_der, "%s: --seal writes every key sealed, no plaintext file or key bytes" % self.name,
                "%s plaintext %s" % (files, plain + with_der))
        conf = read_signet_conf(os.path.join(out, "signet.conf"))
        c.check(conf.get("key-protection") == "sealed" and conf.get("master-key-file") == self.master,
                "%s: signet.conf says key-protection = sealed and names the master key" % self.name, str(conf)[:300])

    def send_cases(self, pf, sink, milter, cases):
        c = self.c
        dnsfunc = make_dnsfunc(load_keys_file(self.keys_file))
        for i, (sender, want, *why) in enumerate(cases):
            what = "%s: From %s" % (self.name, sender)
            rcpt = "rcpt-%d@example.org" % i
            try:
                pf.send("inbound", make_message(sender, "import %s %d" % (self.name, i)), sender, [rcpt])
            except Exception as e:  # smtplib refusals
                c.fail(what, "Postfix refused it: %r; milter: %s" % (e, milter.log_tail(5)))
                continue
            msg = None
            end = time.monotonic() + 30
            while msg is None and time.monotonic() < end:
                for name, _, to in list(sink.envelopes):
                    if rcpt in to:
                        with open(os.path.join(sink.out_dir, name), "rb") as f:
                            msg = f.read()
                time.sleep(0.05)
            if not c.check(msg is not None, what + ": arrives", "; ".join(pf.log_lines()[-5:])):
                continue
            sigs = signatures(msg)
            got = [(s.get("d"), s.get("s")) for s in sigs]
            if want is None:
                c.check(not sigs, what + ": passes unsigned (%s)" % (why[0] if why else "no rule covers it"),
                        describe(sigs))
                continue
            if not c.check(got == [want], "%s: signed d=%s s=%s, as OpenDKIM would" % (what, want[0], want[1]),
                           "%s; milter: %s" % (describe(sigs), milter.log_tail(3))):
                continue
            results = dkimpy_results(msg, dnsfunc)
            c.check(all(ok for _, ok, _ in results), what + ": dkimpy verifies it against opendkim-genkey's record",
                    results)
            rc, out, err = signet_verify(self.args.signet, self.keys_file, msg)
            c.check(verify_passed(rc, out), what + ": signet verify --keys passes", one_line(out + err))
            self.check_tags(what, sigs[0])

    def check_tags(self, what, sig):
        pass


class Debian(Setup):
    def conf(self):
        c = self.c
        if not c.check(os.path.exists(SHIPPED_CONF), "the opendkim package's %s is installed" % SHIPPED_CONF,
                       "run scripts/install-deps"):
            raise Stop
        private = self.key("example.com", "2020")
        with open(SHIPPED_CONF) as f:
            text = f.read()
        run_dir = os.path.join(self.dir, "run")
        os.makedirs(run_dir)
        shutil.chown(run_dir, "opendkim", "opendkim")  # the pid file is written after the drop to UserID
        # Only the shipped file's own (commented) lines, made real, with paths under DIR.
        edits = [(r"(?m)^#Domain\s.*$", "Domain\t\t\texample.com"),
                 (r"(?m)^#Selector\s.*$", "Selector\t\t2020"),
                 (r"(?m)^#KeyFile\s.*$", "KeyFile\t\t" + private),
                 (r"(?m)^Socket\s.*$", "#Socket\t\t\tlocal:/run/opendkim/opendkim.sock"),
                 (r"(?m)^#Socket\s+inet:8891@localhost$", "Socket\t\t\tinet:%d@localhost" % self.port),
                 (r"(?m)^PidFile\s.*$", "PidFile\t\t\t" + os.path.join(run_dir, "opendkim.pid"))]
        for pattern, repl in edits:
            text, n = re.subn(pattern, repl, text, count=1)
            if not c.check(n == 1, "debian: the shipped opendkim.conf has the line %s" % pattern):
                raise Stop
        return self.write("opendkim.conf", text)

    def check_tags(self, what, sig):
        self.c.check(sig.get("c") == "relaxed/simple" and "x" not in sig,
                     what + ": c=relaxed/simple (Debian's Canonicalization), no x=", sig)


class Multi(Setup):
    CASES = [("news@example.com", ("example.com", "mail")),
             ("ops@lists.example.com", ("example.com", "mail")),      # *@*.example.com
             ("billing@example.org", ("example.org", "2023")),
             ("alerts@sub.example.net", ("sub.example.net", "s1")),
             ("alice@example.net", None, "OpenDKIM's per-user line is listed as not translated"),
             ("someone@elsewhere.test", None, "no SigningTable line covers it")]

    def conf(self):
        keys = {"example": ("example.com", "mail"), "org": ("example.org", "2023"), "net": ("sub.example.net", "s1")}
        table = "".join("%-8s %s:%s:%s\n" % (n, d, s, self.key(d, s)) for n, (d, s) in keys.items())
        kt = self.write("etc/KeyTable", "# key name  domain:selector:private key\n" + table)
        st = self.write("etc/SigningTable", "# refile: patterns, first match wins\n"
                        "*@example.com       example\n"
                        "*@*.example.com     example\n"
                        "*@example.org       org\n"
                        "*@sub.example.net   net\n"
                        "alice@example.net   net\n")
        hosts = self.write("etc/TrustedHosts", "127.0.0.1\n::1\nlocalhost\n*.example.com\n")
        return self.write("opendkim.conf", "\n".join([
            "Syslog                yes",
            "UMask                 002",
            "Mode                  sv",
            "Canonicalization      relaxed/relaxed",
            "OversignHeaders       From",
            "SignatureTTL          604800",
            "On-Default            accept",
            "On-BadSignature       reject",
            "KeyTable              file:" + kt,
            "SigningTable          refile:" + st,
            "ExternalIgnoreList    refile:" + hosts,
            "InternalHosts         refile:" + hosts,
            "Socket                inet:%d@127.0.0.1" % self.port,
            "TrustAnchorFile       /usr/share/dns/root.key", ""]))

    def check_tags(self, what, sig):
        ok = sig.get("c") == "relaxed/relaxed" and int(sig.get("x", 0)) - int(sig.get("t", 0)) == 604800
        self.c.check(ok, what + ": c=relaxed/relaxed and x= = t= + 7d (SignatureTTL 604800)", sig)


def bad_input(c, args, good_conf, key_dir):
    """Each: exit 2, one stderr line naming file:line, nothing written."""
    work = os.path.join(os.path.abspath(args.work), "bad")
    os.makedirs(work)
    shutil.copy(os.path.join(key_dir, "2020.private"), os.path.join(work, "ok.private"))
    weak = os.path.join(work, "weak.private")
    subprocess.run(["openssl", "genrsa", "-traditional", "-out", weak, "512"], capture_output=True, check=True)
    with open(good_conf) as f:
        good = f.read()
    keyfile_line = next(i for i, l in enumerate(good.splitlines(), 1) if l.startswith("KeyFile"))

    def write(name, text):
        path = os.path.join(work, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    kt = write("KeyTable", "example  example.com:mail:%s\nmissing  example.org:2023:%s\n"
               % (os.path.join(work, "ok.private"), os.path.join(work, "gone.private")))
    st_missing = write("SigningTable.missing", "*@example.com example\n*@example.org missing\n")
    st_regex = write("SigningTable.regex", "*@example.com example\n*@*example.org example\n")
    kt_weak = write("KeyTable.weak", "weak  example.com:weak:%s\n" % weak)
    st_weak = write("SigningTable.weak", "*@example.com weak\n")
    cut = good[:good.index("\nKeyFile") + len("\nKeyFile")]  # the file ends mid-line
    cases = [
        ("a truncated opendkim.conf", write("truncated.conf", cut), r"truncated\.conf:%d:" % keyfile_line),
        ("a contradictory opendkim.conf (KeyTable and KeyFile)",
         write("contradictory.conf", good + "KeyTable file:%s\nSigningTable refile:%s\n" % (kt, st_missing)),
         r"contradictory\.conf:%d: KeyFile together with a KeyTable" % keyfile_line),
        ("Mode v (verify only)", write("verify.conf", good + "Mode v\n"), r"verify\.conf:\d+: Mode v"),
        ("a KeyTable naming a missing key file",
         write("missing.conf", "KeyTable file:%s\nSigningTable refile:%s\n" % (kt, st_missing)),
         r"KeyTable:2: d=example\.org s=2023: key file .*gone\.private"),
        ("a 512-bit key (RFC 8301)", write("weak.conf", "KeyTable %s\nSigningTable refile:%s\n" % (kt_weak, st_weak)),
         r"KeyTable\.weak:1: .*1024"),
        ("a SigningTable pattern signet cannot express",
         write("regex.conf", "KeyTable file:%s\nSigningTable refile:%s\n" % (kt, st_regex)),
         r"SigningTable\.regex:2: SigningTable pattern '\*@\*example\.org'"),
        ("an unreadable opendkim.conf", os.path.join(work, "no-such.conf"), r"no-such\.conf"),
    ]
    for what, conf, pattern in cases:
        out = os.path.join(work, "out-" + re.sub(r"\W+", "-", what))
        rc, stdout, stderr = import_cmd(args.signet, conf, out)
        lines = stderr.splitlines()
        c.check(rc == 2 and len(lines) == 1 and re.search(pattern, lines[0]) and not os.path.exists(out),
                "bad input, %s: exit 2, one line naming the file and line, nothing written" % what,
                "exit %d, out %s, stderr %r" % (rc, "exists" if os.path.exists(out) else "absent", stderr))
        if lines:
            c.note(lines[0][:300])
    # An --out that already holds a configuration is left as it was.
    out = os.path.join(work, "taken")
    os.makedirs(out)
    with open(os.path.join(out, "signet.conf"), "w") as f:
        f.write("# someone's configuration\n")
    rc, _, stderr = import_cmd(args.signet, good_conf, out)
    c.check(rc == 2 and "exists" in stderr and os.listdir(out) == ["signet.conf"]
            and open(os.path.join(out, "signet.conf")).read() == "# someone's configuration\n",
            "an --out holding a signet.conf is refused and left as it was", "exit %d: %s" % (rc, stderr))
    # --check writes nothing either.
    out = os.path.join(work, "checked")
    rc, stdout, stderr = import_cmd(args.signet, good_conf, out, "--check")
    c.check(rc == 0 and "nothing written" in stdout and not os.path.exists(out),
            "--check reports and writes nothing", "exit %d: %s" % (rc, one_line(stderr)))
    # --key-directory: the key set where production keeps it, named in signet.conf.
    out, kd = os.path.join(work, "placed"), os.path.join(work, "placed-keys")
    rc, stdout, stderr = import_cmd(args.signet, good_conf, out, "--key-directory", kd)
    conf_text = open(os.path.join(out, "signet.conf")).read() if rc == 0 else ""
    c.check(rc == 0 and ("key-directory = " + kd) in conf_text and os.path.exists(os.path.join(kd, "manifest")),
            "--key-directory writes the key set there and names it in signet.conf", "exit %d: %s" % (rc, one_line(stderr)))


def seal_refusals(c, args, conf, master):
    """--seal with a master key signet would not read, or none: exit 2 naming
    it, nothing written; --master-key-file without --seal is refused too."""
    work = os.path.join(os.path.abspath(args.work), "seal-refusals")
    os.makedirs(work)
    loose = os.path.join(work, "loose.key")
    shutil.copy(master, loose)
    os.chmod(loose, 0o644)
    env_free = dict(os.environ)
    env_free.pop("CREDENTIALS_DIRECTORY", None)
    for what, extra, expect in [
            ("a group/world-readable master key", ("--seal", "--master-key-file", loose), loose),
            ("a missing master key", ("--seal", "--master-key-file", os.path.join(work, "absent")), "absent"),
            ("no master key at all", ("--seal",), "master-key-file"),
            ("--master-key-file without --seal", ("--master-key-file", master), "--seal")]:
        out = os.path.join(work, "out-" + re.sub(r"\W+", "-", what))
        p = subprocess.run([args.signet, "import-opendkim", conf, "--out", out] + list(extra), capture_output=True,
                           text=True, timeout=60, env=env_free)
        c.check(p.returncode == 2 and expect in p.stderr and not os.path.exists(out),
                "--seal refused with %s: exit 2 naming it, nothing written" % what,
                "exit %d: %s" % (p.returncode, one_line(p.stderr)))


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    os.chmod(args.work, 0o755)  # the postfix user reads under it
    c = Checks()
    try:
        if not c.check(os.access(GENKEY, os.X_OK), "opendkim-genkey installed", "run scripts/install-deps"):
            raise Stop
        if not c.check(os.geteuid() == 0, "running as root (Postfix's master needs it)"):
            raise Stop
        debian = Debian(c, args, "debian")
        debian_conf = debian.conf()
        debian.run(debian_conf, [("news@example.com", ("example.com", "2020")),
                                 ("someone@elsewhere.test", None, "not a Domain of opendkim.conf")])
        sealed = Debian(c, args, "debian-sealed")
        sealed.master = os.path.join(sealed.dir, "master.key")
        subprocess.run([args.signet, "key", "master-key", "--out", sealed.master], check=True, capture_output=True)
        sealed_conf = sealed.conf()
        seal_refusals(c, args, sealed_conf, sealed.master)
        sealed.run(sealed_conf, [("news@example.com", ("example.com", "2020"))],
                   extra=("--seal", "--master-key-file", sealed.master))
        multi = Multi(c, args, "multi")
        multi.run(multi.conf(), Multi.CASES)
        bad_input(c, args, debian_conf, os.path.join(debian.dir, "opendkim-keys"))
    except Stop:
        pass
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
