// Splitting a whole message (signer/message.h): what `signet sign`, `verify`
// and `inspect` read.
//
// Input: a message file, any bytes. Checks:
//   - normalize_line_endings makes every bare LF a CRLF and changes nothing
//     else, and is idempotent; with_final_crlf ends non-empty text in CRLF;
//   - parse_message on the normalized text: each field is a view into the
//     text, starts with a field name and colon, holds no NUL, and ends without
//     CRLF; continuation lines start with WSP; fields, the empty line and the
//     body tile the text exactly (nothing dropped, nothing doubled); limits
//     are kept; it fails only with a message naming the line;
//   - tight limits (the field count and the longest field just met) still
//     parse; one less fails.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "signer/message.h"

using namespace signet;

namespace {

bool ftext(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view raw = signet::fuzz::as_text(data, size);
  const std::string text = normalize_line_endings(raw);
  for (std::size_t i = 0; i < text.size(); ++i) {
    FUZZ_CHECK(text[i] != '\n' || (i > 0 && text[i - 1] == '\r'), "a bare LF after normalize_line_endings");
  }
  std::string expected;  // every LF not after a CR becomes CRLF, nothing else changes
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r')) expected.push_back('\r');
    expected.push_back(raw[i]);
  }
  FUZZ_CHECK(text == expected, "normalize_line_endings changed more than bare LFs");
  FUZZ_CHECK(normalize_line_endings(text) == text, "normalize_line_endings is not idempotent");
  const std::string final = with_final_crlf(text);
  FUZZ_CHECK(final.empty() || final.ends_with("\r\n"), "with_final_crlf");

  auto msg = parse_message(text);
  if (!msg) {
    FUZZ_CHECK(msg.error().message.rfind("line ", 0) == 0, "an error that names no line");
    return 0;
  }
  const char* base = text.data();
  std::size_t pos = 0;  // the fields, each followed by CRLF, then CRLF, then the body
  std::size_t longest = 0;
  for (std::string_view f : msg->fields) {
    FUZZ_CHECK(f.data() == base + pos, "a field is not where the previous one ended");
    std::size_t n = 0;
    while (n < f.size() && ftext(static_cast<unsigned char>(f[n]))) ++n;
    while (n < f.size() && (f[n] == ' ' || f[n] == '\t')) ++n;
    FUZZ_CHECK(n > 0 && n < f.size() && f[n] == ':', "a field that does not start with \"name:\"");
    FUZZ_CHECK(f.find('\0') == std::string_view::npos, "NUL in a field");
    FUZZ_CHECK(!f.ends_with("\r\n"), "a field ending in CRLF");
    for (std::size_t at = f.find("\r\n"); at != std::string_view::npos; at = f.find("\r\n", at + 2)) {
      FUZZ_CHECK(at + 2 < f.size() && (f[at + 2] == ' ' || f[at + 2] == '\t'), "a continuation without WSP");
    }
    pos += f.size();
    if (pos < text.size()) {
      FUZZ_CHECK(text.compare(pos, 2, "\r\n") == 0, "a field not ended by CRLF");
      pos += 2;
    }
    longest = std::max(longest, f.size());
  }
  if (msg->has_separator) {
    FUZZ_CHECK(text.compare(pos, 2, "\r\n") == 0, "no empty line before the body");
    pos += 2;
    FUZZ_CHECK(msg->body.data() == base + pos && pos + msg->body.size() == text.size(), "the body is not the rest");
  } else {
    FUZZ_CHECK(msg->body.empty() && pos >= text.size(), "no separator, yet text after the fields");
  }

  if (!msg->fields.empty()) {
    const MessageLimits exact{msg->fields.size(), longest};
    FUZZ_CHECK(parse_message(text, exact).ok(), "limits exactly met are refused");
    FUZZ_CHECK(!parse_message(text, MessageLimits{msg->fields.size() - 1, longest}).ok(), "one field too many passes");
    FUZZ_CHECK(!parse_message(text, MessageLimits{msg->fields.size(), longest - 1}).ok(), "a field too long passes");
  }
  return 0;
}
