// signer/signature.h and signer/signer.h: the DKIM-Signature field, byte-exact.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>

#include "canon/header.h"
#include "signer/external_key.h"
#include "signer/signature.h"
#include "signer/signer.h"
#include "signer/tag_list.h"

using namespace signet;

namespace {

const PrivateKey& rfc_ed25519() {
  static PrivateKey k = PrivateKey::parse("nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=").value();
  return k;
}

std::vector<std::string> lines_of(const std::string& field) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t e = field.find("\r\n", pos);
    out.push_back(field.substr(pos, e == std::string::npos ? std::string::npos : e - pos));
    if (e == std::string::npos) break;
    pos = e + 2;
  }
  return out;
}

const std::vector<std::string_view> kFields = {"From: Joe <joe@example.com>", "To: Suzie <suzie@example.net>",
                                               "Subject: Is dinner ready?", "Date: Fri, 11 Jul 2003 21:00:37 -0700",
                                               "Message-ID: <1@example.com>"};

}  // namespace

TEST(SignatureHeader, GoldenEd25519WithInjectedClock) {
  SignOptions opt;
  opt.expire_after = 7 * 86400;
  auto sigs = sign_message(kFields, "Hi.\r\n\r\nWe lost the game.\r\n", SignProfile(opt),
                           {SigningKey{&rfc_ed25519(), "example.com", "brisbane", std::nullopt}}, 1764150000);
  ASSERT_TRUE(sigs.ok()) << sigs.error().message;
  ASSERT_EQ(sigs->size(), 1u);
  // Ed25519 is deterministic and the clock is an input: the field is golden.
  // Checked once against dkimpy (python3-dkim) before being pinned here.
  EXPECT_EQ(sigs->front().wire(),
            "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=example.com;\r\n"
            " s=brisbane; t=1764150000; x=1764754800; h=from:from:subject:subject:to:to:\r\n"
            " date:date:reply-to:message-id:cc;\r\n"
            " bh=sTT02lKuPAH1nGYBiIjR27DGuCuXdYrdO56uQNzQX+8=;\r\n"
            " b=7YCDqj4Msc62y5MsGSIgSYSNH2srBdMcp+UGQrqvH/IEGtGafK1091TUtfV2M2H8PllI9bxn+kh\r\n"
            " rxZptL8B+Aw==");
}

TEST(SignatureHeader, FoldsToAtMost78Columns) {
  SignatureFields f;
  f.domain = "a-rather-long-subdomain.of.an-organisation-with-a-long-name.example.com";
  f.selector = "transactional-202611-rsa2048";
  f.identity = "@" + f.domain;
  f.timestamp = 1764150000;
  f.expiration = 1764754800;
  for (int i = 0; i < 40; ++i) f.headers.push_back("x-header-number-" + std::to_string(i));
  f.body_hash = std::string(44, 'A');
  const std::string field = append_b(format_unsigned(f), std::string(344, 'B'));
  for (const std::string& line : lines_of(field)) EXPECT_LE(line.size(), 78u) << line;
  EXPECT_EQ(field.find("\r\n\r\n"), std::string::npos);
}

TEST(SignatureHeader, BTagComesLastOnItsOwnLines) {
  SignatureFields f;
  f.domain = "example.com";
  f.selector = "s";
  f.headers = {"from"};
  f.body_hash = std::string(44, 'A');
  const std::string unsigned_field = format_unsigned(f);
  EXPECT_EQ(unsigned_field.substr(unsigned_field.size() - 5), "\r\n b=");
  const std::string field = append_b(unsigned_field, std::string(400, 'B'));
  EXPECT_EQ(field.substr(0, unsigned_field.size()), unsigned_field);
  // Deleting the b= value as a verifier does (§3.5) gives the hashed text back.
  auto tags = parse_tag_list(std::string_view(field).substr(field.find(':') + 1)).value();
  const Tag* b = tags.find("b");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(strip_fws(b->value), std::string(400, 'B'));
}

TEST(SignatureHeader, TagOrderIsFixed) {
  SignatureFields f;
  f.domain = "example.com";
  f.selector = "s";
  f.identity = "@example.com";
  f.timestamp = 1;
  f.expiration = 2;
  f.headers = {"from"};
  f.body_hash = "bh";
  const std::string s = strip_fws(format_unsigned(f));
  EXPECT_EQ(s, "DKIM-Signature:v=1;a=rsa-sha256;c=relaxed/relaxed;d=example.com;i=@example.com;s=s;t=1;x=2;h=from;bh=bh;b=");
}

TEST(MessageSigner, NeverEmitsBodyLengthTag) {
  SignOptions opt;
  auto sigs = sign_message(kFields, std::string(5000, 'x'), SignProfile(opt),
                           {SigningKey{&rfc_ed25519(), "example.com", "s", std::nullopt}}, 1);
  ASSERT_TRUE(sigs.ok());
  auto tags = parse_tag_list(sigs->front().value).value();
  EXPECT_EQ(tags.find("l"), nullptr);
  EXPECT_EQ(tags.find("a")->value, "ed25519-sha256");
}

TEST(MessageSigner, DualSigningHashesBodyOnceAndSharesBh) {
  auto rsa = PrivateKey::generate(Algorithm::RsaSha256, 2048);
  ASSERT_TRUE(rsa.ok());
  const SignProfile profile;
  MessageSigner signer(profile, kFields);
  signer.add_body("Hello\r\n");
  signer.add_body("world\r\n");
  EXPECT_EQ(signer.body_bytes(), 14u);  // one canonicalizer saw the body, once
  auto sigs = signer.finish({SigningKey{&rsa.value(), "example.com", "r", std::nullopt},
                             SigningKey{&rfc_ed25519(), "example.com", "e", std::nullopt}},
                            1764150000);
  ASSERT_TRUE(sigs.ok());
  ASSERT_EQ(sigs->size(), 2u);
  auto t0 = parse_tag_list((*sigs)[0].value).value();
  auto t1 = parse_tag_list((*sigs)[1].value).value();
  EXPECT_EQ(t0.find("a")->value, "rsa-sha256");
  EXPECT_EQ(t1.find("a")->value, "ed25519-sha256");
  EXPECT_EQ(strip_fws(t0.find("bh")->value), strip_fws(t1.find("bh")->value));
}

// An external backend over in-process keys that counts how it is called:
// keys made with the same Backend batch together.
struct Backend {
  std::atomic<int> singles{0}, batches{0}, batched_items{0};
  bool refuse = false;
};
class CountingSigner final : public ExternalSigner {
 public:
  CountingSigner(std::shared_ptr<Backend> b, const PrivateKey* key, bool batches)
      : b_(std::move(b)), key_(key), batches_(batches) {}
  Result<std::string> sign_digest(const Sha256Digest& d) const override {
    ++b_->singles;
    if (b_->refuse) return temporary_error("test: the backend refused");
    return key_->sign_digest(d);
  }
  const void* batch_backend() const override { return batches_ ? b_.get() : nullptr; }
  Result<std::vector<std::string>> sign_batch(const std::vector<BatchItem>& items) const override {
    ++b_->batches;
    if (b_->refuse) return temporary_error("test: the backend refused");
    std::vector<std::string> out;
    for (const BatchItem& it : items) {
      ++b_->batched_items;
      auto sig = static_cast<const CountingSigner*>(it.signer)->key_->sign_digest(it.digest);
      if (!sig) return sig.error();
      out.push_back(sig.value());
    }
    return out;
  }

 private:
  std::shared_ptr<Backend> b_;
  const PrivateKey* key_;
  bool batches_;
};

PrivateKey external_of(const PrivateKey& k, std::shared_ptr<Backend> b, bool batches) {
  return PrivateKey::external(std::make_shared<CountingSigner>(std::move(b), &k, batches), k.algorithm(), k.bits(),
                              k.public_key_base64());
}

const PrivateKey& test_rsa() {
  static PrivateKey k = PrivateKey::generate(Algorithm::RsaSha256, 2048).value();
  return k;
}

TEST(MessageSigner, KeysSharingABatchingBackendAreSignedInOneCallByteIdentical) {
  auto b = std::make_shared<Backend>();
  const PrivateKey rsa = external_of(test_rsa(), b, true), ed = external_of(rfc_ed25519(), b, true);
  auto in_process = sign_message(kFields, "Hello\r\n", SignProfile{},
                                 {SigningKey{&test_rsa(), "example.com", "r", std::nullopt},
                                        SigningKey{&rfc_ed25519(), "example.com", "e", std::nullopt}}, 1764150000);
  auto batched = sign_message(kFields, "Hello\r\n", SignProfile{},
                                    {SigningKey{&rsa, "example.com", "r", std::nullopt},
                                     SigningKey{&ed, "example.com", "e", std::nullopt}}, 1764150000);
  ASSERT_TRUE(in_process.ok() && batched.ok());
  EXPECT_EQ(b->batches, 1);
  EXPECT_EQ(b->batched_items, 2);
  EXPECT_EQ(b->singles, 0);
  ASSERT_EQ(batched->size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) EXPECT_EQ((*batched)[i].value, (*in_process)[i].value) << i;
}

TEST(MessageSigner, KeysOfOtherBackendsKeepTheirOrderAndOneCallEach) {
  auto shared = std::make_shared<Backend>(), lone = std::make_shared<Backend>();
  const PrivateKey a = external_of(rfc_ed25519(), shared, true), b = external_of(test_rsa(), shared, true),
                   c = external_of(rfc_ed25519(), lone, false);
  // Key order: in-process, batched, non-batching external, batched.
  const std::vector<SigningKey> keys{SigningKey{&test_rsa(), "example.com", "k0", std::nullopt},
                                     SigningKey{&a, "example.com", "k1", std::nullopt},
                                     SigningKey{&c, "example.com", "k2", std::nullopt},
                                     SigningKey{&b, "example.com", "k3", std::nullopt}};
  const std::vector<SigningKey> plain{SigningKey{&test_rsa(), "example.com", "k0", std::nullopt},
                                      SigningKey{&rfc_ed25519(), "example.com", "k1", std::nullopt},
                                      SigningKey{&rfc_ed25519(), "example.com", "k2", std::nullopt},
                                      SigningKey{&test_rsa(), "example.com", "k3", std::nullopt}};
  auto got = sign_message(kFields, "", SignProfile{}, keys, 7);
  auto want = sign_message(kFields, "", SignProfile{}, plain, 7);
  ASSERT_TRUE(got.ok() && want.ok());
  ASSERT_EQ(got->size(), 4u);
  for (std::size_t i = 0; i < 4; ++i) EXPECT_EQ((*got)[i].value, (*want)[i].value) << i;
  EXPECT_EQ(shared->batches, 1);
  EXPECT_EQ(shared->batched_items, 2);
  EXPECT_EQ(shared->singles, 0);
  EXPECT_EQ(lone->singles, 1);
  EXPECT_EQ(lone->batches, 0);
}

TEST(MessageSigner, ABatchRefusedFailsTheMessageWithItsError) {
  auto b = std::make_shared<Backend>();
  b->refuse = true;
  const PrivateKey rsa = external_of(test_rsa(), b, true), ed = external_of(rfc_ed25519(), b, true);
  const auto r = sign_message(kFields, "", SignProfile{},
                              {SigningKey{&rsa, "example.com", "r", std::nullopt}, SigningKey{&ed, "example.com", "e", std::nullopt}}, 1);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().temporary);
  EXPECT_NE(r.error().message.find("the backend refused"), std::string::npos);
  EXPECT_EQ(b->batches, 1);
}

TEST(MessageSigner, RefusesMessageWithoutExactlyOneFrom) {
  const std::vector<std::string_view> none = {"To: x"};
  auto r = sign_message(none, "", SignProfile{}, {SigningKey{&rfc_ed25519(), "example.com", "s", std::nullopt}}, 1);
  EXPECT_FALSE(r.ok());
}
