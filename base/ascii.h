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
//   LineReader          the lines of a text, numbered from 1, for parsers
//                       whose errors name FILE:LINE:
//                         for (LineReader r(text); r.next();) use(r.line(), r.number());
//                       a line is what lies between '\n's (a last line without
//                       one counts); the '\n' is not part of it
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

class LineReader {
 public:
  explicit LineReader(std::string_view text) : text_(text) {}
  bool next() {
    if (pos_ >= text_.size()) return false;
    std::size_t eol = text_.find('\n', pos_);
    if (eol == std::string_view::npos) eol = text_.size();
    line_ = text_.substr(pos_, eol - pos_);
    pos_ = eol + 1;
    ++number_;
    return true;
  }
  std::string_view line() const { return line_; }
  std::size_t number() const { return number_; }

 private:
  std::string_view text_, line_;
  std::size_t pos_ = 0, number_ = 0;
};

}  // namespace signet::ascii
