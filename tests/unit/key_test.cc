// signer/key.h: parsing the key formats operators have, refusing weak keys.
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <thread>
#include <vector>

#include "signer/base64.h"
#include "signer/key.h"
#include "signer/key_record.h"
#include "test_util.h"

using namespace signet;

namespace {

std::string rsa_pem(int bits, bool pkcs1) {
  EVP_PKEY* k = EVP_RSA_gen(static_cast<unsigned>(bits));
  BIO* bio = BIO_new(BIO_s_mem());
  if (pkcs1) {
    PEM_write_bio_PrivateKey_traditional(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  } else {
    PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(len));
  BIO_free(bio);
  EVP_PKEY_free(k);
  return out;
}

Sha256Digest some_digest() {
  Sha256Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<unsigned char>(i * 7);
  return d;
}

}  // namespace

TEST(PrivateKey, ParsesRsaPkcs1Pem) {
  const std::string pem = rsa_pem(2048, true);
  ASSERT_NE(pem.find("BEGIN RSA PRIVATE KEY"), std::string::npos);
  auto k = PrivateKey::parse(pem);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->algorithm(), Algorithm::RsaSha256);
  EXPECT_EQ(k->bits(), 2048);
}

TEST(PrivateKey, ParsesRsaPkcs8Pem) {
  const std::string pem = rsa_pem(2048, false);
  ASSERT_NE(pem.find("BEGIN PRIVATE KEY"), std::string::npos);
  auto k = PrivateKey::parse(pem);
  ASSERT_TRUE(k.ok()) << k.error().message;
  EXPECT_EQ(k->bits(), 2048);
}

TEST(PrivateKey, RefusesRsaBelow1024BitsWithClearError) {
  auto k = PrivateKey::parse(rsa_pem(768, true));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.error().message.find("768 bits"), std::string::npos);
  EXPECT_NE(k.error().message.find("at least 1024"), std::string::npos);
  EXPECT_FALSE(PrivateKey::generate(Algorithm::RsaSha256, 512).ok());
}

TEST(PrivateKey, Accepts1024BitRsa) { EXPECT_TRUE(PrivateKey::parse(rsa_pem(1024, false)).ok()); }

TEST(PrivateKey, ParsesEd25519Pkcs8PemAsOpensslWritesIt) {
  EVP_PKEY* k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PrivateKey(bio, k, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  const std::string pem(data, static_cast<std::size_t>(len));
  unsigned char pub[32];
  std::size_t publen = sizeof pub;
  EVP_PKEY_get_raw_public_key(k, pub, &publen);
  BIO_free(bio);
  EVP_PKEY_free(k);
  auto key = PrivateKey::parse(pem);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->algorithm(), Algorithm::Ed25519Sha256);
  EXPECT_EQ(key->public_key_base64(), base64::encode(std::string_view(reinterpret_cast<char*>(pub), 32)));
}

TEST(PrivateKey, ParsesRawBase64Ed25519Seed) {
  // RFC 8032 §7.1 test 1 / RFC 8463 A.1.
  auto key = PrivateKey::parse("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n");
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(key->public_key_base64(), "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
}

TEST(PrivateKey, RefusesGarbageAndEncryptedPem) {
  EXPECT_FALSE(PrivateKey::parse("").ok());
  EXPECT_FALSE(PrivateKey::parse("hello world").ok());
  EXPECT_FALSE(PrivateKey::parse("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n").ok());
  EXPECT_FALSE(PrivateKey::parse("-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n").ok());
}

TEST(PrivateKey, ErrorsNeverContainKeyMaterial) {
  const std::string pem = rsa_pem(768, true);
  auto k = PrivateKey::parse(pem);
  ASSERT_FALSE(k.ok());
  const std::string body = pem.substr(pem.find('\n') + 1, 40);
  EXPECT_EQ(k.error().message.find(body), std::string::npos);
}

TEST(PrivateKey, PemRoundTripKeepsPublicKey) {
  for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
    auto k = PrivateKey::generate(a, 2048);
    ASSERT_TRUE(k.ok());
    auto again = PrivateKey::parse(k->to_pem());
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(again->public_key_base64(), k->public_key_base64());
  }
}

TEST(PublicKey, VerifiesWhatPrivateKeySigns) {
  for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
    auto k = PrivateKey::generate(a, 2048);
    ASSERT_TRUE(k.ok());
    auto sig = k->sign_digest(some_digest());
    ASSERT_TRUE(sig.ok());
    auto pub = PublicKey::from_der(a, *base64::decode(k->public_key_base64()));
    ASSERT_TRUE(pub.ok()) << pub.error().message;
    EXPECT_TRUE(pub->verify_digest(some_digest(), sig.value()));
    Sha256Digest other = some_digest();
    other[0] ^= 1;
    EXPECT_FALSE(pub->verify_digest(other, sig.value()));
  }
}

TEST(KeyRecord, FormatsAndSplitsRsa2048Into255ByteStrings) {
  auto k = PrivateKey::generate(Algorithm::RsaSha256, 2048);
  ASSERT_TRUE(k.ok());
  const std::string rec = format_key_record(*k);
  EXPECT_EQ(rec.substr(0, 18), "v=DKIM1; k=rsa; p=");
  EXPECT_GT(rec.size(), 255u);
  const std::string quoted = quote_txt_strings(rec);
  // "…255…" "…rest…"
  ASSERT_EQ(quoted[0], '"');
  EXPECT_EQ(quoted.find('"', 1), 256u);
  EXPECT_EQ(quoted.substr(256, 3), "\" \"");
  std::string joined;
  for (std::size_t i = 0; i < quoted.size();) {
    const std::size_t open = quoted.find('"', i);
    if (open == std::string::npos) break;
    const std::size_t close = quoted.find('"', open + 1);
    EXPECT_LE(close - open - 1, 255u);
    joined += quoted.substr(open + 1, close - open - 1);
    i = close + 1;
  }
  EXPECT_EQ(joined, rec);
}

TEST(KeyRecord, ParsesTagsAndRejectsBadOnes) {
  auto r = parse_key_record("v=DKIM1; k=ed25519; t=y:s; h=sha256; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->key_type, Algorithm::Ed25519Sha256);
  EXPECT_TRUE(r->testing);
  EXPECT_TRUE(r->strict_identity);
  EXPECT_TRUE(parse_key_record("v=DKIM1; p=").value().revoked());
  EXPECT_FALSE(parse_key_record("k=rsa; v=DKIM1; p=AAAA").ok());  // v= not first
  EXPECT_FALSE(parse_key_record("v=DKIM2; p=AAAA").ok());
  EXPECT_FALSE(parse_key_record("v=DKIM1; k=dsa; p=AAAA").ok());
  EXPECT_FALSE(parse_key_record("v=DKIM1; k=rsa").ok());
}

// Each thread keeps one OpenSSL decoder context for every RSA key it parses
// (signer/key.cc, RsaDerDecoder): the keys it makes one after another must
// each be their own, and a DER the decoder refuses must leave it working.
TEST(PrivateKey, OneThreadParsesManyRsaKeysEachItsOwnAndARefusedOneChangesNothing) {
  std::vector<std::string> pems, publics;
  for (int i = 0; i < 3; ++i) {
    auto k = PrivateKey::generate(Algorithm::RsaSha256, 2048);
    ASSERT_TRUE(k.ok());
    pems.push_back(k->to_pem());
    publics.push_back(k->public_key_base64());
  }
  // The first key's PKCS#8 body cut in half: a PEM that frames a broken DER.
  const std::string& first = pems[0];
  const auto b = first.find('\n') + 1, e = first.find("-----END");
  std::string body;
  for (char c : first.substr(b, e - b)) if (c != '\n') body += c;
  const std::string der = *base64::decode(body);
  const std::string broken =
      "-----BEGIN PRIVATE KEY-----\n" + base64::encode(der.substr(0, der.size() / 2)) + "\n-----END PRIVATE KEY-----\n";
  const auto check_all = [&] {
    for (int round = 0; round < 2; ++round) {
      for (std::size_t i = 0; i < pems.size(); ++i) {
        EXPECT_FALSE(PrivateKey::parse(broken).ok());
        auto k = PrivateKey::parse(pems[i]);
        ASSERT_TRUE(k.ok()) << k.error().message;
        EXPECT_EQ(k->public_key_base64(), publics[i]);
        auto sig = k->sign_digest(some_digest());
        ASSERT_TRUE(sig.ok());
        for (std::size_t j = 0; j < publics.size(); ++j) {
          auto pub = PublicKey::from_der(Algorithm::RsaSha256, *base64::decode(publics[j]));
          ASSERT_TRUE(pub.ok());
          EXPECT_EQ(pub->verify_digest(some_digest(), sig.value()), i == j) << "key " << i << ", public key " << j;
        }
      }
    }
  };
  check_all();
  std::thread other(check_all);  // a second thread has its own context
  other.join();
}
