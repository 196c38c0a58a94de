#include "tools/replay_files.h"

#include <unistd.h>

namespace po = boost::program_options;

namespace signet::tools {

void ReplayFiles::add_options(po::options_description& desc, bool ledgers) {
  if (ledgers) {
    desc.add_options()("ledger", po::value<std::vector<std::string>>()->composing(),
                       "a signing ledger (repeat: one per host of the fleet)");
  }
  desc.add_options()("reports", po::value<std::string>(),
                     "the DMARC report store `signet dmarc import` fills (default: the configuration's reports-file)");
}

ReplayFiles ReplayFiles::from(const po::variables_map& vm, const conf::Config& cfg) {
  ReplayFiles f;
  if (vm.count("ledger")) {
    f.ledgers = vm["ledger"].as<std::vector<std::string>>();
    f.ledgers_named = true;
  }
  if (vm.count("reports")) {
    f.reports = vm["reports"].as<std::string>();
    f.reports_named = true;
  } else {
    f.reports = cfg.reports_file;
  }
  return f;
}

bool ReplayFiles::ledgers_exist() const {
  for (const std::string& l : ledgers) {
    if (::access(l.c_str(), F_OK) != 0) return false;
  }
  return !ledgers.empty();
}

bool ReplayFiles::reports_exist() const { return !reports.empty() && ::access(reports.c_str(), F_OK) == 0; }

Result<std::vector<dmarc::ReportRecord>> ReplayFiles::read_reports(const std::string& since_day) const {
  return dmarc::read_report_records(reports, since_day);
}

}  // namespace signet::tools
