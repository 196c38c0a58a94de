#include "signer/signer.h"

#include <optional>

#include "signer/base64.h"
#include "signer/external_key.h"
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

  // Every key's unsigned field and digest first, so keys sharing a batching
  // backend (the signer process) are signed in one exchange per message.
  std::vector<std::string> unsigned_fields(keys.size());
  std::vector<Sha256Digest> digests(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    const SigningKey& k = keys[i];
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
    unsigned_fields[i] = format_unsigned(f);
    digests[i] = header_hash(selected, o.header_canon, unsigned_fields[i]);
  }
  // Signed in key order; a key whose backend batches takes every later key
  // of that backend along, so the first error met is still the first key's
  // in order that failed.
  std::vector<std::optional<std::string>> sigs(keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (sigs[i]) continue;
    const ExternalSigner* ext = keys[i].key->external_signer();
    const void* backend = ext ? ext->batch_backend() : nullptr;
    std::vector<std::size_t> group{i};
    if (backend) {
      for (std::size_t j = i + 1; j < keys.size(); ++j) {
        const ExternalSigner* other = keys[j].key->external_signer();
        if (other && other->batch_backend() == backend) group.push_back(j);
      }
    }
    if (group.size() == 1) {
      auto sig = keys[i].key->sign_digest(digests[i]);
      if (!sig) return sig.error();
      sigs[i] = std::move(sig.value());
      continue;
    }
    std::vector<ExternalSigner::BatchItem> items;
    for (std::size_t j : group) items.push_back({keys[j].key->external_signer(), digests[j]});
    auto batch = ext->sign_batch(items);
    if (!batch) return batch.error();
    if (batch->size() != group.size()) return temporary_error("a key backend returned the wrong number of signatures");
    for (std::size_t g = 0; g < group.size(); ++g) sigs[group[g]] = std::move((*batch)[g]);
  }
  std::vector<HeaderField> out;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::string field = append_b(std::move(unsigned_fields[i]), base64::encode(*sigs[i]));
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
