// dmarc/report_store.h: a report stored once whatever the number of
// imports, read back exactly as documented (day, normalized IP, lowercase
// names, one record per DKIM result), the retire gate's query, and files
// that are not a report store.
#include <gtest/gtest.h>

#include <tuple>

#include "dmarc/report_store.h"
#include "dmarc_test_util.h"
#include "test_util.h"

using namespace signet;
using namespace signet::dmarc;
using signet::testing::report_xml;
using signet::testing::Row;

namespace {

constexpr std::int64_t kDec1 = 1764547200;  // 2025-12-01T00:00:00Z

auto fields(const ReportRecord& r) {
  return std::tie(r.day, r.org, r.report_id, r.source_ip, r.count, r.header_from, r.dkim_domain, r.dkim_selector,
                  r.dkim_result);
}

AggregateReport parsed(const std::string& xml) {
  auto r = read_report(xml);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r.ok() ? r.value() : AggregateReport{};
}

struct Store {
  std::string path = signet::testing::temp_dir("dmarc-store") + "/reports.sqlite";
  store::Db db = open_report_store(path).value();
  StoreOutcome put(const std::string& xml) {
    auto out = store_report(db, parsed(xml), "test.xml", 1764633600);
    EXPECT_TRUE(out.ok()) << out.error().message;
    return out.ok() ? out.value() : StoreOutcome{};
  }
};

}  // namespace

TEST(DmarcStore, ReadReportRecordsGivesOneRecordPerDkimResultInOrder) {
  Store s;
  // Stored out of order: read back by day, org, report_id, then document order.
  s.put(report_xml("Yahoo", "y-2", kDec1 + 86400, kDec1 + 2 * 86400 - 1,
                   {{"203.0.113.5", 4, "Example.com", {{"Example.COM", "S2026", "PASS"}}}}));
  s.put(report_xml("google.com", "g-1", kDec1, kDec1 + 86399,
                   {{"2001:DB8::0:1", 10, "example.com",
                     {{"example.com", "s2026", "pass"}, {"esp.example", "k1", "fail"}}},
                    {"192.0.2.1", 2, "example.com", {}}}));
  auto recs = read_report_records(s.path, "");
  ASSERT_TRUE(recs.ok()) << recs.error().message;
  const std::vector<ReportRecord> want = {
      {"2025-12-01", "google.com", "g-1", "2001:db8::1", 10, "example.com", "example.com", "s2026", "pass"},
      {"2025-12-01", "google.com", "g-1", "2001:db8::1", 10, "example.com", "esp.example", "k1", "fail"},
      {"2025-12-01", "google.com", "g-1", "192.0.2.1", 2, "example.com", "", "", "none"},
      {"2025-12-02", "Yahoo", "y-2", "203.0.113.5", 4, "example.com", "example.com", "s2026", "pass"},
  };
  ASSERT_EQ(recs->size(), want.size());
  for (std::size_t i = 0; i < want.size(); ++i) EXPECT_EQ(fields(recs->at(i)), fields(want[i])) << "record " << i;
  auto since = read_report_records(s.path, "2025-12-02");
  ASSERT_TRUE(since.ok());
  ASSERT_EQ(since->size(), 1u);
  EXPECT_EQ(since->at(0).org, "Yahoo");
}

TEST(DmarcStore, AReportImportedTwiceCountsOnce) {
  Store s;
  const std::string x = report_xml("google.com", "g-1", kDec1, kDec1 + 86399,
                                   {{"192.0.2.1", 7, "example.com", {{"example.com", "s1", "pass"}}}});
  const StoreOutcome first = s.put(x);
  EXPECT_FALSE(first.duplicate);
  EXPECT_EQ(first.records, 1u);
  // The same org and report id again, even with other content (a resend).
  const StoreOutcome again = s.put(report_xml("google.com", "g-1", kDec1, kDec1 + 86399,
                                              {{"192.0.2.1", 99, "example.com", {{"example.com", "s1", "pass"}}}}));
  EXPECT_TRUE(again.duplicate);
  EXPECT_EQ(again.records, 0u);
  // Another org may use the same id.
  EXPECT_FALSE(s.put(report_xml("yahoo.com", "g-1", kDec1, kDec1 + 86399, {{"192.0.2.1", 1, "example.com", {}}})).duplicate);
  auto recs = read_report_records(s.path, "");
  ASSERT_TRUE(recs.ok());
  ASSERT_EQ(recs->size(), 2u);
  EXPECT_EQ(recs->at(0).count, 7);
  // Reopening the file keeps it so.
  auto db2 = open_report_store(s.path);
  ASSERT_TRUE(db2.ok()) << db2.error().message;
  EXPECT_TRUE(store_report(db2.value(), parsed(x), "again.xml", 0)->duplicate);
}

TEST(DmarcStore, AFailedImportChangesNothing) {
  Store s;
  // Make the third record's insert fail, as a full disk would mid-report.
  ASSERT_TRUE(s.db.exec("CREATE TRIGGER fail_third BEFORE INSERT ON report_records WHEN NEW.seq = 2 "
                        "BEGIN SELECT RAISE(ABORT, 'disk full (simulated)'); END;")
                  .ok());
  const std::string x = report_xml("o", "r", kDec1, kDec1 + 86399,
                                   {{"192.0.2.1", 1, "e.com", {}}, {"192.0.2.2", 1, "e.com", {}},
                                    {"192.0.2.3", 1, "e.com", {}}});
  auto out = store_report(s.db, parsed(x), "x.xml", 0);
  ASSERT_FALSE(out.ok());
  EXPECT_NE(out.error().message.find(s.path), std::string::npos) << out.error().message;
  EXPECT_NE(out.error().message.find("disk full (simulated)"), std::string::npos) << out.error().message;
  EXPECT_TRUE(read_report_records(s.path, "")->empty());
  ASSERT_TRUE(s.db.exec("DROP TRIGGER fail_third").ok());
  // Not a duplicate afterwards: nothing of the failed import stayed.
  EXPECT_FALSE(s.put(x).duplicate);
  EXPECT_EQ(read_report_records(s.path, "")->size(), 3u);
}

TEST(DmarcStore, LastSeenPassingIsTheLastDayWithAPass) {
  Store s;
  const auto day = [](int n) { return kDec1 + n * 86400; };
  s.put(report_xml("a", "1", day(0), day(1) - 1, {{"192.0.2.1", 3, "e.com", {{"e.com", "old", "pass"}}}}));
  s.put(report_xml("b", "2", day(4), day(5) - 1, {{"192.0.2.1", 3, "e.com", {{"E.com", "OLD", "pass"}}}}));
  // Later, but not a pass, or a pass of no message: not "seen passing".
  s.put(report_xml("c", "3", day(8), day(9) - 1,
                   {{"192.0.2.1", 3, "e.com", {{"e.com", "old", "fail"}}},
                    {"192.0.2.2", 0, "e.com", {{"e.com", "old", "pass"}}}}));
  auto last = last_seen_passing(s.path, "E.COM", "Old");
  ASSERT_TRUE(last.ok()) << last.error().message;
  EXPECT_EQ(last.value(), std::optional<std::string>("2025-12-05"));
  auto never = last_seen_passing(s.path, "e.com", "new");
  ASSERT_TRUE(never.ok());
  EXPECT_FALSE(never->has_value());
}

TEST(DmarcStore, FilesThatAreNotAReportStoreAreRefusedNamingThem) {
  const std::string dir = signet::testing::temp_dir("dmarc-store");
  auto missing = read_report_records(dir + "/none.sqlite", "");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message.find(dir + "/none.sqlite"), std::string::npos);
  EXPECT_FALSE(last_seen_passing(dir + "/none.sqlite", "e.com", "s").ok());
  // Another SQLite database (the ledger, say) is neither read nor written.
  {
    auto other = store::Db::open(dir + "/ledger.sqlite", store::Db::Mode::ReadWrite);
    ASSERT_TRUE(other->exec("CREATE TABLE ledger (day TEXT)").ok());
  }
  for (const auto& err : {read_report_records(dir + "/ledger.sqlite", "").error(),
                          open_report_store(dir + "/ledger.sqlite").error()}) {
    EXPECT_NE(err.message.find(dir + "/ledger.sqlite: not a signet DMARC report store"), std::string::npos)
        << err.message;
  }
  // A file that is no database at all.
  {
    std::ofstream(dir + "/text.sqlite") << "this is not a database, just some text long enough to look at\n";
  }
  EXPECT_FALSE(open_report_store(dir + "/text.sqlite").ok());
  EXPECT_FALSE(read_report_records(dir + "/text.sqlite", "").ok());
}
