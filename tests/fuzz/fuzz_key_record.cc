// The DNS key record (signer/key_record.h, RFC 6376 §3.6.1, RFC 8463 §4),
// base64 (signer/base64.h) and the public key inside (signer/key.h).
//
// Input: a TXT record's text, its strings joined. Checks:
//   - read_key_record fails exactly when the tag list is malformed;
//     parse_key_record succeeds exactly when read_key_record found no error,
//     and then with the same record;
//   - the typed fields are the tags' (p= with FWS removed, k= rsa when absent,
//     v= first and DKIM1 or an error says so);
//   - base64: decode(p=) re-encoded decodes to the same bytes; encode of any
//     bytes decodes back;
//   - PublicKey::from_der on the decoded p= never crashes, and a key it
//     accepts has the record's algorithm (ed25519: 256 bits; rsa: >= 1024 is
//     the verifier's policy, not the parser's);
//   - quote_txt_strings: strings of at most 255 bytes that join back to the text.
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "signer/base64.h"
#include "signer/key.h"
#include "signer/key_record.h"
#include "signer/tag_list.h"

using namespace signet;

namespace {

void check_quoting(std::string_view text) {
  if (text.find('"') != std::string_view::npos) return;  // the text's own quotes are not escaped
  const std::string q = quote_txt_strings(text);
  std::string joined;
  std::size_t i = 0;
  while (i < q.size()) {
    FUZZ_CHECK(q[i] == '"', "a TXT string does not start with a quote");
    const std::size_t close = q.find('"', i + 1);
    FUZZ_CHECK(close != std::string::npos, "a TXT string is not closed");
    FUZZ_CHECK(close - i - 1 <= 255, "a TXT string longer than 255 bytes (RFC 1035 §3.3)");
    joined.append(q, i + 1, close - i - 1);
    i = close + 1;
    if (i < q.size()) {
      FUZZ_CHECK(q[i] == ' ', "TXT strings not separated by one space");
      ++i;
    }
  }
  FUZZ_CHECK(joined == text, "TXT strings do not join back to the text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = signet::fuzz::as_text(data, size);
  auto tags = parse_tag_list(text);
  auto rec = read_key_record(text);
  FUZZ_CHECK(tags.ok() == rec.ok(), "read_key_record and parse_tag_list disagree");
  auto strict = parse_key_record(text);
  FUZZ_CHECK(strict.ok() == (rec.ok() && rec->errors.empty()), "parse_key_record vs read_key_record's errors");
  if (rec) {
    const Tag* v = tags->find("v");
    const Tag* k = tags->find("k");
    const Tag* p = tags->find("p");
    FUZZ_CHECK(rec->has_version == (v != nullptr), "has_version");
    const bool version_ok = !v || (v == &tags->tags.front() && v->value == "DKIM1");
    const bool type_ok = !k || parse_key_type(k->value).has_value();
    FUZZ_CHECK(rec->errors.empty() == (version_ok && type_ok && p), "errors do not match §3.6.1's rules");
    FUZZ_CHECK(rec->key_type_text == (k ? k->value : "rsa"), "k= text");
    FUZZ_CHECK(rec->has_public_key == (p != nullptr), "has_public_key");
    if (p) FUZZ_CHECK(rec->public_key_base64 == strip_fws(p->value), "p= is not its value without FWS");
    FUZZ_CHECK(rec->revoked() == rec->public_key_base64.empty(), "revoked");

    if (const auto der = base64::decode(rec->public_key_base64)) {
      const std::string re = base64::encode(*der);
      FUZZ_CHECK(base64::decode(re) == der, "base64 re-encoding does not decode to the same bytes");
      if (type_ok && !der->empty()) {
        auto key = PublicKey::from_der(rec->key_type, *der);
        if (key) {
          FUZZ_CHECK(key->algorithm() == rec->key_type, "public key of another algorithm");
          FUZZ_CHECK(rec->key_type != Algorithm::Ed25519Sha256 || key->bits() == 256, "ed25519 key size");
          Sha256Digest digest{};
          (void)key->verify_digest(digest, *der);  // garbage signatures: false, never a crash
        }
      }
    }
  }
  const std::string encoded = base64::encode(text);
  FUZZ_CHECK(base64::decode(encoded) == std::optional<std::string>(std::string(text)), "base64 round trip");
  check_quoting(text.substr(0, 2000));
  return 0;
}
