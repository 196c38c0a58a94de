#!/usr/bin/python3
"""signet doctor postfix against real Postfix instances, one problem at a time.

usage: test_doctor_postfix.py --milter PATH --signet PATH --work DIR

One private Postfix (postfix_harness.PostfixInstance under a short /tmp
directory, for the 107-byte limit of unix socket paths; its own config and
queue, 127.0.0.1 only) configured as `make demo` configures
it, with signet-milter on the demo's configuration (scripts/demo.py). The
clean case first: no error, exit 0, and "signet-milter answers" on the
demo's socket, probed as user postfix. Then, for each problem, main.cf and
master.cf are reset to the demo's, the problem is put in with
`postconf -c DIR -e/-P/-F/-M`, Postfix reloads it, and doctor must report the
setting with its value and the line that fixes it, and exit as --fail-on
says:

  non_smtpd_milters empty; milter_protocol = 2 (warning, an error with
  c=simple/ header canonicalization); milter_default_action
  reject, accept (the README pair), and accept against on-error = tempfail;
  smtp_line_length_limit = 500 (and a message with a 700-byte line relayed
  with and without it: the signature breaks only with it);
  disable_mime_output_conversion = yes (the demo's warning goes);
  a content_filter with its re-injection smtpd (signed before the filter,
  re-injected through signet again, fixed with -o smtpd_milters=);
  receive_override_options = no_milters in main.cf; smtpd_milters in
  libmilter syntax and on the wrong port; signet.conf on every address;
  a unix socket: answered unchrooted, refused to user postfix for its mode,
  missed by a chrooted smtpd (socket outside the spool), answered again
  inside the spool named relative to queue_directory; signet-milter stopped;
  bad input (exit 2, one line on stderr).

Prints ok/FAIL lines, ends with "N passed, M failed", exits 1 on any failure.
Needs root (Postfix's master). Everything runs on 127.0.0.1.
"""
import os
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(TOP, "scripts"))

from demo import DEFAULT_CONFIG  # noqa: E402  (the configuration `make demo` runs)
from postfix_harness import PostfixInstance  # noqa: E402
from smtp_sink import SmtpSink  # noqa: E402
from testkit import (Checks, SignetMilter, config_text, free_port, make_keys, one_line,  # noqa: E402
                     scenario_args, signet_verify)

SASL = ("demo", "demo-password")


def parse_findings(out):
    """[(severity, where, text)] of doctor's "SEVERITY WHERE: text" lines."""
    found = []
    for line in out.splitlines():
        m = re.match(r"(error|warning|info)\s+(.*?): (.*)$", line)
        if m:
            found.append(m.groups())
    return found


class Rig:
    def __init__(self, args, checks):
        self.args, self.c = args, checks
        self.work = args.work
        self.milter = self.pf = self.sink = None
        self.unix_milters = []
        self.keys_file = os.path.join(self.work, "keys.txt")
        # Postfix and the unix sockets in a short directory: a socket path
        # holds 107 bytes, and a chrooted smtpd sees the spool's path in front.
        self.short = tempfile.mkdtemp(prefix="sdoc-")
        os.chmod(self.short, 0o755)

    # -- setup ---------------------------------------------------------------
    def setup(self):
        keys = os.path.join(self.work, "keys")
        make_keys(self.args.signet, keys, [("example.com", "demo-rsa2048", "rsa"),
                                           ("example.com", "demo-ed25519", "ed25519")], keys_file=self.keys_file)
        self.config = {**DEFAULT_CONFIG, "key-directory": keys}
        self.milter = SignetMilter(self.args.milter, self.work, self.config).start()
        self.sink = SmtpSink(os.path.join(self.work, "captured"))
        self.sink.start()
        self.pf = PostfixInstance(os.path.join(self.short, "pf"), self.milter.socket,
                                  sink_port=self.sink.port, sasl_users=dict([SASL])).start()
        self.smtpd = ["127.0.0.1:%d/inet" % self.pf.ports[n] for n in ("inbound", "submission", "tx")]
        self.sub = "127.0.0.1:%d/inet" % self.pf.ports["submission"]

    def teardown(self):
        for m in [self.milter] + self.unix_milters:
            if m is not None:
                m.stop(timeout=10)
        if self.pf is not None:
            self.pf.stop()
        if self.sink is not None:
            self.sink.stop()
        shutil.rmtree(self.short, ignore_errors=True)

    def conf(self, name, **changes):
        """Another signet.conf for doctor to read (no milter runs it)."""
        cfg = dict(self.milter.config)
        cfg.update(changes)
        path = os.path.join(self.work, name + ".conf")
        with open(path, "w") as f:
            f.write(config_text(cfg))
        return path

    # -- Postfix ---------------------------------------------------------------
    def configure(self, *edits):
        """The demo's main.cf/master.cf again (as the harness writes them at
        start), then each postconf edit, then reload."""
        for name, text in (("main.cf", self.pf.main_cf()), ("master.cf", self.pf.master_cf())):
            with open(os.path.join(self.pf.config_dir, name), "w") as f:
                f.write(text)
        self.settle()
        for e in edits:
            self.pf.postconf(*e)
            self.settle()
        self.pf.reload()

    def settle(self):
        """Postfix programs wait ~2 s before reading a main.cf written in the
        last second or so (it may be half-written); these are complete, so
        date them back rather than wait in every case."""
        old = time.time() - 10
        for name in ("main.cf", "master.cf"):
            os.utime(os.path.join(self.pf.config_dir, name), (old, old))

    # -- doctor ----------------------------------------------------------------
    def doctor(self, *extra, conf=None, postfix=True):
        argv = [self.args.signet, "doctor", "postfix"]
        if postfix:
            argv += ["--postfix-config", self.pf.config_dir]
        argv += ["--config", conf or self.milter.conf_path] + list(extra)
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        return p.returncode, p.stdout, p.stderr

    def expect(self, what, edits=(), found=(), absent=(), rc=0, fail_on_warning=None, conf=None):
        """Configure, run doctor; found/absent: (severity, where part, text parts...)."""
        try:
            self.configure(*edits)
        except Exception as e:
            self.c.fail(what + ": Postfix takes the configuration", repr(e))
            return []
        code, out, err = self.doctor(conf=conf)
        findings = parse_findings(out)

        def has(sev, where, *texts):
            return any(f[0] == sev and where in f[1] and all(t in f[2] for t in texts) for f in findings)

        for sev, where, *texts in found:
            near = [" ".join(f) for f in findings if where in f[1]] or [out]
            self.c.check(has(sev, where, *texts), "%s: %s %s: %s" % (what, sev, where, " ... ".join(texts)),
                         one_line("\n".join(near), 3000))
        for sev, where, *texts in absent:
            self.c.check(not has(sev, where, *texts), "%s: no %s %s %s" % (what, sev, where, " ".join(texts)),
                         one_line(out, 3000))
        self.c.check(code == rc and not err, "%s: exit %d" % (what, rc), "exit %d, stderr %r" % (code, err))
        if fail_on_warning is not None:
            code_w, _, _ = self.doctor("--fail-on", "warning", conf=conf)
            self.c.check(code_w == fail_on_warning, "%s: exit %d with --fail-on warning" % (what, fail_on_warning),
                         "exit %d" % code_w)
        return findings

    def unix_milter(self, name, socket, **config):
        m = SignetMilter(self.args.milter, self.work, {**self.config, **config}, name=name, socket=socket)
        self.unix_milters.append(m)
        return m.start()

    # -- mail ------------------------------------------------------------------
    def relay(self, subject, body):
        """One message through the submission service; the copy the sink got."""
        before = self.sink.count()
        msg = (b"From: Signet Demo <demo@example.com>\r\nTo: Operator <postmaster@example.net>\r\n"
               b"Subject: " + subject.encode() + b"\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
               b"Message-ID: <" + re.sub(r"\W", "-", subject).encode() + b"@example.com>\r\n\r\n" + body)
        self.pf.send("submission", msg, "demo@example.com", ["postmaster@example.net"], sasl=SASL)
        deadline = time.monotonic() + 30
        while self.sink.count() <= before and time.monotonic() < deadline:
            time.sleep(0.05)
        paths = self.sink.paths()
        if len(paths) <= before:
            return None
        with open(paths[-1], "rb") as f:
            return f.read()


# ------------------------------------------------------------------------------
# The cases, in the order they run
# ------------------------------------------------------------------------------

def clean_demo(rig):
    what = "make demo's configuration"
    sock = rig.milter.socket  # inet:PORT@127.0.0.1
    postfix_form = "inet:127.0.0.1:%d" % rig.milter.port
    findings = rig.expect(what, found=[
        ("info", "milter " + postfix_form, "signet-milter answers on " + postfix_form, "as user postfix",
         "protocol 6", "ADDHDRS"),
        ("warning", "main.cf milter_default_action", "milter_default_action = tempfail", "on-error = accept",
         "`milter_default_action = accept` in main.cf"),
        ("warning", "main.cf disable_mime_output_conversion", "(the Postfix default)",
         "`disable_mime_output_conversion = yes` in main.cf"),
        ("info", "main.cf smtp_line_length_limit", "smtp_line_length_limit = 998", "folded"),
    ], rc=0, fail_on_warning=1)
    errors = [f for f in findings if f[0] == "error"]
    rig.c.check(findings and not errors, "%s: no errors (socket %s)" % (what, sock), errors)


def local_submission(rig):
    rig.expect("non_smtpd_milters empty", edits=[("-e", "non_smtpd_milters=")], found=[
        ("warning", "main.cf non_smtpd_milters", "is empty", "sendmail(1)", "`non_smtpd_milters = $smtpd_milters` in main.cf"),
    ], rc=0, fail_on_warning=1)


def protocol(rig):
    rig.expect("milter_protocol = 2, relaxed header canonicalization", edits=[("-e", "milter_protocol=2")], found=[
        ("warning", "main.cf milter_protocol", "milter_protocol = 2", "harmless for relaxed",
         "`milter_protocol = 6` in main.cf"),
        ("info", "milter inet:", "signet-milter answers", "protocol 2"),
    ], rc=0, fail_on_warning=1)
    tx = dict(rig.config["stream.tx"], canonicalization="simple/simple")
    rig.expect("milter_protocol = 2, simple header canonicalization", edits=[("-e", "milter_protocol=2")],
               conf=rig.conf("simple", **{"stream.tx": tx}), found=[
                   ("error", "main.cf milter_protocol", "c=simple/ signatures of stream(s) tx",
                    "`milter_protocol = 6` in main.cf"),
               ], rc=1)


def default_action(rig):
    rig.expect("milter_default_action = reject", edits=[("-e", "milter_default_action=reject")], found=[
        ("error", "main.cf milter_default_action", "milter_default_action = reject", "permanent error",
         "`milter_default_action = accept` in main.cf"),
    ], rc=1)
    rig.expect("milter_default_action = accept with on-error = accept (README)",
               edits=[("-e", "milter_default_action=accept")],
               absent=[("warning", "milter_default_action"), ("error", "milter_default_action")], rc=0)
    rig.expect("milter_default_action = accept with on-error = tempfail",
               edits=[("-e", "milter_default_action=accept")], conf=rig.conf("tempfail", **{"on-error": "tempfail"}),
               found=[("warning", "main.cf milter_default_action", "on-error = tempfail",
                       "`milter_default_action = tempfail` in main.cf")], rc=0, fail_on_warning=1)


def line_length(rig):
    what = "smtp_line_length_limit = 500"
    rig.expect(what, edits=[("-e", "smtp_line_length_limit=500")], found=[
        ("warning", "main.cf smtp_line_length_limit", "smtp_line_length_limit = 500", "longer than 500 bytes are folded",
         "`smtp_line_length_limit = 998` in main.cf"),
    ], rc=0, fail_on_warning=1)
    # What the finding means: a 700-byte line breaks the signature under
    # this limit, not under the default.
    body = b"A long line: " + b"x" * 700 + b"\r\nend\r\n"
    folded = rig.relay("long line under 500", body)
    rig.configure()
    kept = rig.relay("long line under 998", body)
    if not rig.c.check(folded is not None and kept is not None, "%s: both messages relayed" % what):
        return
    rc_f, out_f, _ = signet_verify(rig.args.signet, rig.keys_file, folded)
    rc_k, out_k, _ = signet_verify(rig.args.signet, rig.keys_file, kept)
    rig.c.check(rc_f == 1 and "dkim=fail" in out_f and b"x" * 700 not in folded,
                "%s: the folded copy fails verification" % what, one_line(out_f))
    rig.c.check(rc_k == 0 and b"x" * 700 in kept, "smtp_line_length_limit = 998: the same message verifies",
                one_line(out_k))


def mime(rig):
    rig.expect("disable_mime_output_conversion = yes", edits=[("-e", "disable_mime_output_conversion=yes")],
               absent=[("warning", "disable_mime_output_conversion")], rc=0)


def content_filter(rig):
    port = free_port()
    reinject = "127.0.0.1:%d/inet" % port
    edits = [("-e", "content_filter=smtp:[127.0.0.1]:%d" % free_port()),
             ("-M", "%s=127.0.0.1:%d inet n - n - - smtpd" % (reinject, port)),
             ("-P", "%s/content_filter=" % reinject)]
    trusting = rig.conf("trusting", **{"internal-hosts": "127.0.0.1/32"})
    rig.expect("content_filter with a re-injection smtpd", edits=edits, conf=trusting, found=[
        ("warning", rig.sub, "signs here before content_filter = smtp:[127.0.0.1]"),
        ("warning", "master.cf pickup/unix", "before content_filter", "`-o content_filter=` under pickup/unix"),
        ("warning", "master.cf " + reinject, "signed twice", "`-o smtpd_milters=` under %s in master.cf" % reinject),
    ], rc=0, fail_on_warning=1)
    rig.expect("re-injection smtpd with -o smtpd_milters=", edits=edits + [("-P", "%s/smtpd_milters=" % reinject)],
               conf=trusting, absent=[("warning", reinject)], rc=0)


def no_milters_in_main(rig):
    rig.expect("receive_override_options = no_milters in main.cf",
               edits=[("-e", "receive_override_options=no_header_body_checks,no_milters")], found=[
                   ("error", "main.cf receive_override_options", "signet never runs on", rig.sub, "pickup/unix",
                    "under the re-injection smtpd in master.cf"),
               ], rc=1)


def wrong_socket(rig):
    port = rig.milter.port
    rig.expect("smtpd_milters in libmilter syntax", edits=[("-e", "smtpd_milters=inet:%d@127.0.0.1" % port)], found=[
        ("error", "main.cf smtpd_milters", "libmilter's syntax", "`smtpd_milters = inet:127.0.0.1:%d` in main.cf" % port),
    ], rc=1)
    other = free_port()
    rig.expect("smtpd_milters on another port",
               edits=[("-e", "smtpd_milters=inet:127.0.0.1:%d" % other), ("-e", "non_smtpd_milters=$smtpd_milters")],
               found=[("error", "main.cf smtpd_milters", "names no socket of signet's",
                       "which Postfix writes inet:127.0.0.1:%d" % port),
                      ("info", "milter " + rig.milter.socket, "signet-milter answers", "signet.conf's socket")], rc=1)
    rig.expect("signet.conf socket on every address",
               conf=rig.conf("everywhere", socket="inet:%d@0.0.0.0" % port), found=[
                   ("warning", "signet.conf socket", "every address", "`socket = inet:%d@127.0.0.1` in signet.conf" % port),
                   ("info", "milter inet:127.0.0.1:%d" % port, "signet-milter answers"),
               ], absent=[("error", "")], rc=0)


def unix_sockets(rig):
    # Outside the spool, owned by root and mode 0700: Postfix's user may not connect.
    outside = rig.unix_milter("unix-root", "unix:" + os.path.join(rig.short, "root.sock"))
    os.chmod(outside.path, 0o700)
    use_outside = [("-e", "smtpd_milters=unix:" + outside.path), ("-e", "non_smtpd_milters=$smtpd_milters")]
    rig.expect("unix socket mode 0700 root", edits=use_outside, conf=outside.conf_path, found=[
        ("error", "milter unix:" + outside.path, "does not answer", "as postfix", "Permission denied", "adduser postfix"),
    ], rc=1)
    outside.stop()
    # The same socket given to signet's group postfix: answers unchrooted.
    outside = rig.unix_milter("unix-group", "unix:" + os.path.join(rig.short, "group.sock"), group="postfix")
    use_outside = [("-e", "smtpd_milters=unix:" + outside.path), ("-e", "non_smtpd_milters=$smtpd_milters")]
    rig.expect("unix socket outside the spool, smtpd unchrooted", edits=use_outside, conf=outside.conf_path, found=[
        ("info", "milter unix:" + outside.path, "signet-milter answers on unix:" + outside.path, "as user postfix"),
    ], absent=[("error", "")], rc=0)
    chroot = [("-F", "%s/chroot=y" % s) for s in rig.smtpd]
    seen = rig.pf.queue_dir + outside.path
    rig.expect("unix socket outside the spool, smtpd chrooted", edits=use_outside + chroot, conf=outside.conf_path, found=[
        ("error", "master.cf " + rig.smtpd[0], "runs chrooted in " + rig.pf.queue_dir, seen,
         "`socket = unix:%s/signet/signet-milter.sock` in signet.conf" % rig.pf.queue_dir,
         "`smtpd_milters = unix:signet/signet-milter.sock` in main.cf"),
        ("error", "milter unix:" + outside.path, "does not answer on unix:" + seen, "No such file or directory"),
    ], rc=1)
    outside.stop()
    # Inside the spool, named relative to queue_directory: right chrooted.
    os.makedirs(os.path.join(rig.pf.queue_dir, "signet"), exist_ok=True)
    inside = rig.unix_milter("unix-spool", "unix:" + os.path.join(rig.pf.queue_dir, "signet", "signet-milter.sock"),
                             group="postfix")
    rig.expect("unix socket inside the spool, smtpd chrooted",
               edits=[("-e", "smtpd_milters=unix:signet/signet-milter.sock"),
                      ("-e", "non_smtpd_milters=$smtpd_milters")] + chroot, conf=inside.conf_path, found=[
                   ("info", "milter unix:signet/signet-milter.sock", "signet-milter answers on unix:" + inside.path,
                    "(chrooted)"),
               ], absent=[("error", "")], rc=0)
    inside.stop()


def milter_stopped(rig):
    rig.milter.stop(timeout=10)
    postfix_form = "inet:127.0.0.1:%d" % rig.milter.port
    rig.expect("signet-milter stopped", found=[
        ("error", "milter " + postfix_form, "does not answer on " + postfix_form, "Connection refused",
         "milter_default_action = tempfail", "systemctl start signet-milter"),
    ], rc=1)
    code, out, err = rig.doctor("--no-connect")
    rig.c.check(code == 0 and not [f for f in parse_findings(out) if f[1].startswith("milter ")],
                "--no-connect: configuration only, exit 0", "exit %d: %s" % (code, one_line(out)))


def bad_input(rig):
    cases = [
        ("no main.cf there", ["--postfix-config", os.path.join(rig.work, "nowhere")], None, "main.cf"),
        ("--fail-on bogus", ["--postfix-config", rig.pf.config_dir, "--fail-on", "bogus"], None, "--fail-on"),
        ("a signet.conf that does not load", ["--postfix-config", rig.pf.config_dir],
         rig.conf("broken", **{"on-error": "maybe"}), "on-error"),
    ]
    for what, extra, conf, word in cases:
        code, out, err = rig.doctor(*extra, conf=conf, postfix=False)
        rig.c.check(code == 2 and len(err.splitlines()) == 1 and word in err and not out,
                    "bad input (%s): exit 2, one line on stderr" % what, "exit %d, stderr %r, stdout %r" % (code, err, out))
    p = subprocess.run([rig.args.signet, "doctor", "sendmail"], capture_output=True, text=True)
    rig.c.check(p.returncode == 2 and "unknown MTA" in p.stderr, "signet doctor sendmail: unknown MTA, exit 2",
                p.stderr)
    p = subprocess.run([rig.args.signet, "doctor", "--help"], capture_output=True, text=True)
    rig.c.check(p.returncode == 0 and "--postfix-config" in p.stdout, "signet doctor --help", p.stdout[:200])


CASES = [clean_demo, local_submission, protocol, default_action, line_length, mime, content_filter,
         no_milters_in_main, wrong_socket, unix_sockets, milter_stopped, bad_input]


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    args.work = os.path.abspath(args.work)  # socket paths: Postfix reads relative ones from its queue

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)

    c = Checks()
    rig = Rig(args, c)
    try:
        rig.setup()
        for case in CASES:
            t0 = time.monotonic()
            try:
                case(rig)
            except Exception as e:
                c.fail(case.__name__, "unexpected %r" % e)
            c.note("%s: %.1fs" % (case.__name__, time.monotonic() - t0))
        c.check(rig.pf.is_running(), "Postfix still runs after every reconfiguration")
    except KeyboardInterrupt:
        c.fail("run", "interrupted")
    except Exception as e:
        c.fail("setup", repr(e))
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        rig.teardown()
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
