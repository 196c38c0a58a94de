// hsm/pkcs11_uri.h — RFC 7512 pkcs11: URIs as signet reads them: which
// module, token and key, and where the PIN is. The calls are described in
// hsm/pkcs11.h (Pkcs11Uri::parse, redacted, format); this header is apart
// so the key model (keystore/key_row.h) can tell a token key from a file
// without the PKCS#11 calls.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace signet::hsm {

inline constexpr std::string_view kUriScheme = "pkcs11:";
inline bool is_pkcs11_uri(std::string_view s) { return s.substr(0, kUriScheme.size()) == kUriScheme; }

struct Pkcs11Uri {
  std::string text;         // as given
  std::string token;        // CKA_LABEL of the token (token=)
  std::string object;       // CKA_LABEL of the key objects (object=)
  std::string id;           // CKA_ID, raw bytes (id=)
  std::string slot_id;      // slot-id=, decimal, when given
  std::string module_path;  // module-path=
  std::string pin_source;   // pin-source=, a file path
  std::string pin_value;    // pin-value=

  // what = Key: the URI must name a key (object= or id=); Token: a token
  // only is fine (`signet key new --pkcs11`, which names the key itself).
  enum class Names { Key, Token };
  static Result<Pkcs11Uri> parse(std::string_view text, Names what = Names::Key);
  std::string redacted() const;
  // The URI of these fields (percent-encoding what RFC 7512 §2.3 reserves):
  // parse(format()) gives the same fields.
  std::string format() const;
};

}  // namespace signet::hsm
