// store/sqlite.h — the one thin wrapper over SQLite (Debian's libsqlite3)
// that signet's durable counts share: the signing ledger (ledger/) and the
// imported DMARC reports (dmarc/). Why SQLite and not an append-only file:
// both are small tables read by day and key ("per day, stream, d=, s="),
// upserted in place; SQLite gives atomic, crash-safe transactions (WAL) and
// one reader API, where an append-only file would need its own compaction
// and its own crash rules.
//
// What each call promises:
//   Db::open(path, mode)  opens (ReadWrite creates) the file, WAL journal,
//                         synchronous=NORMAL (a committed transaction survives
//                         a process crash; an OS crash may lose the last one),
//                         busy timeout 5 s (a reader and the writer may overlap).
//                         ReadOnly never creates the file: a missing file is an
//                         error naming it.
//   Db::exec(sql)         runs statements with no parameters.
//   Db::prepare(sql)      one statement; bind_* by 1-based index, step() until
//                         it returns false (done), column_* while on a row;
//                         each_row(f) does the loop.
//   Transaction           BEGIN IMMEDIATE on construction, ROLLBACK unless
//                         commit() succeeded.
// How it fails: every call returns a Status/Result whose message names the
// database file and SQLite's own reason ("disk I/O error", "database or disk is
// full", "file is not a database"); nothing throws. Thread safety: one Db per
// thread (SQLite's default serialized mode makes misuse safe, not fast).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/result.h"

struct sqlite3;
struct sqlite3_stmt;

namespace signet::store {

class Statement;

class Db {
 public:
  enum class Mode { ReadOnly, ReadWrite };
  static Result<Db> open(const std::string& path, Mode mode);

  Db(Db&&) noexcept;
  Db& operator=(Db&&) noexcept;
  ~Db();

  Status exec(std::string_view sql);
  Result<Statement> prepare(std::string_view sql);
  const std::string& path() const { return path_; }
  // "PATH: what SQLite says" for the last failed call on this handle.
  std::string error_text(std::string_view doing) const;
  sqlite3* handle() const { return db_; }

 private:
  Db(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(Statement&&) noexcept;
  Statement& operator=(Statement&&) noexcept;
  ~Statement();

  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, double value);
  // True on a row, false when done; an error names the database.
  Result<bool> step();
  Status run();  // step() to the end, for statements without rows
  // Calls on_row(*this) for every row, then returns Ok; the first failed
  // step's error otherwise.
  template <typename OnRow>
  Status each_row(OnRow&& on_row) {
    for (;;) {
      auto more = step();
      if (!more) return more.error();
      if (!more.value()) return Ok{};
      on_row(*this);
    }
  }
  void reset();  // ready to bind and step again (bindings cleared)

  std::int64_t column_int(int index) const;
  double column_double(int index) const;
  std::string column_text(int index) const;
  bool column_is_null(int index) const;

 private:
  friend class Db;
  Statement(sqlite3_stmt* stmt, const Db* db) : stmt_(stmt), db_(db) {}
  sqlite3_stmt* stmt_ = nullptr;
  const Db* db_ = nullptr;
};

class Transaction {
 public:
  static Result<Transaction> begin(Db& db);
  Transaction(Transaction&&) noexcept;
  Transaction& operator=(Transaction&&) = delete;
  ~Transaction();
  Status commit();

 private:
  explicit Transaction(Db* db) : db_(db) {}
  Db* db_ = nullptr;
};

}  // namespace signet::store
