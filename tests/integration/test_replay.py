#!/usr/bin/python3
"""`signet replay check` end to end, with an injected clock.

A week of signing through the real signet-milter on two hosts (two daemons,
one ledger each, the ledger filled by real signing while the test clock,
SIGNET_TEST_CLOCK_FILE, walks through the days); DMARC aggregate reports
written here as receivers send them (RFC 7489 appendix C XML) and imported
with `signet dmarc import`; then `signet replay check` over both ledgers for
each scenario, with exact findings and exit codes:
  (a) only our networks, counts that match: no finding
  (b) a burst from foreign IPs passing tx's selector: one replay finding, for
      tx only, whose command (`signet key rotate --stream tx --emergency`)
      is then run as printed
  (c) the retired selector passing after its retirement
  (d) a selector of our domain in no register row (and a domain we do not
      sign, which gives nothing)
  (e) failures clustered at one receiver
Then the retire gate (warn; refuse with --require-reports-clear, changing
nothing; allowed once the reports are clear; refused without a report store),
`signet register`'s last-passing column, `signet audit` with and without the
files, and the --html page read back by headless Chromium (no network: file://
only, every fetch refused) equal to --format json, and drawn (a screenshot
with the bars' colours).

usage: test_replay.py --milter PATH --signet PATH --work DIR
"""
import calendar
import glob
import html.parser
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from testkit import Checks, SignetCli, SignetMilter, iso, one_line, scenario_args  # noqa: E402

DAY = 86400
WEEK_START = calendar.timegm((2026, 11, 20, 0, 0, 0))
DAYS = [time.strftime("%Y-%m-%d", time.gmtime(WEEK_START + i * DAY)) for i in range(7)]
NOW = WEEK_START + 7 * DAY + 10 * 3600  # 2026-11-27T10:00:00Z: the morning after the week
# Messages signed per day, per stream and host: varied, so a count put on the
# wrong day or stream shows.
TX = {"mx1": [30 + 3 * i for i in range(7)], "mx2": [25 + 2 * i for i in range(7)]}
BULK = {"mx1": [20 + i for i in range(7)], "mx2": [10 + i for i in range(7)]}

CONFIG = {
    "sending-networks": "192.0.2.0/24",
    "stream.tx": {"domain": "example.com", "owner": "platform"},
    "stream.bulk": {"domain": "example.net", "owner": "marketing", "sending-networks": "198.51.100.0/24"},
    "rule.tx": {"from-domain": "example.com", "stream": "tx"},
    "rule.bulk": {"from-domain": "example.net", "stream": "bulk"},
}


# --------------------------------------------------------------------------
# DMARC aggregate reports as receivers send them (RFC 7489 appendix C)
# --------------------------------------------------------------------------

def report_xml(org, day, domain, rows, serial):
    """rows: (source_ip, count, [(d, s, result)]): one <record> each."""
    begin = calendar.timegm(time.strptime(day, "%Y-%m-%d"))
    records = []
    for ip, count, dkims in rows:
        auth = "".join("<dkim><domain>%s</domain><selector>%s</selector><result>%s</result></dkim>" % d for d in dkims)
        verdict = "pass" if any(r == "pass" for _, _, r in dkims) else "fail"
        records.append(
            "<record><row><source_ip>%s</source_ip><count>%d</count><policy_evaluated><disposition>none"
            "</disposition><dkim>%s</dkim><spf>fail</spf></policy_evaluated></row><identifiers><header_from>%s"
            "</header_from></identifiers><auth_results>%s<spf><domain>%s</domain><result>none</result></spf>"
            "</auth_results></record>" % (ip, count, verdict, domain, auth, domain))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<feedback><version>1.0</version><report_metadata>'
            "<org_name>%s</org_name><email>dmarc@%s</email><report_id>%s-%s-%s-%d</report_id><date_range>"
            "<begin>%d</begin><end>%d</end></date_range></report_metadata><policy_published><domain>%s</domain>"
            "<adkim>r</adkim><aspf>r</aspf><p>none</p><sp>none</sp><pct>100</pct></policy_published>%s</feedback>\n"
            % (org, org, org, domain, day, serial, begin, begin + DAY - 1, domain, "".join(records)))


class Reports:
    """Report rows by (org, day, domain), written as one XML file each."""

    def __init__(self):
        self.rows = {}

    def add(self, org, day, domain, ip, count, selector, result="pass", d=None):
        self.rows.setdefault((org, day, domain), []).append((ip, count, [(d or domain, selector, result)]))

    def copy(self):
        r = Reports()
        r.rows = {k: list(v) for k, v in self.rows.items()}
        return r

    def write(self, folder):
        os.makedirs(folder)
        for i, ((org, day, domain), rows) in enumerate(sorted(self.rows.items())):
            with open(os.path.join(folder, "%02d-%s-%s-%s.xml" % (i, org, day, domain)), "w") as f:
                f.write(report_xml(org, day, domain, rows, i))
        return sorted(glob.glob(os.path.join(folder, "*.xml")))


# --------------------------------------------------------------------------
# The page, as headless Chromium renders it
# --------------------------------------------------------------------------

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--no-default-browser-check",
    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
    "--disable-extensions", "--disable-domain-reliability", "--metrics-recording-only", "--no-pings",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
    # Nothing leaves the machine: every name resolves to nothing and every
    # fetch would go to a proxy that is not there.
    "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=http://127.0.0.1:9", "--hide-scrollbars",
]


def no_network():
    """The prefix that runs a command in a network namespace of its own (no
    interface but a down loopback), when this user may make one."""
    if shutil.which("unshare") and subprocess.run(["unshare", "--net", "true"], capture_output=True).returncode == 0:
        return ["unshare", "--net"]
    return []


def chromium(work, url, *extra):
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
    p = subprocess.run(no_network() + ["chromium"] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile] + list(extra) + [url],
                       capture_output=True, text=True, timeout=120, env=dict(os.environ, HOME=profile))
    return p


class PageReader(html.parser.HTMLParser):
    """The bars (<rect data-series>), the table cells (<td data-series>) and
    the findings (<li data-kind>) of the dumped DOM."""

    def __init__(self):
        super().__init__()
        self.rects, self.cells, self.findings, self.sections = [], {}, [], []
        self.row_day = None
        self.cell = None
        self.text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "data-selector" in a:
            self.sections.append((a["data-domain"], a["data-selector"]))
        if tag == "rect" and "data-series" in a:
            self.rects.append(a)
        if tag == "tr" and "data-day" in a:
            self.row_day = a["data-day"]
        if tag == "td" and "data-series" in a:
            self.cell = (self.sections[-1], self.row_day, a["data-series"])
            self.text = ""
        if tag == "li" and "data-kind" in a:
            self.findings.append(a)

    def handle_data(self, data):
        if self.cell:
            self.text += data

    def handle_endtag(self, tag):
        if tag == "td" and self.cell:
            self.cells[self.cell] = self.text.strip()
            self.cell = None


def png_pixels(path):
    """(width, height, rows of (r, g, b)) of an 8-bit RGB or RGBA PNG (what
    Chromium writes), filters undone; no imaging library needed."""
    data = open(path, "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width = 8, b"", 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and colour in (2, 6), (depth, colour)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append([tuple(line[x * bpp:x * bpp + 3]) for x in range(width)])
        prev = line
    return width, height, rows


# --------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------

class Run(Checks):
    def __init__(self, a):
        super().__init__()
        self.a, self.work = a, a.work
        self.cli = SignetCli(a.signet, a.work, CONFIG)
        self.ledgers = [os.path.join(a.work, h + ".ledger.sqlite") for h in ("mx1", "mx2")]

    def signet(self, args, now=NOW):
        if args[:2] == ["key", "rotate"]:
            args = args + ["--force"]  # no DNS here: test_dns_check.py covers the visibility gate
        return self.cli(args, now)

    def register(self, now=NOW, extra=()):
        rc, out, err = self.signet(["register", "--format", "json"] + list(extra), now)
        return {r["selector"]: r for r in json.loads(out)} if rc == 0 else {"error": err}

    def replay(self, store, *extra, ledgers=None, now=NOW):
        args = ["replay", "check", "--reports", store]
        for l in ledgers or self.ledgers:
            args += ["--ledger", l]
        return self.signet(args + list(extra), now)

    def replay_json(self, store, *extra, **kw):
        rc, out, err = self.replay(store, "--format", "json", *extra, **kw)
        try:
            return rc, json.loads(out), err
        except ValueError:
            return rc, None, err or out

    # -- the key set: tx with a retired key, an active one and a standby; bulk active
    def keys(self):
        t = WEEK_START - 60 * DAY
        for stream in ("tx", "bulk"):
            rc, out, err = self.signet(["key", "new", "--stream", stream], t)
            self.check(rc == 0, "key new --stream %s" % stream, err)
            rc, out, err = self.signet(["key", "rotate", "--stream", stream], t + 2 * 3600)
            self.check(rc == 0, "the first rotation of %s activates its key" % stream, err)
        rc, out, err = self.signet(["key", "rotate", "--stream", "tx"], t + 20 * DAY)
        self.check(rc == 0, "tx rotates to its standby", err)
        rc, out, err = self.signet(["key", "retire"], t + 40 * DAY)
        self.check(rc == 0 and "retired" in out, "the drained tx key retires", out + err)
        reg = self.register(WEEK_START)
        by_state = {}
        for sel, row in reg.items():
            by_state.setdefault((row["stream"], row["state"]), []).append(sel)
        self.check(sorted(by_state) == [("bulk", "active"), ("bulk", "standby"), ("tx", "active"), ("tx", "retired"),
                                        ("tx", "standby")], "the key set: tx retired/active/standby, bulk active/standby",
                   reg)
        self.tx = by_state[("tx", "active")][0]
        self.tx_old = by_state[("tx", "retired")][0]
        self.tx_standby = by_state[("tx", "standby")][0]
        self.bulk = by_state[("bulk", "active")][0]
        self.note("tx signs with %s, retired %s; bulk signs with %s" % (self.tx, self.tx_old, self.bulk))

    # -- a week of signing, two hosts, the test clock
    def sign_week(self):
        clock = os.path.join(self.work, "clock")
        with open(clock, "w") as f:
            f.write("%d\n" % (WEEK_START + 3600))
        milters = {}
        for host, ledger in zip(("mx1", "mx2"), self.ledgers):
            milters[host] = SignetMilter(self.a.milter, self.work, dict(CONFIG, **{
                "key-directory": self.cli.keys, "internal-hosts": "127.0.0.1/32", "dns-check": False,
                "ledger-file": ledger, "ledger-flush-interval": "1s"}), name=host,
                env={"SIGNET_TEST_CLOCK_FILE": clock})
        signed = unsigned = 0
        try:
            for m in milters.values():
                m.start()
            for i, day in enumerate(DAYS):
                with open(clock + ".new", "w") as f:
                    f.write("%d\n" % (WEEK_START + i * DAY + 12 * 3600))
                os.replace(clock + ".new", clock)
                time.sleep(0.05)
                for host, m in milters.items():
                    for stream, counts, sender in (("tx", TX, b" a@example.com"), ("bulk", BULK, b" b@example.net")):
                        for n in range(counts[host][i]):
                            final, mods = m.send_one("%s%s%d%d" % (host, stream, i, n), b"day %d\r\n" % i,
                                                     headers=((b"From", sender), (b"Subject", b" hello")))
                            if any(b"DKIM-Signature" in data for _, data in mods):
                                signed += 1
                            else:
                                unsigned += 1
        finally:
            codes = [m.stop(timeout=30) for m in milters.values()]
        total = sum(sum(c[h]) for c in (TX, BULK) for h in ("mx1", "mx2"))
        self.check(signed == total and unsigned == 0, "a week of mail through two signet-milters: every message signed",
                   "%d signed, %d not, of %d" % (signed, unsigned, total))
        self.check(codes == [0, 0], "both daemons stop cleanly (the ledger flushed)", codes)
        self.check(all(os.path.exists(l) for l in self.ledgers), "each host wrote its ledger", self.ledgers)
        log = milters["mx1"].log()
        self.check("clock" in log.lower(), "the daemon says loudly that the test clock is on", one_line(log))

    # -- the reports of a normal week: receivers see most of our mail pass, from our networks
    def base_reports(self):
        r = Reports()
        for i, day in enumerate(DAYS):
            tx = TX["mx1"][i] + TX["mx2"][i]
            bulk = BULK["mx1"][i] + BULK["mx2"][i]
            r.add("google.com", day, "example.com", "192.0.2.10", tx * 6 // 10, self.tx)
            r.add("yahoo.com", day, "example.com", "192.0.2.11", tx * 3 // 10, self.tx)
            r.add("google.com", day, "example.net", "198.51.100.5", bulk * 8 // 10, self.bulk)
        return r

    def store(self, name, reports):
        files = reports.write(os.path.join(self.work, "reports", name))
        path = os.path.join(self.work, name + ".reports.sqlite")
        p = subprocess.run([self.a.signet, "dmarc", "import", "--reports", path, "--config", self.cli.conf] + files,
                           capture_output=True, text=True)
        self.check(p.returncode == 0 and p.stdout.count("imported") == len(files),
                   "scenario %s: %d reports imported" % (name, len(files)), one_line(p.stdout + p.stderr))
        return path

    def expect_findings(self, name, got, want, rc, want_rc):
        """want: [(kind, severity, stream, selector, volume)]."""
        have = [(f["kind"], f["severity"], f["stream"], f["selector"], f["volume"]) for f in got["findings"]] if got else got
        self.check(have == want, "scenario %s: exactly the findings %s" % (name, want), have)
        self.check(rc == want_rc, "scenario %s: exit %d" % (name, want_rc), rc)


def main():
    a = scenario_args(__doc__, milter=True)
    r = Run(a)
    conf = r.cli.conf
    r.keys()
    r.sign_week()

    # (a) our networks only, matching counts.
    base = r.base_reports()
    store_a = r.store("a", base)
    rc, got, err = r.replay_json(store_a)
    r.expect_findings("a", got, [], rc, 0)
    if got:
        days = {(s["selector"], d["day"]): d for s in got["selectors"] for d in s["days"]}
        want = {(r.tx, day): TX["mx1"][i] + TX["mx2"][i] for i, day in enumerate(DAYS)}
        want.update({(r.bulk, day): BULK["mx1"][i] + BULK["mx2"][i] for i, day in enumerate(DAYS)})
        r.check({k: v["signed"] for k, v in days.items()} == want,
                "the ledgers (both hosts, filled by real signing) count what was signed, per selector and day",
                {k: v["signed"] for k, v in days.items()})
        r.check(all(days[(r.tx, d)]["passed"] == (want[(r.tx, d)] * 6 // 10 + want[(r.tx, d)] * 3 // 10) for d in DAYS),
                "receivers' passes are the reports' counts", days)
    rc, one, err = r.replay_json(store_a, ledgers=r.ledgers[:1])
    if one:
        mx1 = {(s["selector"], d["day"]): d["signed"] for s in one["selectors"] for d in s["days"]}
        r.check(mx1[(r.tx, DAYS[3])] == TX["mx1"][3], "with one host's ledger only its signatures count", mx1)
    rc, out, err = r.replay(store_a)
    r.check(rc == 0 and "no findings" in out and r.tx in out, "the table says so", one_line(out + err))

    # (b) a burst from foreign IPs on 2026-11-24.
    b = base.copy()
    b.add("mail.ru", DAYS[4], "example.com", "203.0.113.50", 2500, r.tx)
    b.add("google.com", DAYS[4], "example.com", "203.0.113.51", 400, r.tx)
    store_b = r.store("b", b)
    page = os.path.join(a.work, "replay.html")
    rc, got_b, err = r.replay_json(store_b, "--html", page)
    r.expect_findings("b", got_b, [("replay", "error", "tx", r.tx, 2900)], rc, 1)
    rotate = None
    if got_b and got_b["findings"]:
        f = got_b["findings"][0]
        rotate = f["command"]
        r.check(rotate == "signet key rotate --stream tx --emergency --config " + conf,
                "the finding names stream tx only, with the exact emergency rotation", rotate)
        r.check([(s["ip"], s["count"], s["orgs"]) for s in f["sources"]] ==
                [("203.0.113.50", 2500, ["mail.ru"]), ("203.0.113.51", 400, ["google.com"])],
                "the finding lists the foreign IPs, their counts and the reporting orgs", f["sources"])
        r.check([d["day"] for d in f["days"]] == [DAYS[4]] and f["signals"] == ["foreign-sources", "excess"],
                "on the burst's day, from outside sending-networks and over the ledgers' count", f)
    rc, out, err = r.replay(store_b, "--fail-on", "error")
    r.check(rc == 1 and ("`signet key rotate --stream tx --emergency --config %s`" % conf) in out,
            "the table prints the command", one_line(out))

    # (c) the retired selector passes after its retirement day.
    c = base.copy()
    c.add("google.com", DAYS[2], "example.com", "192.0.2.10", 4, r.tx_old)
    store_c = r.store("c", c)
    rc, got, err = r.replay_json(store_c)
    r.expect_findings("c", got, [("retired-passing", "error", "tx", r.tx_old, 4)], rc, 1)

    # (d) a selector of our domain that no register row holds; a domain we do not sign.
    d = base.copy()
    d.add("google.com", DAYS[3], "example.com", "203.0.113.60", 7, "rogue2026")
    d.add("google.com", DAYS[3], "other.example", "203.0.113.61", 9000, "sel")
    store_d = r.store("d", d)
    rc, got, err = r.replay_json(store_d)
    r.expect_findings("d", got, [("unregistered-selector", "error", "", "rogue2026", 7)], rc, 1)
    if got:
        r.check(all(s["domain"] != "other.example" for s in got["selectors"]),
                "reports for a domain we do not sign count nowhere", got["selectors"])

    # (e) failures at one receiver, from our own network.
    e = base.copy()
    e.add("outlook.com", DAYS[5], "example.com", "192.0.2.10", 20, r.tx)
    e.add("outlook.com", DAYS[5], "example.com", "192.0.2.10", 55, r.tx, "fail")
    e.add("gmx.net", DAYS[5], "example.com", "203.0.113.70", 300, r.tx, "fail")  # a forwarder changing mail
    store_e = r.store("e", e)
    rc, got, err = r.replay_json(store_e)
    r.expect_findings("e", got, [("signature-failures", "warning", "tx", "", 55)], rc, 0)
    if got and got["findings"]:
        r.check(got["findings"][0]["orgs"] == [{"org": "outlook.com", "failed": 55, "total": 75}],
                "the failing receiver is named, the forwarder is not", got["findings"][0]["orgs"])
    rc, out, err = r.replay(store_e, "--fail-on", "warning")
    r.check(rc == 1, "--fail-on warning: exit 1 on it", rc)

    # Bad input: exit 2, one line.
    rc, out, err = r.replay(os.path.join(a.work, "missing.sqlite"))
    r.check(rc == 2 and len(err.strip().splitlines()) == 1 and "missing.sqlite" in err,
            "a report store that is not there: exit 2 naming it", err)
    rc, out, err = r.replay(store_a, "--ledger", store_a)
    r.check(rc == 2 and "not a signet ledger" in err and store_a in err, "a report store given as a ledger: exit 2 naming it",
            err)
    rc, out, err = r.replay(store_a, "--since", "soon")
    r.check(rc == 2 and "--since soon" in err, "a bad --since: exit 2", err)

    # The page in headless Chromium: what it shows is what --format json says.
    check_page(r, page, got_b)

    # audit: the replay findings when the files are there, and fine without them.
    rc, out, err = r.signet(["audit", "--no-dns", "--reports", store_b] + sum((["--ledger", l] for l in r.ledgers), []))
    r.check(rc == 1 and ("error    tx %s: possible replay" % r.tx) in out, "audit includes the replay finding",
            one_line(out + err))
    rc, out, err = r.signet(["audit", "--no-dns"])
    r.check(rc == 0 and "possible replay" not in out, "audit without a ledger or report store works as before",
            one_line(out + err))

    # register: the last day reports show each selector passing.
    reg = r.register(extra=["--reports", store_c])
    r.check(reg.get(r.tx, {}).get("last-passing") == DAYS[6] and reg.get(r.tx_old, {}).get("last-passing") == DAYS[2]
            and reg.get(r.tx_standby, {}).get("last-passing") == "",
            "register shows the last day each selector was seen passing", reg)

    retire_gate(r, store_a, rotate)
    return r.finish()


def check_page(r, page, got):
    if not got or not os.path.exists(page):
        r.fail("the page was written", page)
        return
    text = open(page).read()
    r.check("<script" not in text and "src=" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", ""),
            "the page is self-contained: no script, nothing to fetch")
    r.note("Chromium runs %s" % ("in a network namespace of its own" if no_network() else "with every fetch refused by flags"))
    p = chromium(r.work, "file://" + page, "--dump-dom")
    r.check(p.returncode == 0 and "</html>" in p.stdout, "headless Chromium renders the page", one_line(p.stderr)[-400:])
    dom = PageReader()
    dom.feed(p.stdout)
    rows = [(s["domain"], s["selector"], d) for s in got["selectors"] for d in s["days"]]
    r.check(len(dom.rects) == 2 * len(rows) and len(rows) == 14,
            "one signed and one passed bar per selector and day (%d bars)" % (2 * len(rows)), len(dom.rects))
    bars = {(x["data-domain"], x["data-selector"], x["data-day"], x["data-series"]): int(x["data-count"]) for x in dom.rects}
    want_bars = {}
    for domain, sel, d in rows:
        want_bars[(domain, sel, d["day"], "signed")] = d["signed"]
        want_bars[(domain, sel, d["day"], "passed")] = d["passed"]
    r.check(bars == want_bars, "every bar carries the JSON's number", set(bars.items()) ^ set(want_bars.items()))
    cells = {k: int(v) for k, v in dom.cells.items()}
    want_cells = {((domain, sel), d["day"], k): d[k] for domain, sel, d in rows
                  for k in ("signed", "passed", "passed_foreign", "failed")}
    r.check(cells == want_cells, "the numbers printed on the page are the JSON's", set(cells.items()) ^ set(want_cells.items()))
    r.check([(f["data-kind"], f["data-severity"], f["data-stream"], f["data-selector"], int(f["data-volume"]))
             for f in dom.findings] ==
            [(f["kind"], f["severity"], f["stream"], f["selector"], f["volume"]) for f in got["findings"]],
            "the page lists the JSON's findings", dom.findings)
    shot = os.path.join(r.work, "replay.png")
    p = chromium(r.work, "file://" + page, "--screenshot=" + shot, "--window-size=1000,1400")
    if not r.check(p.returncode == 0 and os.path.exists(shot), "Chromium takes a screenshot", one_line(p.stderr)[-400:]):
        return
    w, h, px = png_pixels(shot)
    colours = {}
    for row in px:
        for c in row:
            colours[c] = colours.get(c, 0) + 1
    signed, passed = colours.get((0x3b, 0x6e, 0xa5), 0), colours.get((0xe0, 0x8a, 0x1e), 0)
    r.note("screenshot %dx%d: %d signed-blue and %d passed-orange pixels" % (w, h, signed, passed))
    r.check(signed > 500 and passed > 500, "the bars are drawn, in both colours", (signed, passed))


def retire_gate(r, store_a, rotate):
    """The replayed key, after the emergency rotation the finding printed."""
    keys = r.cli.keys
    manifest = lambda d=keys: open(os.path.join(d, "manifest")).read()  # noqa: E731
    if not rotate:
        r.fail("the retire gate: no rotate command to start from")
        return
    p = subprocess.run([r.cli.signet] + rotate.split()[1:] + ["--now", iso(NOW), "--force"], capture_output=True, text=True)
    r.check(p.returncode == 0 and r.tx_standby in p.stdout, "the printed command rotates tx to its standby", p.stdout + p.stderr)
    later = NOW + 3600
    reg = r.register(later)
    r.check(reg.get(r.tx, {}).get("state") == "draining" and reg.get(r.tx_standby, {}).get("state") == "active",
            "the replayed key drains, the standby signs", {k: v.get("state") for k, v in reg.items()})

    before = manifest()
    rc, out, err = r.signet(["key", "retire", "--selector", r.tx, "--reports", store_a, "--require-reports-clear"], later)
    r.check(rc == 2 and "still passes DKIM" in err and DAYS[6] in err, "--require-reports-clear refuses while reports show it passing",
            err)
    r.check(manifest() == before, "and changes nothing")

    copy, copy2 = os.path.join(r.work, "keys-copy"), os.path.join(r.work, "keys-copy2")
    shutil.copytree(keys, copy)
    shutil.copytree(keys, copy2)
    rc, out, err = r.signet(["key", "retire", "--selector", r.tx, "--reports", store_a, "--dir", copy], later)
    r.check(rc == 0 and "warning:" in err and "still passes DKIM" in err and "retired" in out,
            "without it, retire warns and retires", one_line(out + err))

    rc, out, err = r.signet(["key", "retire", "--selector", r.tx, "--require-reports-clear"], later)
    r.check(rc == 2 and "no DMARC report store" in err, "--require-reports-clear without a report store refuses", err)
    r.check(manifest() == before, "and changes nothing")

    clear = WEEK_START + 14 * DAY + 12 * 3600  # reports-days 7: the last pass (2026-11-26) is out of the window

    # key rotate retires the stream's drained keys through the same gate: with
    # --require-reports-clear a key still passing is kept, the rotation goes on.
    gate = ["--reports", store_a, "--reports-days", "30", "--dir", copy2]
    rc, out, err = r.signet(["key", "rotate", "--stream", "tx"] + gate + ["--require-reports-clear"], clear)
    kept = r.register(clear, ["--dir", copy2]).get(r.tx, {}).get("state")
    r.check(rc == 0 and "kept, not retired" in err and kept == "retire-due",
            "rotate keeps a drained key the reports still show passing, and rotates", (rc, kept, one_line(out + err)))
    rc, out, err = r.signet(["key", "rotate", "--stream", "tx"] + gate, clear + 3 * DAY)
    gone = r.register(clear + 3 * DAY, ["--dir", copy2]).get(r.tx, {}).get("state")
    r.check(rc == 0 and "still passes DKIM" in err and gone == "retired",
            "without the flag it warns and retires it", (rc, gone, one_line(out + err)))

    rc, out, err = r.signet(["key", "retire", "--selector", r.tx, "--reports", store_a, "--require-reports-clear"], clear)
    r.check(rc == 0 and "retired" in out and "warning" not in err, "once the reports are clear it retires", one_line(out + err))
    r.check(r.register(clear).get(r.tx, {}).get("state") == "retired", "the key is retired")


if __name__ == "__main__":
    sys.exit(main())
