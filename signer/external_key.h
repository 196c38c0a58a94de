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
//
// Batching: a backend that can sign several digests in one exchange (the
// signer process: privsep/client.h, one round trip per message instead of
// one per signature) gives its keys the same non-null batch_backend(); then
// MessageSigner::finish hands all of a message's digests for that backend to
// one sign_batch() call on any one of them. sign_batch returns the
// signatures in item order, byte-identical to what sign_digest would give,
// or the error of the first item in order that failed (the message fails on
// it, as it would have signature by signature). The defaults (no backend,
// and a loop over sign_digest) keep PKCS#11 and in-process keys one call per
// key.
// signer/ depends on nothing here: the backend is in hsm/, composed by keystore/.
// Thread safety: sign_digest is called from many threads at once; an
// implementation must be safe for that.
#pragma once

#include <string>
#include <vector>

#include "base/result.h"
#include "signer/key.h"

namespace signet {

class ExternalSigner {
 public:
  struct BatchItem {
    const ExternalSigner* signer = nullptr;
    Sha256Digest digest{};
  };

  virtual ~ExternalSigner() = default;
  virtual Result<std::string> sign_digest(const Sha256Digest& digest) const = 0;

  // Signers returning the same non-null value can be batched together.
  virtual const void* batch_backend() const { return nullptr; }
  // REQUIRES: every item's signer has this signer's batch_backend().
  virtual Result<std::vector<std::string>> sign_batch(const std::vector<BatchItem>& items) const {
    std::vector<std::string> out;
    out.reserve(items.size());
    for (const BatchItem& it : items) {
      auto sig = it.signer->sign_digest(it.digest);
      if (!sig) return sig.error();
      out.push_back(std::move(sig.value()));
    }
    return out;
  }
};

}  // namespace signet
