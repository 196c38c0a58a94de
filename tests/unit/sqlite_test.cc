// store/sqlite.h: the wrapper's promises (WAL, transactions roll back unless
// committed, read-only never creates, errors name the file).
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "store/sqlite.h"
#include "test_util.h"

using signet::store::Db;
using signet::store::Transaction;

namespace {

std::int64_t count_rows(Db& db) {
  auto st = db.prepare("SELECT count(*) FROM t");
  EXPECT_TRUE(st.ok());
  EXPECT_TRUE(st->step().value());
  return st->column_int(0);
}

}  // namespace

TEST(Sqlite, TransactionRollsBackUnlessCommitted) {
  const std::string dir = signet::testing::temp_dir("sqlite");
  auto db = Db::open(dir + "/x.sqlite", Db::Mode::ReadWrite);
  ASSERT_TRUE(db.ok()) << db.error().message;
  ASSERT_TRUE(db->exec("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER)").ok());
  {
    auto tx = Transaction::begin(db.value());
    ASSERT_TRUE(tx.ok());
    auto ins = db->prepare("INSERT INTO t VALUES (?1, ?2)");
    ASSERT_TRUE(ins.ok());
    ASSERT_TRUE(ins->bind(1, std::string_view("a")).bind(2, std::int64_t{7}).run().ok());
  }  // no commit
  EXPECT_EQ(count_rows(db.value()), 0);
  {
    auto tx = Transaction::begin(db.value());
    auto ins = db->prepare("INSERT INTO t VALUES (?1, ?2)");
    ASSERT_TRUE(ins->bind(1, std::string_view("a")).bind(2, std::int64_t{7}).run().ok());
    ins->reset();
    ASSERT_TRUE(ins->bind(1, std::string_view("b")).bind(2, std::int64_t{8}).run().ok());
    ASSERT_TRUE(tx->commit().ok());
  }
  EXPECT_EQ(count_rows(db.value()), 2);
  auto ro = Db::open(dir + "/x.sqlite", Db::Mode::ReadOnly);
  ASSERT_TRUE(ro.ok()) << ro.error().message;
  auto st = ro->prepare("SELECT k, n FROM t ORDER BY k");
  ASSERT_TRUE(st->step().value());
  EXPECT_EQ(st->column_text(0), "a");
  EXPECT_EQ(st->column_int(1), 7);
}

TEST(Sqlite, ReadOnlyOpenOfAMissingFileFailsNamingItAndCreatesNothing) {
  const std::string dir = signet::testing::temp_dir("sqlite");
  const std::string path = dir + "/absent.sqlite";
  auto db = Db::open(path, Db::Mode::ReadOnly);
  ASSERT_FALSE(db.ok());
  EXPECT_NE(db.error().message.find(path), std::string::npos) << db.error().message;
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST(Sqlite, AFileThatIsNotADatabaseFailsAtOpenNamingIt) {
  const std::string dir = signet::testing::temp_dir("sqlite");
  const std::string path = dir + "/junk.sqlite";
  std::ofstream(path) << std::string(4096, 'j');
  for (auto mode : {Db::Mode::ReadOnly, Db::Mode::ReadWrite}) {
    auto db = Db::open(path, mode);
    ASSERT_FALSE(db.ok());
    EXPECT_NE(db.error().message.find(path), std::string::npos) << db.error().message;
    EXPECT_NE(db.error().message.find("not a database"), std::string::npos) << db.error().message;
  }
}
