// Header field parsing and canonicalization (canon/header.h, RFC 6376 §3.4.1 /
// §3.4.2), and the MTA's header text (milter/header_text.h).
//
// Input: one raw header field, name to end of its last continuation line
// ("Subject: a\r\n b"), any bytes. Checks:
//   - simple is the field unchanged plus CRLF (§3.4.1);
//   - relaxed agrees with reference_relaxed() below, written from §3.4.2:
//     name lowercased, WSP before the colon dropped, the value unfolded (CRLF,
//     and the bare LF the MTAs and files use), WSP runs one SP, no WSP at the
//     value's start or end;
//   - relaxed is idempotent: the relaxed form of the relaxed form (less its
//     CRLF) is itself;
//   - header_name / header_value / header_name_equals agree with the field;
//   - field_from_mta gives "Name:" + value with every LF a CRLF (and the SP
//     put back without SMFIP_HDR_LEADSPC); value_to_mta leaves no CR;
//   - parse_canonicalization accepts only the four c= spellings (and a lone
//     header algorithm), and to_string() spells back what it read.
#include <cstdint>
#include <string>
#include <string_view>

#include "canon/header.h"
#include "fuzz_util.h"
#include "milter/header_text.h"

using signet::canon::Canon;

namespace {

bool is_wsp(char c) { return c == ' ' || c == '\t'; }
char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; }

std::string reference_relaxed(std::string_view raw) {
  const std::size_t colon = raw.find(':');
  std::string name(raw.substr(0, colon));
  while (!name.empty() && is_wsp(name.back())) name.pop_back();  // WSP before the colon
  for (char& c : name) c = lower(c);                            // names are case-insensitive
  std::string value(colon == std::string_view::npos ? std::string_view() : raw.substr(colon + 1));
  // Unfold: CRLF pairs first (left to right), then any LF left.
  std::string unfolded;
  for (std::size_t i = 0; i < value.size(); ++i) {
    if (value.compare(i, 2, "\r\n") == 0) {
      ++i;
      continue;
    }
    if (value[i] != '\n') unfolded.push_back(value[i]);
  }
  std::string reduced = signet::fuzz::reduce_wsp(unfolded);
  if (!reduced.empty() && reduced.front() == ' ') reduced.erase(0, 1);  // WSP after the colon
  if (!reduced.empty() && reduced.back() == ' ') reduced.pop_back();    // WSP at the value's end
  return name + ":" + reduced + "\r\n";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string raw(signet::fuzz::as_text(data, size));

  FUZZ_CHECK(signet::canon::canonicalize_header(Canon::Simple, raw) == raw + "\r\n", "simple changed the field");
  const std::string relaxed = signet::canon::canonicalize_header(Canon::Relaxed, raw);
  FUZZ_CHECK(relaxed == reference_relaxed(raw), "relaxed differs from the RFC 6376 §3.4.2 reference");
  std::string appended = "prefix";
  signet::canon::append_canonical_header(Canon::Relaxed, raw, appended);
  FUZZ_CHECK(appended == "prefix" + relaxed, "append_canonical_header differs from canonicalize_header");
  const std::string_view once = std::string_view(relaxed).substr(0, relaxed.size() - 2);
  FUZZ_CHECK(signet::canon::canonicalize_header(Canon::Relaxed, once) == relaxed, "relaxed is not idempotent");

  const std::size_t colon = raw.find(':');
  const std::string_view name = signet::canon::header_name(raw);
  FUZZ_CHECK(std::string_view(raw).substr(0, name.size()) == name, "header_name is not the field's start");
  std::string lowered(name);
  for (char& c : lowered) c = lower(c);
  FUZZ_CHECK(signet::canon::header_name_equals(raw, lowered), "header_name_equals(raw, its own name)");
  FUZZ_CHECK(signet::canon::header_value(raw) ==
                 (colon == std::string::npos ? std::string_view() : std::string_view(raw).substr(colon + 1)),
             "header_value is not what follows the first colon");

  const std::string_view mta_name = std::string_view(raw).substr(0, colon);
  const std::string_view mta_value = colon == std::string::npos ? std::string_view() : std::string_view(raw).substr(colon + 1);
  for (bool leading_space : {false, true}) {
    const std::string field = signet::milter::field_from_mta(mta_name, mta_value, leading_space);
    const std::string head = std::string(mta_name) + (leading_space ? ":" : ": ");
    FUZZ_CHECK(field.compare(0, head.size(), head) == 0, "field_from_mta: not \"Name:\" first");
    for (std::size_t i = 0; i < field.size(); ++i) {
      if (field[i] == '\n' && (i < head.size() || field[i - 1] != '\r')) {
        FUZZ_CHECK(i < head.size(), "field_from_mta left a bare LF in the value");
      }
    }
    const std::string back = signet::milter::value_to_mta(mta_value, leading_space);
    FUZZ_CHECK(back.find('\r') == std::string::npos, "value_to_mta left a CR");
    FUZZ_CHECK(!leading_space || back.front() == ' ', "value_to_mta without its leading SP");
  }

  if (const auto c = signet::canon::parse_canonicalization(raw)) {
    const std::string spelled = std::string(signet::canon::to_string(c->first)) + "/" +
                                std::string(signet::canon::to_string(c->second));
    FUZZ_CHECK(raw == spelled || (raw.find('/') == std::string::npos && c->second == Canon::Simple &&
                                  raw == signet::canon::to_string(c->first)),
               "parse_canonicalization accepted a spelling it does not write");
  }
  return 0;
}
