#!/usr/bin/python3
"""signet-milter dies or stops under load, behind a real Postfix: no mail lost.

Eight senders send thousands of messages, one SMTP connection each (Postfix
gives up a milter for the rest of a session once it fails), each with its
own recipient and Message-ID, to a private Postfix whose smtpd runs
signet-milter; a sender retries a message Postfix answers 4xx (as a real MTA
would). Mid-load:

1. milter_default_action = tempfail, kill -9, start again: every message is
   delivered exactly once, and signed (the ones the dead milter held were
   tempfailed and sent again).
2. milter_default_action = accept, kill -9, start again: every message is
   delivered exactly once; the unsigned ones are those Postfix could not
   hand to signet (in flight at the kill, or sent while it was down), and
   each of them left a trace: a milter warning in Postfix's log for its
   smtpd process.
3. SIGTERM under load (accept): signet-milter finishes the messages it has
   (signed), closes new connections until it exits, and is started again:
   every message delivered once; the unsigned ones each have their trace.
The counts are printed.
"""
import os
import re
import shutil
import smtplib
import subprocess
import sys
import threading
import time

from postfix_harness import PostfixInstance
from smtp_sink import SmtpSink
from testkit import Checks, SignetMilter, make_keys, scenario_args, signatures

SESSIONS = 8
PER_SESSION = 300  # 2 400 messages a scenario


class Load:
    """Eight senders; a message is retried until Postfix takes it (250)."""

    def __init__(self, pf, tag):
        self.pf, self.tag = pf, tag
        self.accepted = 0
        self.retries = 0
        self.lock = threading.Lock()
        self.errors = []

    def rcpt(self, t, i):
        return "%s-%d-%04d@example.org" % (self.tag, t, i)

    def message(self, t, i):
        return ("From: Load <load%d@example.com>\r\nTo: %s\r\nSubject: %s %d/%d\r\n"
                "Date: Tue, 01 Dec 2026 12:00:00 +0000\r\nMessage-ID: <%s-%d-%d@example.com>\r\n\r\n"
                % (t, self.rcpt(t, i), self.tag, t, i, self.tag, t, i)).encode() + b"Body line.\r\n" * 20

    def worker(self, t):
        i, session, deadline = 0, None, time.monotonic() + 240
        while i < PER_SESSION and time.monotonic() < deadline:
            try:
                if session is None:
                    session = smtplib.SMTP("127.0.0.1", self.pf.ports["tx"], local_hostname="c%d.test" % t, timeout=30)
                    session.ehlo()
                PostfixInstance.send_on(session, self.message(t, i), "load%d@example.com" % t, [self.rcpt(t, i)])
                i += 1
                with self.lock:
                    self.accepted += 1
                session.quit()
                session = None
            except (smtplib.SMTPException, OSError):
                with self.lock:
                    self.retries += 1
                try:
                    if session:
                        session.close()
                except Exception:
                    pass
                session = None
                time.sleep(0.1)
        if i < PER_SESSION:
            self.errors.append("session %d sent %d of %d" % (t, i, PER_SESSION))
        if session:
            try:
                session.quit()
            except Exception:
                pass

    def run(self, during):
        """Sends everything; calls during(self) from another thread meanwhile."""
        threads = [threading.Thread(target=self.worker, args=(t,)) for t in range(SESSIONS)]
        for th in threads:
            th.start()
        side = threading.Thread(target=during, args=(self,))
        side.start()
        for th in threads:
            th.join()
        side.join()


def scenario(args, c, name, action, disrupt):
    work = os.path.join(args.work, name)
    os.makedirs(work)
    os.chmod(work, 0o755)
    keys_dir = os.path.join(work, "keys")
    make_keys(args.signet, keys_dir, [("example.com", "crash-ed", "ed25519"), ("example.com", "crash-rsa", "rsa")])
    config = {"key-directory": keys_dir, "trusted-services": "tx-out", "dns-check": False, "shutdown-timeout": "20s",
              "stream.tx": {"domain": "example.com", "selector": ["crash-rsa", "crash-ed"]},
              "rule.all": {"stream": "tx"}}
    milter = SignetMilter(args.milter, work, config, name="milter")
    sink_dir = os.path.join(work, "sink")
    with SmtpSink(sink_dir) as sink, milter:
        pf = PostfixInstance(os.path.join(work, "postfix"), milter.socket, sink_port=sink.port, capture_dir=sink_dir,
                             extra_main={"milter_default_action": action})
        with pf:
            load = Load(pf, name)
            restarted = []
            load.run(lambda l: disrupt(l, milter, restarted))
            c.check(not load.errors, "%s: every message accepted by Postfix in the end (%d retries)" % (name, load.retries),
                    load.errors[:3])
            total = SESSIONS * PER_SESSION
            deadline = time.monotonic() + 120
            while len(pf.captured()) < total and time.monotonic() < deadline:
                subprocess.run(["/usr/sbin/postqueue", "-c", pf.config_dir, "-f"], capture_output=True)
                time.sleep(1)
            msgs = [m for _, m in pf.captured()]
            ids = [re.search(rb"^Message-ID: (.*?)\r$", m, re.M | re.I) for m in msgs]
            ids = [m.group(1) for m in ids if m]
            signed = [m for m in msgs if len(signatures(m)) == 2]
            unsigned = [m for m in msgs if not signatures(m)]
            print("%s: %d sent, %d delivered, %d distinct, %d signed, %d unsigned, %d SMTP retries, restarts %s" % (
                name, total, len(msgs), len(set(ids)), len(signed), len(unsigned), load.retries, restarted))
            c.check(len(msgs) == total and len(set(ids)) == total,
                    "%s: every message delivered exactly once (%d of %d, %d distinct)" % (
                        name, len(msgs), total, len(set(ids))))
            c.check(len(signed) + len(unsigned) == len(msgs), "%s: every message signed twice or not at all" % name)
            log = "\n".join(pf.log_lines())
            return signed, unsigned, log, restarted


def unsigned_traced(unsigned, log):
    """Each unsigned message left a trace: a milter warning ("connect to
    Milter service ...", "milter ...: can't read ...") logged near it by one
    of the processes that handled it (smtpd talks to the milter before DATA,
    cleanup for the headers and body)."""
    lines = log.splitlines()
    warn_at = {}  # pid -> line numbers of its milter warnings
    for n, line in enumerate(lines):
        m = re.search(r"/(?:smtpd|cleanup)\[(\d+)\]: warning: (?:connect to Milter service|milter )", line)
        if m:
            warn_at.setdefault(m.group(1), []).append(n)
    untraced = []
    for msg in unsigned:
        q = re.search(rb"with E?SMTP id ([0-9A-Za-z]+)", msg)
        qid = q.group(1).decode() if q else "?"
        near = False
        for n, line in enumerate(lines):
            m = re.search(r"/(?:smtpd|cleanup)\[(\d+)\]: %s:" % re.escape(qid), line)
            if m and any(abs(w - n) < 300 for w in warn_at.get(m.group(1), [])):
                near = True
                break
        if not near:
            untraced.append(qid)
    return untraced


def kill_and_restart(when):
    def disrupt(load, milter, restarted):
        while load.accepted < when:
            time.sleep(0.01)
        milter.kill()  # kill -9
        time.sleep(0.5)
        milter.start()
        restarted.append(load.accepted)
    return disrupt


def term_and_restart(when):
    def disrupt(load, milter, restarted):
        while load.accepted < when:
            time.sleep(0.01)
        milter.stop(timeout=60)  # SIGTERM, drains, exits
        restarted.append(("exit", milter.returncode))
        restarted.append(("drained", any("SIGTERM: no new connections" in l for l in milter.log_lines())))
        milter.start()
        restarted.append(load.accepted)
    return disrupt


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True)
    os.chmod(args.work, 0o755)
    c = Checks()
    total = SESSIONS * PER_SESSION

    signed, unsigned, log, _ = scenario(args, c, "tempfail-kill", "tempfail", kill_and_restart(total // 3))
    c.check(not unsigned and len(signed) == total,
            "tempfail, kill -9 mid-load: all %d delivered signed, none unsigned (%d unsigned)" % (total, len(unsigned)))

    signed, unsigned, log, _ = scenario(args, c, "accept-kill", "accept", kill_and_restart(total // 3))
    untraced = unsigned_traced(unsigned, log)
    c.check(len(signed) + len(unsigned) == total and not untraced,
            "accept, kill -9 mid-load: %d signed, %d unsigned, each unsigned one traced in Postfix's log" % (
                len(signed), len(unsigned)), untraced[:5])

    signed, unsigned, log, restarted = scenario(args, c, "accept-term", "accept", term_and_restart(total // 3))
    untraced = unsigned_traced(unsigned, log)
    c.check(("exit", 0) in restarted and ("drained", True) in restarted,
            "SIGTERM under load: signet-milter drained its connections and exited 0", restarted)
    c.check(len(signed) + len(unsigned) == total and not untraced,
            "SIGTERM under load: %d signed, %d handed back unsigned per policy, each traced" % (
                len(signed), len(unsigned)), untraced[:5])
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
