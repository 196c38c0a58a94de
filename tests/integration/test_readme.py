#!/usr/bin/python3
"""Every command the README shows is run by a test.

The README's ```sh blocks are read command by command (backslash
continuations joined, trailing `# comments` dropped).
- The self-contained ones, the section "The `signet` command" and `signet
  inspect record`, are run here as written, in a scratch directory with a
  message file `msg` and the `keys.txt` their keygen output gives: each must
  exit 0 and the signed message must verify.
- Every other `signet` or `signet-milter` command is covered when a
  scenario script runs that subcommand (its words within a few lines) with
  the same flags (and the same value for the flags whose value changes what
  is done: --format, --fail-on, --algorithm) somewhere in the same script.
- The others (make, apt, systemctl) are mapped below to the test that does
  what they do.
A README command no test runs fails this test, naming it.

    test_readme.py --top SOURCE_DIR --build BUILD_DIR --work DIR
"""
import argparse
import glob
import os
import re
import shlex
import shutil
import subprocess
import sys

from testkit import Checks

VALUE_FLAGS = ("--format", "--fail-on", "--algorithm")

# Commands that are not signet's, and the test that does what they do.
OTHERS = {
    "make demo": ("tests/integration/CMakeLists.txt", "scripts/demo"),
    "make test": (".ci/run", "make test"),
    "make deb": ("tests/integration/test_package.py", "make-deb"),
    "apt install": ("tests/integration/test_package.py", '"dpkg", "-i"'),
    # No systemd as PID 1 on the test machine: the test runs what the unit runs.
    "systemctl enable": ("tests/integration/test_package.py", 'unit_value("ExecStart")'),
}


def readme_commands(text):
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        logical = ""
        for line in block.splitlines():
            line = re.sub(r"\s{2,}#.*$", "", line).rstrip()
            if not line or line.startswith("#"):
                continue
            if line.endswith("\\"):
                logical += line[:-1] + " "
                continue
            out.append((logical + line).strip())
            logical = ""
    return out


def words(command):
    """(subcommand words, {flag: value}) of a signet command."""
    try:
        toks = shlex.split(command.split("<")[0].split("|")[0])
    except ValueError:
        toks = command.split()
    sub, flags, i = [], {}, 1
    while i < len(toks) and not toks[i].startswith("-") and len(sub) < 2 and re.fullmatch(r"[a-z][a-z-]*", toks[i]):
        sub.append(toks[i])
        i += 1
    while i < len(toks):
        t = toks[i]
        if t.startswith("--"):
            value = toks[i + 1] if i + 1 < len(toks) and not toks[i + 1].startswith("-") else None
            flags[t] = value
        i += 1
    return toks[0], sub, flags


def covered(program, sub, flags, sources):
    """Some scenario runs `program sub...` (the words quoted within a few
    lines of each other) with these flags (quoted, in the same script)."""
    together = ['"%s"' % w for w in sub] or ['"--check-config"' if "--check-config" in flags else ""]
    anywhere = ['"%s"' % f for f in flags] + ['"%s"' % v for f, v in flags.items() if f in VALUE_FLAGS and v]
    for path, lines in sources.items():
        text = "\n".join(lines).replace("'", '"')
        if not all(n in text for n in anywhere):
            continue
        for i in range(len(lines)):
            if all(n in " ".join(lines[i:i + 4]).replace("'", '"') for n in together):
                return path
    return None


def section(text, title):
    m = re.search(r"^## %s\n(.*?)(?=^## )" % re.escape(title), text, re.S | re.M)
    return m.group(1) if m else ""


MESSAGE = (b"From: Tom <tom@example.com>\r\nTo: ann@example.org\r\nSubject: README\r\n"
           b"Date: Tue, 01 Dec 2026 12:00:00 +0000\r\n\r\nRun as the README shows it.\r\n")


def run_here(commands, build, work, checks):
    """Runs the README's self-contained commands as written, in `work`."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(work, "msg"), "wb") as f:
        f.write(MESSAGE)
    env = dict(os.environ, PATH=os.path.join(build, "tools") + os.pathsep + os.environ["PATH"])
    records = {}
    for command in commands:
        if command.startswith("signet verify"):
            # keys.txt as the README describes it: the keygen records by name.
            with open(os.path.join(work, "keys.txt"), "w") as f:
                for sel, key in (("tx-202611-rsa2048", "tx.key"), ("tx-202611-ed25519", "tx-ed.key")):
                    f.write("%s._domainkey.example.com TXT %s\n" % (sel, records.get(key, "")))
        if "'v=DKIM1; k=rsa; p=…'" in command:
            command = command.replace("'v=DKIM1; k=rsa; p=…'", shlex.quote(records["tx.key"].replace('" "', "").strip('"')))
        p = subprocess.run(["bash", "-c", command], cwd=work, env=env, capture_output=True, text=True)
        m = re.search(r"--out (\S+)", command)
        if command.startswith("signet keygen") and m:
            records[m.group(1)] = p.stdout.strip()
        checks.check(p.returncode == 0, "README `%s` runs and exits 0" % command, p.stdout + p.stderr)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--top", required=True)
    ap.add_argument("--build", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    a.build, a.work = os.path.abspath(a.build), os.path.abspath(a.work)
    readme = open(os.path.join(a.top, "README.md")).read()
    sources = {}
    for path in glob.glob(os.path.join(a.top, "tests", "integration", "*.py")) + \
            glob.glob(os.path.join(a.top, "scripts", "*.py")):
        if os.path.basename(path) != "test_readme.py":
            sources[os.path.relpath(path, a.top)] = open(path).read().splitlines()
    checks = Checks()
    commands = readme_commands(readme)
    checks.check(len(commands) >= 20, "the README shows its commands (%d)" % len(commands))
    here = readme_commands("```sh\n" + "\n".join(re.findall(r"```sh\n(.*?)```", section(readme, "The `signet` command"),
                                                          re.S)) + "```")
    here += [c for c in commands if c.startswith("signet inspect record")]
    run_here(here, a.build, a.work, checks)
    p = subprocess.run([os.path.join(a.build, "tools", "signet"), "verify", "--keys", "keys.txt"],
                       stdin=open(os.path.join(a.work, "signed"), "rb"), cwd=a.work, capture_output=True, text=True)
    checks.check(p.returncode == 0 and p.stdout.count("dkim=pass") == 2, "the README's signed message verifies, both signatures",
                 p.stdout + p.stderr)
    for command in commands:
        if command in here:
            continue
        program, sub, flags = words(command)
        if program in ("signet", "signet-milter"):
            where = covered(program, sub, flags, sources)
            checks.check(where is not None, "README `%s` is run by %s" % (command, where or "no test"),
                         "add it to a scenario, or change the README")
            continue
        key = next((k for k in OTHERS if command.startswith(k)), None)
        if key:
            path, needle = OTHERS[key]
            text = open(os.path.join(a.top, path)).read()
            checks.check(needle in text, "README `%s` is done by %s" % (command, path))
        else:
            checks.check(False, "README `%s` is run by a test" % command, "no test runs this command")
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
