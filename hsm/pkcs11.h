// hsm/pkcs11.h — DKIM keys held in a PKCS#11 token (an HSM, or SoftHSM2),
// used through the PKCS#11 C interface directly: the module is dlopen'ed and
// called through C_GetFunctionList; the private key never leaves the token.
//
// Why not through OpenSSL: Debian 12 has no pkcs11-provider for OpenSSL 3;
// libengine-pkcs11 is an ENGINE (deprecated in OpenSSL 3) and its libp11
// 0.4.12 has no EdDSA. So both algorithms go through PKCS#11 itself:
//   rsa-sha256      CKM_RSA_PKCS over the DER DigestInfo of the SHA-256 digest
//                   (RFC 8017 §9.2 EMSA-PKCS1-v1_5 step 2; RFC 6376 §3.3.1).
//                   Not CKM_SHA256_RSA_PKCS: that hashes a message, and what
//                   signet has is the digest of the canonicalized headers.
//   ed25519-sha256  CKM_EDDSA (no parameters: PureEdDSA, Ed25519) over the
//                   32-byte SHA-256 digest: RFC 8463 §3 signs the digest
//                   with PureEdDSA, as libsodium does for file keys.
//
// Calls (every Error names the token, the object and the module, never a PIN):
//   Pkcs11Uri::parse(text)   RFC 7512: path attributes token=, object= and/or
//                            id= (the key; at least one), optionally slot-id=;
//                            query attributes module-path= (required),
//                            pin-source= (file:PATH or PATH; the file's first
//                            line) or pin-value=. Percent-encoding decoded.
//                            Fails on unknown attributes or a missing part.
//   Pkcs11Uri::redacted()    the URI with pin-value replaced by "***": what
//                            any message or log line shows.
//   Pkcs11Uri::format()      the URI text of the fields (a key's URI made
//                            from a token's: object= set to its name).
//   open_key(uri)            the key as a PrivateKey over ExternalSigner
//                            (signer/external_key.h): module loaded, token
//                            found by label, a session logged in, the private
//                            key object found (exactly one), its algorithm,
//                            size and public key (p=) read from the token.
//                            Fails (permanent) when any of that fails: the
//                            caller refuses the key set as for a bad key file.
//   generate_key(uri, a, bits)  a new key pair made INSIDE the token (RSA via
//                            CKM_RSA_PKCS_KEY_PAIR_GEN, e = 65537; Ed25519 via
//                            CKM_EC_EDWARDS_KEY_PAIR_GEN on edwards25519), the
//                            private half CKA_TOKEN, CKA_PRIVATE, CKA_SENSITIVE,
//                            not CKA_EXTRACTABLE; then open_key(). Refused when
//                            the token already holds an object with that
//                            label or id (never two keys under one name).
//   destroy_key(uri)         C_DestroyObject on the private and public objects
//                            (retiring a key); an object already gone is fine.
//
// Sessions: one module per module-path per process (never unloaded), one
// Token per (module, token label, PIN source) shared by every key in it,
// with a pool of sessions under a mutex: a signature takes an idle session
// (or opens one), signs without the lock, and gives it back. The module is
// initialised with CKF_OS_LOCKING_OK; a module that refuses (CKR_CANT_LOCK)
// is initialised without it and every call to it is serialised.
// Failure and recovery: a signature that fails because the token went away
// (session or handle invalid, token removed, not logged in, device error)
// closes the token's sessions and is retried once with a new session, a new
// login (the PIN read again) and the object looked up again; if that fails
// too the signature fails with a temporary Error (one line, through the
// milter's on-error policy). A token that is not in any slot, or a key
// object that is not found, makes the module be initialised again (at most
// once a second for a token, once in 5 s for an object: modules such as
// SoftHSM2 read slots and objects at C_Initialize, so a token or object
// that comes back is seen only then). The next message tries again the
// same way: the daemon recovers on the first message after the token is
// back, with no reload. After a fork (daemon(3)) the module is initialised again in the
// child before its first call (PKCS#11 v2.40 §6.6.1).
// Thread safety: every call may run from any thread.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "hsm/pkcs11_uri.h"
#include "signer/key.h"

namespace signet::hsm {

Result<PrivateKey> open_key(const Pkcs11Uri& uri);
Result<PrivateKey> generate_key(const Pkcs11Uri& uri, Algorithm algorithm, int rsa_bits = kDefaultRsaBits);
Status destroy_key(const Pkcs11Uri& uri);

}  // namespace signet::hsm
