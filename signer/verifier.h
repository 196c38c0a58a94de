// signer/verifier.h — checking every DKIM-Signature on a message (RFC 6376 §6).
//
// KeyLookup: where public keys come from, pluggable. txt(name) returns the
// TXT records at name (each record's strings already joined), an empty list
// when there is none (NXDOMAIN/NODATA), or a temporary Error (DNS trouble).
// keystore/txt_lookup.h has the file-backed and the libresolv-backed ones.
//
// verify_message(fields, body, lookup, options): one VerifyResult per
// DKIM-Signature field, top to bottom. Never throws, never fails as a whole.
// Each result reads as an Authentication-Results method (RFC 8601 §2.7.1):
//   dkim=pass header.d=example.com header.s=sel header.a=rsa-sha256
//   dkim=fail (body hash did not verify) header.d=... header.s=... header.a=...
// Policy failures are stated, not silent: l= (body length limits let content
// be appended) and rsa-sha1 (RFC 8301) give dkim=policy; RSA keys below 1024
// bits give dkim=policy (RFC 8301 §3.2). Expired x= gives dkim=fail.
// Thread safety: no shared state; the lookup is called from the caller's thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet {

class KeyLookup {
 public:
  virtual ~KeyLookup() = default;
  virtual Result<std::vector<std::string>> txt(std::string_view name) = 0;
};

struct VerifyOptions {
  std::int64_t now = 0;           // for x= (an input, so tests are exact)
  std::int64_t clock_skew = 300;  // seconds of x= slack for skewed clocks
};

struct VerifyResult {
  enum class Status { Pass, Fail, Policy, Neutral, TempError, PermError };
  Status status = Status::PermError;
  std::string reason;  // empty for pass
  std::string domain, selector, algorithm;
  int key_bits = 0;

  bool pass() const { return status == Status::Pass; }
  std::string authentication_results() const;
};

std::string_view status_name(VerifyResult::Status s);

std::vector<VerifyResult> verify_message(const std::vector<std::string_view>& fields, std::string_view body,
                                         KeyLookup& lookup, const VerifyOptions& options);

}  // namespace signet
