#include "signer/digest.h"

#include <openssl/evp.h>

#include "canon/header.h"
#include "signer/header_select.h"

namespace signet {

namespace {

// SHA-256 fetched from the default provider once per process. EVP_sha256() is
// a legacy handle: every EVP_DigestInit_ex with it fetches the provider's
// implementation again (a name lookup under the method store's lock), and a
// message takes one body hash and one header hash per key. The fetched
// EVP_MD is immutable and shared by every thread; it lives until exit.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    return fetched ? static_cast<const EVP_MD*>(fetched) : EVP_sha256();
  }();
  return md;
}

}  // namespace

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, sha256_md(), nullptr); }

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::write(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }

Sha256Digest Sha256::finish() {
  Sha256Digest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, d.data(), &len);
  return d;
}

std::string canonical_header_block(const std::vector<std::string_view>& fields, const std::vector<std::string>& h,
                                   canon::Canon canon) {
  std::string data;
  for (const std::string_view* field : pick_fields(fields, h)) {
    if (field) canon::append_canonical_header(canon, *field, data);
  }
  return data;
}

Sha256Digest header_hash(std::string_view canonical_block, canon::Canon canon, std::string_view unsigned_sig_field) {
  std::string sig;
  canon::append_canonical_header(canon, unsigned_sig_field, sig);
  sig.resize(sig.size() - 2);  // §3.7: the signature field is hashed without its CRLF
  Sha256 sha;
  sha.write(canonical_block);
  sha.write(sig);
  return sha.finish();
}

Sha256Digest hash_headers(const std::vector<std::string_view>& fields, const std::vector<std::string>& h,
                          canon::Canon canon, std::string_view unsigned_sig_field) {
  return header_hash(canonical_header_block(fields, h, canon), canon, unsigned_sig_field);
}

}  // namespace signet
