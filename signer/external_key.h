// signer/external_key.h — a PrivateKey whose private half lives outside this
// process (a PKCS#11 token: hsm/pkcs11.h), so the signer can sign with it
// without knowing where it is.
//
// ExternalSigner is the seam: an implementation signs a SHA-256 digest with
// the DKIM algorithm it was made for (RSASSA-PKCS1-v1_5 over the DigestInfo,
// RFC 8017 §9.2 / RFC 6376 §3.3.1; PureEdDSA Ed25519 over the 32-byte digest,
// RFC 8463 §3) and returns the signature bytes, or an Error. Its errors must
// name no secret (a PIN, key bytes): they become the message's one log line.
// A transient failure (the token went away) is a temporary_error, so the
// message follows the on-error policy; an implementation may recover on a
// later call.
//
// PrivateKey::external(signer, algorithm, bits, public_key_base64) wraps one:
// sign_digest() calls it; public_key_base64() returns the p= value the
// backend gave at construction (the token's public key); to_pem() returns ""
// (there is nothing to write: the key never leaves its token).
// signer/ depends on nothing here: the backend is in hsm/, composed by keystore/.
// Thread safety: sign_digest is called from many threads at once; an
// implementation must be safe for that.
#pragma once

#include <string>

#include "base/result.h"
#include "signer/key.h"

namespace signet {

class ExternalSigner {
 public:
  virtual ~ExternalSigner() = default;
  virtual Result<std::string> sign_digest(const Sha256Digest& digest) const = 0;
};

}  // namespace signet
