#!/usr/bin/python3
"""signet-milter's metrics, scraped by a real Prometheus during a real Postfix run.

usage: test_metrics_prometheus.py --milter build/milter/signet-milter --signet build/tools/signet --work DIR

A private Prometheus (/usr/bin/prometheus, Debian's package: its own config,
--storage.tsdb.path in DIR, --web.listen-address on a free 127.0.0.1 port,
scrape interval 1s) scrapes signet-milter's metrics-listen on 127.0.0.1
while mail goes through a private Postfix (postfix_harness.py) to a capture
sink:
  - stream tx (d=example.com, rsa-2048 + ed25519: every message signed twice)
    for mail of example.com on the tx-out service,
  - stream other (d=other.example, rsa-2048) for mail of other.example there,
  - untrusted mail on the inbound service (not signed),
  - trusted mail of a domain no rule names (no stream: not signed);
and a thread scrapes /metrics 20 times a second throughout (a scrape never
holds up signing). Then, through Prometheus's HTTP API (/api/v1/query):
signet_signatures_total per selector equals the messages sent with it,
signet_messages_total is exact for signed, untrusted and no-stream, the
latency histogram counted every signed message; `promtool check metrics`
finds nothing in a scraped body. Prints the measured figures. Needs root
(Postfix); loopback only.
"""
import json
import os
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

from postfix_harness import PostfixInstance
from smtp_sink import SmtpSink
from testkit import Checks, MilterError, SignetMilter, free_port, make_keys, one_line, scenario_args, signatures

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
N_TX, N_OTHER, N_UNTRUSTED, N_NO_STREAM = 40, 15, 7, 5
SELECTORS = {"tx-rsa": N_TX, "tx-ed": N_TX, "other-rsa": N_OTHER}


def message(from_addr, n):
    return ("From: <%s>\r\nTo: <bob@example.org>\r\nSubject: metrics %d\r\nDate: Tue, 01 Dec 2026 10:00:00 +0000\r\n"
            "Message-ID: <m%d.%d@client.test>\r\n\r\nmessage %d\r\n" % (from_addr, n, n, os.getpid(), n)).encode()


class Prometheus:
    """Prometheus on 127.0.0.1:port scraping one target every second."""

    def __init__(self, work, target):
        self.work = os.path.join(work, "prometheus")
        os.makedirs(self.work)
        self.port = free_port()
        self.conf = os.path.join(self.work, "prometheus.yml")
        with open(self.conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 900ms\n  evaluation_interval: 1s\n"
                    "scrape_configs:\n  - job_name: signet\n    static_configs:\n      - targets: ['%s']\n" % target)
        self.proc = None

    def start(self, timeout=60):
        self.log = open(os.path.join(self.work, "prometheus.log"), "wb")
        self.proc = subprocess.Popen([PROMETHEUS, "--config.file=" + self.conf,
                                      "--storage.tsdb.path=" + os.path.join(self.work, "tsdb"),
                                      "--web.listen-address=127.0.0.1:%d" % self.port, "--log.level=warn"],
                                     stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen("http://127.0.0.1:%d/-/ready" % self.port, timeout=2) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            if self.proc.poll() is not None:
                return False
            time.sleep(0.2)
        return False

    def query(self, expr):
        """[(labels, value)] of an instant query."""
        url = "http://127.0.0.1:%d/api/v1/query?%s" % (self.port, urllib.parse.urlencode({"query": expr}))
        with urllib.request.urlopen(url, timeout=10) as r:
            data = json.load(r)
        if data.get("status") != "success":
            raise RuntimeError("query %s: %s" % (expr, data))
        return [(s["metric"], float(s["value"][1])) for s in data["data"]["result"]]

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def scrape(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
        return r.headers.get("Content-Type", ""), r.read()


def main():
    args = scenario_args(__doc__, milter=True)
    c = Checks()
    work = os.path.abspath(args.work)
    os.chmod(work, 0o755)
    if not c.check(os.access(PROMETHEUS, os.X_OK) and os.access(PROMTOOL, os.X_OK), "prometheus and promtool installed",
                   "apt-get install prometheus (scripts/install-deps)"):
        return c.finish()
    keys = os.path.join(work, "keys")
    make_keys(args.signet, keys, [("example.com", "tx-rsa", "rsa"), ("example.com", "tx-ed", "ed25519"),
                                  ("other.example", "other-rsa", "rsa")])
    metrics_port = free_port()
    milter = SignetMilter(args.milter, work, {
        "key-directory": keys,
        "trusted-services": "tx-out",
        "metrics-listen": "127.0.0.1:%d" % metrics_port,
        "stream.tx": {"domain": "example.com", "selector": ["tx-rsa", "tx-ed"]},
        "stream.other": {"domain": "other.example", "selector": "other-rsa"},
        "rule.other": {"from-domain": "other.example", "stream": "other"},
        "rule.tx": {"from-domain": "example.com", "stream": "tx"},
    })
    prom = Prometheus(work, "127.0.0.1:%d" % metrics_port)
    sink = pf = None
    try:
        try:
            milter.start()
        except MilterError as e:
            c.fail("signet-milter starts with metrics-listen", str(e))
            return c.finish()
        c.ok("signet-milter serves metrics on 127.0.0.1:%d" % metrics_port)
        ctype, body = scrape(metrics_port)
        c.check(ctype.startswith("text/plain; version=0.0.4"), "the endpoint answers in the text format 0.0.4", ctype)
        if not c.check(prom.start(), "Prometheus starts on 127.0.0.1:%d" % prom.port, one_line(open(prom.log.name).read())):
            return c.finish()
        sink = SmtpSink(os.path.join(work, "capture")).start()
        pf = PostfixInstance(os.path.join(work, "postfix"), milter.socket, sink_port=sink.port,
                             capture_dir=sink.out_dir)
        pf.start()
        c.ok("Postfix instance starts (inbound %d, tx %d)" % (pf.ports["inbound"], pf.ports["tx"]))

        # Scrapes at 20 per second while the mail goes through: they must never hold signing up.
        scraping, scrapes, scrape_errors = [True], [0], []

        def scraper():
            while scraping[0]:
                try:
                    scrape(metrics_port)
                    scrapes[0] += 1
                except OSError as e:
                    scrape_errors.append(repr(e))
                time.sleep(0.05)
        t = threading.Thread(target=scraper, daemon=True)
        t.start()
        t0 = time.monotonic()
        sent = []
        plan = ([("tx", "a@example.com")] * N_TX + [("tx", "b@other.example")] * N_OTHER +
                [("inbound", "x@example.net")] * N_UNTRUSTED + [("tx", "c@nowhere.example")] * N_NO_STREAM)
        for n, (service, sender) in enumerate(plan):
            pf.send(service, message(sender, n), sender, ["r%d@example.org" % n])
            sent.append(n)
        msgs = pf.wait_for(len(plan), timeout=120)
        took = time.monotonic() - t0
        scraping[0] = False
        t.join()
        c.check(len(msgs) == len(plan), "all %d messages delivered through Postfix in %.1fs" % (len(plan), took))
        c.check(not scrape_errors and scrapes[0] > 0,
                "%d scrapes during the run, none failed" % scrapes[0], "; ".join(scrape_errors[:3]))
        by_selector = {}
        for m in msgs:
            for s in signatures(m):
                by_selector[s.get("s")] = by_selector.get(s.get("s"), 0) + 1
        c.check(by_selector == SELECTORS, "the sink got the signatures planned: %s" % by_selector, SELECTORS)

        # Prometheus catches up within a few scrapes of the last message. Wait
        # for the outcomes too: the last messages sent are the unsigned
        # no-stream ones, so the signature counts can be complete a scrape
        # before they are.
        want = {("selector", s): float(n) for s, n in SELECTORS.items()}
        want_outcomes = {("signed", "none"): N_TX + N_OTHER, ("skipped", "untrusted"): N_UNTRUSTED,
                         ("skipped", "no_stream"): N_NO_STREAM}
        got = {}
        end = time.monotonic() + 30
        while time.monotonic() < end:
            got = {("selector", m["selector"]): v for m, v in prom.query("signet_signatures_total")}
            seen = {(m["outcome"], m["reason"]): v for m, v in prom.query("signet_messages_total")}
            if got == want and all(seen.get(k) == n for k, n in want_outcomes.items()):
                break
            time.sleep(0.5)
        c.check(got == want, "Prometheus: signet_signatures_total per selector = messages sent with it: %s" %
                {k[1]: int(v) for k, v in got.items()}, "want %s" % want)
        rows = prom.query("signet_signatures_total")
        c.check(all(m.get("stream") and m.get("domain") and m.get("algorithm") for m, _ in rows),
                "every signature series has stream, domain, selector and algorithm labels", rows)
        both = {m["algorithm"] for m, _ in rows if m.get("stream") == "tx"}
        c.check(both == {"rsa-sha256", "ed25519-sha256"}, "the dual stream tx has an rsa and an ed25519 series", both)
        outcomes = {(m["outcome"], m["reason"]): v for m, v in prom.query("signet_messages_total")}
        for key, n in ((("signed", "none"), N_TX + N_OTHER), (("skipped", "untrusted"), N_UNTRUSTED),
                       (("skipped", "no_stream"), N_NO_STREAM), (("unsigned", "signing_failed"), 0)):
            c.check(outcomes.get(key) == n, "Prometheus: signet_messages_total{outcome=%s,reason=%s} = %d" % (key + (n,)),
                    outcomes.get(key))
        hist = prom.query("signet_signing_duration_seconds_count")
        c.check(hist and hist[0][1] == N_TX + N_OTHER, "the latency histogram counted every signed message",
                hist)
        p99 = prom.query("histogram_quantile(0.99, signet_signing_duration_seconds_bucket)")
        if p99:
            c.note("signing p99 (histogram) %.4f s" % p99[0][1])
        up = prom.query('up{job="signet"}')
        c.check(up and up[0][1] == 1, "Prometheus sees the target up", up)

        _, body = scrape(metrics_port)
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, capture_output=True)
        c.check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
                "promtool check metrics: clean (%d bytes, %d series)" % (len(body), sum(
                    1 for l in body.splitlines() if l and not l.startswith(b"#"))),
                one_line(p.stdout + p.stderr))
        c.note("measured: %d messages (%s), %d scrapes by the test, outcomes %s" % (
            len(plan), by_selector, scrapes[0], {"%s/%s" % k: int(v) for k, v in outcomes.items() if v}))
    finally:
        if pf is not None:
            pf.stop()
        if sink is not None:
            sink.stop()
        prom.stop()
        rc = milter.stop()
        c.check(rc == 0, "signet-milter exits 0 on SIGTERM", milter.log_tail())
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
