// milter/session.h: one message's path without an MTA: trust, routing,
// limits, re-injection, on-error policy, and signatures that verify; and
// that neither an idle Session nor the DNS watch keeps a replaced key set.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <fstream>
#include <map>
#include <thread>

#include "keystore/key_file.h"
#include "milter/dns_watch.h"
#include "milter/log.h"
#include "milter/session.h"
#include "signer/key_record.h"
#include "signer/message.h"
#include "signer/signature.h"
#include "signer/verifier.h"
#include "milter_fixture.h"
#include "test_util.h"

using namespace signet;
using namespace signet::milter;

namespace {

using signet::testing::MapLookup;
using signet::testing::SessionFixture;
using Fixture = SessionFixture;

const std::vector<std::pair<std::string, std::string>> kFields = {
    {"From", " Carol <carol@example.com>"}, {"To", " dave@example.org"}, {"Subject", " hello\n\tfolded with LF"}};

}  // namespace

TEST(Session, TrustedMessageGetsBothSignaturesThatVerify) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  const EndResult r = fx.run(s, kFields, "Hello.\r\n");
  ASSERT_EQ(r.verdict, Verdict::Continue);
  ASSERT_EQ(r.headers.size(), 2u);
  const auto results = fx.verify(r, kFields, "Hello.\r\n");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_TRUE(results[0].pass()) << results[0].authentication_results();
  EXPECT_TRUE(results[1].pass()) << results[1].authentication_results();
  EXPECT_EQ(results[0].selector, "tx-rsa");
}

TEST(Session, UntrustedMessageIsAcceptedUntouched) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  EXPECT_EQ(s.begin(fx.runtime, "", "x@example.net", "Q2"), Verdict::Accept);
}

TEST(Session, TrustedServiceWithoutSaslIsSigned) {
  Fixture fx;
  Session s("203.0.113.9", "submission");
  EXPECT_EQ(s.begin(fx.runtime, "", "x@example.com", "Q3"), Verdict::Continue);
}

TEST(Session, ReinjectedMessageIsNotSignedTwice) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  const EndResult first = fx.run(s, kFields, "Hi\r\n");
  ASSERT_EQ(first.headers.size(), 2u);
  auto again = kFields;
  for (const auto& h : first.headers) again.insert(again.begin(), {h.name, " " + h.value});
  Verdict early = Verdict::Continue;
  const EndResult second = fx.run(s, again, "Hi\r\n", &early);
  EXPECT_EQ(early, Verdict::Accept);
  EXPECT_TRUE(second.headers.empty());
}

TEST(Session, MessageWithoutFromFollowsOnErrorAccept) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  const EndResult r = fx.run(s, {{"To", " x@example.org"}}, "body\r\n");
  EXPECT_EQ(r.verdict, Verdict::Accept);
  EXPECT_TRUE(r.headers.empty());
}

TEST(Session, TwoFromHeadersFollowOnErrorTempfail) {
  Fixture fx("on-error = tempfail\n");
  Session s("203.0.113.9", "inbound");
  const EndResult r = fx.run(s, {{"From", " a@example.com"}, {"From", " b@example.com"}}, "body\r\n");
  EXPECT_EQ(r.verdict, Verdict::Tempfail);
  EXPECT_TRUE(r.headers.empty());
}

TEST(Session, TooManyHeadersAppliesPolicyAtEndOfHeaders) {
  Fixture fx("on-error = tempfail\n");
  Session s("203.0.113.9", "inbound");
  std::vector<std::pair<std::string, std::string>> many = kFields;
  for (int i = 0; i < 60; ++i) many.push_back({"X-N", " " + std::to_string(i)});
  Verdict early = Verdict::Continue;
  fx.run(s, many, "", &early);
  EXPECT_EQ(early, Verdict::Tempfail);
}

TEST(Session, NulInHeaderAppliesPolicy) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  Verdict early = Verdict::Continue;
  fx.run(s, {{"From", " a@example.com"}, {"Subject", std::string(" a\0b", 4)}}, "", &early);
  EXPECT_EQ(early, Verdict::Accept);
}

TEST(Session, BodyWithBareCrAndNulSignsAndVerifies) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  const std::string body("line\rwith bare CR\r\nand \0 NUL\r\n", 30);
  const EndResult r = fx.run(s, kFields, body);
  ASSERT_EQ(r.headers.size(), 2u);
  for (const auto& v : fx.verify(r, kFields, body)) EXPECT_TRUE(v.pass()) << v.authentication_results();
}

TEST(Session, ResetBetweenMessagesOnOneConnection) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  for (int i = 0; i < 3; ++i) {
    const EndResult r = fx.run(s, kFields, "message " + std::to_string(i) + "\r\n");
    ASSERT_EQ(r.headers.size(), 2u);
    for (const auto& v : fx.verify(r, kFields, "message " + std::to_string(i) + "\r\n")) EXPECT_TRUE(v.pass());
    s.reset();
  }
}

// A stream whose key set leaves a gap now: the configured policy, never a crash.
TEST(Session, GapInTheKeyScheduleFollowsOnErrorPolicy) {
  for (const char* policy : {"accept", "tempfail"}) {
    char tmpl[] = "/tmp/signet-gap-XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    mkdir((dir + "/example.com").c_str(), 0700);
    auto k = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
    ASSERT_TRUE(keystore::write_private_key(dir + "/example.com/later.key", k).ok());
    std::ofstream(dir + "/manifest") << "[key]\nstream = tx\ndomain = example.com\nselector = later\n"
                                        "algorithm = ed25519\nbits = 256\nowner = t\nfile = example.com/later.key\n"
                                        "created = 2090-01-01T00:00:00Z\npublished-at = 2090-01-01T00:00:00Z\n"
                                        "active-from = 2090-01-02T00:00:00Z\n";
    std::ofstream(dir + "/signet.conf") << "key-directory = " << dir << "\ntrusted-services = submission\non-error = "
                                        << policy << "\n[stream.tx]\ndomain = example.com\n[rule.all]\nstream = tx\n";
    const std::string path = dir + "/signet.conf";
    const char* argv[] = {"signet-milter", "--config", path.c_str()};
    auto rt = load_runtime(std::vector<std::string>(argv, argv + 3));
    ASSERT_TRUE(rt.ok()) << rt.error().message;
    Session s("192.0.2.1", "submission");
    ASSERT_EQ(s.begin(rt.value(), "", "a@example.com", "GAP"), Verdict::Continue);
    s.header("From", " a@example.com");
    EXPECT_EQ(s.end_of_headers("GAP", std::time(nullptr), {}), std::string(policy) == "accept" ? Verdict::Accept : Verdict::Tempfail);
  }
}

// Without SMFIP_HDR_LEADSPC the MTA eats the SP after each colon; what signet
// signs must still be the field as it travels ("Subject: hello"), or simple
// header canonicalization breaks every signature.
TEST(Session, WithoutLeadingSpaceSimpleCanonicalizationStillVerifies) {
  Fixture fx("", "canonicalization = simple/simple\n");
  Session s("203.0.113.9", "inbound");
  s.set_leading_space(false);
  ASSERT_EQ(s.begin(fx.runtime, "carol", "carol@example.com", "Q9"), Verdict::Continue);
  const std::vector<std::pair<std::string, std::string>> eaten = {
      {"From", "Carol <carol@example.com>"}, {"To", "dave@example.org"}, {"Subject", "hello\n\tfolded with LF"}};
  for (const auto& [n, v] : eaten) s.header(n, v);
  ASSERT_EQ(s.end_of_headers("Q9", 1764150000, {}), Verdict::Continue);
  s.body("Hello.\r\n");
  const EndResult r = s.end_of_message("Q9", 1764150000, {});
  ASSERT_EQ(r.headers.size(), 2u);
  // On the wire the MTA writes "Name: value": the kFields form.
  const auto results = fx.verify(r, kFields, "Hello.\r\n");
  ASSERT_EQ(results.size(), 2u);
  for (const auto& v : results) EXPECT_TRUE(v.pass()) << v.authentication_results();
}

// dry-run: the signatures are computed (and would verify) but not inserted.
TEST(Session, DryRunSignsAndLogsButInsertsNothing) {
  for (const auto& [globals, stream] : {std::pair<std::string, std::string>{"dry-run = true\n", ""},
                                        std::pair<std::string, std::string>{"", "dry-run = yes\n"}}) {
    Fixture fx(globals, stream);
    ASSERT_TRUE(fx.runtime->config.streams[0].dry_run);
    Session s("203.0.113.9", "inbound");
    const EndResult r = fx.run(s, kFields, "Hello.\r\n");
    EXPECT_EQ(r.verdict, Verdict::Continue);
    EXPECT_TRUE(r.headers.empty());
  }
  Fixture off("dry-run = true\n", "dry-run = false\n");  // the stream's own setting wins
  Session s("203.0.113.9", "inbound");
  EXPECT_EQ(off.run(s, kFields, "Hello.\r\n").headers.size(), 2u);
}

// Limits: each at its bound (signed) and one past it (the on-error policy).
namespace {

EndResult run_with(Fixture& fx, const std::vector<std::pair<std::string, std::string>>& fields, const std::string& body,
                   Verdict* early) {
  Session s("203.0.113.9", "inbound");
  Verdict v = s.begin(fx.runtime, "carol", "carol@example.com", "QL");
  if (v == Verdict::Continue) {
    for (const auto& [n, val] : fields) s.header(n, val);
    v = s.end_of_headers("QL", 1764150000, {});
  }
  if (v == Verdict::Continue) v = s.body(body);
  if (v != Verdict::Continue) {
    *early = v;
    return EndResult{v, {}};
  }
  return s.end_of_message("QL", 1764150000, {});
}

std::size_t header_bytes(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::size_t n = 0;
  for (const auto& [name, value] : fields) n += name.size() + value.size() + 1;
  return n;
}

}  // namespace

TEST(SessionLimits, TotalHeaderBytesAtTheBoundSignsOnePastFollowsOnError) {
  std::vector<std::pair<std::string, std::string>> fields = kFields;
  for (int i = 0; i < 20; ++i) fields.push_back({"X-Pad", " " + std::string(100, 'p')});
  const std::size_t total = header_bytes(fields);
  Fixture at("on-error = tempfail\nmax-total-header-bytes = " + std::to_string(total) + "\n");
  Verdict early = Verdict::Continue;
  EXPECT_EQ(run_with(at, fields, "b\r\n", &early).headers.size(), 2u);
  Fixture past("on-error = tempfail\nmax-total-header-bytes = " + std::to_string(total - 1) + "\n");
  EXPECT_TRUE(run_with(past, fields, "b\r\n", &early).headers.empty());
  EXPECT_EQ(early, Verdict::Tempfail);
}

TEST(SessionLimits, BodyBytesAtTheBoundSignsOnePastFollowsOnError) {
  const std::string body(1000, 'a');
  Fixture at("on-error = tempfail\nmax-body-bytes = 1000\n");
  Verdict early = Verdict::Continue;
  EXPECT_EQ(run_with(at, kFields, body, &early).headers.size(), 2u);
  Fixture past("on-error = tempfail\nmax-body-bytes = 999\n");
  EXPECT_TRUE(run_with(past, kFields, body, &early).headers.empty());
  EXPECT_EQ(early, Verdict::Tempfail);
}

TEST(SessionLimits, SignedHeaderEntriesAtTheBoundSignsOnePastFollowsOnError) {
  // h= lists each signed field once, plus one more for each oversigned name.
  std::vector<std::pair<std::string, std::string>> fields = kFields;
  for (int i = 0; i < 40; ++i) fields.push_back({"Cc", " c" + std::to_string(i) + "@example.org"});  // max-headers is 50 here
  Fixture probe("max-signed-headers = 100000\n");
  Verdict early = Verdict::Continue;
  const EndResult r = run_with(probe, fields, "b\r\n", &early);
  ASSERT_EQ(r.headers.size(), 2u);
  const std::size_t h = parse_signature(r.headers[0].value).value().headers.size();
  Fixture at("max-signed-headers = " + std::to_string(h) + "\n");
  EXPECT_EQ(run_with(at, fields, "b\r\n", &early).headers.size(), 2u);
  Fixture past("on-error = tempfail\nmax-signed-headers = " + std::to_string(h - 1) + "\n");
  const EndResult refused = run_with(past, fields, "b\r\n", &early);
  EXPECT_TRUE(refused.headers.empty());
  EXPECT_EQ(refused.verdict, Verdict::Tempfail);
}

TEST(SessionLimits, HeaderCountAtTheBoundSignsOnePastFollowsOnError) {
  std::vector<std::pair<std::string, std::string>> fields = kFields;
  while (fields.size() < 50) fields.push_back({"X-N", " " + std::to_string(fields.size())});  // max-headers = 50 here
  Fixture fx("on-error = tempfail\n");
  Verdict early = Verdict::Continue;
  EXPECT_EQ(run_with(fx, fields, "b\r\n", &early).headers.size(), 2u);
  fields.push_back({"X-N", " one too many"});
  EXPECT_TRUE(run_with(fx, fields, "b\r\n", &early).headers.empty());
  EXPECT_EQ(early, Verdict::Tempfail);
}

TEST(SessionLimits, FieldBytesAtTheBoundSignsOnePastFollowsOnError) {
  std::vector<std::pair<std::string, std::string>> fields = kFields;
  fields.push_back({"X-Long", " " + std::string(200, 'x')});
  const std::size_t field = fields.back().first.size() + fields.back().second.size() + 1;
  Fixture at("on-error = tempfail\nmax-header-bytes = " + std::to_string(field) + "\n");
  Verdict early = Verdict::Continue;
  EXPECT_EQ(run_with(at, fields, "b\r\n", &early).headers.size(), 2u);
  Fixture past("on-error = tempfail\nmax-header-bytes = " + std::to_string(field - 1) + "\n");
  EXPECT_TRUE(run_with(past, fields, "b\r\n", &early).headers.empty());
  EXPECT_EQ(early, Verdict::Tempfail);
}

// ---------------------------------------------------------------------------
// Found by fuzzing (tests/fuzz/fuzz_session.cc: MTA events in any order; the
// inputs are in tests/fuzz/corpus/fuzz_session/crash-*). Every message leaves
// exactly one log line, and events outside a message do nothing.

namespace {

// Counts the log lines written while it lives, and keeps them.
class CapturedLog {
 public:
  CapturedLog() {
    lines().clear();
    Log::capture([](std::string_view line) { lines().emplace_back(line); });
  }
  ~CapturedLog() { Log::capture(nullptr); }
  static std::vector<std::string>& lines() {
    static std::vector<std::string> v;
    return v;
  }
};

}  // namespace

// crash-header-before-mail-from: header() before begin() dereferenced the
// absent Runtime (a null shared_ptr).
TEST(Session, EventsOutsideAMessageDoNothingAndLogNothing) {
  Fixture fx;
  CapturedLog log;
  Session s("127.0.0.1", "smtpd");
  s.header("From", " a@example.com");
  EXPECT_EQ(s.end_of_headers("Q", 1764150000, {}), Verdict::Accept);
  s.body("x\r\n");
  EndResult r = s.end_of_message("Q", 1764150000, {});
  EXPECT_EQ(r.verdict, Verdict::Accept);
  EXPECT_TRUE(r.headers.empty());
  s.abandon("aborted");
  EXPECT_TRUE(CapturedLog::lines().empty());
  // After a message's end, the same: no second line, no second signature.
  ASSERT_EQ(fx.run(s, kFields, "Hi\r\n").headers.size(), 2u);
  ASSERT_EQ(CapturedLog::lines().size(), 1u);
  s.header("X-Late", " 1");
  r = s.end_of_message("Q1", 1764150000, {});
  EXPECT_TRUE(r.headers.empty());
  s.abandon("connection closed mid-message");
  EXPECT_EQ(CapturedLog::lines().size(), 1u);
}

// crash-header-after-end-of-headers: a header after end_of_headers grew the
// stored fields, moving the strings the signers held views of
// (heap-use-after-free at end of message). The header block ended at the
// empty line (RFC 5322 §2.1): a late field is not part of it and is ignored.
TEST(Session, HeaderAfterEndOfHeadersIsIgnoredAndTheSignatureVerifies) {
  Fixture fx;
  CapturedLog log;
  Session s("203.0.113.9", "inbound");
  ASSERT_EQ(s.begin(fx.runtime, "carol", "carol@example.com", "Q1"), Verdict::Continue);
  for (const auto& [n, v] : kFields) s.header(n, v);
  ASSERT_EQ(s.end_of_headers("Q1", 1764150000, {}), Verdict::Continue);
  for (int i = 0; i < 100; ++i) s.header("X-Late", " " + std::to_string(i));
  s.header("From", " mallory@example.net");
  s.body("Hello.\r\n");
  const EndResult r = s.end_of_message("Q1", 1764150000, {});
  ASSERT_EQ(r.headers.size(), 2u);
  for (const auto& v : fx.verify(r, kFields, "Hello.\r\n")) EXPECT_TRUE(v.pass()) << v.authentication_results();
  EXPECT_EQ(CapturedLog::lines().size(), 1u);
}

TEST(Session, EndOfHeadersTwiceSignsOnce) {
  Fixture fx;
  Session s("203.0.113.9", "inbound");
  ASSERT_EQ(s.begin(fx.runtime, "carol", "carol@example.com", "Q1"), Verdict::Continue);
  for (const auto& [n, v] : kFields) s.header(n, v);
  ASSERT_EQ(s.end_of_headers("Q1", 1764150000, {}), Verdict::Continue);
  ASSERT_EQ(s.end_of_headers("Q1", 1764150000, {}), Verdict::Continue);
  s.body("Hello.\r\n");
  EXPECT_EQ(s.end_of_message("Q1", 1764150000, {}).headers.size(), 2u);
}

// Body bytes before the end of headers are not in the body hash, so such a
// message is never signed: one line, the on-error policy. The same for an end
// of message that comes before the end of headers.
TEST(Session, BodyOrEndBeforeTheEndOfHeadersIsNotSignedWithOneLogLine) {
  Fixture fx("on-error = tempfail\n");
  for (bool with_body : {true, false}) {
    CapturedLog log;
    Session s("203.0.113.9", "inbound");
    ASSERT_EQ(s.begin(fx.runtime, "carol", "carol@example.com", "Q1"), Verdict::Continue);
    for (const auto& [n, v] : kFields) s.header(n, v);
    if (with_body) {
      s.body("early\r\n");
      EXPECT_EQ(s.end_of_headers("Q1", 1764150000, {}), Verdict::Tempfail);
    } else {
      const EndResult r = s.end_of_message("Q1", 1764150000, {});
      EXPECT_EQ(r.verdict, Verdict::Tempfail);
      EXPECT_TRUE(r.headers.empty());
    }
    ASSERT_EQ(CapturedLog::lines().size(), 1u);
    EXPECT_NE(CapturedLog::lines()[0].find("NOT SIGNED"), std::string::npos) << CapturedLog::lines()[0];
  }
}

// A MAIL FROM while a message is in progress (no end of message, no abort):
// the message it replaces gets its one line, then the new one goes on.
TEST(Session, NewMessageWhileOneIsInProgressLogsTheFirstOnce) {
  Fixture fx;
  CapturedLog log;
  Session s("203.0.113.9", "inbound");
  ASSERT_EQ(s.begin(fx.runtime, "carol", "carol@example.com", "Q1"), Verdict::Continue);
  s.header("From", " carol@example.com");
  ASSERT_EQ(CapturedLog::lines().size(), 0u);
  const EndResult r = fx.run(s, kFields, "Hi\r\n");
  ASSERT_EQ(r.headers.size(), 2u);
  ASSERT_EQ(CapturedLog::lines().size(), 2u);
  EXPECT_NE(CapturedLog::lines()[0].find("Q1: not signed: a new message began"), std::string::npos);
  EXPECT_NE(CapturedLog::lines()[1].find("Q1: signed"), std::string::npos);
}

// ------------------------------------------------- who holds a key set, and how long
// A reload (milter/reloader.h) swaps in a new Runtime; the old one, with its
// KeySnapshot and so its private keys, must be freed (and cleansed by the
// secure heap) once no message in flight uses it (docs/key-custody.md, "Keys
// in memory"). These check every holder outside a message lets go of it.

TEST(SessionRuntime, AnIdleConnectionHoldsNoKeySetAfterItsMessages) {
  Fixture fx;
  const std::weak_ptr<const Runtime> old = fx.runtime;
  const std::weak_ptr<const keystore::KeySnapshot> old_keys = fx.runtime->keys;
  Session signed_one("203.0.113.9", "inbound"), aborted("203.0.113.9", "inbound"), refused("203.0.113.9", "inbound");
  ASSERT_EQ(fx.run(signed_one, kFields, "Hello.\r\n").headers.size(), 2u);  // signed; the connection stays open
  ASSERT_EQ(aborted.begin(fx.runtime, "carol", "carol@example.com", "Q2"), Verdict::Continue);
  aborted.header("From", " carol@example.com");
  aborted.abandon("aborted");
  Session untrusted("198.51.100.7", "inbound");
  EXPECT_EQ(untrusted.begin(fx.runtime, "", "x@example.net", "Q3"), Verdict::Accept);
  // No From: not signed, by the on-error policy (accept).
  EXPECT_EQ(fx.run(refused, {{"To", " dave@example.org"}}, "body\r\n").verdict, Verdict::Accept);
  fx.runtime.reset();  // the reload's replace(): the holder lets go
  EXPECT_TRUE(old.expired()) << "an idle Session still holds the Runtime its last message started with";
  EXPECT_TRUE(old_keys.expired());
}

TEST(SessionRuntime, AMessageInFlightKeepsItsKeySetUntilItEnds) {
  Fixture fx;
  const std::weak_ptr<const keystore::KeySnapshot> old_keys = fx.runtime->keys;
  Session s("203.0.113.9", "inbound");
  ASSERT_EQ(s.begin(fx.runtime, "carol", "carol@example.com", "Q1"), Verdict::Continue);
  for (const auto& [n, v] : kFields) s.header(n, v);
  ASSERT_EQ(s.end_of_headers("Q1", 1764150000, {}), Verdict::Continue);
  fx.runtime.reset();  // a reload while the body travels
  EXPECT_FALSE(old_keys.expired()) << "the message must sign with the keys it started with";
  s.body("Hello.\r\n");
  const EndResult r = s.end_of_message("Q1", 1764150000, {});
  EXPECT_EQ(r.headers.size(), 2u);
  EXPECT_TRUE(old_keys.expired()) << "its end lets go of them";
}

// The watch waits dns-check-interval between checks: it must not hold the
// Runtime it checked through that wait (it did: a temporary shared_ptr in the
// poll's argument lived to the end of the statement, the whole interval).
TEST(SessionRuntime, TheDnsWatchDoesNotHoldAReplacedKeySetBetweenChecks) {
  Fixture fx("dns-check = false\ndns-check-interval = 1h\n");
  Fixture next("dns-check = false\ndns-check-interval = 1h\n");
  RuntimeHolder holder;
  holder.replace(fx.runtime);
  const std::weak_ptr<const keystore::KeySnapshot> old_keys = fx.runtime->keys;
  fx.runtime.reset();
  const auto before = holder.hidden();
  DnsWatch watch(holder);
  ASSERT_TRUE(watch.start());
  // Its first check publishes a new (empty) hidden set; then it waits an hour.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (holder.hidden() == before && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_NE(holder.hidden(), before) << "the watch made no first check";
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // into its wait
  holder.replace(next.runtime);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (!old_keys.expired() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_TRUE(old_keys.expired()) << "the DNS watch holds the replaced key set while it waits for its next check";
  watch.stop();
}
