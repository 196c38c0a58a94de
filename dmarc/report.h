// dmarc/report.h — one DMARC aggregate report as a receiver sends it, read
// from the bytes of a file: the XML itself, gzip, zip, or the report e-mail
// with the report attached. `signet dmarc import` and the fuzz target call
// read_report(); nothing here touches the disk.
//
// Formats (both read by element local name, any namespace):
//   RFC 7489 appendix C   <feedback> without a namespace; <version> optional
//                         (1.0 when present); the DKIM selector is optional
//   RFC 9990              DMARCbis aggregate reporting: <feedback
//                         xmlns="urn:ietf:params:xml:ns:dmarc-2.0"> or
//                         <version>2.0</version>; the DKIM selector is
//                         mandatory (a <dkim> without one is refused)
//
// Calls:
//   read_report(bytes)     detects the container by content, not by name
//                          (gzip 1f 8b, zip "PK\3\4", XML "<" after an optional
//                          BOM and white space, else an RFC 5322 message), opens
//                          it within the bounds below and parses the XML
//   parse_report_xml(xml)  the XML alone
// Tolerated (what receivers get slightly wrong): missing optional elements
// (email, policy_published, identifiers, auth_results, the 7489 selector),
// an empty <reason>, white space around values, results in upper case,
// unknown extension elements. Refused (the report is broken): not XML,
// invalid UTF-8, a DOCTYPE (no DTD is read, no entity expanded: XXE-safe),
// a root other than <feedback>, no <report_metadata>, <org_name>,
// <report_id> or <date_range> with integer <begin> <= <end>, no <record>, a
// record without <row>, a source_ip that is not an IP address, a count that
// is not a non-negative integer, a DKIM result outside RFC 8601 §2.7.1's
// list, and anything over a bound.
// How it fails: a permanent Error whose message is the problem in one line,
// without the file's name (the caller puts it first). Never throws, never
// crashes, whatever the bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet::dmarc {

// Bounds: a report is refused past any of them, in bounded memory and time.
namespace limits {
// A day of reports from the largest receivers is a few MiB of XML; 64 MiB
// decompressed leaves room for them and keeps a bomb's cost to one such read.
inline constexpr std::size_t kMaxReportBytes = std::size_t{64} << 20;
// The file as read (compressed or not): nothing honest is bigger than the
// XML it holds.
inline constexpr std::size_t kMaxInputBytes = kMaxReportBytes;
// <record> elements in one report.
inline constexpr std::size_t kMaxRecords = 1'000'000;
// A report zip holds one XML file; reading the central directory of more is
// work for nothing.
inline constexpr std::int64_t kMaxZipEntries = 64;
// E-mail > zip > gzip > XML is the deepest honest nesting.
inline constexpr int kMaxNesting = 4;
// Element depth: a report is 6 deep; extensions may add a few.
inline constexpr int kMaxXmlDepth = 64;
// <dkim> results in one record (a message rarely carries more than 3).
inline constexpr std::size_t kMaxDkimPerRecord = 1000;
}  // namespace limits

enum class ReportFormat { Rfc7489, Rfc9990 };
std::string_view format_name(ReportFormat f);  // "RFC 7489" | "RFC 9990"

// <auth_results><dkim>: d=, s= (lowercased; "" when a 7489 report omits it)
// and the result, lowercased: none pass fail policy neutral temperror permerror.
struct DkimAuthResult {
  std::string domain;
  std::string selector;
  std::string result;
};

// One <record>: the row, its identifiers and DKIM results in document order.
struct ReportRow {
  std::string source_ip;  // normalized: IPv4 dotted quad, IPv6 RFC 5952
  std::int64_t count = 0;
  std::string disposition;  // <policy_evaluated>, lowercased; "" if absent
  std::string policy_dkim;
  std::string policy_spf;
  std::string header_from;  // lowercased; "" if absent
  std::vector<DkimAuthResult> dkim;
};

struct AggregateReport {
  ReportFormat format = ReportFormat::Rfc7489;
  std::string org;        // <org_name>, white space trimmed
  std::string email;
  std::string report_id;  // never empty in a parsed report
  std::int64_t begin = 0, end = 0;  // <date_range>, Unix seconds, begin <= end
  std::string policy_domain;        // <policy_published><domain>, lowercased
  std::vector<ReportRow> rows;      // never empty in a parsed report
  std::string container;            // how it came: "xml", "gzip > xml", "e-mail > zip > xml"

  // The UTC day ("YYYY-MM-DD") the report is attributed to: the one holding
  // the middle of <date_range>, so a report for 00:00..24:00 (or a receiver's
  // 23:59:59 end) lands on its own day, not the next.
  std::string day() const;
};

Result<AggregateReport> read_report(std::string_view bytes);
Result<AggregateReport> parse_report_xml(std::string_view xml);

}  // namespace signet::dmarc
