// dmarc/report_store.h — the DMARC aggregate reports `signet dmarc import`
// has stored (SQLite, store/sqlite.h, next to the ledger), as the replay
// check and audit read them. docs/observability.md describes the file.
//
// The shapes below are the contract the readers (replay, audit, the register)
// use.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

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

}  // namespace signet::dmarc
