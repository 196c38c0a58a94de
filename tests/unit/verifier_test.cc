// signer/verifier.h: RFC 6376 §6 verification, policy failures, tampering.
#include <gtest/gtest.h>

#include <map>

#include "signer/key_record.h"
#include "signer/message.h"
#include "signer/signer.h"
#include "signer/verifier.h"
#include "test_util.h"

using namespace signet;

namespace {

using signet::testing::MapLookup;

struct Fixture {
  PrivateKey rsa = PrivateKey::generate(Algorithm::RsaSha256, 2048).value();
  PrivateKey ed = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
  MapLookup lookup;
  Fixture() {
    lookup.records["rsa._domainkey.example.com"] = {format_key_record(rsa)};
    lookup.records["ed._domainkey.example.com"] = {format_key_record(ed)};
  }

  std::string sign(const std::string& message, const SignOptions& opt = {}, std::int64_t now = 1764150000) {
    const std::string m = normalize_line_endings(message);
    auto parsed = parse_message(m).value();
    auto sigs = sign_message(parsed.fields, parsed.body, SignProfile(opt),
                             {SigningKey{&rsa, "example.com", "rsa", std::nullopt},
                              SigningKey{&ed, "example.com", "ed", std::nullopt}},
                             now);
    EXPECT_TRUE(sigs.ok());
    std::string out;
    for (const auto& s : *sigs) out += s.wire() + "\r\n";
    return out + m;
  }

  std::vector<VerifyResult> verify(const std::string& message, std::int64_t now = 1764150000) {
    const std::string m = normalize_line_endings(message);
    auto parsed = parse_message(m).value();
    return verify_message(parsed.fields, parsed.body, lookup, VerifyOptions{now, 300});
  }
};

const std::string kMessage =
    "From: Joe <joe@example.com>\nTo: Suzie <suzie@example.net>\nSubject: Dinner\n"
    "Date: Fri, 11 Jul 2003 21:00:37 -0700\n\nHi.\n\nWe lost the game.\n";

std::string insert_after_signatures(const std::string& signed_msg, const std::string& field) {
  const std::size_t from = signed_msg.find("\r\nFrom: ");
  return signed_msg.substr(0, from + 2) + field + "\r\n" + signed_msg.substr(from + 2);
}

void expect_all(const std::vector<VerifyResult>& r, VerifyResult::Status s, const std::string& reason_part) {
  ASSERT_FALSE(r.empty());
  for (const auto& one : r) {
    EXPECT_EQ(one.status, s) << one.authentication_results();
    EXPECT_NE(one.reason.find(reason_part), std::string::npos) << one.authentication_results();
  }
}

}  // namespace

TEST(Verifier, PassesFreshlySignedMessageWithBothAlgorithms) {
  Fixture fx;
  const auto r = fx.verify(fx.sign(kMessage));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].authentication_results(), "dkim=pass header.d=example.com header.s=rsa header.a=rsa-sha256");
  EXPECT_EQ(r[1].authentication_results(), "dkim=pass header.d=example.com header.s=ed header.a=ed25519-sha256");
}

TEST(Verifier, SimpleCanonicalizationRoundTrips) {
  Fixture fx;
  SignOptions opt;
  opt.header_canon = opt.body_canon = canon::Canon::Simple;
  expect_all(fx.verify(fx.sign(kMessage, opt)), VerifyResult::Status::Pass, "");
}

TEST(Verifier, AppendedBodyTextFails) {
  Fixture fx;
  expect_all(fx.verify(fx.sign(kMessage) + "P.S. click here\r\n"), VerifyResult::Status::Fail, "body hash");
}

TEST(Verifier, AddedSecondFromFails) {
  Fixture fx;
  expect_all(fx.verify(insert_after_signatures(fx.sign(kMessage), "From: Evil <evil@example.org>")),
             VerifyResult::Status::Fail, "signature did not verify");
}

TEST(Verifier, AddedSecondSubjectToOrDateFails) {
  Fixture fx;
  const std::string signed_msg = fx.sign(kMessage);
  for (const char* f : {"Subject: Free money", "To: victim@example.org", "Date: Sat, 1 Jan 2000 00:00:00 +0000"}) {
    expect_all(fx.verify(insert_after_signatures(signed_msg, f)), VerifyResult::Status::Fail, "did not verify");
  }
}

TEST(Verifier, AddedToOnMessageWithoutToFails) {
  Fixture fx;
  const std::string no_to = "From: Joe <joe@example.com>\nSubject: s\n\nbody\n";
  const std::string signed_msg = fx.sign(no_to);
  expect_all(fx.verify(signed_msg), VerifyResult::Status::Pass, "");
  expect_all(fx.verify(insert_after_signatures(signed_msg, "To: someone@example.org")), VerifyResult::Status::Fail,
             "did not verify");
}

TEST(Verifier, ChangedSignedHeaderFails) {
  Fixture fx;
  std::string m = fx.sign(kMessage);
  m.replace(m.find("Subject: Dinner"), 15, "Subject: Lunch!");
  expect_all(fx.verify(m), VerifyResult::Status::Fail, "did not verify");
}

TEST(Verifier, RelaxedSurvivesRefoldingAndCaseChanges) {
  Fixture fx;
  std::string m = fx.sign(kMessage);
  m.replace(m.find("Subject: Dinner"), 15, "SUBJECT:   Dinner  ");
  expect_all(fx.verify(m), VerifyResult::Status::Pass, "");
}

TEST(Verifier, ExpiredSignatureFails) {
  Fixture fx;
  SignOptions opt;
  opt.expire_after = 3600;
  const std::string m = fx.sign(kMessage, opt, 1000000000);
  expect_all(fx.verify(m, 1000000000 + 3000), VerifyResult::Status::Pass, "");
  expect_all(fx.verify(m, 1000000000 + 3600 + 301), VerifyResult::Status::Fail, "expired");
}

TEST(Verifier, BodyLengthTagIsPolicyFailure) {
  Fixture fx;
  const std::string m =
      "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa; l=10; h=from; bh=AAAA; b=AAAA\r\n" +
      normalize_line_endings(kMessage);
  const auto r = fx.verify(m);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].status, VerifyResult::Status::Policy);
  EXPECT_NE(r[0].authentication_results().find("dkim=policy (l= body length"), std::string::npos);
}

TEST(Verifier, RsaSha1IsPolicyFailure) {
  Fixture fx;
  const std::string m =
      "DKIM-Signature: v=1; a=rsa-sha1; d=example.com; s=rsa; h=from; bh=AAAA; b=AAAA\r\n" +
      normalize_line_endings(kMessage);
  const auto r = fx.verify(m);
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].authentication_results(),
            "dkim=policy (rsa-sha1 is not accepted (RFC 8301)) header.d=example.com header.s=rsa header.a=rsa-sha1");
}

TEST(Verifier, RevokedKeyIsPermError) {
  Fixture fx;
  const std::string m = fx.sign(kMessage);
  fx.lookup.records["rsa._domainkey.example.com"] = {"v=DKIM1; k=rsa; p="};
  const auto r = fx.verify(m);
  EXPECT_EQ(r[0].status, VerifyResult::Status::PermError);
  EXPECT_NE(r[0].reason.find("revoked"), std::string::npos);
  EXPECT_TRUE(r[1].pass());
}

TEST(Verifier, MissingKeyIsPermErrorAndDnsTroubleIsTempError) {
  Fixture fx;
  const std::string m = fx.sign(kMessage);
  fx.lookup.records.erase("ed._domainkey.example.com");
  auto r = fx.verify(m);
  EXPECT_EQ(r[1].status, VerifyResult::Status::PermError);
  EXPECT_NE(r[1].reason.find("no key record"), std::string::npos);
  fx.lookup.fail = true;
  r = fx.verify(m);
  EXPECT_EQ(r[0].status, VerifyResult::Status::TempError);
}

TEST(Verifier, WrongKeyTypeIsPermError) {
  Fixture fx;
  const std::string m = fx.sign(kMessage);
  fx.lookup.records["rsa._domainkey.example.com"] = {format_key_record(fx.ed)};
  EXPECT_EQ(fx.verify(m)[0].status, VerifyResult::Status::PermError);
}

TEST(Verifier, MalformedSignaturesAreErrorsNotCrashes) {
  Fixture fx;
  for (const char* sig : {"DKIM-Signature:", "DKIM-Signature: ;;;", "DKIM-Signature: v=1; v=1",
                          "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa; h=to; bh=AA; b=AA",
                          "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=!!; b=AA",
                          "DKIM-Signature: v=2; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=AA; b=AA",
                          "DKIM-Signature: v=1; a=rsa-sha256; d=example.com; s=rsa; h=from; bh=AA; b=AA; i=@evil.org",
                          "DKIM-Signature: v=1; a=rsa-sha256; c=weird; d=example.com; s=rsa; h=from; bh=AA; b=AA"}) {
    const auto r = fx.verify(std::string(sig) + "\r\n" + normalize_line_endings(kMessage));
    ASSERT_EQ(r.size(), 1u) << sig;
    EXPECT_EQ(r[0].status, VerifyResult::Status::PermError) << sig << " -> " << r[0].authentication_results();
  }
}

TEST(Verifier, AuthenticationResultsSanitizesHostileValues) {
  VerifyResult r;
  r.status = VerifyResult::Status::Fail;
  r.domain = "evil.example; dkim=pass";
  EXPECT_EQ(r.authentication_results(), "dkim=fail header.d=evil.example??dkim=pass");
}
