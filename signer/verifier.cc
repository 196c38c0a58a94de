#include "base/ascii.h"
#include "signer/verifier.h"

#include <map>
#include <optional>

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

std::optional<canon::Canon> parse_canon(std::string_view s) {
  if (s == "simple") return canon::Canon::Simple;
  if (s == "relaxed") return canon::Canon::Relaxed;
  return std::nullopt;
}

std::optional<std::int64_t> parse_time(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// d= and i= compare case-insensitively (domain names).
bool is_same_or_subdomain(std::string_view sub, std::string_view dom) {
  if (ascii::iequals(sub, dom)) return true;
  return sub.size() > dom.size() && sub[sub.size() - dom.size() - 1] == '.' &&
         ascii::iequals(sub.substr(sub.size() - dom.size()), dom);
}

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
    const std::size_t colon = field_.find(':');
    const std::string_view value = field_.substr(colon + 1);
    auto parsed = parse_tag_list(value);
    if (!parsed) return done(VStatus::PermError, "malformed signature: " + parsed.error().message);
    const TagList& tags = parsed.value();
    auto tag = [&](std::string_view n) -> std::optional<std::string> {
      const Tag* t = tags.find(n);
      return t ? std::optional<std::string>(t->value) : std::nullopt;
    };
    if (auto d = tag("d")) r_.domain = *d;
    if (auto s = tag("s")) r_.selector = *s;
    if (auto a = tag("a")) r_.algorithm = *a;

    // §6.1.1: required tags and their syntax.
    for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"}) {
      if (!tags.find(required)) return done(VStatus::PermError, std::string("signature missing required tag ") + required + "=");
    }
    if (*tag("v") != "1") return done(VStatus::PermError, "incompatible version v=" + tag("v")->substr(0, 10));
    if (r_.algorithm == "rsa-sha1") return done(VStatus::Policy, "rsa-sha1 is not accepted (RFC 8301)");
    const auto algorithm = parse_algorithm(r_.algorithm);
    if (!algorithm) return done(VStatus::PermError, "unknown algorithm a=" + r_.algorithm.substr(0, 30));
    if (tags.find("l")) return done(VStatus::Policy, "l= body length limit is refused: content may have been appended");
    if (auto q = tag("q"); q && strip_fws(*q) != "dns/txt") return done(VStatus::PermError, "unsupported query method q=" + q->substr(0, 20));

    canon::Canon hc = canon::Canon::Simple, bc = canon::Canon::Simple;  // §3.5: c= defaults to simple/simple
    if (auto c = tag("c")) {
      const std::string cv = strip_fws(*c);
      const std::size_t slash = cv.find('/');
      auto h = parse_canon(cv.substr(0, slash));
      auto b = slash == std::string::npos ? std::optional<canon::Canon>(canon::Canon::Simple) : parse_canon(cv.substr(slash + 1));
      if (!h || !b) return done(VStatus::PermError, "unknown canonicalization c=" + cv.substr(0, 30));
      hc = *h;
      bc = *b;
    }
    const std::vector<std::string> h = split_colon_list(*tag("h"));
    bool signs_from = false;
    for (const std::string& name : h) {
      if (name.empty()) return done(VStatus::PermError, "empty header name in h=");
      if (ascii::iequals(name, "from")) signs_from = true;
    }
    if (!signs_from) return done(VStatus::PermError, "h= does not include From (RFC 6376 §5.4)");
    if (r_.domain.empty()) return done(VStatus::PermError, "empty d=");
    if (auto i = tag("i")) {
      const std::size_t at = i->rfind('@');
      const std::string_view idom = at == std::string::npos ? std::string_view() : std::string_view(*i).substr(at + 1);
      if (!is_same_or_subdomain(idom, r_.domain)) return done(VStatus::PermError, "i= is not in the d= domain");
    }
    std::optional<std::int64_t> t, x;
    if (auto tv = tag("t")) {
      t = parse_time(*tv);
      if (!t) return done(VStatus::PermError, "t= is not a timestamp");
    }
    if (auto xv = tag("x")) {
      x = parse_time(*xv);
      if (!x) return done(VStatus::PermError, "x= is not a timestamp");
      if (t && *x < *t) return done(VStatus::PermError, "x= is before t=");
      if (*x + options_.clock_skew < options_.now) return done(VStatus::Fail, "signature expired (x=" + *xv + ")");
    }
    const std::string bh_tag = strip_fws(*tag("bh"));
    const std::string b_tag = strip_fws(*tag("b"));
    if (!is_base64_chars(bh_tag) || !is_base64_chars(b_tag)) return done(VStatus::PermError, "bh= or b= is not base64");
    const auto b_raw = base64::decode(b_tag);
    const auto bh_raw = base64::decode(bh_tag);
    if (!b_raw || !bh_raw) return done(VStatus::PermError, "bh= or b= is not valid base64");

    // §6.1.2: the key.
    auto key = fetch_key(*algorithm, tag("i"));
    if (!key) return false;

    // §6.1.3: body hash, then header hash.
    auto it = body_hashes_.find(bc);
    if (it == body_hashes_.end()) {
      BodyHasher hasher(bc);
      hasher.update(body_);
      const Sha256Digest d = hasher.finish();
      it = body_hashes_.emplace(bc, std::string(reinterpret_cast<const char*>(d.data()), d.size())).first;
    }
    if (it->second != *bh_raw) return done(VStatus::Fail, "body hash did not verify");

    // §3.5: the b= value, surrounding whitespace included, is deleted.
    const Tag* b = tags.find("b");
    std::string unsigned_field(field_.substr(0, colon + 1));
    unsigned_field.append(value.substr(0, b->span_begin));
    unsigned_field.append(value.substr(b->span_end));
    const Sha256Digest digest = hash_headers(fields_, h, hc, unsigned_field);
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
