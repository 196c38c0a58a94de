"""The one library of the scenario scripts (tests/integration/*.py, bench/*.py,
scripts/demo.py; the last two put this directory on sys.path).

  Checks          the tally: one "ok   what" / "FAIL what  detail" /
                  "skip what  why" line per check, "#      " notes, and the
                  closing "N passed, M failed"
  scenario_args, executable
                  the command line every scenario takes, a fresh work dir
  iso, one_line   RFC 3339 times; text squeezed onto one line
  free_port, listening_ports, unix_listening, wait_listening
                  loopback ports, seen from /proc without connecting
  keygen, make_keys, write_keys_file, keygen_output_to_record,
  record_to_keys_line, load_keys_file, make_dnsfunc
                  `signet keygen` and the keys file `signet verify --keys`
                  (and milter_load --keys) read
  split_header_fields, field_name, header_fields, dkim_tags, signatures,
  describe, dkimpy_results, signet_verify, verify_passed
                  header fields, DKIM-Signature tags and the two verifiers
  SignetCli       `signet` on a key directory and config, with --now
  SignetMilter    signet-milter from a config dict: start, stop, reload, log
                  (StartStop: `with` for it and postfix_harness.PostfixInstance)
  Dnsmasq         dnsmasq on 127.0.0.1 serving TXT records

Only the standard library; dkimpy (python3-dkim) is imported by
dkimpy_results() alone.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

from milter_client import MilterClient, send_one


# --------------------------------------------------------------------------
# The tally
# --------------------------------------------------------------------------

class Checks:
    """Counts checks and prints one line each; finish() prints the closing
    "N passed, M failed" and returns the exit status."""

    DETAIL_LIMIT = 2000

    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def ok(self, what):
        self.passed += 1
        print("ok   " + what, flush=True)

    def fail(self, what, detail=""):
        self.failed += 1
        print("FAIL " + what + "  " + str(detail)[:self.DETAIL_LIMIT], flush=True)

    def skip(self, what, why=""):
        self.skipped += 1
        print("skip " + what + "  " + str(why), flush=True)

    def check(self, cond, what, detail=""):
        """ok or FAIL by cond; returns whether it passed."""
        if cond:
            self.ok(what)
        else:
            self.fail(what, detail)
        return bool(cond)

    @staticmethod
    def note(text):
        print("#      %s" % text, flush=True)

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)

    def finish(self):
        self.summary()
        return 1 if self.failed else 0


def scenario_args(doc=None, milter=False, extra=None, fresh=True):
    """--signet PATH --work DIR (and --milter PATH; extra(parser) adds more);
    with fresh the work directory is made anew."""
    ap = argparse.ArgumentParser(description=doc)
    if milter:
        ap.add_argument("--milter", required=True)
    ap.add_argument("--signet", required=True)
    ap.add_argument("--work", required=True)
    if extra:
        extra(ap)
    args = ap.parse_args()
    if fresh:
        shutil.rmtree(args.work, ignore_errors=True)
        os.makedirs(args.work)
    return args


def executable(path):
    """The absolute path of a binary; exit 2 with a message when it is not executable."""
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        print("binary not executable: %s" % path, file=sys.stderr)
        sys.exit(2)
    return path


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))


def one_line(text, limit=400):
    """Non-empty lines of text joined by " | ", cut at limit characters."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    text = " | ".join(l.strip() for l in text.strip().splitlines() if l.strip())
    if len(text) > limit:
        text = text[:limit] + "..."
    return text


# --------------------------------------------------------------------------
# Ports (read from /proc: a probe connection would be logged as a session)
# --------------------------------------------------------------------------

def free_port(host="127.0.0.1"):
    """A TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def listening_ports():
    """Ports in LISTEN state on 127.0.0.1 (or any address), IPv4."""
    ports = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            addr, port = fields[1].split(":")
            if fields[3] == "0A" and addr in ("0100007F", "00000000"):
                ports.add(int(port, 16))
    return ports


def unix_listening(path):
    """True if a unix stream socket at path is listening."""
    try:
        with open("/proc/net/unix") as f:
            next(f)
            for line in f:
                fields = line.split()
                # Flags 00010000 is __SO_ACCEPTCON: listen() was called.
                if len(fields) >= 8 and fields[7] == path and int(fields[3], 16) & 0x10000:
                    return True
    except OSError:
        pass
    return False


def children(pid):
    """The pids of pid's children (each of its threads' /proc children list):
    signet-milter's signer process under privilege-separation = on."""
    out = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            out += [int(x) for x in open("/proc/%d/task/%s/children" % (pid, tid)).read().split()]
        except OSError:
            pass
    return out


def wait_listening(where, proc=None, timeout=10):
    """Wait until a TCP port (int) or unix socket (path) listens; False when
    the timeout passes or proc (if given) exits first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if isinstance(where, int):
            if where in listening_ports():
                return True
        elif unix_listening(where):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


# --------------------------------------------------------------------------
# Keys and the keys file (`name TXT "chunk" "chunk"`, as signet verify --keys reads)
# --------------------------------------------------------------------------

class KeygenError(RuntimeError):
    pass


class Key:
    """One `signet keygen`: the key file, the record it printed."""

    def __init__(self, path, algorithm, bits=None, domain=None, selector=None):
        self.path, self.algorithm, self.bits = path, algorithm, bits
        self.domain, self.selector = domain, selector
        self.returncode, self.stdout, self.stderr = None, "", ""
        self.mode = 0
        self.record = None

    @property
    def ok(self):
        return self.returncode == 0 and self.record is not None

    @property
    def name(self):
        return "%s._domainkey.%s" % (self.selector, self.domain)

    @property
    def txt(self):
        """The record as keygen printed it (zone-file strings)."""
        return self.stdout.strip()

    def error(self):
        return "signet keygen %s %s: exit %s: %s" % (self.algorithm, self.path, self.returncode,
                                                      one_line(self.stderr) or "no message")

    def keys_line(self):
        return record_to_keys_line(self.name, self.record)


def keygen(signet, path, algorithm="rsa", bits=None, domain=None, selector=None, timeout=60, check=False):
    """Run `signet keygen --algorithm A [--bits N] --out path` (an old file is
    removed first). Returns a Key; a failed keygen is told by key.ok and
    key.error(), raised as KeygenError only with check=True."""
    key = Key(path, algorithm, bits, domain, selector)
    if os.path.exists(path):
        os.unlink(path)
    argv = [signet, "keygen", "--algorithm", algorithm]
    if bits:
        argv += ["--bits", str(bits)]
    try:
        p = subprocess.run(argv + ["--out", path], stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=timeout)
        key.returncode, key.stdout, key.stderr = p.returncode, p.stdout, p.stderr
    except subprocess.TimeoutExpired:
        key.stderr = "timed out after %ds" % timeout
        return key
    if os.path.exists(path):
        key.mode = os.stat(path).st_mode & 0o777
    if key.returncode == 0:
        try:
            key.record = keygen_output_to_record(key.stdout)
        except ValueError as e:
            key.stderr += str(e)
    if check and not key.ok:
        raise KeygenError(key.error())
    return key


def make_keys(signet, key_dir, specs, keys_file=None, dir_mode=0o777, timeout=60):
    """specs: (domain, selector, algorithm[, bits]) each; the keys go to
    key_dir/domain/selector.key, the records to keys_file if given. Returns
    the Keys; raises KeygenError when one fails."""
    keys = []
    for spec in specs:
        domain, selector, algorithm = spec[:3]
        bits = spec[3] if len(spec) > 3 else None
        d = os.path.join(key_dir, domain)
        os.makedirs(d, mode=dir_mode, exist_ok=True)
        keys.append(keygen(signet, os.path.join(d, selector + ".key"), algorithm, bits, domain, selector, timeout,
                           check=True))
    if keys_file:
        write_keys_file(keys_file, keys)
    return keys


def write_keys_file(path, keys):
    with open(path, "w", encoding="ascii") as f:
        f.writelines(k.keys_line() for k in keys)


def parse_txt_strings(rest):
    """Parse the record part of a keys-file line / keygen output.

    Either one or more double-quoted strings (concatenated, with \\" \\\\ and
    \\DDD escapes as in zone files) or, if the text does not start with a
    quote, the unquoted rest of the line.  Returns bytes."""
    rest = rest.strip()
    if not rest.startswith('"'):
        return rest.encode("utf-8")
    out = bytearray()
    i, n = 0, len(rest)
    while i < n:
        c = rest[i]
        if c in " \t":
            i += 1
            continue
        if c != '"':
            raise ValueError("garbage between quoted strings: %r" % rest[i:])
        i += 1
        while True:
            if i >= n:
                raise ValueError("unterminated quoted string")
            c = rest[i]
            if c == '"':
                i += 1
                break
            if c == "\\" and i + 1 < n:
                if rest[i + 1:i + 4].isdigit() and len(rest[i + 1:i + 4]) == 3:
                    out.append(int(rest[i + 1:i + 4]) & 0xFF)
                    i += 4
                else:
                    out += rest[i + 1].encode("utf-8")
                    i += 2
                continue
            out += c.encode("utf-8")
            i += 1
    return bytes(out)


def keygen_output_to_record(text):
    """Turn `signet keygen` stdout into the TXT record value (bytes).

    Accepts one or more double-quoted strings (possibly over several lines,
    possibly wrapped in zone-file parentheses) or a single unquoted line."""
    text = text.strip()
    if '"' in text:
        strings = re.findall(r'"((?:[^"\\]|\\.)*)"', text, re.S)
        if not strings:
            raise ValueError("cannot parse keygen output: %r" % text)
        return b"".join(parse_txt_strings('"%s"' % s) for s in strings)
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    if len(lines) != 1:
        raise ValueError("unquoted keygen output is not one line: %r" % text)
    return lines[0].encode("utf-8")


def record_to_keys_line(name, record):
    """One keys-file line: name TXT "chunk" "chunk" (chunks <= 255 bytes)."""
    chunks = [record[i:i + 255] for i in range(0, len(record), 255)] or [b""]
    quoted = " ".join('"%s"' % c.decode("ascii").replace("\\", "\\\\")
                      .replace('"', '\\"') for c in chunks)
    return "%s TXT %s\n" % (name, quoted)


def load_keys_file(path):
    """Parse a keys file into {lower-case name without trailing dot: bytes}."""
    records = {}
    with open(path, "r", encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip("\r\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or parts[1].upper() != "TXT":
                raise ValueError("%s:%d: bad keys line: %r" % (path, lineno, line))
            name = parts[0].rstrip(".").lower()
            records[name] = parse_txt_strings(parts[2])
    return records


def make_dnsfunc(records):
    """A dkimpy dnsfunc answering from {name: record bytes}."""
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode("ascii", "replace")
        return records.get(name.rstrip(".").lower())
    return dnsfunc


# --------------------------------------------------------------------------
# Header fields, DKIM-Signature tags, the verifiers
# --------------------------------------------------------------------------

def split_header_fields(msg):
    """Split a message into (list of raw header fields incl. their CRLFs,
    separator, body).  separator is the blank line (b"\\r\\n") or b""."""
    fields = []
    pos = 0
    n = len(msg)
    while pos < n:
        nl = msg.find(b"\n", pos)
        end = n if nl < 0 else nl + 1
        line = msg[pos:end]
        if line in (b"\r\n", b"\n"):
            return fields, line, msg[end:]
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
        pos = end
    return fields, b"", b""


def field_name(field):
    return field.split(b":", 1)[0].rstrip(b" \t").lower()


def header_fields(msg):
    """[(lower-case name, raw value bytes)] of the header block."""
    head = msg.split(b"\r\n\r\n", 1)[0]
    out = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + b"\r\n" + line)
        elif b":" in line:
            name, value = line.split(b":", 1)
            out.append((name.strip().lower(), value))
    return out


def dkim_tags(value):
    """{tag: value} of a DKIM-Signature field value (bytes)."""
    tags = {}
    for part in re.sub(rb"\s+", b"", value).split(b";"):
        if b"=" in part:
            k, v = part.split(b"=", 1)
            tags[k.decode()] = v.decode("ascii", "replace")
    return tags


def signatures(msg):
    """[{tag: value}] for every DKIM-Signature, top to bottom."""
    return [dkim_tags(value) for name, value in header_fields(msg) if name == b"dkim-signature"]


def describe(sigs):
    return ", ".join("d=%s s=%s a=%s" % (s.get("d"), s.get("s"), s.get("a"))
                     for s in sigs) or "no DKIM-Signature"


def dkimpy_results(msg, dnsfunc):
    """dkimpy on every DKIM-Signature of msg: [(tags, passed, error text)]."""
    import dkim
    d = dkim.DKIM(msg)
    sigs = [h for h in d.headers if h[0].lower() == b"dkim-signature"]
    out = []
    for i, h in enumerate(sigs):
        try:
            passed, err = bool(d.verify(idx=i, dnsfunc=dnsfunc)), ""
        except Exception as e:  # dkimpy raises on malformed signatures
            passed, err = False, repr(e)
        out.append((dkim_tags(h[1]), passed, err))
    return out


def verify_passed(rc, out):
    """`signet verify` passed every signature: exit 0, only dkim=pass lines."""
    if isinstance(out, bytes):
        out = out.decode("utf-8", "replace")
    lines = [l for l in out.splitlines() if l.strip()]
    return rc == 0 and bool(lines) and all(l.startswith("dkim=pass") for l in lines)


def signet_verify(signet, keys_file, msg, timeout=60):
    """`signet verify --keys keys_file` on msg: (exit status, stdout, stderr) as text."""
    p = subprocess.run([signet, "verify", "--keys", keys_file], input=msg, capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


# --------------------------------------------------------------------------
# signet, the key tools
# --------------------------------------------------------------------------

class SignetCli:
    """`signet ARGS --config CONF --now TIME` on work/keys (made 0700) and
    work/signet.conf, written from config (see config_text) with
    key-directory set: cli(args, now) is (exit status, stdout, stderr)."""

    def __init__(self, signet, work, config):
        self.signet = signet
        self.keys = os.path.join(work, "keys")
        os.makedirs(self.keys, mode=0o700)
        self.conf = os.path.join(work, "signet.conf")
        with open(self.conf, "w") as f:
            f.write(config_text({"key-directory": self.keys, **config}))

    def __call__(self, args, now, stdin=None):
        p = subprocess.run([self.signet] + args + ["--config", self.conf, "--now", iso(now)], input=stdin,
                           capture_output=True, text=stdin is None or isinstance(stdin, str))
        return p.returncode, p.stdout, p.stderr


# --------------------------------------------------------------------------
# signet-milter
# --------------------------------------------------------------------------

class MilterError(RuntimeError):
    pass


def config_text(config, comment=None):
    """The INI text signet-milter reads: the plain options of config first,
    then one [section] per dict value ({"stream.tx": {...}}). A list value
    repeats its option (selector = a, selector = b); None leaves it out."""
    def lines(options):
        out = []
        for k, v in options.items():
            for x in (v if isinstance(v, (list, tuple)) else [v]):
                if x is not None:
                    out.append("%s = %s" % (k, ("true" if x else "false") if isinstance(x, bool) else x))
        return out
    text = ["# " + comment] if comment else []
    text += lines({k: v for k, v in config.items() if not isinstance(v, dict)})
    for name, options in config.items():
        if isinstance(options, dict):
            text += ["", "[%s]" % name] + lines(options)
    return "\n".join(text) + "\n"


class StartStop:
    """`with x:` is x.start() ... x.stop(); a start that fails is stopped too."""

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
        return False


class SignetMilter(StartStop):
    """signet-milter run from a config dict (see config_text):

        m = SignetMilter(binary, work, {"key-directory": keys,
                                        "stream.tx": {"domain": "example.com"},
                                        "rule.all": {"stream": "tx"}})
        with m:                      # start() ... stop()
            send_one("127.0.0.1", m.port, ...)
        m.returncode, m.log_lines()

    socket: "inet" (a free port on 127.0.0.1), "unix" (work/NAME.sock) or a
    full spec; the config gets socket, log = stderr, foreground = true and
    ledger-file = "" (no ledger: the default /var/lib/signet/ledger.sqlite is
    the machine's) unless it says otherwise (None drops an option). stdout and stderr go to
    the log file: work/milter.log, or work/NAME.log with a name (the config
    is work/signet.conf or work/NAME.conf)."""

    def __init__(self, binary, work, config, name=None, socket="inet", env=None, args=()):
        self.binary = os.path.abspath(binary)
        self.work = work
        self.conf_path = os.path.join(work, (name or "signet") + ".conf")
        self.log_path = os.path.join(work, (name or "milter") + ".log")
        if socket == "inet":
            socket = "inet:%d@127.0.0.1" % free_port()
        elif socket == "unix":
            socket = "unix:" + os.path.join(work, (name or "signet") + ".sock")
        self.config = {"socket": socket, "log": "stderr", "foreground": True, "ledger-file": ""}
        self.config.update(config)
        # SIGNET_TEST_PRIVSEP=1: every milter the suite starts signs through the
        # signer process unless its scenario chose (how the suite is run with
        # privilege-separation on before it is the default).
        if os.environ.get("SIGNET_TEST_PRIVSEP") == "1" and "privilege-separation" not in config:
            self.config["privilege-separation"] = True
        self.socket = self.config["socket"]
        self.env = dict(os.environ, **env) if env else None
        self.args = list(args)
        self.proc = None

    # -- where ---------------------------------------------------------------
    @property
    def port(self):
        """The TCP port of an inet socket, else None."""
        m = re.fullmatch(r"inet:(\d+)@.*", self.socket)
        return int(m.group(1)) if m else None

    @property
    def path(self):
        """The path of a unix socket, else None."""
        return self.socket[5:] if self.socket.startswith("unix:") else None

    def client(self, **kw):
        """A MilterClient connected to this milter (negotiated)."""
        return MilterClient("127.0.0.1", self.port, **kw) if self.port else MilterClient(self.path, None, **kw)

    def send_one(self, queue_id, body, **kw):
        """milter_client.send_one on this milter."""
        return send_one("127.0.0.1" if self.port else self.path, self.port, queue_id, body, **kw)

    # -- config ----------------------------------------------------------------
    def write_config(self):
        with open(self.conf_path, "w") as f:
            f.write(config_text(self.config, "written by testkit.SignetMilter"))
        return self.conf_path

    def argv(self):
        return [self.binary, "--config", self.conf_path] + self.args

    def check_config(self, timeout=30):
        """`signet-milter --config FILE --check-config`: (exit status, output)."""
        self.write_config()
        p = subprocess.run([self.binary, "--config", self.conf_path, "--check-config"],
                           capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stderr + p.stdout

    def run(self, timeout=30):
        """Run to completion (a config that detaches: the parent's exit status)."""
        self.write_config()
        return subprocess.run(self.argv(), timeout=timeout, env=self.env).returncode

    # -- process -----------------------------------------------------------------
    def start(self, timeout=10):
        """Write the config, start, wait until the socket listens. Raises
        MilterError with the exit status and the log's tail when the process
        dies first or the timeout passes (it is left to stop())."""
        self.write_config()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv(), stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=self.env, start_new_session=True)
        if not wait_listening(self.port or self.path, self.proc, timeout):
            raise MilterError("signet-milter does not listen on %s: %s; log: %s" % (
                self.socket, "exit %s" % self.proc.returncode if self.proc.poll() is not None
                else "not within %ss" % timeout, self.log_tail()))
        return self

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def poll(self):
        return self.proc.poll() if self.proc else None

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    @property
    def returncode(self):
        return self.proc.returncode if self.proc else None

    def signal(self, sig):
        if self.running:
            try:
                self.proc.send_signal(sig)
            except ProcessLookupError:
                pass

    def reload(self):
        """Write the config as it stands and send SIGHUP."""
        self.write_config()
        self.signal(signal.SIGHUP)

    def reload_and_wait(self, pattern=": reloaded,", timeout=30):
        """reload(), then the first log line after it that matches pattern:
        ": reloaded," by default, "reload refused" for a refused one. Raises
        MilterError when none comes within timeout seconds."""
        before = len(self.log_lines())
        self.reload()
        line, _ = self.wait_log(pattern, after=before, timeout=timeout)
        return line

    def stop(self, timeout=30):
        """SIGTERM and wait; the exit status, or None when it had to be killed
        after timeout seconds. Safe to call again (returns the status)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode

    def kill(self):
        """SIGKILL and wait."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    # -- the log -----------------------------------------------------------------
    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_lines(self):
        return self.log().splitlines()

    def log_tail(self, n=15):
        return " | ".join(self.log_lines()[-n:])

    def wait_log(self, pattern, after=0, timeout=600):
        """The first line after the first `after` matching pattern, and the
        number of lines read: (line, count). Raises MilterError on timeout."""
        deadline = time.time() + timeout
        rx = re.compile(pattern)
        while time.time() < deadline:
            lines = self.log_lines()
            hits = [l for l in lines[after:] if rx.search(l)]
            if hits:
                return hits[0], len(lines)
            time.sleep(0.02)
        raise MilterError("timed out waiting for " + pattern)


# --------------------------------------------------------------------------
# dnsmasq
# --------------------------------------------------------------------------

class Dnsmasq:
    """dnsmasq on 127.0.0.1:port, authoritative-ish for example.com (unknown
    names are NXDOMAIN); serve() restarts it with a new set of records."""

    def __init__(self, work, port):
        self.work, self.port, self.proc = work, port, None

    def serve(self, records, extra_lines=()):
        """records: [(name, value)]; values longer than 255 bytes become several strings."""
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
