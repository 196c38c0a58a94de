// RFC 8463 Appendix A: reproduce bh= and b= byte for byte from the published
// keys (A.1) and tags (A.3), and verify the published message (A.2 records).
#include <gtest/gtest.h>

#include "canon/header.h"
#include "keystore/txt_lookup.h"
#include "signer/base64.h"
#include "signer/digest.h"
#include "signer/key.h"
#include "signer/message.h"
#include "signer/tag_list.h"
#include "signer/verifier.h"
#include "test_util.h"

namespace {

using namespace signet;

struct Published {
  std::string message = signet::testing::vector_file("rfc8463/signed.eml");
  ParsedMessage parsed = parse_message(message).value();
  std::vector<std::string_view> sigs;
  Published() {
    for (auto f : parsed.fields) {
      if (canon::header_name_equals(f, "dkim-signature")) sigs.push_back(f);
    }
  }
};

std::string tag_value(std::string_view field, const char* name) {
  auto tags = parse_tag_list(field.substr(field.find(':') + 1)).value();
  return strip_fws(tags.find(name)->value);
}

// The published field with its b= value deleted (RFC 6376 §3.5), and the
// digest over the signed fields + that field, as the signer computes it.
Sha256Digest header_digest(const Published& p, std::string_view sig) {
  auto tags = parse_tag_list(sig.substr(sig.find(':') + 1)).value();
  const Tag* b = tags.find("b");
  const std::size_t off = sig.find(':') + 1;
  std::string unsigned_field(sig.substr(0, off + b->span_begin));
  unsigned_field += sig.substr(off + b->span_end);
  return hash_headers(p.parsed.fields, split_colon_list(tags.find("h")->value), canon::Canon::Relaxed,
                      unsigned_field);
}

}  // namespace

TEST(Rfc8463, BodyHashMatchesPublishedBh) {
  Published p;
  ASSERT_EQ(p.sigs.size(), 2u);
  BodyHasher hasher(canon::Canon::Relaxed);
  hasher.update(p.parsed.body);
  const Sha256Digest d = hasher.finish();
  const std::string bh = base64::encode(std::string_view(reinterpret_cast<const char*>(d.data()), d.size()));
  EXPECT_EQ(bh, "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
  EXPECT_EQ(bh, tag_value(p.sigs[0], "bh"));
  EXPECT_EQ(bh, tag_value(p.sigs[1], "bh"));
}

TEST(Rfc8463, Ed25519SignatureReproducedByteExactly) {
  Published p;
  auto key = PrivateKey::parse(signet::testing::vector_file("rfc8463/ed25519.seed"));
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->public_key_base64(), "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
  auto sig = key->sign_digest(header_digest(p, p.sigs[0]));
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(base64::encode(sig.value()), tag_value(p.sigs[0], "b"));
  EXPECT_EQ(base64::encode(sig.value()),
            "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11BusFa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==");
}

TEST(Rfc8463, RsaSignatureReproducedByteExactly) {
  Published p;
  auto key = PrivateKey::parse(signet::testing::vector_file("rfc8463/rsa.pem"));
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->bits(), 1024);
  auto sig = key->sign_digest(header_digest(p, p.sigs[1]));
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(base64::encode(sig.value()), tag_value(p.sigs[1], "b"));
}

TEST(Rfc8463, PublishedMessageVerifies) {
  Published p;
  auto lookup = keystore::FileTxtLookup::load(std::string(SIGNET_VECTORS_DIR) + "/rfc8463/keys.txt");
  ASSERT_TRUE(lookup.ok()) << lookup.error().message;
  const auto results = verify_message(p.parsed.fields, p.parsed.body, lookup.value(), VerifyOptions{1528637909});
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].authentication_results(),
            "dkim=pass header.d=football.example.com header.s=brisbane header.a=ed25519-sha256");
  EXPECT_EQ(results[1].authentication_results(),
            "dkim=pass header.d=football.example.com header.s=test header.a=rsa-sha256");
}
