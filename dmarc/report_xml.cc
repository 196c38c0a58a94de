// The report's XML (RFC 7489 appendix C; RFC 9990), read with libxml2's
// streaming xmlTextReader: memory stays proportional to what is kept (the
// rows), not to a DOM of the whole document, and the reader stops at the
// first bound crossed.
//
// XXE: no XML_PARSE_NOENT (entities are never substituted), no
// XML_PARSE_DTDLOAD / DTDATTR / DTDVALID (no external subset is read),
// XML_PARSE_NONET (nothing is fetched), no XML_PARSE_HUGE (libxml2's own
// limits on text nodes and names stay on). A report has no DOCTYPE, so one is
// refused as soon as the reader meets it, before any entity could be used.
#include <arpa/inet.h>
#include <fmt/format.h>
#include <libxml/xmlreader.h>

#include <cctype>
#include <charconv>
#include <cstring>
#include <memory>
#include <optional>

#include "base/ascii.h"
#include "base/time.h"
#include "dmarc/report.h"

namespace signet::dmarc {
namespace {

constexpr const char* kNs9990 = "urn:ietf:params:xml:ns:dmarc-2.0";

std::string clean(std::string_view s) { return std::string(ascii::trim(s)); }

// A bad value as an error message quotes it: trimmed, at most `max` bytes,
// control bytes (a line break inside the element) as spaces, so the refusal
// stays one line.
std::string quoted(std::string_view s, std::size_t max = 40) {
  std::string out(ascii::trim(s).substr(0, max));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  }
  return out;
}
std::string clean_lower(std::string_view s) { return ascii::to_lower(ascii::trim(s)); }

// A non-negative decimal integer (white space around it trimmed), or nullopt.
std::optional<std::int64_t> non_negative(std::string_view text) {
  text = ascii::trim(text);
  if (text.empty()) return std::nullopt;
  std::int64_t v = 0;
  const auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || p != text.data() + text.size() || v < 0) return std::nullopt;
  return v;
}

// source_ip as one form per address, so the same sender is one key whether a
// receiver wrote 2001:DB8:0:0::1 or 2001:db8::1 (RFC 5952 §4 text form).
std::optional<std::string> normalize_ip(std::string_view text) {
  const std::string s(ascii::trim(text));
  char out[INET6_ADDRSTRLEN];
  unsigned char bin[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, s.c_str(), bin) == 1) return std::string(inet_ntop(AF_INET, bin, out, sizeof out));
  if (inet_pton(AF_INET6, s.c_str(), bin) == 1) return std::string(inet_ntop(AF_INET6, bin, out, sizeof out));
  return std::nullopt;
}

// RFC 8601 §2.7.1: the DKIM results a report may carry (DKIMResultType).
bool valid_dkim_result(std::string_view r) {
  for (const char* v : {"none", "pass", "fail", "policy", "neutral", "temperror", "permerror"}) {
    if (r == v) return true;
  }
  return false;
}

struct ReaderFree {
  void operator()(xmlTextReaderPtr r) const { xmlFreeTextReader(r); }
};

// The first error libxml2 reports, with its line, instead of its stderr print.
void keep_first_error(void* arg, xmlErrorPtr e) {
  auto* into = static_cast<std::string*>(arg);
  if (!into->empty() || !e) return;
  std::string msg = e->message ? e->message : "malformed XML";
  for (char& c : msg) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';  // libxml2's messages span lines
  }
  while (!msg.empty() && msg.back() == ' ') msg.pop_back();
  *into = fmt::format("not well-formed XML, truncated or corrupt (line {}: {})", e->line, msg);
}

class Parser {
 public:
  Result<AggregateReport> run(std::string_view xml);

 private:
  Status start(std::string_view name, std::string_view ns, int line);
  Status end(int line);

  AggregateReport r_;
  std::string path_;                 // "feedback/record/row/count"
  std::vector<std::size_t> lengths_;  // path_ length before each element
  std::string text_;
  bool seen_metadata_ = false, seen_range_ = false, seen_row_ = false;
  std::optional<std::int64_t> begin_, end_;
  std::string version_;
  bool ns_9990_ = false;
  std::size_t record_ = 0;  // 1-based number of the record being read
};

Status Parser::start(std::string_view name, std::string_view ns, int line) {
  if (lengths_.empty()) {
    // RFC 7489 appendix C / RFC 9990: the root is <feedback>.
    if (name != "feedback") {
      return permanent_error(fmt::format("not a DMARC aggregate report: the root element is <{}>, not <feedback>",
                                         std::string(name.substr(0, 64))));
    }
    ns_9990_ = ns == kNs9990;
  }
  if (static_cast<int>(lengths_.size()) >= limits::kMaxXmlDepth) {
    return permanent_error(fmt::format("line {}: elements nested deeper than {}", line, limits::kMaxXmlDepth));
  }
  lengths_.push_back(path_.size());
  if (!path_.empty()) path_ += '/';
  path_.append(name);
  text_.clear();
  if (path_ == "feedback/record") {
    if (r_.rows.size() >= limits::kMaxRecords) {
      return permanent_error(fmt::format("more than {} records, the bound on a report", limits::kMaxRecords));
    }
    r_.rows.emplace_back();
    record_ = r_.rows.size();
    seen_row_ = false;
  } else if (path_ == "feedback/record/auth_results/dkim") {
    if (r_.rows.back().dkim.size() >= limits::kMaxDkimPerRecord) {
      return permanent_error(fmt::format("record {}: more than {} DKIM results", record_, limits::kMaxDkimPerRecord));
    }
    r_.rows.back().dkim.emplace_back();
  } else if (path_ == "feedback/report_metadata") {
    seen_metadata_ = true;
  } else if (path_ == "feedback/report_metadata/date_range") {
    seen_range_ = true;
  } else if (path_ == "feedback/record/row") {
    seen_row_ = true;
  }
  return Ok{};
}

Status Parser::end(int line) {
  const std::string_view p = path_;
  const std::string& t = text_;
  constexpr std::string_view kRow = "feedback/record/row/";
  constexpr std::string_view kDkim = "feedback/record/auth_results/dkim/";
  // What is wrong in the record being read, with its number and line.
  const auto in_record = [&](std::string what) {
    return permanent_error(fmt::format("record {} (line {}): {}", record_, line, what));
  };
  if (p == "feedback/version") {
    version_ = clean(t);
  } else if (p == "feedback/report_metadata/org_name") {
    r_.org = clean(t);
  } else if (p == "feedback/report_metadata/email") {
    r_.email = clean(t);
  } else if (p == "feedback/report_metadata/report_id") {
    r_.report_id = clean(t);
  } else if (p == "feedback/report_metadata/date_range/begin" || p == "feedback/report_metadata/date_range/end") {
    const bool is_begin = p.ends_with("begin");
    auto v = non_negative(t);
    if (!v) {
      return permanent_error(fmt::format("line {}: <date_range><{}> \"{}\" is not a Unix time", line,
                                         is_begin ? "begin" : "end", quoted(t)));
    }
    (is_begin ? begin_ : end_) = v;
  } else if (p == "feedback/policy_published/domain") {
    r_.policy_domain = clean_lower(t);
  } else if (p == "feedback/record") {
    if (!seen_row_) return in_record("no <row>");
    if (r_.rows.back().source_ip.empty()) return in_record("no <source_ip>");
  } else if (p.starts_with("feedback/record/")) {
    ReportRow& row = r_.rows.back();
    if (p.starts_with(kRow)) {
      const std::string_view field = p.substr(kRow.size());
      if (field == "source_ip") {
        auto ip = normalize_ip(t);
        if (!ip) {
          return in_record(fmt::format("source_ip \"{}\" is not an IP address", quoted(t, 60)));
        }
        row.source_ip = *ip;
      } else if (field == "count") {
        auto n = non_negative(t);
        if (!n) {
          return in_record(fmt::format("count \"{}\" is not a non-negative integer", quoted(t)));
        }
        row.count = *n;
      } else if (field == "policy_evaluated/disposition") {
        row.disposition = clean_lower(t);
      } else if (field == "policy_evaluated/dkim") {
        row.policy_dkim = clean_lower(t);
      } else if (field == "policy_evaluated/spf") {
        row.policy_spf = clean_lower(t);
      }
    } else if (p == "feedback/record/identifiers/header_from") {
      row.header_from = clean_lower(t);
    } else if (p.starts_with(kDkim)) {
      DkimAuthResult& d = row.dkim.back();
      const std::string_view field = p.substr(kDkim.size());
      if (field == "domain") d.domain = clean_lower(t);
      if (field == "selector") d.selector = clean_lower(t);
      if (field == "result") d.result = clean_lower(t);
    } else if (p == "feedback/record/auth_results/dkim") {
      const DkimAuthResult& d = row.dkim.back();
      if (d.domain.empty()) {
        return in_record("a <dkim> result without <domain>");
      }
      if (!valid_dkim_result(d.result)) {
        return in_record(fmt::format(
            "DKIM result \"{}\" is not one of none, pass, fail, policy, neutral, temperror, permerror",
            quoted(d.result)));
      }
    }
  }
  path_.resize(lengths_.back());
  lengths_.pop_back();
  text_.clear();
  return Ok{};
}

Result<AggregateReport> Parser::run(std::string_view xml) {
  if (xml.size() > limits::kMaxReportBytes) {
    return permanent_error(fmt::format("the XML is larger than {} MiB, the bound on a report", limits::kMaxReportBytes >> 20));
  }
  // The DOCTYPE is refused before libxml2 reads its internal subset (where
  // an entity bomb would be declared); the reader's DOCTYPE node below is the
  // same check for encodings this byte search cannot see (UTF-16).
  const std::size_t doctype = xml.find("<!DOCTYPE");
  if (doctype != std::string_view::npos) {
    std::size_t root = 0;
    while ((root = xml.find('<', root)) != std::string_view::npos && root + 1 < xml.size() &&
           !std::isalpha(static_cast<unsigned char>(xml[root + 1]))) {
      ++root;
    }
    if (doctype < root) return permanent_error("a DOCTYPE: a report has none, and no DTD or entity is read");
  }
  std::string error;
  const int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING;
  std::unique_ptr<xmlTextReader, ReaderFree> reader(
      xmlReaderForMemory(xml.data(), static_cast<int>(xml.size()), "report.xml", nullptr, options));
  if (!reader) return permanent_error("not XML: libxml2 could not start reading it");
  xmlTextReaderSetStructuredErrorHandler(reader.get(), keep_first_error, &error);
  xmlTextReaderPtr rd = reader.get();
  auto text_of = [](const xmlChar* s) { return s ? std::string_view(reinterpret_cast<const char*>(s)) : std::string_view(); };
  for (;;) {
    const int rc = xmlTextReaderRead(rd);
    if (rc == 0) break;
    if (rc < 0) return permanent_error(error.empty() ? std::string("not well-formed XML") : error);
    // The node's own line (the parser reads ahead of the reader); for an end
    // tag, the line its element starts on.
    const xmlNodePtr node = xmlTextReaderCurrentNode(rd);
    const int line = node ? static_cast<int>(xmlGetLineNo(node)) : xmlTextReaderGetParserLineNumber(rd);
    switch (xmlTextReaderNodeType(rd)) {
      case XML_READER_TYPE_DOCUMENT_TYPE:
        return permanent_error(fmt::format("line {}: a DOCTYPE: a report has none, and no DTD or entity is read", line));
      case XML_READER_TYPE_ENTITY_REFERENCE:
        return permanent_error(fmt::format("line {}: an entity reference: no entity is expanded", line));
      case XML_READER_TYPE_ELEMENT: {
        const bool empty = xmlTextReaderIsEmptyElement(rd) == 1;
        if (Status s = start(text_of(xmlTextReaderConstLocalName(rd)), text_of(xmlTextReaderConstNamespaceUri(rd)), line);
            !s) {
          return s.error();
        }
        if (empty) {
          if (Status s = end(line); !s) return s.error();
        }
        break;
      }
      case XML_READER_TYPE_END_ELEMENT:
        if (Status s = end(line); !s) return s.error();
        break;
      case XML_READER_TYPE_TEXT:
      case XML_READER_TYPE_CDATA:
      case XML_READER_TYPE_WHITESPACE:
      case XML_READER_TYPE_SIGNIFICANT_WHITESPACE:
        text_.append(text_of(xmlTextReaderConstValue(rd)));
        break;
      default:
        break;
    }
  }
  if (!error.empty()) return permanent_error(error);
  if (lengths_.size() || path_.size()) return permanent_error("not well-formed XML (the document ends inside an element)");
  if (!seen_metadata_) return permanent_error("no <report_metadata>: not a DMARC aggregate report");
  if (r_.org.empty()) return permanent_error("no <org_name> in <report_metadata>");
  if (r_.report_id.empty()) return permanent_error("no <report_id> in <report_metadata>");
  if (!seen_range_ || !begin_ || !end_) return permanent_error("no <date_range> with <begin> and <end> in <report_metadata>");
  // 9999-12-31T23:59:59Z: past it a Unix time is a receiver's bug, not a date.
  constexpr std::int64_t kLastTime = 253402300799;
  if (*end_ > kLastTime) return permanent_error(fmt::format("<date_range>: end {} is past the year 9999", *end_));
  if (*begin_ > *end_) return permanent_error(fmt::format("<date_range>: begin {} is after end {}", *begin_, *end_));
  if (r_.rows.empty()) return permanent_error("no <record>: a report holds at least one");
  r_.begin = *begin_;
  r_.end = *end_;
  // RFC 9990 reports are in the dmarc-2.0 namespace and may say <version>2.0</version>.
  const bool v2 = version_.starts_with("2");
  r_.format = ns_9990_ || v2 ? ReportFormat::Rfc9990 : ReportFormat::Rfc7489;
  if (r_.format == ReportFormat::Rfc9990) {
    for (std::size_t i = 0; i < r_.rows.size(); ++i) {
      for (const DkimAuthResult& d : r_.rows[i].dkim) {
        if (d.selector.empty()) {
          return permanent_error(
              fmt::format("record {}: a <dkim> result without <selector>, which RFC 9990 makes mandatory", i + 1));
        }
      }
    }
  }
  r_.container = "xml";
  return std::move(r_);
}

}  // namespace

std::string_view format_name(ReportFormat f) { return f == ReportFormat::Rfc9990 ? "RFC 9990" : "RFC 7489"; }

std::string AggregateReport::day() const { return rfc3339::format(begin + (end - begin) / 2).substr(0, 10); }

Result<AggregateReport> parse_report_xml(std::string_view xml) { return Parser().run(xml); }

}  // namespace signet::dmarc
