#!/usr/bin/python3
"""The documentation says what the code does: signet.conf(5) and the option
tables of docs/configuration.md are what conf/options.h's table generates
(signet-options-doc); every option in the table is in signet.conf(5) and
every option in signet.conf(5) is in the table (as Postfix checks its
parameters against its docs); signet(1) covers every subcommand `signet
--help` lists and signet-milter(8) every command-line flag; every manual page
passes `mandoc -T lint` without a warning.

    test_docs.py --build BUILD_DIR --top SOURCE_DIR [--regenerate]
"""
import argparse
import os
import re
import subprocess
import sys

from testkit import Checks

SECTIONS = {"GLOBAL OPTIONS": "global", "STREAM OPTIONS": "stream", "RULE OPTIONS": "rule"}


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True)


def markdown_block(text, scope):
    m = re.search(r"<!-- options:%s -->\n(.*?)<!-- /options:%s -->" % (scope, scope), text, re.S)
    return m.group(1) if m else None


def man_option_names(man):
    """(scope, name) of every `.It Cm NAME` under the three option sections."""
    names, scope = set(), None
    for line in man.splitlines():
        if line.startswith(".Sh "):
            scope = SECTIONS.get(line[4:].strip())
        m = re.match(r"\.It Cm (\S+)", line)
        if m and scope:
            names.add((scope, m.group(1)))
    return names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", required=True)
    ap.add_argument("--top", required=True)
    ap.add_argument("--regenerate", action="store_true")
    a = ap.parse_args()
    gen = os.path.join(a.build, "conf", "signet-options-doc")
    man_dir = os.path.join(a.top, "packaging", "man")
    conf_man = os.path.join(man_dir, "signet.conf.5")
    conf_md = os.path.join(a.top, "docs", "configuration.md")
    generated_man = run(gen, "man").stdout
    md = open(conf_md).read()

    if a.regenerate:
        with open(conf_man, "w") as f:
            f.write(generated_man)
        for scope in ("global", "stream", "rule"):
            block = run(gen, "markdown", scope).stdout
            md = re.sub(r"(<!-- options:%s -->\n).*?(<!-- /options:%s -->)" % (scope, scope),
                        lambda m: m.group(1) + block + m.group(2), md, flags=re.S)
        with open(conf_md, "w") as f:
            f.write(md)
        print("regenerated %s and the option tables of %s" % (conf_man, conf_md))
        return 0

    checks = Checks()
    check = checks.check
    committed_man = open(conf_man).read()
    check(committed_man == generated_man, "signet.conf(5) is what the option table generates (make docs)",
          "run `make docs` and commit the result")
    for scope in ("global", "stream", "rule"):
        check(markdown_block(md, scope) == run(gen, "markdown", scope).stdout,
              "docs/configuration.md %s options are what the option table generates" % scope,
              "run `make docs` and commit the result")

    table = set(tuple(l.split(" ", 1)) for l in run(gen, "names").stdout.splitlines())
    in_man = man_option_names(committed_man)
    check(table - in_man == set(), "every option in the table is in signet.conf(5)", sorted(table - in_man))
    check(in_man - table == set(), "every option in signet.conf(5) is in the table", sorted(in_man - table))

    for page in sorted(os.listdir(man_dir)):
        p = run("mandoc", "-T", "lint", "-W", "warning", os.path.join(man_dir, page))
        check(p.returncode == 0 and not p.stdout.strip() and not p.stderr.strip(),
              "mandoc -T lint: no warning in %s" % page, p.stdout + p.stderr)

    signet_man = open(os.path.join(man_dir, "signet.1")).read()
    documented = set(re.findall(r"^\.It Cm (\S+(?: \S+)?)", signet_man, re.M))
    commands = []
    usage = run(os.path.join(a.build, "tools", "signet"), "--help").stdout
    for line in usage.split("commands:")[1].splitlines():
        m = re.match(r"  (\S+)\s", line)
        if m:
            commands.append(m.group(1))
    check(len(commands) >= 9, "signet --help lists its commands", usage)
    for c in commands:
        check(any(d == c or d.startswith(c + " ") for d in documented), "signet(1) documents `signet %s`" % c,
              sorted(documented))

    # Positional words (FILE, `record '<TXT>'`) are hidden options: a --help
    # line with an option and no description is one leaking out.
    for c in commands + ["dmarc import", "dmarc records"]:
        text = run(os.path.join(a.build, "tools", "signet"), *c.split(), "--help").stdout
        bare = [line for line in text.splitlines() if re.match(r"^\s+--[a-z-]+ arg\s*$", line)]
        check(not bare, "`signet %s --help` lists no undescribed option" % c, bare)

    milter_man = open(os.path.join(man_dir, "signet-milter.8")).read()
    helptext = run(os.path.join(a.build, "milter", "signet-milter"), "--help").stdout
    flags = re.findall(r"--([a-z][a-z-]+)", helptext.split("configuration options")[0])
    check(len(flags) >= 4, "signet-milter --help lists its flags", helptext)
    for f in flags:
        check(re.search(r"Fl -%s\b" % re.escape(f), milter_man) is not None,
              "signet-milter(8) documents --%s" % f)
    return checks.finish()


if __name__ == "__main__":
    sys.exit(main())
