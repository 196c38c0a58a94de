// signet — the operator's command. Thin: argument parsing over the libraries.
#include <fmt/core.h>
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "tools/common.h"

namespace signet::tools {

int fail(std::string_view cmd, std::string_view message) {
  std::string line(message);
  for (char& c : line) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  fmt::print(stderr, "signet {}: {}\n", cmd, line);
  return kExitBadInput;
}

std::optional<std::string> read_stdin(std::size_t max_bytes, std::string* error) {
  std::string data;
  char buf[1 << 16];
  while (true) {
    const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      *error = "reading standard input failed";
      return std::nullopt;
    }
    if (n == 0) break;
    data.append(buf, static_cast<std::size_t>(n));
    if (data.size() > max_bytes) {
      *error = "the message on standard input is larger than " + std::to_string(max_bytes >> 20) + " MiB";
      return std::nullopt;
    }
  }
  return data;
}

bool parse_args(const boost::program_options::options_description& desc, const std::vector<std::string>& args,
                boost::program_options::variables_map& vm, std::string_view help_footer) {
  return parse_args(desc, Positional{}, args, vm, help_footer);
}

bool parse_args(const boost::program_options::options_description& desc, const Positional& positional,
                const std::vector<std::string>& args, boost::program_options::variables_map& vm,
                std::string_view help_footer) {
  namespace po = boost::program_options;
  po::options_description all;
  all.add(desc).add(positional.hidden);
  po::positional_options_description pos;
  if (!positional.name.empty()) pos.add(positional.name.c_str(), positional.max_count);
  po::store(po::command_line_parser(args).options(all).positional(pos).run(), vm);
  po::notify(vm);
  if (vm.count("help")) {
    std::cout << desc << "\n" << help_footer;
    return false;
  }
  return true;
}

}  // namespace signet::tools

namespace {

constexpr const char* kUsage =
    "usage: signet COMMAND [OPTIONS]\n"
    "\n"
    "commands:\n"
    "  sign     sign the message on stdin, write it with DKIM-Signature header(s) to stdout\n"
    "  verify   verify every DKIM-Signature on the message on stdin\n"
    "  key      the key lifecycle on the key directory the daemon reloads: new (standby), list,\n"
    "           rotate (scheduled/--emergency/--revoke-now), retire\n"
    "  keyset   the same key directory whole: check it as the daemon loads it, or install a\n"
    "           hand-written manifest (validated and committed like `signet key`)\n"
    "  keygen   a standalone key file and its DNS TXT record, outside any key directory (for\n"
    "           `signet sign`, or a stream's `selector =` line); `signet key new` is the managed way\n"
    "  dns      records: every published selector's TXT record (zone, nsupdate or json);\n"
    "           check: what DNS publishes against the key set\n"
    "  register the inventory of every selector ever used (table, csv or json)\n"
    "  ledger   how many signatures signet-milter made, per UTC day, stream, d=, s= and algorithm\n"
    "  audit    findings with severity (rotation overdue, weak keys, no standby, DNS, replay), for cron and CI\n"
    "  replay   check: DMARC reports against the signing ledgers per selector and day: possible replay,\n"
    "           retired or unknown selectors passing, signatures failing at a receiver; --html draws it\n"
    "  doctor   postfix: Postfix settings that break signatures after signing or bypass signing, with\n"
    "           the fix, and whether signet-milter answers where Postfix connects; for cron and CI\n"
    "  inspect  read a DNS key record, a DKIM-Signature, or a whole message, and say what is wrong\n"
    "  import-opendkim  OpenDKIM's opendkim.conf, KeyTable and SigningTable as signet.conf and a key set\n"
    "  dmarc    import: DMARC aggregate reports (xml, gz, zip, the report e-mail) into the reports-file;\n"
    "           records: what is stored\n"
    "\n"
    "`signet COMMAND --help` shows a command's options.\n";

}  // namespace

int main(int argc, char** argv) {
  using namespace signet::tools;
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitBadInput : kExitOk;
  }
  const std::string cmd = argv[1];
  const std::vector<std::string> args(argv + 2, argv + argc);
  SubcommandMain run = nullptr;
  if (cmd == "sign") run = sign_main;
  if (cmd == "verify") run = verify_main;
  if (cmd == "keygen") run = keygen_main;
  if (cmd == "keyset") run = keyset_main;
  if (cmd == "key") run = key_main;
  if (cmd == "dns") run = dns_main;
  if (cmd == "register") run = register_main;
  if (cmd == "inspect") run = inspect_main;
  if (cmd == "audit") run = audit_main;
  if (cmd == "import-opendkim") run = import_opendkim_main;
  if (cmd == "doctor") run = doctor_main;
  if (cmd == "dmarc") run = dmarc_main;
  if (cmd == "ledger") run = ledger_main;
  if (cmd == "replay") run = replay_main;
  if (!run) return fail(cmd, "unknown command; run `signet --help` for the list");
  try {
    return run(args);
  } catch (const std::exception& e) {
    return fail(cmd, e.what());
  }
}
