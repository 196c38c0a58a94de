// signer/signature.h — the DKIM-Signature header field (RFC 6376 §3.5).
//
// SignatureFields: every tag signet emits. There is deliberately no field for
// l= (body length): no code path, option or API can produce it (DOMAIN.md).
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
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "canon/body.h"
#include "signer/key.h"

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

}  // namespace signet
