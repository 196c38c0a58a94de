#include "tools/replay_files.h"

#include <unistd.h>

#include "replay/inputs.h"

namespace po = boost::program_options;

namespace signet::tools {

void ReplayFiles::add_options(po::options_description& desc, bool ledgers) {
  if (ledgers) {
    desc.add_options()("ledger", po::value<std::vector<std::string>>()->composing(),
                       "a signing ledger (repeat: one per host of the fleet; default: the configuration's ledger-file)");
  }
  desc.add_options()("reports", po::value<std::string>(),
                     "the DMARC report store `signet dmarc import` fills (default: the configuration's reports-file)");
}

ReplayFiles ReplayFiles::from(const po::variables_map& vm, const conf::Config& cfg) {
  ReplayFiles f;
  if (vm.count("ledger")) {
    f.ledgers = vm["ledger"].as<std::vector<std::string>>();
    f.ledgers_named = true;
  } else if (!cfg.ledger_file.empty()) {
    f.ledgers = {cfg.ledger_file};
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

Result<std::vector<ledger::LedgerRow>> ReplayFiles::read_ledgers(const std::string& since_day) const {
  std::vector<ledger::LedgerRow> all;
  for (const std::string& path : ledgers) {
    auto rows = ledger::read_ledger(path, since_day);
    if (!rows) return rows.error();
    all.insert(all.end(), rows->begin(), rows->end());
  }
  return all;
}

Result<std::vector<dmarc::ReportRecord>> ReplayFiles::read_reports(const std::string& since_day) const {
  return dmarc::read_report_records(reports, since_day);
}

Result<replay::Report> ReplayFiles::analyze(const KeySetContext& ctx, const std::string& first_day,
                                            const std::string& suffix) const {
  replay::Input in = replay::make_input(ctx.config, ctx.manifest(), ctx.dir.delegated(), ctx.now, first_day);
  in.command_suffix = suffix;
  auto rows = read_ledgers(first_day);
  if (!rows) return rows.error();
  in.ledger = std::move(rows.value());
  auto records = read_reports(first_day);
  if (!records) return records.error();
  in.reports = std::move(records.value());
  return replay::analyze(in);
}

}  // namespace signet::tools
