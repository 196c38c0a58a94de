#include "signer/key.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>
#include <string>

#include "signer/base64.h"
#include "signer/external_key.h"
#include "signer/secure_memory.h"

namespace signet {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using CtxPtr = std::unique_ptr<EVP_PKEY_CTX, CtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// An RSA private key's DER (PKCS#1) to an EVP_PKEY through one OpenSSL
// decoder context per thread, made once and used for every key the thread
// parses. d2i_PrivateKey() builds a context for each call (it looks up and
// instantiates every DER decoder the providers offer): 208 us of a key's
// parse, against 30 us with the context kept (measured on this machine's
// OpenSSL 3.0), and hundreds of allocations, each of them inside
// SecretAllocations and so under the secure heap's one lock, which the
// signing threads take too. A reload of 100 000 streams parses 100 000 RSA
// keys. The context holds no key material: the decoder's copy of the DER and
// the key it makes are allocated during decode(), inside the caller's
// SecretAllocations, and the context is made outside it (warm()), in
// ordinary memory. Reuse is safe for this input: the only state a DER
// decoder keeps between calls is a fatal flag set by a failed decryption of
// an EncryptedPrivateKeyInfo, which PKCS#1 input never reaches; a context
// that cannot be made leaves d2i_PrivateKey() to do the work.
class RsaDerDecoder {
 public:
  static RsaDerDecoder& this_thread() {
    thread_local RsaDerDecoder d;
    return d;
  }
  // Makes the context (if it can be made) from ordinary memory.
  void warm() {
    if (ctx_ || failed_) return;
    ctx_ = OSSL_DECODER_CTX_new_for_pkey(&out_, "DER", nullptr, "RSA", EVP_PKEY_KEYPAIR, nullptr, nullptr);
    failed_ = ctx_ == nullptr;
    ERR_clear_error();
  }
  PkeyPtr decode(std::string_view der) {
    warm();
    const auto* p = reinterpret_cast<const unsigned char*>(der.data());
    if (!ctx_) return PkeyPtr(d2i_PrivateKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size())));
    std::size_t len = der.size();
    out_ = nullptr;
    const bool ok = OSSL_DECODER_from_data(ctx_, &p, &len) == 1;
    PkeyPtr key(out_);
    out_ = nullptr;
    if (!ok) key.reset();
    return key;
  }
  ~RsaDerDecoder() { OSSL_DECODER_CTX_free(ctx_); }

 private:
  RsaDerDecoder() = default;
  EVP_PKEY* out_ = nullptr;  // where the context puts each key it makes
  OSSL_DECODER_CTX* ctx_ = nullptr;
  bool failed_ = false;
};

// Never prompt for a passphrase: an encrypted key is an error, not a hang.
int no_passphrase(char*, int, int, void*) { return -1; }

bool sodium_ready() {
  static const bool ok = sodium_init() >= 0;
  return ok;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// A DER element: tag and content (RFC 5280 / X.690 definite lengths only).
struct Der {
  unsigned char tag = 0;
  std::string_view content;
  std::string_view rest;
};

std::optional<Der> der_next(std::string_view in) {
  if (in.size() < 2) return std::nullopt;
  Der d;
  d.tag = static_cast<unsigned char>(in[0]);
  std::size_t len = static_cast<unsigned char>(in[1]);
  std::size_t pos = 2;
  if (len & 0x80) {
    const std::size_t n = len & 0x7f;
    if (n == 0 || n > 4 || in.size() < 2 + n) return std::nullopt;
    len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | static_cast<unsigned char>(in[2 + i]);
    pos = 2 + n;
  }
  if (in.size() - pos < len) return std::nullopt;
  d.content = in.substr(pos, len);
  d.rest = in.substr(pos + len);
  return d;
}

// Base64 (FWS ignored) decoded into the secure heap: the DER of a private key
// is key material. nullopt on malformed base64 or a full heap (*full set).
std::optional<SecretBuffer> secret_base64(std::string_view text, bool* full) {
  SecretBuffer out(text.size() / 4 * 3 + 3);
  if (!out.ok()) {
    *full = true;
    return std::nullopt;
  }
  std::size_t len = 0;
  const char* end = nullptr;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), " \t\r\n", &len, &end,
                        sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    return std::nullopt;
  }
  out.shrink(len);
  return out;
}

// The PEM block's label and its base64-decoded DER, or nullopt (encrypted
// PEM with Proc-Type headers, several blocks, malformed base64).
std::optional<std::pair<std::string, SecretBuffer>> pem_decode(std::string_view t, bool* full) {
  constexpr std::string_view kBegin = "-----BEGIN ", kDashes = "-----";
  if (t.substr(0, kBegin.size()) != kBegin) return std::nullopt;
  const std::size_t label_end = t.find(kDashes, kBegin.size());
  if (label_end == std::string_view::npos) return std::nullopt;
  std::string label(t.substr(kBegin.size(), label_end - kBegin.size()));
  const std::string end_line = "-----END " + label + "-----";
  const std::size_t body = label_end + kDashes.size();
  const std::size_t end = t.find(end_line, body);
  if (end == std::string_view::npos || t.find(':', body) < end) return std::nullopt;  // headers: encrypted
  auto der = secret_base64(t.substr(body, end - body), full);
  if (!der) return std::nullopt;
  return std::make_pair(std::move(label), std::move(*der));
}

// PKCS#8 PrivateKeyInfo (RFC 5208): version, algorithm, OCTET STRING key.
// Returns the algorithm OID's bytes and the inner key, or nullopt.
std::optional<std::pair<std::string_view, std::string_view>> pkcs8_split(std::string_view der) {
  auto seq = der_next(der);
  if (!seq || seq->tag != 0x30) return std::nullopt;
  auto version = der_next(seq->content);
  if (!version || version->tag != 0x02) return std::nullopt;
  auto alg = der_next(version->rest);
  if (!alg || alg->tag != 0x30) return std::nullopt;
  auto oid = der_next(alg->content);
  if (!oid || oid->tag != 0x06) return std::nullopt;
  auto key = der_next(alg->rest);
  if (!key || key->tag != 0x04) return std::nullopt;
  return std::make_pair(oid->content, key->content);
}

constexpr std::string_view kOidRsa("\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01", 9);  // 1.2.840.113549.1.1.1
constexpr std::string_view kOidEd25519("\x2b\x65\x70", 3);                            // 1.3.101.112 (RFC 8410)

Error weak_rsa(int bits) {
  return permanent_error("RSA key is " + std::to_string(bits) +
                         " bits; DKIM needs at least 1024 (RFC 8301), 2048 recommended: "
                         "generate a new one with `signet keygen --algorithm rsa --bits 2048`");
}

}  // namespace

std::string_view algorithm_name(Algorithm a) {
  return a == Algorithm::RsaSha256 ? "rsa-sha256" : "ed25519-sha256";
}

std::string_view key_type_name(Algorithm a) { return a == Algorithm::RsaSha256 ? "rsa" : "ed25519"; }

std::optional<Algorithm> parse_key_type(std::string_view k) {
  if (k == "rsa") return Algorithm::RsaSha256;
  if (k == "ed25519") return Algorithm::Ed25519Sha256;
  return std::nullopt;
}

std::optional<Algorithm> parse_algorithm(std::string_view a) {
  if (a == "rsa-sha256") return Algorithm::RsaSha256;
  if (a == "ed25519-sha256") return Algorithm::Ed25519Sha256;
  return std::nullopt;  // rsa-sha1 included: RFC 8301 §3.1 forbids it
}

// ---------------------------------------------------------------- PrivateKey

// Both live in the secure heap (signer/secure_memory.h): the EVP_PKEY and its
// RSA numbers because it is made inside SecretAllocations, the Ed25519
// secret key as a SecretBuffer. Freeing either cleanses it.
struct PrivateKey::Impl {
  PkeyPtr rsa;                        // RsaSha256
  mutable std::once_flag sign_once;   // RsaSha256: sign_template set up once
  mutable CtxPtr sign_template;       // sign-initialised, PKCS#1 v1.5, SHA-256
  SecretBuffer ed_sk;                 // Ed25519: seed || public, crypto_sign_SECRETKEYBYTES
  // RSA: whether a signature has been made. The first one builds the
  // Montgomery contexts of p and q that OpenSSL keeps with the key (copies of
  // p and q), so it runs inside SecretAllocations too.
  mutable std::atomic<bool> rsa_warm{false};
};

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl, Algorithm a, int bits)
    : impl_(std::move(impl)), algorithm_(a), bits_(bits) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::parse(std::string_view text) {
  if (!sodium_ready()) return permanent_error("libsodium failed to initialise");
  if (!ensure_secure_heap()) return permanent_error("no secure heap for private keys: see the start-up error");
  RsaDerDecoder::this_thread().warm();  // outside the scope: it holds no key material
  // Whatever OpenSSL allocates from here on (the decoder's copy of the DER,
  // the key's numbers) is in the secure heap and cleansed when freed.
  SecretAllocations secret;
  auto key = parse_secret(text);
  ERR_clear_error();
  if (secret.failed()) return secure_heap_full_error();
  return key;
}

Result<PrivateKey> PrivateKey::parse_secret(std::string_view text) {
  const std::string_view t = trim(text);
  if (t.empty()) return permanent_error("the key is empty: expected a PEM private key or a base64 Ed25519 seed");

  if (t.substr(0, 10) != "-----BEGIN") {
    // Raw Ed25519 seed, base64 (RFC 8463 Appendix A.1 style).
    bool full = false;
    auto raw = secret_base64(t, &full);
    if (full) return secure_heap_full_error();
    if (!raw || (raw->size() != crypto_sign_SEEDBYTES && raw->size() != crypto_sign_SECRETKEYBYTES)) {
      return permanent_error(
          "the key is neither PEM nor the base64 of a 32-byte Ed25519 seed: give a PEM file "
          "(PKCS#1 or PKCS#8) or a raw Ed25519 seed");
    }
    return from_ed25519_seed(raw->data());
  }

  // The common shapes are decoded here: OpenSSL 3's generic PEM/PKCS#8
  // decoders cost ~450 us a key, which a 10 000-stream reload multiplies.
  PkeyPtr pkey;
  bool full = false;
  if (auto pem = pem_decode(t, &full)) {
    const std::string_view der = pem->second.view();
    std::string_view rsa_der;
    if (pem->first == "RSA PRIVATE KEY") {
      rsa_der = der;  // PKCS#1
    } else if (pem->first == "PRIVATE KEY") {
      if (auto p8 = pkcs8_split(der)) {
        if (p8->first == kOidRsa) rsa_der = p8->second;
        if (p8->first == kOidEd25519) {
          // RFC 8410 §7: CurvePrivateKey ::= OCTET STRING (32 bytes).
          auto seed = der_next(p8->second);
          if (seed && seed->tag == 0x04 && seed->content.size() == 32) {
            return from_ed25519_seed(reinterpret_cast<const unsigned char*>(seed->content.data()));
          }
        }
      }
    }
    if (!rsa_der.empty()) pkey = RsaDerDecoder::this_thread().decode(rsa_der);
  }  // the DER is cleansed here
  if (full) return secure_heap_full_error();
  if (!pkey) {
    BioPtr bio(BIO_new_mem_buf(t.data(), static_cast<int>(t.size())));
    pkey.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  }
  ERR_clear_error();  // the reason is ours to give, and must not echo key bytes
  if (!pkey) {
    return permanent_error(
        "the PEM private key could not be parsed (corrupt, encrypted, or not a private key): "
        "signet reads unencrypted PKCS#1 or PKCS#8 PEM");
  }
  switch (EVP_PKEY_get_base_id(pkey.get())) {
    case EVP_PKEY_RSA: {
      const int bits = EVP_PKEY_get_bits(pkey.get());
      if (bits < kMinRsaBits) return weak_rsa(bits);
      auto impl = std::make_unique<Impl>();
      impl->rsa = std::move(pkey);
      return PrivateKey(std::move(impl), Algorithm::RsaSha256, bits);
    }
    case EVP_PKEY_ED25519: {
      unsigned char seed[32];
      std::size_t len = sizeof seed;
      if (EVP_PKEY_get_raw_private_key(pkey.get(), seed, &len) != 1 || len != sizeof seed) {
        ERR_clear_error();
        return permanent_error("the Ed25519 PEM key has no usable private part");
      }
      auto key = from_ed25519_seed(seed);
      sodium_memzero(seed, sizeof seed);
      return key;
    }
    default:
      return permanent_error("the PEM key is neither RSA nor Ed25519; DKIM signs with rsa-sha256 or ed25519-sha256");
  }
}

Result<PrivateKey> PrivateKey::generate(Algorithm algorithm, int rsa_bits) {
  if (!ensure_secure_heap()) return permanent_error("no secure heap for private keys: see the start-up error");
  SecretAllocations secret;  // the new key's numbers, as for a parsed one
  auto key = generate_secret(algorithm, rsa_bits);
  if (secret.failed()) return secure_heap_full_error();
  return key;
}

Result<PrivateKey> PrivateKey::generate_secret(Algorithm algorithm, int rsa_bits) {
  if (algorithm == Algorithm::Ed25519Sha256) {
    if (!sodium_ready()) return permanent_error("libsodium failed to initialise");
    unsigned char seed[crypto_sign_SEEDBYTES];
    randombytes_buf(seed, sizeof seed);
    auto key = from_ed25519_seed(seed);
    sodium_memzero(seed, sizeof seed);
    return key;
  }
  if (rsa_bits < kMinRsaBits) return weak_rsa(rsa_bits);
  if (rsa_bits > 8192) return permanent_error("RSA keys over 8192 bits are not supported; use 2048, 3072 or 4096");
  PkeyPtr pkey(EVP_RSA_gen(static_cast<unsigned>(rsa_bits)));
  if (!pkey) {
    ERR_clear_error();
    return permanent_error("OpenSSL could not generate an RSA key");
  }
  auto impl = std::make_unique<Impl>();
  impl->rsa = std::move(pkey);
  return PrivateKey(std::move(impl), Algorithm::RsaSha256, rsa_bits);
}

std::string PrivateKey::public_key_base64() const {
  if (external_) return external_public_;
  if (algorithm_ == Algorithm::Ed25519Sha256) {
    // RFC 8463 §4: p= is the base64 of the raw 32-byte public key.
    return base64::encode(std::string_view(reinterpret_cast<const char*>(impl_->ed_sk.data() + 32), 32));
  }
  // RFC 6376 §3.6.1: p= is the DER SubjectPublicKeyInfo.
  unsigned char* der = nullptr;
  const int len = i2d_PUBKEY(impl_->rsa.get(), &der);
  if (len <= 0) return {};
  std::string out = base64::encode(std::string_view(reinterpret_cast<const char*>(der), static_cast<std::size_t>(len)));
  OPENSSL_free(der);
  return out;
}

std::string PrivateKey::to_pem() const {
  if (external_) return {};  // held by its token: nothing to write
  // The encoder's DER (and the Ed25519 EVP_PKEY) are key material too.
  SecretAllocations secret;
  PkeyPtr ed;
  EVP_PKEY* k = impl_->rsa.get();
  if (algorithm_ == Algorithm::Ed25519Sha256) {
    ed.reset(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, impl_->ed_sk.data(), 32));
    k = ed.get();
  }
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!k || !bio || PEM_write_bio_PrivateKey(bio.get(), k, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    ERR_clear_error();
    return {};
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

Result<std::string> PrivateKey::sign_digest(const Sha256Digest& digest) const {
  if (external_) return external_->sign_digest(digest);
  if (algorithm_ == Algorithm::Ed25519Sha256) {
    std::string sig(crypto_sign_BYTES, '\0');
    crypto_sign_detached(reinterpret_cast<unsigned char*>(sig.data()), nullptr, digest.data(),
                         digest.size(), impl_->ed_sk.data());
    return sig;
  }
  std::optional<SecretAllocations> first;  // see Impl::rsa_warm
  if (!impl_->rsa_warm.load(std::memory_order_acquire)) first.emplace();
  // A context per signature (the EVP_PKEY is shared read-only between
  // threads), duplicated from one set up once per key: setting one up from
  // nothing fetches the signature method and SHA-256 from the provider (name
  // lookups under a lock) and builds the RSA context each time.
  const auto fresh = [this] {
    CtxPtr c(EVP_PKEY_CTX_new(impl_->rsa.get(), nullptr));
    if (!c || EVP_PKEY_sign_init(c.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(c.get(), RSA_PKCS1_PADDING) != 1 ||
        EVP_PKEY_CTX_set_signature_md(c.get(), EVP_sha256()) != 1) {
      c.reset();
    }
    return c;
  };
  std::call_once(impl_->sign_once, [&] { impl_->sign_template = fresh(); });
  // (Without a template, as when its setup failed, each signature sets up its own.)
  CtxPtr ctx(impl_->sign_template ? EVP_PKEY_CTX_dup(impl_->sign_template.get()) : fresh().release());
  std::size_t len = 0;
  if (!ctx || EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) != 1) {
    ERR_clear_error();
    if (first && first->failed()) return temporary_error(secure_heap_full_error().message);
    return temporary_error("OpenSSL could not set up an RSA signature");
  }
  std::string sig(len, '\0');
  if (EVP_PKEY_sign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len, digest.data(),
                    digest.size()) != 1) {
    ERR_clear_error();
    if (first && first->failed()) return temporary_error(secure_heap_full_error().message);
    return temporary_error("OpenSSL failed to make an RSA signature");
  }
  sig.resize(len);
  if (first) impl_->rsa_warm.store(true, std::memory_order_release);
  return sig;
}

Result<PrivateKey> PrivateKey::from_ed25519_seed(const unsigned char* seed) {
  if (!sodium_ready()) return permanent_error("libsodium failed to initialise");
  auto impl = std::make_unique<Impl>();
  impl->ed_sk = SecretBuffer(crypto_sign_SECRETKEYBYTES);
  if (!impl->ed_sk.ok()) return secure_heap_full_error();
  unsigned char pk[crypto_sign_PUBLICKEYBYTES];
  crypto_sign_seed_keypair(pk, impl->ed_sk.data(), seed);
  return PrivateKey(std::move(impl), Algorithm::Ed25519Sha256, 256);
}

PrivateKey PrivateKey::external(std::shared_ptr<const ExternalSigner> signer, Algorithm algorithm, int bits,
                                std::string public_key_base64) {
  PrivateKey key(nullptr, algorithm, bits);
  key.external_ = std::move(signer);
  key.external_public_ = std::move(public_key_base64);
  return key;
}

// ----------------------------------------------------------------- PublicKey

struct PublicKey::Impl {
  PkeyPtr rsa;
  unsigned char ed_pk[crypto_sign_PUBLICKEYBYTES] = {};
};

PublicKey::PublicKey(std::unique_ptr<Impl> impl, Algorithm a, int bits)
    : impl_(std::move(impl)), algorithm_(a), bits_(bits) {}
PublicKey::PublicKey(PublicKey&&) noexcept = default;
PublicKey& PublicKey::operator=(PublicKey&&) noexcept = default;
PublicKey::~PublicKey() = default;

Result<PublicKey> PublicKey::from_der(Algorithm algorithm, std::string_view der) {
  if (!sodium_ready()) return permanent_error("libsodium failed to initialise");
  auto impl = std::make_unique<Impl>();
  if (algorithm == Algorithm::Ed25519Sha256) {
    if (der.size() != crypto_sign_PUBLICKEYBYTES) {
      return permanent_error("ed25519 key record p= is " + std::to_string(der.size()) +
                             " bytes; RFC 8463 §4 requires the raw 32-byte public key");
    }
    std::memcpy(impl->ed_pk, der.data(), der.size());
    return PublicKey(std::move(impl), algorithm, 256);
  }
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(der.size()));
  if (!k) {
    // Some publishers put a bare PKCS#1 RSAPublicKey in p=; verifiers accept it.
    p = reinterpret_cast<const unsigned char*>(der.data());
    k = d2i_PublicKey(EVP_PKEY_RSA, nullptr, &p, static_cast<long>(der.size()));
  }
  ERR_clear_error();
  if (!k) return permanent_error("rsa key record p= is not a DER RSA public key");
  impl->rsa.reset(k);
  if (EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) return permanent_error("key record says k=rsa but p= holds another key type");
  const int bits = EVP_PKEY_get_bits(k);
  return PublicKey(std::move(impl), algorithm, bits);
}

bool PublicKey::verify_digest(const Sha256Digest& digest, std::string_view signature) const {
  const auto* sig = reinterpret_cast<const unsigned char*>(signature.data());
  if (algorithm_ == Algorithm::Ed25519Sha256) {
    return signature.size() == crypto_sign_BYTES &&
           crypto_sign_verify_detached(sig, digest.data(), digest.size(), impl_->ed_pk) == 0;
  }
  CtxPtr ctx(EVP_PKEY_CTX_new(impl_->rsa.get(), nullptr));
  const bool ok = ctx && EVP_PKEY_verify_init(ctx.get()) == 1 &&
                  EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
                  EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) == 1 &&
                  EVP_PKEY_verify(ctx.get(), sig, signature.size(), digest.data(), digest.size()) == 1;
  ERR_clear_error();
  return ok;
}

}  // namespace signet
