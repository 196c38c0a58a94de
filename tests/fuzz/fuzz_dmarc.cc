// DMARC aggregate reports as `signet dmarc import` reads them
// (dmarc/report.h): container detection (gzip, zip, e-mail, XML) and the
// report's XML, on any bytes.
//
// Input: the bytes of a file. Checks:
//   - read_report never crashes and its refusal is one line;
//   - a report it accepts has an org and a report_id, begin <= end, a day
//     that is "YYYY-MM-DD", at least one row, every count >= 0, a source_ip
//     in normalized form (parses and prints back the same), lowercase DKIM
//     domains and selectors, results from RFC 8601 §2.7.1's list, and (RFC
//     9990) a selector on every DKIM result;
//   - a report read from plain XML reads the same from parse_report_xml.
#include <arpa/inet.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "dmarc/report.h"
#include "fuzz_util.h"

using namespace signet;
using namespace signet::dmarc;

namespace {

bool normalized_ip(const std::string& ip) {
  unsigned char bin[16];
  char out[INET6_ADDRSTRLEN];
  const int af = ip.find(':') == std::string::npos ? AF_INET : AF_INET6;
  return inet_pton(af, ip.c_str(), bin) == 1 && ip == inet_ntop(af, bin, out, sizeof out);
}

bool lowercase(const std::string& s) {
  for (char c : s) {
    if (c >= 'A' && c <= 'Z') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes = signet::fuzz::as_text(data, size);
  auto r = read_report(bytes);
  if (!r) {
    FUZZ_CHECK(!r.error().message.empty(), "an empty refusal");
    FUZZ_CHECK(r.error().message.find('\n') == std::string::npos, r.error().message);
    return 0;
  }
  const AggregateReport& rep = r.value();
  FUZZ_CHECK(!rep.org.empty() && !rep.report_id.empty(), "a report without org or report_id");
  FUZZ_CHECK(rep.begin >= 0 && rep.begin <= rep.end, std::to_string(rep.begin) + ".." + std::to_string(rep.end));
  const std::string day = rep.day();
  FUZZ_CHECK(day.size() == 10 && day[4] == '-' && day[7] == '-', day);
  FUZZ_CHECK(!rep.rows.empty() && rep.rows.size() <= limits::kMaxRecords, "rows out of bounds");
  for (const ReportRow& row : rep.rows) {
    FUZZ_CHECK(row.count >= 0, std::to_string(row.count));
    FUZZ_CHECK(normalized_ip(row.source_ip), row.source_ip);
    FUZZ_CHECK(lowercase(row.header_from), row.header_from);
    for (const DkimAuthResult& d : row.dkim) {
      FUZZ_CHECK(!d.domain.empty() && lowercase(d.domain) && lowercase(d.selector), d.domain + " " + d.selector);
      FUZZ_CHECK(d.result == "none" || d.result == "pass" || d.result == "fail" || d.result == "policy" ||
                     d.result == "neutral" || d.result == "temperror" || d.result == "permerror",
                 d.result);
      FUZZ_CHECK(rep.format == ReportFormat::Rfc7489 || !d.selector.empty(), "an RFC 9990 result without selector");
    }
  }
  if (rep.container == "xml") {
    auto again = parse_report_xml(bytes);
    FUZZ_CHECK(again.ok() && again->report_id == rep.report_id && again->rows.size() == rep.rows.size(),
               "parse_report_xml disagrees with read_report");
  }
  return 0;
}
