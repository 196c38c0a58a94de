// signer/key.h — DKIM signing and verification keys, parsed once.
//
// What it is: PrivateKey holds a parsed rsa or ed25519 private key; PublicKey
// holds a key from a DNS key record. Neither knows files: callers hand in the
// text (keystore/key_file.h reads files and checks their permissions).
//
// PrivateKey::parse accepts
//   - RSA, PKCS#1 PEM ("BEGIN RSA PRIVATE KEY") or PKCS#8 PEM ("BEGIN PRIVATE KEY"),
//   - Ed25519, PKCS#8 PEM as `openssl genpkey -algorithm ed25519` writes it,
//   - Ed25519, the base64 of the raw 32-byte seed (RFC 8032 §5.1.5), as
//     dkimpy and RFC 8463 Appendix A give it (a 64-byte seed||public also works).
// and fails, with a message saying what to do, on anything else: encrypted or
// unknown PEM, RSA below 1024 bits (RFC 8301 §3.2), other key types.
//
// sign_digest() makes the DKIM "b=" signature over the SHA-256 digest of the
// canonicalized headers: RSASSA-PKCS1-v1_5 with SHA-256 through OpenSSL's EVP
// interface (RFC 6376 §3.3.1), or PureEdDSA Ed25519 over the 32-byte digest
// through libsodium (RFC 8463 §3). rsa-sha1 does not exist here (RFC 8301).
//
// PrivateKey::external() wraps a key held outside the process (a PKCS#11
// token, the signer process), signed through signer/external_key.h's
// ExternalSigner; external_signer() exposes it for batching.
//
// Security: every private number lives in the locked, never-dumped secure
// heap (signer/secure_memory.h): parse, generate and to_pem run inside
// SecretAllocations, so the RSA numbers, OpenSSL's copies of the DER on the
// way, and the Montgomery contexts of p and q that an RSA key's first
// signature builds are all there; the Ed25519 secret key is a SecretBuffer.
// Dropping a key cleanses all of it. A full heap fails parse/generate (and a
// first signature) with secure_heap_full_error(), never falling back to
// ordinary memory. No call puts key bytes into an error message.
// Thread safety: a const key may sign from many threads at once.
#pragma once

#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace signet {

class ExternalSigner;  // signer/external_key.h

// RFC 6376 §3.3 and RFC 8463: the only two algorithms signet signs or accepts.
enum class Algorithm { RsaSha256, Ed25519Sha256 };

std::string_view algorithm_name(Algorithm a);      // "rsa-sha256" | "ed25519-sha256"
std::string_view key_type_name(Algorithm a);       // "rsa" | "ed25519" (the k= tag)
std::optional<Algorithm> parse_algorithm(std::string_view a_tag);   // a= names
std::optional<Algorithm> parse_key_type(std::string_view k_tag);    // k= names, also --algorithm and the manifest

using Sha256Digest = std::array<unsigned char, 32>;

constexpr int kMinRsaBits = 1024;      // RFC 8301 §3.2: below this, refuse
constexpr int kDefaultRsaBits = 2048;  // RFC 8301 §3.2 / M3AAWG: what to generate

class PrivateKey {
 public:
  static Result<PrivateKey> parse(std::string_view text);
  static Result<PrivateKey> generate(Algorithm algorithm, int rsa_bits = kDefaultRsaBits);
  // REQUIRES: seed points at 32 bytes (RFC 8032 §5.1.5 private key).
  static Result<PrivateKey> from_ed25519_seed(const unsigned char* seed);
  // A key whose private half stays in its backend (signer/external_key.h).
  static PrivateKey external(std::shared_ptr<const ExternalSigner> signer, Algorithm algorithm, int bits,
                             std::string public_key_base64);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  Algorithm algorithm() const { return algorithm_; }
  int bits() const { return bits_; }  // RSA modulus size; 256 for Ed25519
  bool is_external() const { return external_ != nullptr; }
  // The backend of an external key (null otherwise): MessageSigner batches
  // the digests of keys that share one (signer/external_key.h).
  const ExternalSigner* external_signer() const { return external_.get(); }

  // The DNS key record's p= value (RFC 6376 §3.6.1; RFC 8463 §4 for ed25519).
  std::string public_key_base64() const;

  // PKCS#8 PEM, for writing a generated key to disk.
  std::string to_pem() const;

  Result<std::string> sign_digest(const Sha256Digest& digest) const;

 private:
  struct Impl;
  explicit PrivateKey(std::unique_ptr<Impl> impl, Algorithm a, int bits);
  static Result<PrivateKey> parse_secret(std::string_view text);  // parse's body, in SecretAllocations
  static Result<PrivateKey> generate_secret(Algorithm algorithm, int rsa_bits);
  std::unique_ptr<Impl> impl_;  // null for an external key
  Algorithm algorithm_;
  int bits_;
  std::shared_ptr<const ExternalSigner> external_;
  std::string external_public_;
};

class PublicKey {
 public:
  // p= decoded bytes: SubjectPublicKeyInfo DER for rsa (a bare PKCS#1
  // RSAPublicKey is accepted too), the raw 32-byte key for ed25519.
  static Result<PublicKey> from_der(Algorithm algorithm, std::string_view der);

  PublicKey(PublicKey&&) noexcept;
  PublicKey& operator=(PublicKey&&) noexcept;
  ~PublicKey();

  Algorithm algorithm() const { return algorithm_; }
  int bits() const { return bits_; }
  bool verify_digest(const Sha256Digest& digest, std::string_view signature) const;

 private:
  struct Impl;
  explicit PublicKey(std::unique_ptr<Impl> impl, Algorithm a, int bits);
  std::unique_ptr<Impl> impl_;
  Algorithm algorithm_;
  int bits_;
};

}  // namespace signet
