// signer/signer.h — signing one message with one or more keys, streaming.
//
// The path of one message through signer/ (and canon/ inside it):
//   add_header()  each raw field is kept (headers are small and bounded)
//   add_body()    chunk -> canon/body.h BodyCanonicalizer -> SHA-256 (digest.h)
//                 the body is never buffered; with two keys (rsa + ed25519,
//                 one canonicalization) it is canonicalized and hashed ONCE
//   finish(now)   header_select.h: exactly one From, h= with oversigning
//                 signature.h: the DKIM-Signature field with b= empty
//                 digest.h: SHA-256 of the selected fields + that field
//                 key.h: rsa-sha256 (OpenSSL EVP) / ed25519-sha256 (libsodium)
//                 signature.h: b= appended and folded
//
// MessageSigner promises: one DKIM-Signature field per key, in key order,
// folded to 78 columns, no trailing CRLF; t= is `now` (an input, so tests are
// byte-exact), x= is now + expire_after when set; never l=, never rsa-sha1.
// finish() fails (permanent) when the message does not have exactly one From,
// and (temporary) if the crypto library fails. The signer knows nothing about
// files, streams, time or the MTA.
// Thread safety: one MessageSigner per message; keys may be shared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "canon/body.h"
#include "signer/digest.h"
#include "signer/header_select.h"
#include "signer/key.h"

namespace signet {

struct SigningKey {
  const PrivateKey* key = nullptr;  // REQUIRES: outlives the MessageSigner
  std::string domain;               // d=
  std::string selector;             // s=
  std::optional<std::string> identity;  // i=
};

struct SignOptions {
  canon::Canon header_canon = canon::Canon::Relaxed;
  canon::Canon body_canon = canon::Canon::Relaxed;
  HeaderPolicy headers = default_header_policy();
  std::optional<std::int64_t> expire_after;  // seconds; sets x=
};

class MessageSigner {
 public:
  MessageSigner(SignOptions options, std::vector<SigningKey> keys);

  void add_header(std::string_view raw_field);
  void add_body(std::string_view chunk) { body_.update(chunk); }
  // Replaces the keys before finish(): the key that signs is the one whose
  // window holds the signing time t=, which is only known at the end.
  void set_keys(std::vector<SigningKey> keys) { keys_ = std::move(keys); }
  Result<std::vector<std::string>> finish(std::int64_t now);

  std::uint64_t body_bytes() const { return body_.body_bytes(); }

 private:
  SignOptions options_;
  std::vector<SigningKey> keys_;
  std::vector<std::string> storage_;
  BodyHasher body_;
};

// Convenience over a parsed message's fields and body (the `sign` command).
Result<std::vector<std::string>> sign_message(const std::vector<std::string_view>& fields,
                                              std::string_view body, const SignOptions& options,
                                              const std::vector<SigningKey>& keys, std::int64_t now);

}  // namespace signet
