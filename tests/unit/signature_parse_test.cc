// signer/signature.h parse_signature/check_signature and canon's one
// canonicalization-name parser: the reading every caller shares.
#include <gtest/gtest.h>

#include "canon/body.h"
#include "signer/key_record.h"
#include "signer/signature.h"

using namespace signet;

namespace {

constexpr const char* kGood =
    " v=1; a=rsa-sha256; c=relaxed/simple; d=Example.COM; i=@mail.example.com;\r\n s=sel; t=1700000000;"
    " x=1700600000; h=from : subject:\r\n to; bh=AAAA; b=BB\r\n BB";

std::string defect_of(const std::string& value) {
  auto sig = parse_signature(value);
  if (!sig) return "unparsable: " + sig.error().message;
  auto d = check_signature(sig.value());
  return d ? (d->policy ? "policy: " : "perm: ") + d->message : "none";
}

}  // namespace

TEST(CanonicalizationName, LoneHeaderAlgorithmMeansSimpleBody) {
  EXPECT_EQ(canon::parse_canonicalization("relaxed"), std::make_pair(canon::Canon::Relaxed, canon::Canon::Simple));
  EXPECT_EQ(canon::parse_canonicalization("simple/relaxed"), std::make_pair(canon::Canon::Simple, canon::Canon::Relaxed));
  EXPECT_FALSE(canon::parse_canonicalization("relaxed/weird").has_value());
  EXPECT_FALSE(canon::parse_canonicalization("Relaxed").has_value());  // the RFC's names are lowercase
  EXPECT_FALSE(canon::parse_canonicalization("").has_value());
  EXPECT_EQ(canon::parse_canon("simple"), canon::Canon::Simple);
}

TEST(SignatureParser, ReadsEveryTagTyped) {
  auto sig = parse_signature(kGood);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_EQ(sig->version, "1");
  EXPECT_EQ(sig->algorithm, Algorithm::RsaSha256);
  EXPECT_EQ(sig->domain, "Example.COM");
  EXPECT_EQ(sig->selector, "sel");
  EXPECT_EQ(sig->identity, "@mail.example.com");
  EXPECT_EQ(sig->canon, std::make_pair(canon::Canon::Relaxed, canon::Canon::Simple));
  EXPECT_EQ(sig->headers, (std::vector<std::string>{"from", "subject", "to"}));  // FWS around ':' removed
  EXPECT_EQ(sig->timestamp, 1700000000);
  EXPECT_EQ(sig->expiration, 1700600000);
  EXPECT_EQ(sig->body_hash, "AAAA");
  EXPECT_EQ(sig->signature, "BBBB");  // folded b= joined
  EXPECT_FALSE(check_signature(sig.value()).has_value());
}

TEST(SignatureParser, AbsentCanonicalizationIsSimpleSimple) {
  auto sig = parse_signature("v=1; a=ed25519-sha256; d=example.com; s=s; h=from; bh=A; b=B");
  ASSERT_TRUE(sig.ok());
  EXPECT_EQ(sig->canon_text, "simple/simple");
  EXPECT_EQ(sig->canon, std::make_pair(canon::Canon::Simple, canon::Canon::Simple));
  EXPECT_EQ(sig->algorithm, Algorithm::Ed25519Sha256);
}

TEST(SignatureParser, MalformedValuesLeaveTheTypedFieldEmptyNotAFailure) {
  auto sig = parse_signature("v=1; a=rsa-sha1; c=weird; d=example.com; s=s; t=12x; x=9999999999999; h=from; bh=A; b=B");
  ASSERT_TRUE(sig.ok());
  EXPECT_FALSE(sig->algorithm.has_value());  // rsa-sha1 is not an algorithm signet knows (RFC 8301)
  EXPECT_EQ(sig->algorithm_text, "rsa-sha1");
  EXPECT_FALSE(sig->canon.has_value());
  EXPECT_FALSE(sig->timestamp.has_value());
  EXPECT_FALSE(sig->expiration.has_value());  // 13 digits: more than §3.5's 12
  EXPECT_NE(sig->tag("t"), nullptr);
}

TEST(SignatureParser, OnlyAMalformedTagListFails) {
  EXPECT_FALSE(parse_signature("v=1; v=1").ok());  // §3.2: duplicate tag
  EXPECT_FALSE(parse_signature("v=1;; a=b").ok());
  EXPECT_FALSE(parse_signature("novalue").ok());
}

TEST(SignatureDefects, FirstReasonInTheOrderOfRfc6376Section611) {
  const std::string ok = "v=1; a=rsa-sha256; d=example.com; s=s; h=from; bh=A; b=B";
  EXPECT_EQ(defect_of(ok), "none");
  EXPECT_EQ(defect_of("v=1; a=rsa-sha256; d=example.com; h=from; bh=A; b=B"), "perm: signature missing required tag s=");
  EXPECT_EQ(defect_of("v=2; a=rsa-sha256; d=example.com; s=s; h=from; bh=A; b=B"), "perm: incompatible version v=2");
  EXPECT_EQ(defect_of("v=1; a=rsa-sha1; d=example.com; s=s; h=from; bh=A; b=B"), "policy: rsa-sha1 is not accepted (RFC 8301)");
  EXPECT_EQ(defect_of("v=1; a=dsa-sha9; d=example.com; s=s; h=from; bh=A; b=B"), "perm: unknown algorithm a=dsa-sha9");
  EXPECT_EQ(defect_of(ok + "; l=10").substr(0, 8), "policy: ");
  EXPECT_EQ(defect_of(ok + "; q=http"), "perm: unsupported query method q=http");
  EXPECT_EQ(defect_of(ok + "; q=dns/txt"), "none");
  EXPECT_EQ(defect_of(ok + "; c=relaxed/odd"), "perm: unknown canonicalization c=relaxed/odd");
  EXPECT_EQ(defect_of("v=1; a=rsa-sha256; d=example.com; s=s; h=subject; bh=A; b=B"),
            "perm: h= does not include From (RFC 6376 §5.4)");
  EXPECT_EQ(defect_of("v=1; a=rsa-sha256; d=example.com; s=s; h=from::to; bh=A; b=B"), "perm: empty header name in h=");
  EXPECT_EQ(defect_of("v=1; a=rsa-sha256; d=; s=s; h=from; bh=A; b=B"), "perm: empty d=");
  EXPECT_EQ(defect_of(ok + "; i=@evil.example"), "perm: i= is not in the d= domain");
  EXPECT_EQ(defect_of(ok + "; i=u@sub.EXAMPLE.com"), "none");
  EXPECT_EQ(defect_of(ok + "; t=12x"), "perm: t= is not a timestamp");
  EXPECT_EQ(defect_of(ok + "; x=soon"), "perm: x= is not a timestamp");
  EXPECT_EQ(defect_of(ok + "; t=200; x=100"), "perm: x= is before t=");
}

TEST(KeyRecordReader, CollectsEveryRuleBrokenWhileParseStopsAtTheFirst) {
  auto rec = read_key_record("k=dsa; v=DKIM2; p=AAAA");
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->errors, (std::vector<std::string>{"v= is not the first tag", "v=DKIM2 is not DKIM1", "unknown key type k=dsa"}));
  EXPECT_EQ(rec->key_type_text, "dsa");
  auto strict = parse_key_record("k=dsa; v=DKIM2; p=AAAA");
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.error().message, "key record: v= is not the first tag");
  auto no_p = read_key_record("v=DKIM1; k=rsa");
  ASSERT_TRUE(no_p.ok());
  EXPECT_FALSE(no_p->has_public_key);
  EXPECT_EQ(parse_key_record("v=DKIM1; k=rsa").error().message, "key record: no p= tag");
  EXPECT_TRUE(read_key_record("v=DKIM1; p=").value().revoked());
  EXPECT_FALSE(read_key_record("v=DKIM1;; p=").ok());  // §3.2: an empty tag-spec inside the list
}
