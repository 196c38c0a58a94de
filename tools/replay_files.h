// tools/replay_files.h — the files the replay check reads, for `signet replay
// check`, `signet audit`, `signet key retire|rotate` (the retire gate) and
// `signet register` (the last day seen passing): the signing ledgers (one per
// host of a fleet) and the DMARC report store.
//
// add_options(desc, ledgers): --reports FILE, and with `ledgers` --ledger FILE
//   (repeatable); without the flags the configuration's reports-file is used.
// from(vm, cfg): the paths, and whether the operator named them: a file named
//   on the command line must exist (missing: an error when read), a
//   configured default may be absent (the caller goes on without it).
// read_reports(since_day): every record, through dmarc::read_report_records;
//   an error names the file.
#pragma once

#include <boost/program_options.hpp>

#include <string>
#include <vector>

#include "base/result.h"
#include "conf/config.h"
#include "dmarc/report_store.h"

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
  Result<std::vector<dmarc::ReportRecord>> read_reports(const std::string& since_day) const;
};

}  // namespace signet::tools
