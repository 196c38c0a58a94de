// ledger/: the per-day counters (lock-free, days handed off), the ledger
// file (upsert, read order, since filter, refusing what is not a ledger) and
// the writer (a failing ledger keeps its counts and catches up).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/counts.h"
#include "ledger/ledger.h"
#include "ledger/writer.h"

using namespace signet;
using namespace signet::ledger;

namespace {

constexpr std::int64_t kJan1 = 1767225600;  // 2026-01-01T00:00:00Z
constexpr std::int64_t kDay = 86400;

std::string temp_dir() {
  char tmpl[] = "/tmp/signet-ledger-XXXXXX";
  return mkdtemp(tmpl);
}

KeyId key(const std::string& stream, const std::string& selector, const std::string& alg = "rsa-sha256") {
  return KeyId{stream, "example.com", selector, alg};
}

std::vector<std::string> describe(const std::vector<LedgerRow>& rows) {
  std::vector<std::string> out;
  for (const auto& r : rows) {
    out.push_back(r.day + " " + r.stream + " " + r.domain + " " + r.selector + " " + r.algorithm + " " +
                  std::to_string(r.count));
  }
  return out;
}

TEST(LedgerDay, UtcDayNumberAndText) {
  EXPECT_EQ(day_text(day_number(kJan1)), "2026-01-01");
  EXPECT_EQ(day_text(day_number(kJan1 - 1)), "2025-12-31");
  EXPECT_EQ(day_text(day_number(kJan1 + kDay - 1)), "2026-01-01");
  EXPECT_EQ(day_text(day_number(kJan1 + 59 * kDay)), "2026-03-01");
}

TEST(LedgerSlot, CountsPerDayAndHandsOffADayChange) {
  Slot s(key("tx", "a"));
  s.add(kJan1);
  s.add(kJan1 + 10);
  s.add(kJan1 + kDay);      // the next day: the first day's 2 are handed off
  s.add(kJan1 + 5);         // a late message of the first day (clock skew between threads)
  s.add(kJan1 + kDay + 1);
  EXPECT_EQ(s.total(), 5u);
  std::map<std::int64_t, std::uint64_t> by_day;
  for (auto [day, n] : s.drain()) by_day[day] += n;
  EXPECT_EQ(by_day[day_number(kJan1)], 3u);
  EXPECT_EQ(by_day[day_number(kJan1 + kDay)], 2u);
  EXPECT_TRUE(s.drain().empty()) << "a second drain finds nothing new";
  s.add(kJan1 + kDay);
  auto again = s.drain();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].second, 1u);
  EXPECT_EQ(s.total(), 6u) << "the total is monotonic: drains do not touch it";
}

TEST(LedgerSlot, ConcurrentAddersAcrossDaysWhileDrainingLoseNothing) {
  Slot s(key("tx", "a"));
  constexpr int kThreads = 4, kPerThread = 50000;
  std::atomic<bool> done{false};
  std::map<std::int64_t, std::uint64_t> drained;
  std::thread drainer([&] {
    while (!done.load()) {
      for (auto [day, n] : s.drain()) drained[day] += n;
    }
  });
  std::vector<std::thread> adders;
  for (int t = 0; t < kThreads; ++t) {
    adders.emplace_back([&s, t] {
      // Each thread flips between 3 days, so the day word changes all the time.
      for (int i = 0; i < kPerThread; ++i) s.add(kJan1 + ((i + t) % 3) * kDay);
    });
  }
  for (auto& a : adders) a.join();
  done = true;
  drainer.join();
  for (auto [day, n] : s.drain()) drained[day] += n;
  std::uint64_t sum = 0;
  for (auto [day, n] : drained) sum += n;
  EXPECT_EQ(sum, std::uint64_t{kThreads} * kPerThread);
  EXPECT_EQ(drained.size(), 3u);
  EXPECT_EQ(s.total(), std::uint64_t{kThreads} * kPerThread);
}

TEST(LedgerCounts, OneSlotPerKeyAtAStableAddress) {
  SignatureCounts c;
  Slot* a = c.slot(key("tx", "a"));
  for (int i = 0; i < 1000; ++i) c.slot(key("s" + std::to_string(i), "x"));
  EXPECT_EQ(c.slot(key("tx", "a")), a);
  EXPECT_EQ(c.size(), 1001u);
}

TEST(LedgerFile, UpsertAddsToTheDaysCountAndReadsInOrder) {
  const std::string path = temp_dir() + "/ledger.sqlite";
  auto f = LedgerFile::open(path);
  ASSERT_TRUE(f.ok()) << f.error().message;
  const std::int64_t d1 = day_number(kJan1), d2 = day_number(kJan1 + kDay);
  ASSERT_TRUE(f->add({{{d2, key("tx", "b")}, 4}, {{d1, key("tx", "a")}, 2}, {{d1, key("acme", "z")}, 1}}).ok());
  ASSERT_TRUE(f->add({{{d1, key("tx", "a")}, 3}}).ok());
  auto rows = read_ledger(path, "");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(describe(rows.value()), (std::vector<std::string>{
                                        "2026-01-01 acme example.com z rsa-sha256 1",
                                        "2026-01-01 tx example.com a rsa-sha256 5",
                                        "2026-01-02 tx example.com b rsa-sha256 4",
                                    }));
  // Reopened (a restart): the rows are there and go on adding up.
  auto again = LedgerFile::open(path);
  ASSERT_TRUE(again.ok()) << again.error().message;
  ASSERT_TRUE(again->add({{{d2, key("tx", "b", "ed25519-sha256")}, 7}}).ok());
  rows = read_ledger(path, "2026-01-02");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(describe(rows.value()), (std::vector<std::string>{
                                        "2026-01-02 tx example.com b ed25519-sha256 7",
                                        "2026-01-02 tx example.com b rsa-sha256 4",
                                    }));
  rows = read_ledger(path, "2026-01-03");
  ASSERT_TRUE(rows.ok());
  EXPECT_TRUE(rows->empty());
}

TEST(LedgerFile, RefusesWhatIsNotALedgerNamingIt) {
  const std::string dir = temp_dir();
  const std::string text = dir + "/notes.txt";
  std::ofstream(text) << "not a database at all, just some text that is long enough to have a header\n";
  auto r = read_ledger(text, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(text), std::string::npos) << r.error().message;
  EXPECT_FALSE(LedgerFile::open(text).ok());

  // Another program's SQLite database: neither read nor written.
  const std::string other = dir + "/other.sqlite";
  {
    auto db = store::Db::open(other, store::Db::Mode::ReadWrite);
    ASSERT_TRUE(db.ok());
    ASSERT_TRUE(db->exec("CREATE TABLE reports (id INTEGER);").ok());
  }
  r = read_ledger(other, "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(other + ": not a signet ledger"), std::string::npos) << r.error().message;
  auto w = LedgerFile::open(other);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.error().message.find("not a signet ledger"), std::string::npos);

  r = read_ledger(dir + "/missing.sqlite", "");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find(dir + "/missing.sqlite"), std::string::npos) << r.error().message;
  EXPECT_NE(access((dir + "/missing.sqlite").c_str(), F_OK), 0) << "reading never creates the file";
}

TEST(LedgerWriter, FlushWritesEveryDaysCountsInOneGo) {
  const std::string path = temp_dir() + "/ledger.sqlite";
  SignatureCounts counts;
  Slot* a = counts.slot(key("tx", "a"));
  Slot* b = counts.slot(key("tx", "b", "ed25519-sha256"));
  Writer w(counts, path, 60, [](bool, std::string_view) {});
  for (int i = 0; i < 3; ++i) a->add(kJan1 + i);
  b->add(kJan1 + kDay);
  EXPECT_TRUE(w.flush());
  a->add(kJan1 + kDay);
  EXPECT_EQ(w.pending(), 0u);
  w.start();
  w.stop();  // the final flush writes what the interval had not
  auto rows = read_ledger(path, "");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(describe(rows.value()), (std::vector<std::string>{
                                        "2026-01-01 tx example.com a rsa-sha256 3",
                                        "2026-01-02 tx example.com a rsa-sha256 1",
                                        "2026-01-02 tx example.com b ed25519-sha256 1",
                                    }));
  EXPECT_TRUE(w.up());
  EXPECT_GT(w.last_flush(), 0);
}

TEST(LedgerWriter, AFailingLedgerKeepsItsCountsLogsOnceAndCatchesUp) {
  const std::string dir = temp_dir() + "/not-yet";  // the directory does not exist: every write fails
  const std::string path = dir + "/ledger.sqlite";
  SignatureCounts counts;
  Slot* a = counts.slot(key("tx", "a"));
  std::vector<std::pair<bool, std::string>> lines;
  Writer w(counts, path, 60, [&](bool error, std::string_view line) { lines.emplace_back(error, std::string(line)); });
  a->add(kJan1);
  EXPECT_FALSE(w.flush());
  a->add(kJan1);
  a->add(kJan1 + kDay);
  EXPECT_FALSE(w.flush());
  EXPECT_FALSE(w.flush());
  EXPECT_FALSE(w.up());
  EXPECT_EQ(w.write_errors(), 3u);
  EXPECT_EQ(w.pending(), 3u);
  ASSERT_EQ(lines.size(), 1u) << "one loud line per outage, not one per flush";
  EXPECT_TRUE(lines[0].first);
  EXPECT_NE(lines[0].second.find(path), std::string::npos) << lines[0].second;

  ASSERT_EQ(mkdir(dir.c_str(), 0700), 0);
  a->add(kJan1 + kDay);
  EXPECT_TRUE(w.flush());
  EXPECT_TRUE(w.up());
  EXPECT_EQ(w.pending(), 0u);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_FALSE(lines[1].first) << "the recovery is said once, not as an error";
  auto rows = read_ledger(path, "");
  ASSERT_TRUE(rows.ok()) << rows.error().message;
  EXPECT_EQ(describe(rows.value()), (std::vector<std::string>{
                                        "2026-01-01 tx example.com a rsa-sha256 2",
                                        "2026-01-02 tx example.com a rsa-sha256 2",
                                    }));
}

}  // namespace
