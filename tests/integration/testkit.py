"""Shared by the scenario scripts: RFC 3339 times, ok/FAIL lines with a
closing "N passed, M failed", and a dnsmasq on 127.0.0.1 serving TXT records."""
import os
import signal
import subprocess
import time


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


class Checks:
    def __init__(self):
        self.passed = self.failed = 0

    def check(self, ok, what, detail=""):
        print(("ok   " if ok else "FAIL ") + what + ("" if ok else "  " + str(detail)[:800]), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


class Dnsmasq:
    """dnsmasq on 127.0.0.1:port, authoritative-ish for example.com (unknown
    names are NXDOMAIN); serve() restarts it with a new set of records."""

    def __init__(self, work, port):
        self.work, self.port, self.proc = work, port, None

    def serve(self, records, extra_lines=()):
        """records: {name: value}; values longer than 255 bytes become several strings."""
        self.stop()
        lines = ["no-resolv", "no-hosts", "bind-interfaces", "listen-address=127.0.0.1", "port=%d" % self.port,
                 "local=/example.com/"]
        for name, v in records:
            parts = ",".join('"%s"' % v[i:i + 255] for i in range(0, max(len(v), 1), 255))
            lines.append("txt-record=%s,%s" % (name.rstrip("."), parts))
        lines += list(extra_lines)
        path = os.path.join(self.work, "dnsmasq.conf")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        self.proc = subprocess.Popen(["dnsmasq", "--no-daemon", "--conf-file=" + path,
                                      "--log-facility=" + os.path.join(self.work, "dnsmasq.log")])
        time.sleep(0.3)

    def stop(self):
        if self.proc:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait()
            self.proc = None
