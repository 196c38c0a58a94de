// signer/key_record.h — the DNS key record at <selector>._domainkey.<domain>
// (RFC 6376 §3.6.1; RFC 8463 §4 for k=ed25519).
//
// read_key_record(txt): the record's tags, typed, and in `errors` every
// §3.6.1 rule it breaks (v= present but not "DKIM1" or not the first tag, k=
// neither rsa nor ed25519, no p=): a verifier ignores a record with any.
// Fails (permanent) only when the tag list is malformed. The
// inspector reports `errors` as findings; the rules are written only here.
// parse_key_record(txt): read_key_record, failing on the first error: what a
// verifier and the DNS checks use. An empty p= parses (revoked() is true):
// whether that is an error is the caller's decision.
//
// format_key_record(key): "v=DKIM1; k=rsa; p=<base64>" for a private key's
// public half. quote_txt_strings(value): the value as DNS TXT character-
// strings of at most 255 bytes each ("..." "..."), as a 2048-bit RSA p=
// needs (RFC 1035 §3.3; RFC 6376 §3.6.2.2).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "signer/key.h"

namespace signet {

struct KeyRecord {
  bool has_version = false;                   // v= present
  std::string key_type_text = "rsa";          // k= as written (rsa when absent)
  Algorithm key_type = Algorithm::RsaSha256;  // k=, when known
  bool has_public_key = false;                // p= present
  std::string public_key_base64;              // p=; empty means revoked
  std::vector<std::string> hash_algorithms;   // h=; empty means any
  std::vector<std::string> service_types;     // s=; empty means "*"
  bool testing = false;                       // t=y
  bool strict_identity = false;               // t=s
  std::vector<std::string> errors;            // §3.6.1 violations, each "what is wrong"

  bool revoked() const { return public_key_base64.empty(); }
};

Result<KeyRecord> read_key_record(std::string_view txt);
Result<KeyRecord> parse_key_record(std::string_view txt);

std::string format_key_record(const PrivateKey& key);

std::string quote_txt_strings(std::string_view value);

}  // namespace signet
