// base/ascii.h — the ASCII helpers every folder uses: case-insensitive
// comparison (header names, domain names, tag values), lowercasing, and
// whitespace trimming. Bytes >= 0x80 are never changed or folded: RFC 5322
// field names and RFC 1035 names are ASCII, and nothing here guesses at UTF-8.
//
// Calls (all pure, none allocates except to_lower):
//   lower(c)            'A'..'Z' -> 'a'..'z', anything else unchanged
//   iequals(a, b)       equal ignoring ASCII case
//   to_lower(s)         a lowercased copy
//   is_wsp(c)           SP or HTAB (RFC 5234 WSP)
//   trim(s)             s without leading/trailing SP, HTAB, CR, LF
// Fails: never.
#pragma once

#include <string>
#include <string_view>

namespace signet::ascii {

constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
constexpr bool is_wsp(char c) { return c == ' ' || c == '\t'; }

bool iequals(std::string_view a, std::string_view b);
std::string to_lower(std::string_view s);
std::string_view trim(std::string_view s);

}  // namespace signet::ascii
