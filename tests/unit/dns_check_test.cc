// keystore/dns_check.h: the one check of a key's DNS record, behind the
// daemon's watch, `signet dns check`, the rotate gate and `signet audit`.
#include <gtest/gtest.h>

#include <map>

#include "keystore/dns_check.h"
#include "signer/key_record.h"
#include "test_util.h"

using namespace signet;
using namespace signet::keystore;

namespace {

using signet::testing::MapLookup;

struct Case {
  PrivateKey key = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
  KeyRow row;
  MapLookup dns;
  Case() {
    row.stream = "tx";
    row.domain = "example.com";
    row.selector = "s1";
    row.window = Window::scheduled(1000);
  }
  void publish(const std::string& value) { dns.records["s1._domainkey.example.com"] = {value}; }
  DnsFinding check(std::int64_t now = 2000) {
    return check_record(dns, row, now, [&]() -> Result<std::string> { return key.public_key_base64(); });
  }
};

}  // namespace

TEST(DnsCheck, MatchingRecordIsVisible) {
  Case c;
  c.publish(format_key_record(c.key));
  const DnsFinding f = c.check();
  EXPECT_EQ(f.severity, Severity::Ok);
  EXPECT_EQ(f.message, "matches (active)");
  EXPECT_EQ(f.name, "s1._domainkey.example.com");
  EXPECT_EQ(f.stream, "tx");
  EXPECT_TRUE(visible(f));
  EXPECT_EQ(c.check(500).message, "matches (scheduled)");
}

TEST(DnsCheck, MissingWrongOrRevokedRecordsAreNotVisible) {
  Case c;
  EXPECT_EQ(c.check().message, "missing: no DKIM record published (active key)");
  c.publish("v=DKIM1; k=ed25519; p=" + PrivateKey::generate(Algorithm::Ed25519Sha256).value().public_key_base64());
  EXPECT_NE(c.check().message.find("p= does not match the key"), std::string::npos);
  c.publish("v=DKIM1; p=");
  EXPECT_EQ(c.check().message, "published with p= empty but the key is active");
  c.publish("v=DKIM1; k=rsa; p=AAAA; p=BBBB");
  EXPECT_NE(c.check().message.find("record does not parse"), std::string::npos);
  for (const std::string& v : {std::string("v=DKIM1; p="), std::string("v=DKIM1; k=rsa; p=AAAA; p=BBBB")}) {
    c.publish(v);
    EXPECT_FALSE(visible(c.check())) << v;
  }
}

TEST(DnsCheck, LongValueSplitIntoSeveralRecordsIsAnError) {
  Case c;
  // A 2048-bit p= cut at 255 bytes into two records: the second is bare base64.
  c.dns.records["s1._domainkey.example.com"] = {"v=DKIM1; k=rsa; p=MIIBIjANBgkqhkiG9w0B", "AQEFAAOCAQ8AMIIBCgKCAQEAx"};
  const DnsFinding f = c.check();
  EXPECT_EQ(f.severity, Severity::Error);
  EXPECT_NE(f.message.find("several TXT records"), std::string::npos);
}

TEST(DnsCheck, DnsTroubleIsAFindingNotAFailure) {
  Case c;
  c.dns.fail = true;
  const DnsFinding f = c.check();
  EXPECT_EQ(f.severity, Severity::Error);
  EXPECT_EQ(f.message, "lookup failed: timeout");
}

TEST(DnsCheck, TestingFlagWarnsOnARightRecordButAnErrorWins) {
  Case c;
  c.publish("v=DKIM1; k=ed25519; t=y; p=" + c.key.public_key_base64());
  EXPECT_EQ(c.check().severity, Severity::Warning);
  EXPECT_TRUE(visible(c.check()));  // receivers verify it
  c.publish("v=DKIM1; k=ed25519; t=y; p=AAAA");
  EXPECT_EQ(c.check().severity, Severity::Error);
}

TEST(DnsCheck, RetiredSelectorMustPublishAnEmptyKey) {
  Case c;
  c.row.retired_at = 1500;
  bool asked = false;
  auto check = [&] {
    return check_record(c.dns, c.row, 2000, [&]() -> Result<std::string> {
      asked = true;
      return permanent_error("the key file is gone");
    });
  };
  c.publish("v=DKIM1; p=");
  EXPECT_EQ(check().message, "retired, p= empty");
  c.publish(format_key_record(c.key));
  EXPECT_NE(check().message.find("retired selector still publishes a key"), std::string::npos);
  EXPECT_FALSE(asked);  // a retired key's file is destroyed: never read
}

TEST(DnsCheck, UnreadableKeyIsTheFinding) {
  Case c;
  c.publish(format_key_record(c.key));
  const DnsFinding f =
      check_record(c.dns, c.row, 2000, []() -> Result<std::string> { return permanent_error("key file x: mode 0644"); });
  EXPECT_EQ(f.severity, Severity::Error);
  EXPECT_EQ(f.message, "key file x: mode 0644");
}
