// signer/signature.h — the DKIM-Signature header field (RFC 6376 §3.5).
//
// SignatureFields: every tag signet emits. There is deliberately no field for
// l= (body length): no code path, option or API can produce it (docs/dkim.md).
//
// format_unsigned(f): "DKIM-Signature: v=1; a=...; ...; bh=...;\r\n b=" —
// the whole field with b= empty, folded to at most 78 columns, tags in a fixed
// order (v a c d i s t x h bh b). This is the text hashed when signing
// (§3.7) and the prefix of the final field.
// append_b(unsigned_field, b64): the final field, the b= value broken across
// lines of at most 78 columns. b= comes last and alone on its lines, so a
// verifier deleting its value (§3.5) gets format_unsigned() back exactly,
// under simple as under relaxed canonicalization.
// No trailing CRLF on either.
//
// The other direction, reading a DKIM-Signature value (everything after the
// colon), is written once here for the verifier, the inspector and the
// milter's re-injection check:
// parse_signature(value): the tags, typed. Fails (permanent) only when the
// tag list is malformed (§3.2); a tag whose value does not parse leaves its
// typed field empty (the raw tag stays in `tags`), so the inspector can
// report every problem and the verifier the first.
// check_signature(sig): the first reason §6.1.1 gives a verifier to stop
// before any key or hash (missing required tag, v= not 1, rsa-sha1, unknown
// a=, l=, q= not dns/txt, unknown c=, h= without From or with an empty name,
// empty d=, i= outside d=, t=/x= not timestamps, x= before t=), or nullopt.
// Expiry (needs a clock) and b=/bh= decoding are the verifier's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/result.h"
#include "canon/body.h"
#include "signer/key.h"
#include "signer/tag_list.h"

namespace signet {

inline constexpr std::string_view kSignatureHeaderName = "DKIM-Signature";
inline constexpr std::size_t kFoldColumns = 78;  // RFC 5322 §2.1.1 SHOULD

struct SignatureFields {
  Algorithm algorithm = Algorithm::RsaSha256;
  canon::Canon header_canon = canon::Canon::Relaxed;
  canon::Canon body_canon = canon::Canon::Relaxed;
  std::string domain;                      // d=
  std::string selector;                    // s=
  std::optional<std::string> identity;     // i=
  std::int64_t timestamp = 0;              // t=
  std::optional<std::int64_t> expiration;  // x=
  std::vector<std::string> headers;        // h=
  std::string body_hash;                   // bh= (base64)
};

std::string format_unsigned(const SignatureFields& f);
std::string append_b(std::string unsigned_field, std::string_view b64);

struct ParsedSignature {
  TagList tags;                        // every tag as written, b='s span for §3.5 deletion
  std::string version;                 // v=
  std::string algorithm_text;          // a= as written
  std::optional<Algorithm> algorithm;  // a=, when rsa-sha256 or ed25519-sha256
  std::string domain, selector;        // d= s=
  std::optional<std::string> identity;  // i=
  // c=: simple/simple when absent (§3.5); nullopt when it names an unknown algorithm.
  std::optional<std::pair<canon::Canon, canon::Canon>> canon;
  std::string canon_text;              // c= with FWS removed, "simple/simple" when absent
  std::vector<std::string> headers;    // h=, split on ':', FWS removed
  std::optional<std::int64_t> timestamp, expiration;  // t= x=, when 1*12DIGIT
  std::string body_hash, signature;    // bh= b=, FWS removed

  const Tag* tag(std::string_view name) const { return tags.find(name); }
};

Result<ParsedSignature> parse_signature(std::string_view value);

struct SignatureDefect {
  bool policy = false;  // refused by policy (dkim=policy), not malformed (permerror)
  std::string message;
};
std::optional<SignatureDefect> check_signature(const ParsedSignature& sig);

}  // namespace signet
