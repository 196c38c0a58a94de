// signer/signer.h — signing one message with one or more keys, streaming.
//
// The path of one message through signer/ (and canon/ inside it):
//   SignProfile    a stream's options, prepared once (the header policy
//                  normalized: From/Subject/To/Date always oversigned)
//   MessageSigner  built per message from a profile and the header fields
//                  (views, kept by the caller: headers are stored once)
//   add_body()     chunk -> canon/body.h BodyCanonicalizer -> SHA-256 (digest.h);
//                  the body is never buffered, and with two keys (rsa +
//                  ed25519) it is canonicalized and hashed ONCE
//   finish(keys, now)
//                  header_select.h: exactly one From, h= with oversigning;
//                  the selected fields canonicalized ONCE for all keys;
//                  per key: signature.h the DKIM-Signature with b= empty,
//                  digest.h SHA-256 of fields + that field, key.h rsa-sha256
//                  (OpenSSL EVP) / ed25519-sha256 (libsodium), b= appended
//                  and folded; keys whose external backends batch
//                  (signer/external_key.h: the signer process) get all their
//                  digests in one sign_batch call — one round trip per message
//
// finish() promises: one header field per key, in key order, as a name and a
// value ("DKIM-Signature", "v=1; a=…" folded to 78 columns with CRLF SP, no
// leading space, no trailing CRLF); t= is `now` (an input, so tests are
// byte-exact), x= is now + expire_after when set; never l=, never rsa-sha1.
// The keys are an input too: the key that signs is the one whose window holds
// t=, known only at the end of the message. finish() fails (permanent) when
// the message does not have exactly one From or would need more h= entries
// than max_signed_headers (a message made of thousands of Cc fields), and
// (temporary) if the crypto
// library fails. REQUIRES: called once. The signer knows nothing about files,
// streams, clocks or the MTA.
// Thread safety: one MessageSigner per message; profiles and keys may be
// shared between threads (const).
#pragma once

#include <cstdint>
#include <memory>
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
  const PrivateKey* key = nullptr;  // REQUIRES: outlives finish()
  std::string domain;               // d=
  std::string selector;             // s=
  std::optional<std::string> identity;  // i=
};

// What the operator chose, before preparation.
struct SignOptions {
  canon::Canon header_canon = canon::Canon::Relaxed;
  canon::Canon body_canon = canon::Canon::Relaxed;
  HeaderPolicy headers = default_header_policy();
  std::optional<std::int64_t> expire_after;  // seconds; sets x=
  std::size_t max_signed_headers = 200;      // h= entries at most; more: finish() refuses

  bool operator==(const SignOptions&) const = default;
};

// SignOptions prepared once: the header policy normalized (normalize_policy).
// Immutable and cheap to copy: copies share one prepared SignOptions, so a
// configuration of 100 000 streams with the same options holds it once
// (conf::load_config shares it between streams whose options are equal).
class SignProfile {
 public:
  SignProfile() : SignProfile(SignOptions{}) {}
  explicit SignProfile(SignOptions options);
  const SignOptions& options() const { return *options_; }

 private:
  std::shared_ptr<const SignOptions> options_;  // never null
};

// A header field to add: the wire form is name + ": " + value.
struct HeaderField {
  std::string name;
  std::string value;  // folded with CRLF + SP, no leading space, no trailing CRLF
  std::string wire() const { return name + ": " + value; }
};

class MessageSigner {
 public:
  // REQUIRES: profile and the bytes the fields view outlive the signer.
  MessageSigner(const SignProfile& profile, std::vector<std::string_view> fields);

  void add_body(std::string_view chunk) { body_.update(chunk); }
  Result<std::vector<HeaderField>> finish(const std::vector<SigningKey>& keys, std::int64_t now);

  std::uint64_t body_bytes() const { return body_.body_bytes(); }

 private:
  const SignProfile& profile_;
  std::vector<std::string_view> fields_;
  BodyHasher body_;
};

// Convenience over a parsed message's fields and body (the `sign` command).
Result<std::vector<HeaderField>> sign_message(const std::vector<std::string_view>& fields, std::string_view body,
                                              const SignProfile& profile, const std::vector<SigningKey>& keys,
                                              std::int64_t now);

}  // namespace signet
