// The key set's manifest (keystore/manifest.h).
//
// Input: a manifest's text. Checks:
//   - parse_manifest(format_manifest(parse_manifest(x))) == parse_manifest(x),
//     row for row (KeyRow::operator==: every field but the origin), and the
//     formatted text is a fixed point of format(parse(.));
//   - every row parsed has the fields a [key] requires, an origin naming the
//     path and its [key] line, and RFC 3339 times that format and parse back;
//   - check_manifest never crashes, and gives the same answer on the
//     round-tripped rows.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/time.h"
#include "fuzz_util.h"
#include "keystore/manifest.h"

using namespace signet;
using namespace signet::keystore;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = signet::fuzz::as_text(data, size);
  auto m = parse_manifest(text, "/keys/manifest");
  if (!m) {
    FUZZ_CHECK(m.error().message.rfind("/keys/manifest:", 0) == 0, "an error that does not name PATH:LINE");
    return 0;
  }
  for (const KeyRow& k : m->keys) {
    FUZZ_CHECK(k.origin.rfind("/keys/manifest:", 0) == 0, "a row's origin does not name the file");
    for (std::int64_t t : {k.created, k.published_at}) {
      FUZZ_CHECK(rfc3339::parse(rfc3339::format(t)) == t, "a time does not format and parse back");
    }
  }
  const std::string formatted = format_manifest(m.value());
  auto again = parse_manifest(formatted, "/keys/manifest");
  FUZZ_CHECK(again.ok(), again ? "" : again.error().message);
  FUZZ_CHECK(again->keys.size() == m->keys.size(), "round trip: another number of rows");
  for (std::size_t i = 0; i < m->keys.size(); ++i) {
    FUZZ_CHECK(again->keys[i] == m->keys[i], "round trip changed row " + std::to_string(i) + "\n" + formatted);
  }
  FUZZ_CHECK(format_manifest(again.value()) == formatted, "format(parse(format(m))) != format(m)");
  const Status checked = check_manifest(m.value());
  const Status checked_again = check_manifest(again.value());
  FUZZ_CHECK(checked.ok() == checked_again.ok(), "check_manifest: another answer after the round trip");
  return 0;
}
