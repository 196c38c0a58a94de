#!/usr/bin/python3
"""signet-milter behind a real Sendmail: sign on relay, verify what arrives.

usage: test_sendmail.py --milter build/milter/signet-milter --signet build/tools/signet
                        --work DIR [--prefix /opt/signet-test/sendmail] [--no-milter]

Sendmail is NOT installed with apt (it conflicts with postfix): it is the
Debian package unpacked by scripts/install-sendmail into PREFIX. This script
  1. generates an rsa and an ed25519 key with `signet keygen` and a keys file
     (`selector._domainkey.example.com TXT "..."`),
  2. starts a capture SMTP sink (smtp_sink.py) and signet-milter
     (inet socket, log to DIR/milter.log),
  3. builds DIR/sendmail.cf with m4 from PREFIX's cf tree: listening on
     127.0.0.1 only, INPUT_MAIL_FILTER(`signet') with the macros signet reads,
     everything relayed to the sink, queue/pid/aliases/status under DIR,
     no DNS (and, when it can, runs Sendmail in private mount/UTS/PID
     namespaces whose /etc/resolv.conf points at 127.0.0.1, /etc/nsswitch.conf
     says `hosts: files` and host name is qualified, so nothing can leave
     loopback even by mistake and Sendmail does not sleep 60 s at start-up),
  4. sends a message From a@example.com over SMTP, waits for it at the sink,
     and checks both DKIM-Signatures with dkimpy and `signet verify`, and that
     the DKIM-Signature header Sendmail emitted is still legally folded.
--no-milter (development only) runs Sendmail without the milter and checks
just the relay path. SIGNET_SENDMAIL_STRACE=1 (debugging) runs Sendmail under
strace and fails if it connects anywhere but loopback.

Prints ok/FAIL lines, ends with "N passed, M failed", exits 1 on any failure.
Needs root (Sendmail's daemon mode). Everything runs on 127.0.0.1.
"""

import argparse
import os
import re
import shutil
import signal
import smtplib
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from smtp_sink import SmtpSink  # noqa: E402
from testkit import (Checks, MilterError, SignetMilter, dkim_tags, dkimpy_results, free_port,  # noqa: E402
                     keygen, load_keys_file, make_dnsfunc, signet_verify, wait_listening, write_keys_file)

DOMAIN = "example.com"
SEL_RSA = "sm-rsa2048"
SEL_ED = "sm-ed25519"
MTA_NAME = "mta.signet-test.example"
DEADLINE = time.monotonic() + 55          # the whole run stays under 60 s

checks = Checks()
check, note = checks.check, checks.note


def listening_within(proc, port, timeout):
    return wait_listening(port, proc, max(0, min(timeout, DEADLINE - time.monotonic())))


def tail(path, n=25):
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
        return "\n".join("#      | " + l for l in lines[-n:])
    except OSError as e:
        return "#      (%s)" % e


def stop(proc, name, timeout=5):
    """SIGTERM the process group, SIGKILL what is left."""
    if proc is None:
        return None
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        pgid = None
    if proc.poll() is None:
        try:
            os.killpg(pgid, signal.SIGTERM) if pgid else proc.terminate()
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            note("%s did not stop on SIGTERM, killing it" % name)
    if pgid:
        try:
            os.killpg(pgid, signal.SIGKILL)   # delivery children, queue runners
        except ProcessLookupError:
            pass
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        pass
    return proc.returncode


# -- keys and signet-milter ----------------------------------------------------

def make_keys(signet, work):
    """The rsa and ed25519 keys (one check each); the keys file's path, or None."""
    keydir = os.path.join(work, "keys", DOMAIN)
    os.makedirs(keydir)
    keys = []
    for sel, alg in ((SEL_RSA, "rsa"), (SEL_ED, "ed25519")):
        key = keygen(signet, os.path.join(keydir, sel + ".key"), alg, domain=DOMAIN, selector=sel, timeout=20)
        if not check(key.ok and key.txt.startswith('"'), "signet keygen --algorithm %s" % alg, key.stderr.strip()):
            return None
        keys.append(key)
    path = os.path.join(work, "keys.txt")
    write_keys_file(path, keys)
    return path


def milter_fixture(milter, work):
    return SignetMilter(milter, work, {
        "key-directory": os.path.join(work, "keys"),
        "internal-hosts": "127.0.0.1/32",
        "stream.tx": {"domain": DOMAIN, "selector": [SEL_RSA, SEL_ED]},
        "rule.all": {"stream": "tx"},
    })


# -- Sendmail ------------------------------------------------------------------

def sendmail_mc(work, prefix, smtp_port, sink_port, milter_port):
    w = work
    milter = ""
    if milter_port:
        # Sendmail hands a milter only the macros listed here. signet reads
        # {auth_authen} (SASL login), {daemon_name}, {client_addr}, {mail_addr}
        # and i (queue id, for its log lines). The values contain commas, so
        # they are double-quoted for m4.
        milter = """\
define(`confMILTER_MACROS_CONNECT', ``j, _, {daemon_name}, {if_name}, {if_addr}, {client_addr}'')dnl
define(`confMILTER_MACROS_HELO', ``{tls_version}, {cipher}, {cipher_bits}, {cert_subject}, {cert_issuer}'')dnl
define(`confMILTER_MACROS_ENVFROM', ``i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}'')dnl
define(`confMILTER_MACROS_ENVRCPT', ``{rcpt_mailer}, {rcpt_host}, {rcpt_addr}'')dnl
define(`confMILTER_MACROS_EOH', ``i, {auth_authen}, {daemon_name}, {client_addr}, {mail_addr}'')dnl
define(`confMILTER_MACROS_EOM', ``i, {msg_id}, {auth_authen}, {daemon_name}, {client_addr}, {mail_addr}'')dnl
define(`confMILTER_LOG_LEVEL', `14')dnl
INPUT_MAIL_FILTER(`signet', `S=inet:%d@127.0.0.1, F=T, T=S:30s;R:60s;E:5m')dnl
""" % milter_port
    return """\
divert(-1)dnl
# generated by test_sendmail.py -- nothing here may touch /etc/mail,
# /var/spool/mqueue or any address but 127.0.0.1
divert(0)dnl
VERSIONID(`signet test_sendmail')dnl
OSTYPE(`linux')dnl
define(`confDOMAIN_NAME', `%(mta)s')dnl
define(`confDONT_PROBE_INTERFACES', `True')dnl
define(`confBIND_OPTS', `-DNSRCH -DEFNAMES')dnl
define(`confSERVICE_SWITCH_FILE', `%(w)s/service.switch')dnl
define(`confHOSTS_FILE', `%(w)s/hosts')dnl
define(`QUEUE_DIR', `%(w)s/mqueue')dnl
define(`confPID_FILE', `%(w)s/sendmail.pid')dnl
define(`STATUS_FILE', `%(w)s/sendmail.st')dnl
define(`ALIAS_FILE', `%(w)s/aliases')dnl
define(`confCW_FILE', `-o %(w)s/local-host-names')dnl
define(`confCT_FILE', `-o %(w)s/trusted-users')dnl
define(`confCR_FILE', `-o %(w)s/relay-domains')dnl
define(`HELP_FILE', `%(prefix)s/etc/mail/helpfile')dnl
define(`confDEAD_LETTER_DROP', `%(w)s/dead.letter')dnl
define(`confEBINDIR', `%(prefix)s/usr/libexec/sendmail')dnl
define(`confDELIVERY_MODE', `background')dnl
define(`confMIN_QUEUE_AGE', `0s')dnl
define(`confQUEUE_LA', `1000')dnl
define(`confREFUSE_LA', `1000')dnl
define(`confDELAY_LA', `0')dnl
define(`confTO_IDENT', `0s')dnl
define(`confTO_CONNECT', `10s')dnl
define(`confTO_ICONNECT', `10s')dnl
define(`confTO_INITIAL', `10s')dnl
define(`confTO_QUEUERETURN', `5m')dnl
define(`confPRIVACY_FLAGS', `authwarnings,noexpn,novrfy')dnl
define(`confLOG_LEVEL', `9')dnl
define(`SMART_HOST', `relay:[127.0.0.1]')dnl
define(`RELAY_MAILER_ARGS', `TCP $h %(sink)d')dnl
define(`ESMTP_MAILER_ARGS', `TCP $h %(sink)d')dnl
FEATURE(`nocanonify')dnl
FEATURE(`no_default_msa')dnl
FEATURE(`accept_unresolvable_domains')dnl
FEATURE(`accept_unqualified_senders')dnl
DAEMON_OPTIONS(`Family=inet, Addr=127.0.0.1, Port=%(smtp)d, Name=MTA')dnl
%(milter)sMAILER(`local')dnl
MAILER(`smtp')dnl
""" % {"w": w, "prefix": prefix, "mta": MTA_NAME, "sink": sink_port,
       "smtp": smtp_port, "milter": milter}


def build_sendmail_cf(work, prefix, smtp_port, sink_port, milter_port):
    cfdir = os.path.join(prefix, "usr/share/sendmail/cf")
    os.makedirs(os.path.join(work, "mqueue"), mode=0o700)
    files = {
        "service.switch": "hosts files\naliases files\n",
        # Sendmail qualifies its own host name through the `hosts' switch (this
        # file): an unqualified name it cannot find makes it sleep 60 s
        # ("My unqualified host name (vm) unknown; sleeping for retry").
        "hosts": "127.0.0.1 %s %s localhost\n" % (MTA_NAME, " ".join(sorted(
            {socket.gethostname(), socket.gethostname().split(".")[0]}))),
        "aliases": "postmaster: root\nMAILER-DAEMON: postmaster\n",
        "local-host-names": "",
        "trusted-users": "",
        "relay-domains": "",
        # used only inside Sendmail's private mount namespace (see run_sendmail)
        "resolv.conf": "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n",
        "nsswitch.conf": "passwd: files\ngroup: files\nshadow: files\n"
                         "hosts: files\nnetworks: files\nservices: files\n",
    }
    for name, text in files.items():
        with open(os.path.join(work, name), "w") as f:
            f.write(text)
    mc = os.path.join(work, "sendmail.mc")
    with open(mc, "w") as f:
        f.write(sendmail_mc(work, prefix, smtp_port, sink_port, milter_port))
    cf = os.path.join(work, "sendmail.cf")
    with open(cf, "wb") as out:
        r = subprocess.run(["m4", "-D_CF_DIR_=%s/" % cfdir,
                            os.path.join(cfdir, "m4/cf.m4"), mc],
                           stdout=out, stderr=subprocess.PIPE, timeout=20)
    if not check(r.returncode == 0 and os.path.getsize(cf) > 10000,
                 "m4 builds sendmail.cf from %s" % cfdir, r.stderr.decode()):
        return None
    text = open(cf, encoding="latin-1").read()
    leaks = sorted(set(re.findall(
        r"(?m)^[^#].*?(?<![\w./-])(/etc/mail/\S*|/var/spool/mqueue\S*)", text)))
    check(not leaks, "sendmail.cf refers to nothing under /etc/mail or /var/spool/mqueue",
          " ".join(leaks))
    return cf


def hostname_qualifies():
    """Would Sendmail, outside a namespace, find a dotted name for this host in
    /etc/hosts? If not it sleeps 60 s at start-up, before reading its .cf
    ("My unqualified host name (vm) unknown; sleeping for retry")."""
    name = socket.gethostname()
    if "." in name:
        return True
    try:
        with open("/etc/hosts") as f:
            for line in f:
                names = line.split("#")[0].split()[1:]
                if name in names and any("." in n for n in names):
                    return True
    except OSError:
        pass
    return False


def run_sendmail(work, prefix, cf):
    """Start Sendmail in the foreground (-bD).

    When unshare(1) works (root with CAP_SYS_ADMIN), Sendmail runs in private
    mount, UTS and PID namespaces: /etc/resolv.conf (nameserver 127.0.0.1),
    /etc/nsswitch.conf (hosts: files) and /etc/hosts are ours, and the host
    name is MTA_NAME. Sendmail resolves its own name with gethostbyname()
    before it reads any .cf (so ServiceSwitchFile/HostsFile cannot help
    there); this way that lookup, and any stray one, stays on this machine.
    In the PID namespace Sendmail is init: its background delivery children
    (which setsid() out of our process group) are reaped by it and die with it."""
    binary = os.path.join(prefix, "usr/libexec/sendmail/sendmail")
    argv = [binary, "-C", cf, "-bD", "-q1s", "-X", os.path.join(work, "sendmail.trace")]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    if os.environ.get("SIGNET_SENDMAIL_STRACE") and shutil.which("strace"):
        # debugging aid: record every connect()/sendto() Sendmail makes;
        # check_strace() then fails on any address but loopback
        argv = [shutil.which("strace"), "-f", "-qq", "-e", "trace=connect,sendto,sendmsg",
                "-o", os.path.join(work, "sendmail.strace")] + argv
    unshare = shutil.which("unshare")
    sandboxed = False
    if unshare:
        probe = subprocess.run([unshare, "-m", "-u", "-p", "--fork", "--kill-child", "true"],
                               capture_output=True)
        sandboxed = probe.returncode == 0
    if sandboxed:
        script = ('mount --bind "$1" /etc/resolv.conf && '
                  'mount --bind "$2" /etc/nsswitch.conf && '
                  'mount --bind "$3" /etc/hosts && '
                  'hostname "$4" && shift 4 && exec "$@"')
        argv = [unshare, "-m", "-u", "-p", "--fork", "--kill-child", "--propagation", "private",
                "sh", "-c", script, "sh",
                os.path.join(work, "resolv.conf"), os.path.join(work, "nsswitch.conf"),
                os.path.join(work, "hosts"), MTA_NAME] + argv
    else:
        note("unshare -m -u -p unavailable: Sendmail runs without the resolver sandbox; "
             "its own start-up host name lookup uses the system resolver")
        if not hostname_qualifies():
            check(False, "host name %r is qualified or has a dotted alias in /etc/hosts"
                  % socket.gethostname(),
                  "Sendmail would sleep 60 s at start-up; add one or run with CAP_SYS_ADMIN")
            return None, False
    log = open(os.path.join(work, "sendmail.log"), "wb")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            env=env, cwd=work, start_new_session=True)
    log.close()
    return proc, sandboxed


def check_strace(work):
    path = os.path.join(work, "sendmail.strace")
    if not os.path.exists(path):
        return
    bad = []
    with open(path, errors="replace") as f:
        for line in f:
            m = re.search(r'inet_addr\("([^"]*)"\)|inet_pton\(AF_INET6, "([^"]*)"', line)
            if m:
                a = m.group(1) or m.group(2)
                if not (a.startswith("127.") or a in ("::1", "::ffff:127.0.0.1")):
                    bad.append(line.strip())
    check(not bad, "Sendmail contacted no address but loopback (strace)", " | ".join(bad[:3]))


# -- the message and its checks ------------------------------------------------

MESSAGE = (
    "From: Alice <a@example.com>\r\n"
    "To: Bob <b@example.net>\r\n"
    "Subject: signet behind sendmail\r\n"
    "Date: Thu, 26 Nov 2026 10:00:00 +0000\r\n"
    "Message-ID: <sendmail-test-1@example.com>\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: text/plain; charset=us-ascii\r\n"
    "X-Long: %s\r\n"
    "\r\n"
    "Hello Bob,\r\n"
    "\r\n"
    ".a line that starts with a dot\r\n"
    "trailing spaces   \r\n"
    "\r\n"
    "\r\n"
) % " ".join(["word%02d" % i for i in range(40)])


def header_block(msg):
    end = msg.find(b"\r\n\r\n")
    return msg[:end + 2] if end >= 0 else msg


def raw_fields(head):
    """Split a header block into raw fields (name-line plus continuations)."""
    fields = []
    for line in re.findall(rb"[^\n]*\n|[^\n]+$", head):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def check_folding(field):
    """Problems with one raw header field as received (bytes incl. CRLFs)."""
    problems = []
    if re.search(rb"\r(?!\n)", field):
        problems.append("bare CR")
    if re.search(rb"(?<!\r)\n", field):
        problems.append("bare LF")
    if not field.endswith(b"\r\n"):
        problems.append("does not end in CRLF")
    lines = field.split(b"\r\n")[:-1]
    for i, line in enumerate(lines):
        if len(line) > 998:
            problems.append("line %d longer than 998 bytes" % (i + 1))
        if i and not line[:1] in (b" ", b"\t"):
            problems.append("continuation line %d does not start with WSP" % (i + 1))
        if i and not line.strip(b" \t"):
            problems.append("continuation line %d is whitespace only" % (i + 1))
    if not re.match(rb"DKIM-Signature:", field, re.I):
        problems.append("no 'DKIM-Signature:' name")
    return problems


def tags_of(field):
    return dkim_tags(field.split(b":", 1)[1])


def check_signatures(msg):
    """Both DKIM-Signatures arrived, each with its d=, s= and a=; returns the raw fields."""
    fields = raw_fields(header_block(msg))
    sigs = [f for f in fields if f.lower().startswith(b"dkim-signature:")]
    names = [f.split(b":", 1)[0].decode("latin-1") for f in fields]
    note("header order as received: %s" % ", ".join(names))
    check(len(sigs) == 2, "two DKIM-Signature headers arrived", "got %d" % len(sigs))
    by_sel = {}
    for f in sigs:
        t = tags_of(f)
        by_sel[t.get("s")] = (t, f)
    for sel, alg in ((SEL_RSA, "rsa-sha256"), (SEL_ED, "ed25519-sha256")):
        t, _ = by_sel.get(sel, ({}, b""))
        check(t.get("d") == DOMAIN and t.get("a") == alg,
              "signature s=%s d=%s a=%s present" % (sel, DOMAIN, alg),
              "tags %r" % {k: t.get(k) for k in ("d", "s", "a")} if t else "missing")
    return sigs


def check_as_emitted(msg, sigs):
    """What Sendmail emitted, byte for byte: legal folding, CRLF only."""
    for f in sigs:
        t = tags_of(f)
        lines = f.split(b"\r\n")
        note("DKIM-Signature s=%s as received: %d bytes in %d lines, exactly:"
             % (t.get("s"), len(f), len(lines) - 1))
        for l in lines[:-1]:
            note("  %r" % (l + b"\r\n"))
        probs = check_folding(f)
        check(not probs, "DKIM-Signature s=%s folding is legal (WSP continuations, CRLF, "
              "no bare CR/LF)" % t.get("s"), "; ".join(probs) + " raw=%r" % f[:300])
    bare = len(re.findall(rb"\r(?!\n)|(?<!\r)\n", msg))
    check(bare == 0, "whole message has CRLF line ends only", "%d bare CR/LF" % bare)


def check_macros_arrived(msg, milter):
    """signet logs the queue id (macro i) with "signed", and trust=internal-host
    comes from {client_addr}."""
    m = re.search(rb"with ESMTP id (\w+)", msg)
    qid = m.group(1).decode() if m else "?"
    mlog = milter.log()
    line = next((l for l in mlog.splitlines() if qid in l and "signed" in l), "")
    check(line and "trust=internal-host" in line,
          "signet-milter logged queue id %s (macro i) and trust=internal-host ({client_addr})" % qid,
          mlog.strip()[-400:])


def check_dkimpy(msg, keys_path):
    """dkimpy, keys from the keys file: every signature."""
    for t, passed, err in dkimpy_results(msg, make_dnsfunc(load_keys_file(keys_path))):
        check(passed, "dkimpy verifies s=%s a=%s" % (t.get("s"), t.get("a")), err)


def check_signet_verify(msg, keys_path, signet):
    rc, out, err = signet_verify(signet, keys_path, msg, timeout=20)
    out = out.strip()
    for line in out.splitlines():
        note("signet verify: %s" % line)
    check(rc == 0 and out.count("pass") >= 2,
          "signet verify --keys passes both signatures",
          "exit %d: %s %s" % (rc, out, err.strip()))


def verify_message(msg, keys_path, signet, milter):
    sigs = check_signatures(msg)
    check_as_emitted(msg, sigs)
    check_macros_arrived(msg, milter)
    check_dkimpy(msg, keys_path)
    check_signet_verify(msg, keys_path, signet)


# -- main ----------------------------------------------------------------------

class Procs:
    sink = milter = sendmail = None


def preflight(args, prefix, milter_bin):
    binary = os.path.join(prefix, "usr/libexec/sendmail/sendmail")
    return (check(os.access(binary, os.X_OK) and shutil.which("m4"),
                  "Sendmail unpacked in %s and m4 present" % prefix,
                  "run scripts/install-sendmail %s" % prefix)
            and check(os.geteuid() == 0, "running as root (Sendmail daemon mode needs it)")
            and (args.no_milter or check(os.access(milter_bin, os.X_OK),
                                         "signet-milter binary exists", milter_bin)))


def start_sendmail(work, prefix, procs, milter_port):
    """sendmail.cf, then Sendmail listening; its SMTP port, or None."""
    smtp_port = free_port()
    cf = build_sendmail_cf(work, prefix, smtp_port, procs.sink.port, milter_port)
    if cf is None:
        return None
    procs.sendmail, sandboxed = run_sendmail(work, prefix, cf)
    if procs.sendmail is None:
        return None
    if not check(listening_within(procs.sendmail, smtp_port, 15),
                 "Sendmail listens on 127.0.0.1:%d%s" % (
                     smtp_port, " (private resolv.conf/nsswitch.conf/hosts)" if sandboxed else ""),
                 "exit %s" % procs.sendmail.poll()):
        return None
    return smtp_port


def relay_one(work, smtp_port, sink):
    """MESSAGE through Sendmail to the sink: the bytes that arrived, or None."""
    try:
        with smtplib.SMTP("127.0.0.1", smtp_port, local_hostname="client.example.com",
                          timeout=30) as s:
            refused = s.sendmail("a@example.com", ["b@example.net"], MESSAGE.encode())
        check(not refused, "Sendmail accepts the message over SMTP", repr(refused))
    except (smtplib.SMTPException, OSError) as e:
        check(False, "Sendmail accepts the message over SMTP", repr(e))
        return None

    end = min(time.monotonic() + 30, DEADLINE)
    while sink.count() < 1 and time.monotonic() < end:
        time.sleep(0.1)
    if not check(sink.count() >= 1, "the message reaches the sink through Sendmail",
                 "nothing arrived; queue: %s" % os.listdir(os.path.join(work, "mqueue"))):
        return None
    name, mail_from, rcpts = sink.envelopes[0]
    check(mail_from == "a@example.com" and rcpts == ["b@example.net"],
          "envelope kept", "%r %r" % (mail_from, rcpts))
    with open(sink.paths()[0], "rb") as f:
        msg = f.read()
    check(b"\r\n\r\n.a line that starts with a dot\r\n" in msg
          and msg.endswith(b"trailing spaces   \r\n\r\n\r\n"),
          "body arrives unchanged (dot line, trailing spaces, blank lines)")
    return msg


def scenario(args, work, procs):
    """The test proper; returns at the first failure that makes the rest moot.
    Processes it starts go into procs; main() always stops them."""
    prefix = os.path.abspath(args.prefix)
    milter_bin = os.path.abspath(args.milter)
    signet = os.path.abspath(args.signet)
    if not preflight(args, prefix, milter_bin):
        return

    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    os.chmod(work, 0o755)   # Sendmail refuses group/world-writable config paths

    keys = make_keys(signet, work)
    if keys is None:
        return

    procs.sink = SmtpSink(os.path.join(work, "sink")).start()
    milter_port = None
    if not args.no_milter:
        procs.milter = milter_fixture(milter_bin, work)
        milter_port = procs.milter.port
        try:
            procs.milter.start(timeout=max(0, min(10, DEADLINE - time.monotonic())))
            check(True, "signet-milter listens on inet:%d@127.0.0.1" % milter_port)
        except MilterError as e:
            check(False, "signet-milter listens on inet:%d@127.0.0.1" % milter_port, str(e))
            return

    smtp_port = start_sendmail(work, prefix, procs, milter_port)
    if smtp_port is None:
        return
    msg = relay_one(work, smtp_port, procs.sink)
    if msg is None:
        return
    if args.no_milter:
        note("--no-milter: DKIM checks skipped")
    else:
        verify_message(msg, keys, signet, procs.milter)


def teardown(work, procs):
    if procs.sendmail is not None:
        ts = time.monotonic()
        stop(procs.sendmail, "sendmail")
        note("Sendmail stopped in %.1fs" % (time.monotonic() - ts))
        check_strace(work)
    if procs.milter is not None and procs.milter.proc is not None:
        ts = time.monotonic()
        rc = procs.milter.stop(timeout=5)
        note("signet-milter stopped in %.1fs" % (time.monotonic() - ts))
        if not checks.failed:
            check(rc == 0, "signet-milter exits 0 on SIGTERM", "exit %s" % rc)
    if procs.sink is not None:
        procs.sink.stop()
        check(not procs.sink.errors, "sink had no session errors", "; ".join(procs.sink.errors))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--milter", default="build/milter/signet-milter")
    ap.add_argument("--signet", default="build/tools/signet")
    ap.add_argument("--work", required=True)
    ap.add_argument("--prefix", default="/opt/signet-test/sendmail")
    ap.add_argument("--no-milter", action="store_true",
                    help="development: relay through Sendmail without the milter")
    args = ap.parse_args()
    work = os.path.abspath(args.work)
    t0 = time.monotonic()
    procs = Procs()
    try:
        scenario(args, work, procs)
    except Exception as e:  # a bug here must still stop everything and count
        import traceback
        traceback.print_exc()
        check(False, "test script ran to the end", repr(e))
    finally:
        teardown(work, procs)
    if checks.failed and os.path.isdir(work):
        for log in ("milter.log", "sendmail.log"):
            p = os.path.join(work, log)
            if os.path.exists(p) and os.path.getsize(p):
                note("--- %s (tail)" % log)
                print(tail(p), flush=True)
    note("run time %.1fs" % (time.monotonic() - t0))
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
