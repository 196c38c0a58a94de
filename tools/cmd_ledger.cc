// signet ledger — the signing ledger signet-milter keeps (ledger/ledger.h):
// per UTC day, stream, d=, s= and algorithm, how many signatures it made.
// Reads the file only (the daemon may be writing it: SQLite's WAL lets both).
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include "base/time.h"
#include "conf/config.h"
#include "ledger/ledger.h"
#include "tools/common.h"
#include "tools/keyset_context.h"
#include "tools/table.h"

namespace po = boost::program_options;

namespace signet::tools {

int ledger_main(const std::vector<std::string>& args) {
  po::options_description desc(
      "signet ledger [--ledger FILE] [--config FILE] [--since YYYY-MM-DD|Nd] [--format table|csv|json]");
  std::string format = "table", since;
  desc.add_options()("help,h", "show this help")(
      "ledger", po::value<std::string>(), "the ledger file (default: the configuration's ledger-file)")(
      "config", po::value<std::string>(), "signet-milter configuration (default /etc/signet/signet.conf)")(
      "since", po::value(&since), "only days from this one on: YYYY-MM-DD, or Nd for the day N days before now")(
      "format", po::value(&format), "table (default), csv or json")(
      "now", po::value<std::string>(), "act as if it were this time (RFC 3339 or Unix time), for --since Nd");
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "Days are UTC. Nothing is printed for days without signatures.\n")) return kExitOk;
  if (format != "table" && format != "csv" && format != "json") return fail("ledger", "--format: table, csv or json");

  std::string path;
  if (vm.count("ledger")) {
    path = vm["ledger"].as<std::string>();
  } else {
    const std::string config_file = vm.count("config") ? vm["config"].as<std::string>() : "/etc/signet/signet.conf";
    const char* argv[] = {"signet", "--config", config_file.c_str()};
    auto cfg = conf::load_config(3, argv);
    if (!cfg) return fail("ledger", cfg.error().message + " (or name the ledger with --ledger FILE)");
    path = cfg->ledger_file;
    if (path.empty()) return fail("ledger", config_file + " sets ledger-file empty: signet-milter keeps no ledger");
  }

  std::string since_day;
  if (!since.empty()) {
    const bool date = since.size() == 10 && since[4] == '-' && since[7] == '-' &&
                      since.find_first_not_of("0123456789-") == std::string::npos;
    if (date) {
      if (!rfc3339::parse(since + "T00:00:00Z")) return fail("ledger", "--since " + since + ": no such day");
      since_day = since;
    } else {
      const auto back = since.back() == 'd' ? parse_duration(since) : std::nullopt;
      if (!back) return fail("ledger", "--since " + since + ": expected YYYY-MM-DD or a number of days such as 7d");
      auto now = clock_from(vm);
      if (!now) return fail("ledger", now.error().message);
      since_day = ledger::day_text(ledger::day_number(now.value() - *back));
    }
  }

  auto rows = ledger::read_ledger(path, since_day);
  if (!rows) return fail("ledger", rows.error().message);
  std::vector<std::vector<std::string>> out;
  for (const ledger::LedgerRow& r : rows.value()) {
    out.push_back({r.day, r.stream, r.domain, r.selector, r.algorithm, std::to_string(r.count)});
  }
  print_rows(format, {"day", "stream", "domain", "selector", "algorithm", "signatures"}, out,
             {false, false, false, false, false, true});
  return kExitOk;
}

}  // namespace signet::tools
