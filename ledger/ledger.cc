#include "ledger/ledger.h"

#include <fmt/format.h>

namespace signet::ledger {
namespace {

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS signatures ("
    " day TEXT NOT NULL, stream TEXT NOT NULL, domain TEXT NOT NULL, selector TEXT NOT NULL,"
    " algorithm TEXT NOT NULL, count INTEGER NOT NULL,"
    " PRIMARY KEY (day, stream, domain, selector, algorithm)) WITHOUT ROWID;";

Result<std::int64_t> single_int(store::Db& db, std::string_view sql) {
  auto st = db.prepare(sql);
  if (!st) return st.error();
  auto row = st->step();
  if (!row) return row.error();
  return row.value() ? st->column_int(0) : 0;
}

// The file is a ledger (ours), a fresh database (no tables yet), or neither.
enum class Kind { Ledger, Empty, Other };
Result<Kind> kind_of(store::Db& db) {
  auto id = single_int(db, "PRAGMA application_id;");
  if (!id) return id.error();
  if (id.value() == LedgerFile::kApplicationId) return Kind::Ledger;
  auto tables = single_int(db, "SELECT count(*) FROM sqlite_master;");
  if (!tables) return tables.error();
  return id.value() == 0 && tables.value() == 0 ? Kind::Empty : Kind::Other;
}

Error not_a_ledger(const std::string& path) {
  return permanent_error(path +
                         ": not a signet ledger (an SQLite database of something else); name the ledger file "
                         "signet-milter writes (ledger-file in signet.conf)");
}

}  // namespace

Result<std::vector<LedgerRow>> read_ledger(const std::string& path, std::string_view since_day) {
  auto db = store::Db::open(path, store::Db::Mode::ReadOnly);
  if (!db) return db.error();
  auto kind = kind_of(db.value());
  if (!kind) return kind.error();
  if (kind.value() != Kind::Ledger) return not_a_ledger(path);
  auto st = db->prepare(
      "SELECT day, stream, domain, selector, algorithm, count FROM signatures WHERE day >= ?"
      " ORDER BY day, stream, domain, selector, algorithm;");
  if (!st) return st.error();
  st->bind(1, since_day);
  std::vector<LedgerRow> rows;
  Status read = st->each_row([&](const store::Statement& r) {
    rows.push_back(LedgerRow{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3),
                             r.column_text(4), r.column_int(5)});
  });
  if (!read) return read.error();
  return rows;
}

Result<LedgerFile> LedgerFile::open(const std::string& path) {
  auto db = store::Db::open(path, store::Db::Mode::ReadWrite);
  if (!db) return db.error();
  auto kind = kind_of(db.value());
  if (!kind) return kind.error();
  if (kind.value() == Kind::Other) return not_a_ledger(path);
  if (kind.value() == Kind::Empty) {
    auto tx = store::Transaction::begin(db.value());
    if (!tx) return tx.error();
    if (auto s = db->exec(fmt::format("PRAGMA application_id = {}; {}", kApplicationId, kSchema)); !s) return s.error();
    if (auto s = tx->commit(); !s) return s.error();
  }
  return LedgerFile(std::move(db.value()));
}

Status LedgerFile::add(const Deltas& deltas) {
  if (deltas.empty()) return Ok{};
  auto tx = store::Transaction::begin(db_);
  if (!tx) return tx.error();
  auto st = db_.prepare(
      "INSERT INTO signatures (day, stream, domain, selector, algorithm, count) VALUES (?, ?, ?, ?, ?, ?)"
      " ON CONFLICT (day, stream, domain, selector, algorithm) DO UPDATE SET count = count + excluded.count;");
  if (!st) return st.error();
  for (const auto& [at, count] : deltas) {
    const auto& [day, key] = at;
    st->bind(1, day_text(day)).bind(2, key.stream).bind(3, key.domain).bind(4, key.selector).bind(5, key.algorithm);
    st->bind(6, count);
    if (auto s = st->run(); !s) return s.error();
    st->reset();
  }
  return tx->commit();
}

}  // namespace signet::ledger
