// The PKCS#11 URI parser (hsm/pkcs11_uri.h, RFC 7512): a manifest's
// `pkcs11:` key and `signet key new --pkcs11`'s argument, both operator text.
//
// Input: a URI's text. Checks:
//   - parse never crashes; an error starts "PKCS#11 URI " and is the same
//     whatever the bytes of a pin-value= attribute (the PIN is a secret: the
//     message is logged);
//   - a URI that names a key also names a token (Names::Key is the stricter);
//   - a parsed URI formats to one that parses back to the same fields
//     (RFC 7512 §2.3 percent-encoding; the header's promise), and formatting
//     that again gives the same text;
//   - redacted() leaves no pin-value= but "***".
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "hsm/pkcs11_uri.h"

using namespace signet;
using namespace signet::hsm;

namespace {

constexpr std::string_view kPin = "pin-value=";

bool same_fields(const Pkcs11Uri& a, const Pkcs11Uri& b) {
  return a.token == b.token && a.object == b.object && a.id == b.id && a.slot_id == b.slot_id &&
         a.module_path == b.module_path && a.pin_source == b.pin_source && a.pin_value == b.pin_value;
}

// The text with the value of each pin-value= attribute of the query (RFC
// 7512 §2.4: after "?" or "&", up to the next "&") overwritten by other bytes
// of the same length, none of them structural. A value with a "%" is left
// (its decoding can fail, which the message rightly says).
std::string other_pins(std::string_view text) {
  std::string out(text);
  const std::size_t q = text.find('?');
  if (q == std::string_view::npos) return out;
  for (std::size_t at = q; at != std::string_view::npos; at = text.find('&', at + 1)) {
    if (text.compare(at + 1, kPin.size(), kPin) != 0) continue;
    const std::size_t start = at + 1 + kPin.size();
    const std::size_t end = std::min(text.find('&', start), text.size());
    if (text.substr(start, end - start).find('%') != std::string_view::npos) continue;
    for (std::size_t i = start; i < end; ++i) out[i] = text[i] == 'Z' ? 'Y' : 'Z';
  }
  return out;
}

// A PIN never shapes an error's words: the message is the same whatever the
// PIN's bytes (the message is logged; the PIN is a secret).
void check_no_pin(std::string_view text, Pkcs11Uri::Names what, const Result<Pkcs11Uri>& r) {
  const std::string other = other_pins(text);
  if (other == text) return;
  auto r2 = Pkcs11Uri::parse(other, what);
  FUZZ_CHECK(r.ok() == r2.ok(), "the PIN's bytes decide whether the URI parses");
  if (!r) FUZZ_CHECK(r.error().message == r2.error().message, "an error holds the PIN: " + r.error().message);
}

void check_redacted(const std::string& r) {
  for (std::size_t p = r.find(kPin); p != std::string::npos; p = r.find(kPin, p + 1)) {
    FUZZ_CHECK(r.compare(p + kPin.size(), 3, "***") == 0, "redacted() shows a PIN: " + r);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = signet::fuzz::as_text(data, size);
  auto key = Pkcs11Uri::parse(text, Pkcs11Uri::Names::Key);
  auto token = Pkcs11Uri::parse(text, Pkcs11Uri::Names::Token);
  FUZZ_CHECK(!key || token, "a URI that names a key but not a token");
  check_no_pin(text, Pkcs11Uri::Names::Key, key);
  check_no_pin(text, Pkcs11Uri::Names::Token, token);
  for (const auto* r : {&key, &token}) {
    if (!*r) FUZZ_CHECK(r->error().message.rfind("PKCS#11 URI ", 0) == 0, r->error().message);
  }
  if (!token) return 0;
  check_redacted(token->redacted());
  const Pkcs11Uri::Names what = key ? Pkcs11Uri::Names::Key : Pkcs11Uri::Names::Token;
  const std::string formatted = token->format();
  auto again = Pkcs11Uri::parse(formatted, what);
  FUZZ_CHECK(again.ok(), again ? "" : again.error().message);
  FUZZ_CHECK(same_fields(*again, *token), "parse(format(u)) has other fields: " + formatted);
  FUZZ_CHECK(again->format() == formatted, "format(parse(format(u))) != format(u)");
  check_redacted(again->redacted());
  return 0;
}
