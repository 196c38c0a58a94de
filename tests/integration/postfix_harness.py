#!/usr/bin/python3
"""A throw-away Postfix instance for the milter integration tests.

    with PostfixInstance(work_dir, "inet:127.0.0.1:8891",
                         sink_port=sink.port,
                         sasl_users={"carol": "secret"}) as pf:
        pf.send(pf.ports["submission"], msg, "carol@example.com",
                ["bob@example.org"], sasl=("carol", "secret"))
        messages = pf.wait_for(1, timeout=30)     # needs a capture dir
        pf.postconf("-e", "milter_protocol=2")    # edit in place (postconf -c),
        pf.reload()                               # then postfix reload

Everything lives under work_dir (which must be reachable by the `postfix`
user: the instance makes work_dir itself 0755 and complains about a parent
that is not searchable):

    etc/        config_directory: main.cf, master.cf
    spool/      queue_directory (created by `postfix start` / post-install)
    data/       data_directory
    etc/sasl/   smtpd.conf (sasldb auxprop): Debian's postfix reads the Cyrus
                config from $config_directory/sasl; cyrus_sasl_config_path
                is set to the same directory
    sasldb2     Cyrus sasldb, users made with saslpasswd2 -f
    log/maillog maillog_file, written by postlogd (no syslog needed)

Nothing of the system instance is used or changed: not /etc/postfix/main.cf,
not /var/spool/postfix.  (Only the compiled-in meta_directory /etc/postfix is
read by `postfix start` for postfix-files; as root, `postfix -c DIR` needs no
alternate_config_directories entry in a default main.cf.)  chroot is off for
every service; the instance listens only on 127.0.0.1, on free high ports
chosen at start:

    inbound     smtpd, -o milter_macro_daemon_name=inbound
    submission  smtpd with SASL AUTH (PLAIN/LOGIN without TLS),
                -o milter_macro_daemon_name=submission; unauthenticated
                relaying is refused on this port
    tx          smtpd, -o milter_macro_daemon_name=tx-out

Every message is relayed to relayhost [127.0.0.1]:sink_port.  Must run as
root (mail_owner postfix, setgid_group postdrop).
"""

import os
import re
import shutil
import signal
import smtplib
import stat
import subprocess
import time

from testkit import StartStop, free_port, listening_ports

POSTFIX = "/usr/sbin/postfix"
POSTCONF = "/usr/sbin/postconf"
SASLPASSWD2 = "/usr/sbin/saslpasswd2"
MYHOSTNAME = "mta.signet.test"
# Users live in the realm Cyrus uses when smtpd_sasl_local_domain is empty:
# the server FQDN, which Postfix passes as $myhostname.  With an explicit
# smtpd_sasl_local_domain Cyrus would append "@realm" to the login, and the
# {auth_authen} macro the milter sees would no longer be the plain login.
SASL_REALM = MYHOSTNAME

SERVICES = (
    # name, milter_macro_daemon_name, SASL
    ("inbound", "inbound", False),
    ("submission", "submission", True),
    ("tx", "tx-out", False),
)


def postfix_milter_socket(spec):
    """Accept libmilter syntax (inet:PORT@HOST) or Postfix syntax
    (inet:HOST:PORT, unix:PATH) and return the Postfix form."""
    m = re.fullmatch(r"inet:(\d+)@(.+)", spec)
    if m:
        return "inet:%s:%s" % (m.group(2), m.group(1))
    return spec


class PostfixError(RuntimeError):
    pass


class PostfixInstance(StartStop):
    def __init__(self, work_dir, milter_socket, sink_port=None,
                 capture_dir=None, sasl_users=None, ports=None,
                 extra_main=None, milters_enabled=True):
        """work_dir      everything of the instance goes here (created)
        milter_socket    "inet:127.0.0.1:PORT", "inet:PORT@127.0.0.1",
                         "unix:/path", or "" / None for no milter
        sink_port        where the capture SMTP server listens
        capture_dir      the sink's output directory (for wait_for)
        sasl_users       {login: password} for the submission service
        ports            {"inbound": p, "submission": p, "tx": p}; free
                         ports are chosen for the missing ones
        extra_main       {parameter: value} appended to main.cf"""
        self.work_dir = os.path.abspath(work_dir)
        self.milter = postfix_milter_socket(milter_socket or "")
        if not milters_enabled:
            self.milter = ""
        self.sink_port = sink_port
        self.capture_dir = capture_dir
        self.sasl_users = dict(sasl_users or {})
        self.extra_main = dict(extra_main or {})
        self.config_dir = os.path.join(self.work_dir, "etc")
        self.queue_dir = os.path.join(self.work_dir, "spool")
        self.data_dir = os.path.join(self.work_dir, "data")
        # Debian's postfix (patch 07_sasl_config) reads the Cyrus config from
        # $config_directory/sasl and ignores cyrus_sasl_config_path; the
        # parameter is set to the same place for upstream builds.
        self.sasl_dir = os.path.join(self.config_dir, "sasl")
        self.sasldb = os.path.join(self.work_dir, "sasldb2")
        self.log_dir = os.path.join(self.work_dir, "log")
        self.maillog = os.path.join(self.log_dir, "maillog")
        self.ports = dict(ports or {})
        for name, _, _ in SERVICES:
            if name not in self.ports:
                self.ports[name] = free_port()
        self.running = False
        self._seen = {}

    # -- configuration ----------------------------------------------------
    def _check_reachable(self):
        """The postfix user must be able to reach files under work_dir."""
        path = self.work_dir
        while True:
            parent = os.path.dirname(path)
            if parent == path:
                break
            path = parent
            st = os.stat(path)
            if not st.st_mode & stat.S_IXOTH:
                raise PostfixError(
                    "%s is not searchable by others (mode %o): the postfix "
                    "user cannot reach %s; use a work directory elsewhere or "
                    "chmod o+x %s" % (path, stat.S_IMODE(st.st_mode),
                                      self.work_dir, path))

    def main_cf(self):
        p = {
            "compatibility_level": "3.6",
            "queue_directory": self.queue_dir,
            "data_directory": self.data_dir,
            "mail_owner": "postfix",
            "setgid_group": "postdrop",
            "myhostname": MYHOSTNAME,
            "mydomain": "signet.test",
            "myorigin": "$myhostname",
            "mydestination": "",
            "local_recipient_maps": "",
            "local_transport": "error:5.1.1 local delivery disabled",
            "alias_maps": "",
            "alias_database": "",
            "inet_interfaces": "127.0.0.1",
            "inet_protocols": "ipv4",
            "mynetworks": "127.0.0.0/8",
            "relay_domains": "",
            "relayhost": "[127.0.0.1]:%d" % self.sink_port,
            "biff": "no",
            "append_dot_mydomain": "no",
            "smtpd_banner": "$myhostname ESMTP signet-test",
            "syslog_name": "postfix-signet-test",
            "maillog_file": self.maillog,
            "maillog_file_prefixes": self.log_dir,
            "enable_long_queue_ids": "yes",
            # milters
            "smtpd_milters": self.milter,
            "non_smtpd_milters": self.milter,
            "milter_protocol": "6",
            "milter_default_action": "tempfail",
            "milter_connect_timeout": "10s",
            "milter_command_timeout": "30s",
            "milter_content_timeout": "60s",
            # no waiting
            "in_flow_delay": "0",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "maximal_queue_lifetime": "1h",
            "bounce_queue_lifetime": "1h",
            "delay_warning_time": "0h",
            "smtpd_error_sleep_time": "0s",
            "smtpd_peername_lookup": "no",
            "notify_classes": "",
            # load
            "default_process_limit": "100",
            "default_destination_concurrency_limit": "50",
            "smtp_destination_concurrency_limit": "50",
            "initial_destination_concurrency": "20",
            "default_destination_recipient_limit": "50",
            "smtpd_client_connection_count_limit": "0",
            "smtpd_client_message_rate_limit": "0",
            "message_size_limit": "52428800",
            # delivery to the sink
            "smtp_dns_support_level": "disabled",
            "smtp_tls_security_level": "none",
            "smtp_connect_timeout": "5s",
            "smtp_helo_timeout": "10s",
            "smtp_connection_cache_on_demand": "yes",
            "smtp_helo_name": "$myhostname",
            # no TLS anywhere (loopback test)
            "smtpd_tls_security_level": "none",
            # SASL (enabled on the submission service only)
            "smtpd_sasl_auth_enable": "no",
            "smtpd_sasl_type": "cyrus",
            "smtpd_sasl_path": "smtpd",
            "cyrus_sasl_config_path": self.sasl_dir,
            "smtpd_sasl_local_domain": "",
            "smtpd_sasl_security_options": "noanonymous",
            "smtpd_tls_auth_only": "no",
        }
        p.update(self.extra_main)
        return "".join("%s = %s\n" % kv for kv in p.items())

    def master_cf(self):
        lines = []
        for name, daemon_name, sasl in SERVICES:
            lines.append("127.0.0.1:%d inet n - n - - smtpd"
                         % self.ports[name])
            lines.append("  -o syslog_name=postfix-signet-test/%s" % name)
            lines.append("  -o milter_macro_daemon_name=%s" % daemon_name)
            if sasl:
                lines += [
                    "  -o smtpd_sasl_auth_enable=yes",
                    "  -o smtpd_tls_auth_only=no",
                    "  -o smtpd_relay_restrictions="
                    "permit_sasl_authenticated,reject",
                ]
        lines += [
            "pickup    unix  n - n 60   1 pickup",
            "cleanup   unix  n - n -    0 cleanup",
            "qmgr      unix  n - n 300  1 qmgr",
            "rewrite   unix  - - n -    - trivial-rewrite",
            "bounce    unix  - - n -    0 bounce",
            "defer     unix  - - n -    0 bounce",
            "trace     unix  - - n -    0 bounce",
            "verify    unix  - - n -    1 verify",
            "flush     unix  n - n 1000? 0 flush",
            "proxymap  unix  - - n -    - proxymap",
            "proxywrite unix - - n -    1 proxymap",
            "smtp      unix  - - n -    - smtp",
            "relay     unix  - - n -    - smtp",
            "showq     unix  n - n -    - showq",
            "error     unix  - - n -    - error",
            "retry     unix  - - n -    - error",
            "discard   unix  - - n -    - discard",
            "anvil     unix  - - n -    1 anvil",
            "scache    unix  - - n -    1 scache",
            "postlog   unix-dgram n - n - 1 postlogd",
        ]
        return "\n".join(lines) + "\n"

    def sasl_conf(self):
        return ("pwcheck_method: auxprop\n"
                "auxprop_plugin: sasldb\n"
                "sasldb_path: %s\n"
                "mech_list: PLAIN LOGIN\n" % self.sasldb)

    def _write(self, path, text, mode=0o644):
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.rename(tmp, path)

    def configure(self):
        if os.geteuid() != 0:
            raise PostfixError("PostfixInstance must run as root")
        if self.sink_port is None:
            raise PostfixError("sink_port is required")
        os.makedirs(self.work_dir, exist_ok=True)
        os.chmod(self.work_dir, 0o755)
        self._check_reachable()
        for d in (self.config_dir, self.queue_dir, self.sasl_dir,
                  self.log_dir):
            os.makedirs(d, exist_ok=True)
            os.chmod(d, 0o755)
        self._write(os.path.join(self.config_dir, "main.cf"), self.main_cf())
        self._write(os.path.join(self.config_dir, "master.cf"),
                    self.master_cf())
        self._write(os.path.join(self.sasl_dir, "smtpd.conf"),
                    self.sasl_conf())
        if os.path.exists(self.sasldb):
            os.unlink(self.sasldb)
        for user, password in self.sasl_users.items():
            self.add_sasl_user(user, password)
        # Let postfix itself check the result (unknown parameters etc.).
        p = subprocess.run([POSTCONF, "-c", self.config_dir, "-n"],
                           capture_output=True, text=True)
        if p.returncode != 0 or "warning" in p.stderr:
            raise PostfixError("postconf: %s" % (p.stderr.strip() or
                                                 p.returncode))

    def add_sasl_user(self, user, password):
        p = subprocess.run([SASLPASSWD2, "-f", self.sasldb, "-c", "-p",
                            "-u", SASL_REALM, user],
                           input=password + "\n", capture_output=True,
                           text=True)
        if p.returncode != 0:
            raise PostfixError("saslpasswd2 %s: %s" % (user, p.stderr.strip()))
        # smtpd runs as the postfix user and reads the sasldb directly.
        shutil.chown(self.sasldb, "root", "postfix")
        os.chmod(self.sasldb, 0o640)
        self.sasl_users[user] = password

    # -- start / stop -----------------------------------------------------
    def _postfix(self, *args, check=True, timeout=60):
        p = subprocess.run([POSTFIX, "-c", self.config_dir] + list(args),
                           capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise PostfixError("postfix %s failed (%d): %s\n%s" % (
                " ".join(args), p.returncode, p.stderr.strip(),
                "\n".join(self.log_lines()[-20:])))
        return p

    def postconf(self, *args):
        """`postconf -c DIR ARGS`: edit this instance in place, e.g.
        ("-e", "name=value") for main.cf, ("-P", "svc/type/name=value") for
        a master.cf -o, ("-F", "svc/type/chroot=y") for a column, ("-M",
        "svc/type=...") for a whole service; then reload().  Returns
        postconf's stdout; raises PostfixError when it fails or warns."""
        p = subprocess.run([POSTCONF, "-c", self.config_dir] + list(args),
                           capture_output=True, text=True)
        if p.returncode != 0 or "warning" in p.stderr:
            raise PostfixError("postconf %s: %s" % (" ".join(args), p.stderr.strip() or p.returncode))
        return p.stdout

    def reload(self):
        """`postfix reload`: the running master rereads main.cf and master.cf."""
        self._postfix("reload")

    def is_running(self):
        return self._postfix("status", check=False).returncode == 0

    def start(self, timeout=30):
        self.configure()
        self._postfix("start", timeout=timeout)
        self.running = True
        # master -w returns once master is up and has opened its listeners;
        # check them without connecting (a probe would spawn smtpd and log).
        deadline = time.monotonic() + timeout
        while True:
            listening = listening_ports()
            missing = [n for n, p in self.ports.items() if p not in listening]
            if not missing:
                break
            if time.monotonic() > deadline:
                self.stop()
                raise PostfixError("not listening: %s" % ", ".join(
                    "%s (127.0.0.1:%d)" % (n, self.ports[n]) for n in missing))
            time.sleep(0.05)
        return self

    def stop(self, timeout=30):
        """Stop the instance; safe to call more than once, never raises."""
        if not os.path.isdir(self.config_dir):
            return
        try:
            if self.running or self.is_running():
                self._postfix("stop", check=False, timeout=timeout)
        except Exception:
            pass
        # Make sure the master is gone (postfix stop waits only briefly).
        pid = self._master_pid()
        deadline = time.monotonic() + timeout
        while pid and _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid and _alive(pid):
            try:
                subprocess.run([POSTFIX, "-c", self.config_dir, "abort"],
                               capture_output=True, timeout=10)
            except Exception:
                pass
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if _alive(pid):   # this instance's master only, by its pid file
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        self.running = False

    @property
    def master_pid(self):
        """The running master's pid (from its pid file), or None: every
        daemon of the instance is its child (the benchmarks' CPU count)."""
        return self._master_pid()

    def _master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    # -- mail -------------------------------------------------------------
    def send(self, port, message, mail_from, rcpt_to, sasl=None, timeout=60):
        """Send one message over SMTP to 127.0.0.1:port; returns the
        Postfix queue id.  Raises smtplib exceptions on any refusal."""
        if isinstance(port, str):
            port = self.ports[port]
        if isinstance(rcpt_to, str):
            rcpt_to = [rcpt_to]
        with smtplib.SMTP("127.0.0.1", port, local_hostname="client.test",
                          timeout=timeout) as s:
            s.ehlo()
            if sasl is not None:
                s.login(sasl[0], sasl[1])
            return self.send_on(s, message, mail_from, rcpt_to)

    @staticmethod
    def send_on(session, message, mail_from, rcpt_to):
        """Send one message on an open smtplib session (for the load test);
        returns the queue id from the 250 reply."""
        if isinstance(rcpt_to, str):
            rcpt_to = [rcpt_to]
        code, resp = session.mail(mail_from)
        if code != 250:
            session.rset()
            raise smtplib.SMTPSenderRefused(code, resp, mail_from)
        for r in rcpt_to:
            code, resp = session.rcpt(r)
            if code != 250:
                session.rset()
                raise smtplib.SMTPRecipientsRefused({r: (code, resp)})
        code, resp = session.data(message)
        if code != 250:
            session.rset()
            raise smtplib.SMTPDataError(code, resp)
        m = re.search(rb"queued as (\S+)", resp)
        return m.group(1).decode() if m else None

    def captured(self):
        """Every message in capture_dir: [(file name, bytes)], in order."""
        if not self.capture_dir or not os.path.isdir(self.capture_dir):
            return []
        names = sorted(n for n in os.listdir(self.capture_dir)
                       if re.fullmatch(r"\d+\.eml", n))
        out = []
        for n in names:
            data = self._seen.get(n)
            if data is None:
                with open(os.path.join(self.capture_dir, n), "rb") as f:
                    data = f.read()
                self._seen[n] = data
            out.append((n, data))
        return out

    def wait_for(self, n, timeout=60, since=0):
        """Wait until at least `since + n` messages are in capture_dir and
        return the messages after the first `since` as bytes.  Raises
        TimeoutError (with the count and recent log lines) otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            msgs = self.captured()
            if len(msgs) >= since + n:
                return [d for _, d in msgs[since:]]
            if time.monotonic() > deadline:
                raise TimeoutError(
                    "%d of %d messages captured after %ss; last log lines:\n%s"
                    % (len(msgs) - since, n, timeout,
                       "\n".join(self.log_lines()[-15:])))
            time.sleep(0.05)

    def log_lines(self):
        """The instance's log (maillog_file via postlogd), as text lines."""
        try:
            with open(self.maillog, "r", encoding="utf-8",
                      errors="replace") as f:
                return f.read().splitlines()
        except OSError:
            return []

    def queue_size(self):
        """Number of messages still in the queue (postqueue -j)."""
        p = subprocess.run(["/usr/sbin/postqueue", "-c", self.config_dir,
                            "-j"], capture_output=True, text=True)
        if p.returncode != 0:
            raise PostfixError("postqueue -j: %s" % p.stderr.strip())
        return len([l for l in p.stdout.splitlines() if l.strip()])


def _alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
