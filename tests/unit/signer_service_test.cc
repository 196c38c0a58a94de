// The signer process's service (privsep/signer_service.h) over a real
// SOCK_SEQPACKET socketpair: it signs exactly the digest for a key it holds,
// refuses and logs malformed requests and keys it does not hold (the log
// rate-limited per kind, every request still refused), keeps the generation
// the milter still signs with across a reload, and keeps its keys when a
// reload is refused.
#include "privsep/signer_service.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <thread>

#include "keystore/key_row.h"

namespace signet::privsep {
namespace {

// A key set of one Ed25519 key (deterministic signatures: the test compares
// with the key's own) made in memory, through the open_key hook.
struct Keys {
  std::shared_ptr<const PrivateKey> key = std::make_shared<const PrivateKey>(PrivateKey::generate(Algorithm::Ed25519Sha256).value());
  std::atomic<bool> refuse{false};
  std::atomic<bool> unchanged{false};  // the reload finds the key as it was: the same PrivateKey
  Result<std::shared_ptr<const keystore::KeySnapshot>> load(std::shared_ptr<const keystore::KeySnapshot> previous) {
    if (refuse) return permanent_error("test: the key set is refused");
    if (unchanged && previous) return previous;
    std::vector<keystore::KeyRow> rows{keystore::configured_selector("tx", "example.com", "s1", "test")};
    keystore::LoadOptions o;
    auto k = key;
    o.open_key = [k](const keystore::KeyRow&) -> Result<PrivateKey> {
      auto again = PrivateKey::parse(k->to_pem());
      if (!again) return again.error();
      return std::move(again.value());
    };
    return keystore::KeySnapshot::load("", rows, o);
  }
};


struct Served {
  Keys keys;
  std::mutex mu;  // the serving thread logs, the test reads
  std::vector<std::string> logged;
  std::atomic<std::int64_t> now{1000};  // the refusal log's clock (base/rate_limit.h)
  SignerService service{[this](std::shared_ptr<const keystore::KeySnapshot> previous) { return keys.load(std::move(previous)); },
                        [this](std::string_view l) {
                          std::lock_guard<std::mutex> lock(mu);
                          logged.emplace_back(l);
                        },
                        RateLimitedLog::Limits{10, 60}, [this] { return now.load(); }};
  std::vector<std::string> lines() {
    std::lock_guard<std::mutex> lock(mu);
    return logged;
  }
  int fds[2] = {-1, -1};
  std::thread thread;
  Served() {
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, fds), 0);
    thread = std::thread([this] { service.serve(fds[1]); });
  }
  ~Served() {
    ::shutdown(fds[0], SHUT_RDWR);
    thread.join();
    ::close(fds[0]);
    ::close(fds[1]);
  }
  std::vector<Response> ask(const std::string& frame) {
    EXPECT_EQ(::send(fds[0], frame.data(), frame.size(), 0), static_cast<ssize_t>(frame.size()));
    std::vector<Response> out;
    for (;;) {
      std::string buf(kMaxResponse, '\0');
      const ssize_t n = ::recv(fds[0], buf.data(), buf.size(), 0);
      if (n <= 0) return out;
      auto r = parse_response(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      EXPECT_TRUE(r.ok()) << r.error().message;
      if (!r) return out;
      out.push_back(r.value());
      if (r->type != ResponseType::Table) return out;
    }
  }
  // LOAD naming the generation kept: every frame of the answer.
  std::vector<Response> load_frames(std::uint32_t keep) {
    Request q;
    q.type = RequestType::Load;
    q.id = 1;
    q.key_id = keep;
    return ask(encode_request(q));
  }
  Response load(std::uint32_t keep = 0) {
    auto r = load_frames(keep);
    return r.empty() ? Response{} : r.back();
  }
  Response sign(std::uint64_t key_id, std::uint32_t id = 2) {
    Request q;
    q.type = RequestType::Sign;
    q.id = id;
    q.key_id = key_id;
    for (std::size_t i = 0; i < kDigestSize; ++i) q.digest[i] = static_cast<std::uint8_t>(i);
    auto r = ask(encode_request(q));
    return r.empty() ? Response{} : r.back();
  }
};

Sha256Digest test_digest() {
  Sha256Digest d{};
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = static_cast<unsigned char>(i);
  return d;
}

TEST(SignerService, LoadAnswersATableWithThePublicKeyOnly) {
  Served s;
  Request q;
  q.type = RequestType::Load;
  q.id = 9;
  auto r = s.ask(encode_request(q));
  ASSERT_EQ(r.size(), 2u);
  ASSERT_EQ(r[0].type, ResponseType::Table);
  ASSERT_EQ(r[0].entries.size(), 1u);
  EXPECT_EQ(r[0].entries[0].domain, "example.com");
  EXPECT_EQ(r[0].entries[0].selector, "s1");
  EXPECT_EQ(r[0].entries[0].public_key_base64, s.keys.key->public_key_base64());
  EXPECT_EQ(r[0].entries[0].key_id, 1u);
  EXPECT_EQ(r[1].type, ResponseType::TableEnd);
  EXPECT_EQ(r[1].count, 1u);
}

TEST(SignerService, SignsExactlyTheDigestWithTheKeyNamed) {
  Served s;
  ASSERT_EQ(s.load().type, ResponseType::TableEnd);
  const Response r = s.sign(1, 77);
  ASSERT_EQ(r.type, ResponseType::Signed) << r.reason;
  EXPECT_EQ(r.id, 77u);
  EXPECT_EQ(r.signature, s.keys.key->sign_digest(test_digest()).value());
}

TEST(SignerService, RefusesAndLogsMalformedRequests) {
  Served s;
  ASSERT_EQ(s.load().type, ResponseType::TableEnd);
  Request q;
  q.key_id = 1;
  const std::string good = encode_request(q);
  for (const std::string& bad : {good.substr(0, 7), good + std::string(200, 'x'), good.substr(0, 40),
                                 std::string(52, '\xff')}) {
    auto r = s.ask(bad);
    ASSERT_EQ(r.size(), 1u);
    EXPECT_EQ(r[0].type, ResponseType::Refused);
    EXPECT_FALSE(r[0].temporary);
  }
  const std::vector<std::string> lines = s.lines();
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_NE(lines[1].find("request of 252 bytes is longer"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("20 digest bytes"), std::string::npos) << lines[2];
  // Still serving.
  EXPECT_EQ(s.sign(1).type, ResponseType::Signed);
}

TEST(SignerService, RateLimitsItsRefusalLogButRefusesEveryRequest) {
  Served s;
  ASSERT_EQ(s.load().type, ResponseType::TableEnd);
  Request q;
  q.key_id = 1;
  const std::string short_frame = encode_request(q).substr(0, 7);
  for (int i = 0; i < 15; ++i) {
    auto r = s.ask(short_frame);
    ASSERT_EQ(r.size(), 1u) << i;
    EXPECT_EQ(r[0].type, ResponseType::Refused) << i;
  }
  std::vector<std::string> lines = s.lines();
  ASSERT_EQ(lines.size(), 10u);
  for (const std::string& l : lines) EXPECT_NE(l.find("refused a request from the milter: "), std::string::npos) << l;
  // Another kind has its own budget: keys never held are logged while
  // malformed frames are only counted.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(s.sign(9).type, ResponseType::Refused);
  lines = s.lines();
  ASSERT_EQ(lines.size(), 13u);
  EXPECT_NE(lines[12].find("key 9 is not a key this signer holds"), std::string::npos) << lines[12];
  s.service.flush_log();  // the interval has not ended: nothing yet
  EXPECT_EQ(s.lines().size(), 13u);
  s.now += 60;
  s.service.flush_log();
  lines = s.lines();
  ASSERT_EQ(lines.size(), 14u);
  EXPECT_EQ(lines[13].rfind("5 more refusals in the last 60 s not logged (last: signer protocol: ", 0), 0u) << lines[13];
  // A new interval logs again.
  EXPECT_EQ(s.ask(short_frame).at(0).type, ResponseType::Refused);
  lines = s.lines();
  ASSERT_EQ(lines.size(), 15u);
  EXPECT_NE(lines[14].find("refused a request from the milter: "), std::string::npos) << lines[14];
  EXPECT_EQ(s.sign(1).type, ResponseType::Signed);
}

TEST(SignerService, AStaleKeyAndAnUnknownOneHaveTheirOwnBudgets) {
  Served s;
  ASSERT_EQ(s.load().generation, 1u);
  ASSERT_EQ(s.load(0).generation, 2u);
  ASSERT_EQ(s.load(0).generation, 3u);  // a new key each time: ids 1 and 2 given out, no longer held
  for (int i = 0; i < 12; ++i) EXPECT_EQ(s.sign(5).type, ResponseType::Refused);  // never given out
  for (int i = 0; i < 12; ++i) EXPECT_EQ(s.sign(1).type, ResponseType::Refused);
  const std::vector<std::string> lines = s.lines();
  ASSERT_EQ(lines.size(), 20u);
  EXPECT_NE(lines[10].find("key 1 is not a key this signer holds"), std::string::npos) << lines[10];
}

Request sign_many(std::vector<std::uint64_t> key_ids, std::uint32_t id) {
  Request q;
  q.type = RequestType::SignMany;
  q.id = id;
  for (std::size_t k = 0; k < key_ids.size(); ++k) {
    SignItem it;
    it.key_id = key_ids[k];
    for (std::size_t i = 0; i < kDigestSize; ++i) it.digest[i] = static_cast<std::uint8_t>(i + 100 * k);
    q.items.push_back(it);
  }
  return q;
}

TEST(SignerService, SignManyAnswersEverySignatureInOrderInOneFrame) {
  Served s;
  ASSERT_EQ(s.load().type, ResponseType::TableEnd);
  const Request q = sign_many({1, 1, 1}, 41);
  auto r = s.ask(encode_request(q));
  ASSERT_EQ(r.size(), 1u);
  ASSERT_EQ(r[0].type, ResponseType::SignedMany) << r[0].reason;
  EXPECT_EQ(r[0].id, 41u);
  ASSERT_EQ(r[0].signatures.size(), 3u);
  for (std::size_t k = 0; k < 3; ++k) {
    EXPECT_EQ(r[0].signatures[k], s.keys.key->sign_digest(to_digest(q.items[k].digest)).value()) << k;
  }
  EXPECT_NE(r[0].signatures[0], r[0].signatures[1]);  // each item's own digest
  EXPECT_TRUE(s.lines().empty());
}

TEST(SignerService, SignManyWithAKeyItDoesNotHoldIsOneTemporaryRefusalLoggedOnce) {
  Served s;
  ASSERT_EQ(s.load().type, ResponseType::TableEnd);
  auto r = s.ask(encode_request(sign_many({1, 7, 8}, 42)));
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].type, ResponseType::Refused);
  EXPECT_EQ(r[0].id, 42u);
  EXPECT_TRUE(r[0].temporary);
  EXPECT_NE(r[0].reason.find("item 1: key 7 is not a key this signer holds"), std::string::npos) << r[0].reason;
  EXPECT_EQ(s.lines().size(), 1u);  // item 2 was never tried
}

TEST(SignerService, RefusesAKeyItDoesNotHoldAsTemporary) {
  Served s;
  ASSERT_EQ(s.load().type, ResponseType::TableEnd);
  for (std::uint64_t id : {std::uint64_t{2}, std::uint64_t{1} << 32, std::uint64_t{0}}) {
    const Response r = s.sign(id);
    EXPECT_EQ(r.type, ResponseType::Refused);
    EXPECT_TRUE(r.temporary);
    EXPECT_NE(r.reason.find("not a key this signer holds"), std::string::npos) << r.reason;
  }
}

TEST(SignerService, KeepsTheGenerationTheMilterStillSignsWith) {
  Served s;
  ASSERT_EQ(s.load().generation, 1u);
  ASSERT_EQ(s.load(1).generation, 2u);  // generation 1 kept
  EXPECT_EQ(s.sign(1).type, ResponseType::Signed);
  EXPECT_EQ(s.sign(2).type, ResponseType::Signed);
  ASSERT_EQ(s.load(2).generation, 3u);  // 1 is now two reloads old
  EXPECT_EQ(s.sign(1).type, ResponseType::Refused);
  EXPECT_EQ(s.sign(2).type, ResponseType::Signed);
}

// A SIGHUP storm reloads many times while a message is open: a key the
// reloads carry over unchanged keeps its id, so the message still signs
// (with ids per generation it was refused after two reloads, and 108 of
// 48 181 messages went unsigned in integration.faults_while_signing_lose_nothing).
TEST(SignerService, AnUnchangedKeyKeepsItsIdAcrossAnyNumberOfReloads) {
  Served s;
  ASSERT_EQ(s.load().generation, 1u);
  s.keys.unchanged = true;
  for (std::uint32_t g = 1; g <= 5; ++g) {
    auto r = s.load_frames(g);
    ASSERT_EQ(r.size(), 2u);
    ASSERT_EQ(r[0].entries.size(), 1u);
    EXPECT_EQ(r[0].entries[0].key_id, 1u) << "generation " << g + 1;
    EXPECT_EQ(r[1].generation, g + 1);
  }
  EXPECT_EQ(s.sign(1).type, ResponseType::Signed);
  // Changed twice: the first id is held by neither generation any more.
  s.keys.unchanged = false;
  ASSERT_EQ(s.load(6).generation, 7u);
  ASSERT_EQ(s.load(7).generation, 8u);
  EXPECT_EQ(s.sign(1).type, ResponseType::Refused);
  EXPECT_EQ(s.sign(3).type, ResponseType::Signed);
}

TEST(SignerService, ARefusedLoadKeepsTheRunningKeys) {
  Served s;
  ASSERT_EQ(s.load().generation, 1u);
  s.keys.refuse = true;
  const Response r = s.load(1);
  EXPECT_EQ(r.type, ResponseType::Refused);
  EXPECT_NE(r.reason.find("the key set is refused"), std::string::npos);
  EXPECT_EQ(s.sign(1).type, ResponseType::Signed);
}

}  // namespace
}  // namespace signet::privsep
