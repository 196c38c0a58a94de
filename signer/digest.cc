#include "signer/digest.h"

#include <openssl/evp.h>

#include "canon/header.h"
#include "signer/header_select.h"

namespace signet {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }

Sha256::~Sha256() { EVP_MD_CTX_free(ctx_); }

void Sha256::write(std::string_view bytes) { EVP_DigestUpdate(ctx_, bytes.data(), bytes.size()); }

Sha256Digest Sha256::finish() {
  Sha256Digest d{};
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx_, d.data(), &len);
  return d;
}

Sha256Digest hash_headers(const std::vector<std::string_view>& fields, const std::vector<std::string>& h,
                          canon::Canon canon, std::string_view unsigned_sig_field) {
  std::string data;
  for (const std::string_view* field : pick_fields(fields, h)) {
    if (field) canon::append_canonical_header(canon, *field, data);
  }
  canon::append_canonical_header(canon, unsigned_sig_field, data);
  data.resize(data.size() - 2);  // §3.7: the signature field is hashed without its CRLF
  Sha256 sha;
  sha.write(data);
  return sha.finish();
}

}  // namespace signet
