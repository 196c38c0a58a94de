#include "signer/signer.h"

#include "signer/base64.h"
#include "signer/signature.h"

namespace signet {

SignProfile::SignProfile(SignOptions options) {
  options.headers = normalize_policy(std::move(options.headers));
  options_ = std::make_shared<const SignOptions>(std::move(options));
}

MessageSigner::MessageSigner(const SignProfile& profile, std::vector<std::string_view> fields)
    : profile_(profile), fields_(std::move(fields)), body_(profile.options().body_canon) {}

Result<std::vector<HeaderField>> MessageSigner::finish(const std::vector<SigningKey>& keys, std::int64_t now) {
  const SignOptions& o = profile_.options();
  auto h = build_h_list(fields_, o.headers);
  if (!h) return h.error();
  if (h->size() > o.max_signed_headers) {
    return permanent_error("the signature would cover " + std::to_string(h->size()) +
                           " header fields, more than max-signed-headers (" + std::to_string(o.max_signed_headers) +
                           "): not signed");
  }
  const Sha256Digest bh = body_.finish();
  const std::string bh64 = base64::encode(std::string_view(reinterpret_cast<const char*>(bh.data()), bh.size()));
  // §3.7: the selected fields are the same for every key: canonicalized once.
  const std::string selected = canonical_header_block(fields_, h.value(), o.header_canon);

  std::vector<HeaderField> out;
  for (const SigningKey& k : keys) {
    SignatureFields f;
    f.algorithm = k.key->algorithm();
    f.header_canon = o.header_canon;
    f.body_canon = o.body_canon;
    f.domain = k.domain;
    f.selector = k.selector;
    f.identity = k.identity;
    f.timestamp = now;
    if (o.expire_after) f.expiration = now + *o.expire_after;
    f.headers = h.value();
    f.body_hash = bh64;
    std::string unsigned_field = format_unsigned(f);
    const Sha256Digest digest = header_hash(selected, o.header_canon, unsigned_field);
    auto sig = k.key->sign_digest(digest);
    if (!sig) return sig.error();
    std::string field = append_b(std::move(unsigned_field), base64::encode(sig.value()));
    // "DKIM-Signature: v=1; …": the value starts after the name, colon and SP.
    out.push_back(HeaderField{std::string(kSignatureHeaderName), field.substr(kSignatureHeaderName.size() + 2)});
  }
  return out;
}

Result<std::vector<HeaderField>> sign_message(const std::vector<std::string_view>& fields, std::string_view body,
                                              const SignProfile& profile, const std::vector<SigningKey>& keys,
                                              std::int64_t now) {
  MessageSigner signer(profile, fields);
  signer.add_body(body);
  return signer.finish(keys, now);
}

}  // namespace signet
