// ledger/ledger.h — the signing ledger: per UTC day, stream, d=, s= and
// algorithm, how many signatures signet made. Written by signet-milter
// (counts gathered off the signing path, flushed to SQLite at least every
// minute: store/sqlite.h), read by `signet ledger`, `signet replay check` and
// `signet audit`. docs/observability.md describes the file.
//
// The shapes below are the contract the readers (replay, audit, the CLI) use.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/result.h"
#include "ledger/counts.h"
#include "store/sqlite.h"

namespace signet::ledger {

// One ledger row: `count` signatures made on `day` (UTC, "YYYY-MM-DD") by
// `stream` with d=`domain` s=`selector` a=`algorithm` ("rsa-sha256" |
// "ed25519-sha256"). Rows are unique on (day, stream, domain, selector,
// algorithm).
struct LedgerRow {
  std::string day;
  std::string stream;
  std::string domain;
  std::string selector;
  std::string algorithm;
  std::int64_t count = 0;
};

// Every row with day >= since_day ("" = all), ordered by day, stream, domain,
// selector, algorithm. Fails naming the file when it is missing, unreadable
// or not a ledger.
Result<std::vector<LedgerRow>> read_ledger(const std::string& path, std::string_view since_day);

// Counts to add, by (day number, key): what a flush writes.
using Deltas = std::map<std::pair<std::int64_t, KeyId>, std::int64_t>;

// The ledger opened for writing (signet-milter's flusher; tests). A file is
// a ledger when its SQLite application_id says so (kApplicationId); a new or
// empty file becomes one. open() refuses any other database, naming it, so
// a mistyped ledger-file never writes into someone else's tables.
// add(deltas): one transaction, count = count + delta per row; all or nothing.
class LedgerFile {
 public:
  static constexpr std::int64_t kApplicationId = 0x53474E4C;  // "SGNL"
  static Result<LedgerFile> open(const std::string& path);
  Status add(const Deltas& deltas);
  const std::string& path() const { return db_.path(); }

 private:
  explicit LedgerFile(store::Db db) : db_(std::move(db)) {}
  store::Db db_;
};

}  // namespace signet::ledger
