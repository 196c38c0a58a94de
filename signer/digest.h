// signer/digest.h — the two SHA-256 hashes of RFC 6376 §3.7.
//
// BodyHasher: canonicalizes body chunks (canon/body.h) straight into SHA-256;
// bh= is base64(finish()). Constant memory whatever the body size.
//   REQUIRES: finish() once, after the last update().
//
// hash_headers(fields, h, canon, unsigned_sig): SHA-256 over the fields h=
// selects (bottom-up, signer/header_select.h), each canonicalized, then the
// DKIM-Signature field itself with b= empty, canonicalized, WITHOUT its
// trailing CRLF (§3.7). The digest is what rsa-sha256 and ed25519-sha256 sign.
// It is the composition of the two halves a signer with several keys uses:
// canonical_header_block(fields, h, canon) once (the same for every key),
// then header_hash(block, canon, unsigned_sig) per key.
// Fails: never.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "canon/body.h"
#include "signer/key.h"

struct evp_md_ctx_st;

namespace signet {

class Sha256 final : public canon::ByteSink {
 public:
  Sha256();
  ~Sha256() override;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  void write(std::string_view bytes) override;
  Sha256Digest finish();

 private:
  evp_md_ctx_st* ctx_;
};

class BodyHasher {
 public:
  explicit BodyHasher(canon::Canon canon) : canon_(canon, sha_) {}
  void update(std::string_view chunk) { canon_.update(chunk); }
  Sha256Digest finish() {
    canon_.finish();
    return sha_.finish();
  }
  std::uint64_t body_bytes() const { return canon_.input_bytes(); }

 private:
  Sha256 sha_;  // declared first: canon_ writes into it
  canon::BodyCanonicalizer canon_;
};

Sha256Digest hash_headers(const std::vector<std::string_view>& fields, const std::vector<std::string>& h,
                          canon::Canon canon, std::string_view unsigned_sig_field);
std::string canonical_header_block(const std::vector<std::string_view>& fields, const std::vector<std::string>& h,
                                   canon::Canon canon);
Sha256Digest header_hash(std::string_view canonical_block, canon::Canon canon, std::string_view unsigned_sig_field);

}  // namespace signet
