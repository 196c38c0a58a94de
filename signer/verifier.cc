#include "signer/verifier.h"

#include <map>
#include <optional>

#include "base/ascii.h"
#include "canon/header.h"
#include "signer/base64.h"
#include "signer/digest.h"
#include "signer/key.h"
#include "signer/key_record.h"
#include "signer/signature.h"
#include "signer/tag_list.h"

namespace signet {
namespace {

using VStatus = VerifyResult::Status;

bool is_base64_chars(std::string_view s) {
  for (char c : s) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/' || c == '=';
    if (!ok) return false;
  }
  return true;
}

class OneSignature {
 public:
  OneSignature(std::string_view field, const std::vector<std::string_view>& fields, std::string_view body,
               KeyLookup& lookup, const VerifyOptions& options,
               std::map<canon::Canon, std::string>& body_hashes)
      : field_(field), fields_(fields), body_(body), lookup_(lookup), options_(options), body_hashes_(body_hashes) {}

  VerifyResult run() {
    check();
    return std::move(r_);
  }

 private:
  bool done(VStatus s, std::string reason) {
    r_.status = s;
    r_.reason = std::move(reason);
    return false;
  }

  bool check() {
    const std::string_view value = canon::header_value(field_);
    auto parsed = parse_signature(value);
    if (!parsed) return done(VStatus::PermError, "malformed signature: " + parsed.error().message);
    const ParsedSignature& sig = parsed.value();
    r_.domain = sig.domain;
    r_.selector = sig.selector;
    r_.algorithm = sig.algorithm_text;

    // §6.1.1: required tags and their syntax.
    if (auto defect = check_signature(sig)) {
      return done(defect->policy ? VStatus::Policy : VStatus::PermError, std::move(defect->message));
    }
    if (sig.expiration && *sig.expiration + options_.clock_skew < options_.now) {
      return done(VStatus::Fail, "signature expired (x=" + sig.tag("x")->value + ")");
    }
    if (!is_base64_chars(sig.body_hash) || !is_base64_chars(sig.signature)) {
      return done(VStatus::PermError, "bh= or b= is not base64");
    }
    const auto b_raw = base64::decode(sig.signature);
    const auto bh_raw = base64::decode(sig.body_hash);
    if (!b_raw || !bh_raw) return done(VStatus::PermError, "bh= or b= is not valid base64");

    // §6.1.2: the key.
    auto key = fetch_key(*sig.algorithm, sig.identity);
    if (!key) return false;

    // §6.1.3: body hash, then header hash.
    const auto [hc, bc] = *sig.canon;
    auto it = body_hashes_.find(bc);
    if (it == body_hashes_.end()) {
      BodyHasher hasher(bc);
      hasher.update(body_);
      const Sha256Digest d = hasher.finish();
      it = body_hashes_.emplace(bc, std::string(reinterpret_cast<const char*>(d.data()), d.size())).first;
    }
    if (it->second != *bh_raw) return done(VStatus::Fail, "body hash did not verify");

    // §3.5: the b= value, surrounding whitespace included, is deleted.
    const Tag* b = sig.tag("b");
    std::string unsigned_field(field_.substr(0, field_.size() - value.size()));
    unsigned_field.append(value.substr(0, b->span_begin));
    unsigned_field.append(value.substr(b->span_end));
    const Sha256Digest digest = hash_headers(fields_, sig.headers, hc, unsigned_field);
    if (!key->verify_digest(digest, *b_raw)) return done(VStatus::Fail, "signature did not verify");
    r_.status = VStatus::Pass;
    return true;
  }

  std::optional<PublicKey> fetch_key(Algorithm algorithm, const std::optional<std::string>& identity) {
    const std::string name = r_.selector + "._domainkey." + r_.domain;
    auto records = lookup_.txt(name);
    if (!records) {
      done(records.error().temporary ? VStatus::TempError : VStatus::PermError, "key lookup for " + name + ": " + records.error().message);
      return std::nullopt;
    }
    if (records->empty()) {
      done(VStatus::PermError, "no key record at " + name);
      return std::nullopt;
    }
    std::string why;
    for (const std::string& txt : records.value()) {
      auto rec = parse_key_record(txt);
      if (!rec) {
        why = rec.error().message;
        continue;
      }
      if (rec->revoked()) {
        done(VStatus::PermError, "key revoked (empty p=) at " + name);
        return std::nullopt;
      }
      if (rec->key_type != algorithm) {
        done(VStatus::PermError, "key type k=" + std::string(key_type_name(rec->key_type)) + " does not match a=" + r_.algorithm);
        return std::nullopt;
      }
      if (!rec->hash_algorithms.empty()) {
        bool sha256 = false;
        for (const auto& ha : rec->hash_algorithms) sha256 |= ha == "sha256";
        if (!sha256) {
          done(VStatus::PermError, "key record h= does not allow sha256");
          return std::nullopt;
        }
      }
      if (!rec->service_types.empty()) {
        bool email = false;
        for (const auto& s : rec->service_types) email |= s == "*" || s == "email";
        if (!email) {
          done(VStatus::PermError, "key record s= does not allow email");
          return std::nullopt;
        }
      }
      if (rec->strict_identity && identity) {
        const std::size_t at = identity->rfind('@');
        if (at != std::string::npos && !ascii::iequals(identity->substr(at + 1), r_.domain)) {
          done(VStatus::PermError, "key record t=s forbids a subdomain i=");
          return std::nullopt;
        }
      }
      auto der = base64::decode(rec->public_key_base64);
      if (!der) {
        done(VStatus::PermError, "key record p= is not base64");
        return std::nullopt;
      }
      auto key = PublicKey::from_der(algorithm, *der);
      if (!key) {
        done(VStatus::PermError, key.error().message);
        return std::nullopt;
      }
      r_.key_bits = key->bits();
      if (algorithm == Algorithm::RsaSha256 && key->bits() < kMinRsaBits) {
        done(VStatus::Policy, "RSA key is " + std::to_string(key->bits()) + " bits, below 1024 (RFC 8301)");
        return std::nullopt;
      }
      return std::move(key.value());
    }
    done(VStatus::PermError, "no valid key record at " + name + ": " + why);
    return std::nullopt;
  }

  std::string_view field_;
  const std::vector<std::string_view>& fields_;
  std::string_view body_;
  KeyLookup& lookup_;
  const VerifyOptions& options_;
  std::map<canon::Canon, std::string>& body_hashes_;
  VerifyResult r_;
};

}  // namespace

std::string_view status_name(VStatus s) {
  switch (s) {
    case VStatus::Pass: return "pass";
    case VStatus::Fail: return "fail";
    case VStatus::Policy: return "policy";
    case VStatus::Neutral: return "neutral";
    case VStatus::TempError: return "temperror";
    case VStatus::PermError: return "permerror";
  }
  return "permerror";
}

std::string VerifyResult::authentication_results() const {
  std::string out = "dkim=" + std::string(status_name(status));
  if (!reason.empty()) out += " (" + reason + ")";
  // RFC 8601 §2.7.1 property values; sanitized so a hostile d= cannot break the line.
  auto prop = [&](std::string_view k, const std::string& v) {
    if (v.empty()) return;
    out += " header." + std::string(k) + "=";
    for (char c : v.substr(0, 255)) out.push_back((c > 32 && c < 127 && c != ';') ? c : '?');
  };
  prop("d", domain);
  prop("s", selector);
  prop("a", algorithm);
  return out;
}

std::vector<VerifyResult> verify_message(const std::vector<std::string_view>& fields, std::string_view body,
                                         KeyLookup& lookup, const VerifyOptions& options) {
  std::vector<VerifyResult> results;
  std::map<canon::Canon, std::string> body_hashes;  // each canonicalization hashed once
  for (std::string_view f : fields) {
    if (!canon::header_name_equals(f, "dkim-signature")) continue;
    results.push_back(OneSignature(f, fields, body, lookup, options, body_hashes).run());
  }
  return results;
}

}  // namespace signet
