// tools/replay_files.h — the two files the replay check reads, for `signet
// replay check`, `signet audit`, `signet key retire|rotate` (the retire gate)
// and `signet register` (last day seen passing): the signing ledgers (one per
// host of a fleet) and the DMARC report store.
//
// add_options(desc, ledgers): --reports FILE, and with `ledgers` --ledger FILE
//   (repeatable); without the flags the configuration's ledger-file and
//   reports-file are used.
// from(vm, cfg): the paths, and whether the operator named them: a file named
//   on the command line must exist (missing: an error), a configured default
//   may be absent (the caller goes on without it).
// read_ledgers / read_reports(since_day): every row, through ledger::read_ledger
//   and dmarc::read_report_records; an error names the file.
// analyze(ctx, files, first_day, suffix): replay::analyze over the key set,
//   configuration and both files for first_day .. the day of ctx.now.
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <vector>

#include "base/result.h"
#include "dmarc/report_store.h"
#include "ledger/ledger.h"
#include "replay/analysis.h"
#include "tools/keyset_context.h"

namespace signet::tools {

struct ReplayFiles {
  std::vector<std::string> ledgers;
  std::string reports;
  bool ledgers_named = false, reports_named = false;  // given on the command line

  static void add_options(boost::program_options::options_description& desc, bool ledgers);
  static ReplayFiles from(const boost::program_options::variables_map& vm, const conf::Config& cfg);

  // Every file is there (a configured default may be missing: then false).
  bool ledgers_exist() const;
  bool reports_exist() const;
  Result<std::vector<ledger::LedgerRow>> read_ledgers(const std::string& since_day) const;
  Result<std::vector<dmarc::ReportRecord>> read_reports(const std::string& since_day) const;
  Result<replay::Report> analyze(const KeySetContext& ctx, const std::string& first_day, const std::string& suffix) const;
};

}  // namespace signet::tools
