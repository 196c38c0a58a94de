#!/usr/bin/python3
"""Faults while signet-milter signs: nothing lost, nothing signed wrongly,
the key set never corrupted.

While milter_load signs and verifies messages over 4 milter connections
(every signature checked against the key whose window held its t=), the
daemon (running as nobody after start) meets, one after another:
  a SIGHUP storm (1 000 in about a second), an inotify storm (10 000 touches
  in the key directory), the manifest replaced by garbage, a key file
  deleted, truncated, made unreadable (each restored after): each bad state
  refused on reload with its reason while the loaded snapshot signs on;
  and the DNS check of the next key hanging on a DNS server that never
  answers: signing never waits on it (latency p99 stays low).
Then, apart from the load:
  an MTA that never sends end of message: the connection is closed after
  `timeout` and the message abandoned with one log line; one that
  disconnects mid-message: one log line;
  `signet key rotate` on a full file system (a small tmpfs): refused with
  the reason, the key directory exactly as it was;
  `signet dns check` against a DNS server that never answers: a finding in
  bounded time, not a hang.
"""
import hashlib
import os
import pwd
import shutil
import socket
import subprocess
import sys
import threading
import time

from testkit import Checks, SignetMilter, iso, make_keys, scenario_args

NOBODY = pwd.getpwnam("nobody")


def tree_digest(path):
    """Every file under path with its bytes and mode: a change anywhere shows."""
    h = hashlib.sha256()
    for root, dirs, files in sorted(os.walk(path)):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(root, name)
            st = os.stat(p)
            h.update(p.encode() + b"\0" + oct(st.st_mode).encode() + b"\0")
            with open(p, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class Blackhole:
    """A UDP 'DNS server' on 127.0.0.1 that reads every query and never answers."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.stop = False
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        self.sock.settimeout(0.2)
        while not self.stop:
            try:
                self.sock.recv(4096)
                self.queries += 1
            except socket.timeout:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def write_manifest(path, rows):
    text = "# fault-test key set\n"
    for r in rows:
        text += "\n[key]\n" + "".join("%s = %s\n" % kv for kv in r)
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chown(tmp, NOBODY.pw_uid, NOBODY.pw_gid)
    os.rename(tmp, path)


def main():
    args = scenario_args(__doc__.split("\n\n")[0], milter=True, extra=lambda ap: ap.add_argument("--load", required=True))
    os.chmod(args.work, 0o755)
    c = Checks()
    keys_dir = os.path.join(args.work, "keys")
    keys = make_keys(args.signet, keys_dir, [("example.com", "f-rsa", "rsa"), ("example.com", "f-ed", "ed25519"),
                                             ("example.com", "f-next", "ed25519")], dir_mode=0o700)
    now = int(time.time())
    rows = []
    for k, frm in ((keys[0], now - 3600), (keys[1], now - 3600), (keys[2], now + 1800)):
        rows.append([("stream", "tx"), ("domain", "example.com"), ("selector", k.selector),
                     ("algorithm", k.algorithm), ("bits", k.bits or (2048 if k.algorithm == "rsa" else 256)),
                     ("owner", "faults"), ("file", "example.com/%s.key" % k.selector),
                     ("created", iso(now - 7200)), ("published-at", iso(now - 7200)), ("active-from", iso(frm))])
    manifest = os.path.join(keys_dir, "manifest")
    write_manifest(manifest, rows)
    for root, dirs, files in os.walk(keys_dir):
        for n in dirs + files:
            os.chown(os.path.join(root, n), NOBODY.pw_uid, NOBODY.pw_gid)
    os.chown(keys_dir, NOBODY.pw_uid, NOBODY.pw_gid)
    keys_file = os.path.join(args.work, "keys.txt")
    with open(keys_file, "w") as f:
        f.writelines(k.keys_line() for k in keys)
    schedule = os.path.join(args.work, "schedule.txt")
    with open(schedule, "w") as f:
        f.write("f-rsa rsa %d -\nf-ed ed25519 %d -\nf-next ed25519 %d -\n" % (now - 3600, now - 3600, now + 1800))

    dns = Blackhole()
    config = {"key-directory": keys_dir, "trusted-services": "tx", "internal-hosts": "127.0.0.1/32", "user": "nobody", "group": "nogroup",
              "dns-check": True, "dns-server": "127.0.0.1:%d" % dns.port, "dns-check-interval": "1s",
              "timeout": "2s", "stream.tx": {"domain": "example.com"}, "rule.all": {"stream": "tx"}}
    milter = SignetMilter(args.milter, args.work, config, name="faults")
    before = tree_digest(keys_dir)
    with milter:
        latency = os.path.join(args.work, "latency.txt")
        load = subprocess.Popen([args.load, "--socket", milter.socket, "--connections", "4", "--messages", "1000",
                                 "--min-seconds", "40", "--keys", keys_file, "--schedule", schedule,
                                 "--latency-out", latency], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        time.sleep(3)
        t0 = time.monotonic()
        for _ in range(1000):
            milter.signal(1)  # SIGHUP
            time.sleep(0.0005)
        hup_seconds = time.monotonic() - t0
        time.sleep(2)
        touch = os.path.join(keys_dir, "touched")
        for i in range(10000):
            with open(touch, "w") as f:
                f.write(str(i))
        os.unlink(touch)
        time.sleep(2)
        faults = []

        def fault(name, apply, restore):
            apply()
            time.sleep(1.5)  # the watcher's quiet period, then the reload
            restore()
            time.sleep(1.5)
            faults.append(name)

        good = open(manifest, "rb").read()

        def garbage():
            with open(manifest + ".new", "wb") as f:
                f.write(b"\x00\xff garbage, not a manifest\n[key\n")
            os.rename(manifest + ".new", manifest)

        def restore_manifest():
            with open(manifest + ".new", "wb") as f:
                f.write(good)
            os.chown(manifest + ".new", NOBODY.pw_uid, NOBODY.pw_gid)
            os.rename(manifest + ".new", manifest)

        fault("garbage manifest", garbage, restore_manifest)
        victim = keys[1].path
        saved = open(victim, "rb").read()

        def put_back():
            with open(victim + ".new", "wb") as f:
                f.write(saved)
            os.chmod(victim + ".new", 0o600)
            os.chown(victim + ".new", NOBODY.pw_uid, NOBODY.pw_gid)
            os.rename(victim + ".new", victim)

        fault("key file deleted", lambda: os.unlink(victim), put_back)
        fault("key file truncated", lambda: open(victim, "wb").write(saved[:len(saved) // 2]), put_back)
        fault("key file unreadable", lambda: os.chmod(victim, 0), lambda: os.chmod(victim, 0o600))
        out, _ = load.communicate(timeout=120)
        alive = milter.running
    dns.close()
    log = "\n".join(milter.log_lines())
    print(out.strip()[-1500:])
    counts = next((l for l in out.splitlines() if l.startswith("signed:")), "")
    c.check(load.returncode == 0 and "unsigned: 0 " in counts and "tempfailed: 0 " in counts,
            "milter_load through all of it: every message signed, every signature its scheduled key's (%s)" % counts,
            out[-2000:])
    c.check(alive, "signet-milter survived the storms and faults (SIGHUP x1000 in %.1fs, 10 000 touches)" % hup_seconds)
    refused = log.count("reload refused")
    c.check(refused >= 4, "each bad key set refused on reload with its reason (%d refusals)" % refused)
    for reason in ("option outside a [key] section", "No such file", "could not be parsed", "Permission denied"):
        c.check(reason in log, "the refusals name the cause: %s" % reason)
    c.check(tree_digest(keys_dir) == before, "the key directory is exactly as it was (never corrupted)")
    lat = sorted(float(l.split()[-1]) for l in open(latency) if l.strip()) if os.path.exists(latency) else []
    p99 = lat[int(len(lat) * 0.99)] if lat else 1e9
    c.check(dns.queries > 0 and p99 < 1000,
            "the next key's DNS check hung on a dead server (%d queries) and signing never waited: p99 %.1f ms" % (
                dns.queries, p99))

    # -------------------------------------------------------------- the MTA misbehaves
    quiet = SignetMilter(args.milter, args.work, dict(config, **{"dns-check": False}), name="mta")
    with quiet:
        cl = quiet.client(timeout=10)
        cl.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
        cl.mail("<a@example.com>", {"i": "STALLED"})
        cl.header("From", b" a@example.com")
        t0 = time.monotonic()
        closed = False
        try:
            cl.sock.settimeout(8)
            closed = cl.sock.recv(1) == b""
        except (socket.timeout, OSError):
            closed = False
        waited = time.monotonic() - t0
        c.check(closed and waited < 6, "no end of message: the connection is closed after timeout (2s; %.1fs)" % waited)
        # At the bound: a slow MTA that sends something every 1.5 s keeps its connection.
        slow = quiet.client(timeout=10)
        slow.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
        slow.mail("<a@example.com>", {"i": "SLOW"})
        for i in range(4):
            time.sleep(1.5)
            slow.header("X-Slow", b" %d" % i)
        slow.header("From", b" a@example.com")
        slow.eoh()
        slow.body(b"slow but steady\r\n")
        final, mods = slow.end_of_message()
        c.check(final[0] == b"c" and any(b"DKIM-Signature" in mm[1] for mm in mods),
                "an MTA slower than 1 command a second but within timeout keeps its connection and gets signed")
        cl2 = quiet.client()
        cl2.connect(macros={"{daemon_name}": "tx", "{client_addr}": "127.0.0.1"})
        cl2.mail("<a@example.com>", {"i": "CUTOFF"})
        cl2.header("From", b" a@example.com")
        cl2.sock.close()
        time.sleep(0.5)
        lines = quiet.log_lines()
        c.check(any("CUTOFF: not signed" in l for l in lines), "a disconnect mid-message leaves one log line",
                lines[-5:])
        c.check(any("STALLED: not signed" in l for l in lines), "the stalled message leaves one log line", lines[-5:])

    # -------------------------------------------------------------- full file system during rotate
    full = os.path.join(args.work, "full")
    os.makedirs(full)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", full], capture_output=True, text=True)
    if c.check(p.returncode == 0, "a small tmpfs for the full file system", p.stderr):
        try:
            kd = os.path.join(full, "keys")
            os.makedirs(kd)
            conf = os.path.join(args.work, "full.conf")
            with open(conf, "w") as f:
                f.write("key-directory = %s\n[stream.tx]\ndomain = example.com\npropagation-delay = 0\n"
                        "[rule.all]\nstream = tx\n" % kd)
            for alg in ("rsa", "ed25519"):
                subprocess.run([args.signet, "key", "new", "--config", conf, "--stream", "tx", "--algorithm", alg],
                               check=True, capture_output=True)
            subprocess.run(["dd", "if=/dev/zero", "of=" + os.path.join(full, "filler"), "bs=4k"], capture_output=True)
            was = tree_digest(kd)
            p = subprocess.run([args.signet, "key", "rotate", "--config", conf, "--stream", "tx", "--force"],
                               capture_output=True, text=True)
            c.check(p.returncode == 2 and p.stderr.count("\n") == 1 and "No space left" in p.stderr,
                    "key rotate on a full file system: exit 2, one line with the reason", p.stderr)
            c.check(tree_digest(kd) == was and not [n for n in os.listdir(kd) if ".tmp" in n],
                    "the key directory is exactly as it was, no temporary file left")
        finally:
            subprocess.run(["umount", full], capture_output=True)

    # -------------------------------------------------------------- dns check on a dead server
    dead = Blackhole()
    conf = os.path.join(args.work, "dead.conf")
    with open(conf, "w") as f:
        f.write("key-directory = %s\n[stream.tx]\ndomain = example.com\n[rule.all]\nstream = tx\n" % keys_dir)
    t0 = time.monotonic()
    p = subprocess.run([args.signet, "dns", "check", "--config", conf, "--server", "127.0.0.1:%d" % dead.port],
                       capture_output=True, text=True, timeout=120)
    took = time.monotonic() - t0
    dead.close()
    c.check(p.returncode == 1 and "lookup failed" in p.stdout and took < 100,
            "dns check against a dead server: a finding per record in bounded time (%.0fs)" % took, p.stdout + p.stderr)
    return c.finish()


if __name__ == "__main__":
    sys.exit(main())
