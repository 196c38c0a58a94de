// dmarc/report_store.h — the DMARC aggregate reports `signet dmarc import`
// has stored (SQLite, store/sqlite.h, next to the ledger), as the replay
// check and audit read them. docs/observability.md describes the file.
//
// The shapes below are the contract the readers (replay, audit, the register)
// use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "dmarc/report.h"
#include "store/sqlite.h"

namespace signet::dmarc {

// One DKIM result a receiver reported: the report's row (`count` messages from
// `source_ip`) and one of its <auth_results><dkim> entries. A row with two
// DKIM results gives two ReportRecords; a row with none gives one with empty
// dkim_domain/dkim_selector and dkim_result "none".
//   day          UTC "YYYY-MM-DD" the report's date range is attributed to
//                (the day holding the middle of <date_range>)
//   org, report_id   <report_metadata> (org_name, report_id): the report's key
//   source_ip    as reported, normalized (IPv4 dotted, IPv6 compressed)
//   header_from  <identifiers><header_from>, lowercased
//   dkim_domain, dkim_selector   d= and s= (lowercased; selector "" when
//                the report (RFC 7489) omitted it)
//   dkim_result  "pass" | "fail" | "neutral" | "temperror" | "permerror" |
//                "policy" | "none"
struct ReportRecord {
  std::string day;
  std::string org;
  std::string report_id;
  std::string source_ip;
  std::int64_t count = 0;
  std::string header_from;
  std::string dkim_domain;
  std::string dkim_selector;
  std::string dkim_result;
};

// Every record with day >= since_day ("" = all), ordered by day, org,
// report_id. Fails naming the file when it is missing, unreadable or not a
// report store.
Result<std::vector<ReportRecord>> read_report_records(const std::string& path, std::string_view since_day);

// The last day ("YYYY-MM-DD", as ReportRecord::day) on which any report
// counted a DKIM pass (count > 0) for d=`domain` s=`selector` (compared
// lowercased); nullopt when none ever did. The register's retire gate: an
// old selector may go once it has stopped passing. Fails as
// read_report_records does.
Result<std::optional<std::string>> last_seen_passing(const std::string& path, std::string_view domain,
                                                     std::string_view selector);

// Writing (signet dmarc import).
//   open_report_store(path)  opens the file read-write, creating it and its
//                            tables (docs/observability.md) on first use;
//                            fails naming the file when it is another
//                            SQLite database (the ledger, say) or no database.
//   store_report(db, r, source, now)
//                            stores one parsed report (dmarc/report.h) and its
//                            records in one transaction: all or nothing. A
//                            report already stored (same org and report_id,
//                            the key RFC 7489 §7.2.1.1 gives it) is left as it
//                            is: duplicate = true, nothing written. `source`
//                            (the file it came from) and `now` (Unix time) are
//                            kept with it.
struct StoreOutcome {
  bool duplicate = false;
  std::size_t records = 0;  // ReportRecords written (one per DKIM result)
};
Result<store::Db> open_report_store(const std::string& path);
Result<StoreOutcome> store_report(store::Db& db, const AggregateReport& report, std::string_view source,
                                  std::int64_t now);

}  // namespace signet::dmarc
