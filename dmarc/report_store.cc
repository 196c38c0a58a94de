// The report store (dmarc/report_store.h): a SQLite file (store/sqlite.h)
// with one row per report and one per DKIM result. docs/observability.md
// describes the tables for anyone reading them with sqlite3(1).
#include "dmarc/report_store.h"

#include <fmt/format.h>

#include "base/ascii.h"

namespace signet::dmarc {
namespace {

constexpr std::string_view kFormat = "signet-dmarc-reports 1";

// reports: one per (org, report_id), RFC 7489 §7.2.1.1's unique key, so a
// report mailed twice, or imported from the e-mail and from its attachment,
// counts once. report_records: one per <record> and DKIM result, the shape
// ReportRecord reads; `seq` keeps the report's order.
constexpr const char* kSchema = R"(
CREATE TABLE IF NOT EXISTS dmarc_store (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
  id INTEGER PRIMARY KEY,
  org TEXT NOT NULL,
  report_id TEXT NOT NULL,
  format TEXT NOT NULL,
  email TEXT NOT NULL,
  date_begin INTEGER NOT NULL,
  date_end INTEGER NOT NULL,
  day TEXT NOT NULL,
  policy_domain TEXT NOT NULL,
  container TEXT NOT NULL,
  source TEXT NOT NULL,
  imported_at INTEGER NOT NULL,
  UNIQUE (org, report_id)
);
CREATE TABLE IF NOT EXISTS report_records (
  report INTEGER NOT NULL REFERENCES reports(id),
  seq INTEGER NOT NULL,
  source_ip TEXT NOT NULL,
  count INTEGER NOT NULL,
  disposition TEXT NOT NULL,
  header_from TEXT NOT NULL,
  dkim_domain TEXT NOT NULL,
  dkim_selector TEXT NOT NULL,
  dkim_result TEXT NOT NULL,
  PRIMARY KEY (report, seq)
);
CREATE INDEX IF NOT EXISTS report_records_key ON report_records (dkim_domain, dkim_selector, dkim_result);
CREATE INDEX IF NOT EXISTS reports_day ON reports (day);
)";

// True when the file holds our tables; an error naming the file otherwise.
Status check_store(store::Db& db) {
  auto st = db.prepare("SELECT value FROM dmarc_store WHERE key = 'format'");
  if (st) {
    auto row = st->step();
    if (row && row.value() && st->column_text(0) == kFormat) return Ok{};
  }
  return permanent_error(fmt::format("{}: not a signet DMARC report store (no {} table): give the reports-file, "
                                     "not another database",
                                     db.path(), kFormat));
}

Result<store::Db> open_read(const std::string& path) {
  auto db = store::Db::open(path, store::Db::Mode::ReadOnly);
  if (!db) return db.error();
  if (Status s = check_store(db.value()); !s) return s.error();
  return db;
}

}  // namespace

Result<store::Db> open_report_store(const std::string& path) {
  auto db = store::Db::open(path, store::Db::Mode::ReadWrite);
  if (!db) return db.error();
  bool fresh = false;
  {
    auto tables = db->prepare("SELECT count(*) FROM sqlite_master WHERE type = 'table'");
    if (!tables) return tables.error();
    auto row = tables->step();
    if (!row) return row.error();
    fresh = tables->column_int(0) == 0;
  }
  // A new file gets the tables; an existing one must already be a report
  // store, so the ledger (or any database) given by mistake is not written.
  // Two first imports at once both create: IF NOT EXISTS and OR IGNORE make
  // the second a no-op.
  if (fresh) {
    auto tx = store::Transaction::begin(db.value());
    if (!tx) return tx.error();
    if (Status s = db->exec(kSchema); !s) return s.error();
    auto ins = db->prepare("INSERT OR IGNORE INTO dmarc_store (key, value) VALUES ('format', ?1)");
    if (!ins) return ins.error();
    if (Status s = ins->bind(1, kFormat).run(); !s) return s.error();
    if (Status s = tx->commit(); !s) return s.error();
  }
  if (Status s = check_store(db.value()); !s) return s.error();
  return db;
}

Result<StoreOutcome> store_report(store::Db& db, const AggregateReport& r, std::string_view source, std::int64_t now) {
  auto tx = store::Transaction::begin(db);
  if (!tx) return tx.error();
  auto seen = db.prepare("SELECT 1 FROM reports WHERE org = ?1 AND report_id = ?2");
  if (!seen) return seen.error();
  auto found = seen->bind(1, r.org).bind(2, r.report_id).step();
  if (!found) return found.error();
  if (found.value()) return StoreOutcome{true, 0};
  auto ins = db.prepare(
      "INSERT INTO reports (org, report_id, format, email, date_begin, date_end, day, policy_domain, container, source, "
      "imported_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  if (!ins) return ins.error();
  ins->bind(1, r.org).bind(2, r.report_id).bind(3, format_name(r.format)).bind(4, r.email).bind(5, r.begin);
  ins->bind(6, r.end).bind(7, r.day()).bind(8, r.policy_domain).bind(9, r.container).bind(10, source).bind(11, now);
  if (Status s = ins->run(); !s) return s.error();
  auto last = db.prepare("SELECT id FROM reports WHERE org = ?1 AND report_id = ?2");
  if (!last) return last.error();
  auto got = last->bind(1, r.org).bind(2, r.report_id).step();
  if (!got) return got.error();
  const std::int64_t report = last->column_int(0);
  auto rec = db.prepare(
      "INSERT INTO report_records (report, seq, source_ip, count, disposition, header_from, dkim_domain, dkim_selector, "
      "dkim_result) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)");
  if (!rec) return rec.error();
  StoreOutcome out;
  auto put = [&](const ReportRow& row, std::string_view d, std::string_view s, std::string_view result) -> Status {
    rec->reset();
    rec->bind(1, report).bind(2, static_cast<std::int64_t>(out.records)).bind(3, row.source_ip).bind(4, row.count);
    rec->bind(5, row.disposition).bind(6, row.header_from).bind(7, d).bind(8, s).bind(9, result);
    ++out.records;
    return rec->run();
  };
  for (const ReportRow& row : r.rows) {
    // report_store.h: a row without DKIM results is one record, result "none".
    if (row.dkim.empty()) {
      if (Status s = put(row, "", "", "none"); !s) return s.error();
    }
    for (const DkimAuthResult& d : row.dkim) {
      if (Status s = put(row, d.domain, d.selector, d.result); !s) return s.error();
    }
  }
  if (Status s = tx->commit(); !s) return s.error();
  return out;
}

Result<std::vector<ReportRecord>> read_report_records(const std::string& path, std::string_view since_day) {
  auto db = open_read(path);
  if (!db) return db.error();
  auto st = db->prepare(
      "SELECT r.day, r.org, r.report_id, c.source_ip, c.count, c.header_from, c.dkim_domain, c.dkim_selector, "
      "c.dkim_result FROM report_records c JOIN reports r ON r.id = c.report WHERE r.day >= ?1 "
      "ORDER BY r.day, r.org, r.report_id, c.seq");
  if (!st) return st.error();
  st->bind(1, since_day);
  std::vector<ReportRecord> out;
  Status read = st->each_row([&](const store::Statement& r) {
    out.push_back(ReportRecord{r.column_text(0), r.column_text(1), r.column_text(2), r.column_text(3),
                               r.column_int(4), r.column_text(5), r.column_text(6), r.column_text(7),
                               r.column_text(8)});
  });
  if (!read) return read.error();
  return out;
}

Result<std::optional<std::string>> last_seen_passing(const std::string& path, std::string_view domain,
                                                     std::string_view selector) {
  auto db = open_read(path);
  if (!db) return db.error();
  auto st = db->prepare(
      "SELECT max(r.day) FROM report_records c JOIN reports r ON r.id = c.report "
      "WHERE c.dkim_domain = ?1 AND c.dkim_selector = ?2 AND c.dkim_result = 'pass' AND c.count > 0");
  if (!st) return st.error();
  st->bind(1, ascii::to_lower(domain)).bind(2, ascii::to_lower(selector));
  auto row = st->step();
  if (!row) return row.error();
  if (!row.value() || st->column_is_null(0)) return std::optional<std::string>();
  return std::optional<std::string>(st->column_text(0));
}

}  // namespace signet::dmarc
