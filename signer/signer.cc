#include "signer/signer.h"

#include "signer/base64.h"
#include "signer/signature.h"

namespace signet {

MessageSigner::MessageSigner(SignOptions options, std::vector<SigningKey> keys)
    : options_(std::move(options)), keys_(std::move(keys)), body_(options_.body_canon) {
  options_.headers = normalize_policy(std::move(options_.headers));
}

void MessageSigner::add_header(std::string_view raw_field) { storage_.emplace_back(raw_field); }

Result<std::vector<std::string>> MessageSigner::finish(std::int64_t now) {
  const std::vector<std::string_view> fields(storage_.begin(), storage_.end());
  auto h = build_h_list(fields, options_.headers);
  if (!h) return h.error();
  const Sha256Digest bh = body_.finish();
  const std::string bh64 =
      base64::encode(std::string_view(reinterpret_cast<const char*>(bh.data()), bh.size()));

  std::vector<std::string> out;
  for (const SigningKey& k : keys_) {
    SignatureFields f;
    f.algorithm = k.key->algorithm();
    f.header_canon = options_.header_canon;
    f.body_canon = options_.body_canon;
    f.domain = k.domain;
    f.selector = k.selector;
    f.identity = k.identity;
    f.timestamp = now;
    if (options_.expire_after) f.expiration = now + *options_.expire_after;
    f.headers = h.value();
    f.body_hash = bh64;
    std::string unsigned_field = format_unsigned(f);
    const Sha256Digest digest = hash_headers(fields, f.headers, options_.header_canon, unsigned_field);
    auto sig = k.key->sign_digest(digest);
    if (!sig) return sig.error();
    out.push_back(append_b(std::move(unsigned_field), base64::encode(sig.value())));
  }
  return out;
}

Result<std::vector<std::string>> sign_message(const std::vector<std::string_view>& fields,
                                              std::string_view body, const SignOptions& options,
                                              const std::vector<SigningKey>& keys, std::int64_t now) {
  MessageSigner signer(options, keys);
  for (std::string_view f : fields) signer.add_header(f);
  signer.add_body(body);
  return signer.finish(now);
}

}  // namespace signet
