// ledger/writer.h — the background thread that flushes the signature counts
// (ledger/counts.h) into the ledger file (ledger/ledger.h).
//
// What it promises:
//   start()       a thread that calls flush() every `interval` seconds
//                 (ledger-flush-interval, at most 60), so a crash (kill -9)
//                 loses at most the counts of the last interval.
//   stop()        joins the thread, then flushes once more: a clean stop
//                 (SIGTERM) loses nothing. Call it after the last message.
//   flush()       drains every slot into the pending counts and writes them
//                 all in one transaction (count = count + delta). Returns
//                 whether the ledger is written up to date.
// How it fails: a ledger that cannot be opened or written (full disk,
// read-only, not a ledger) never stops the signing, which does not wait on
// this thread: the counts stay in memory (pending()) and every later flush
// tries again with all of them, so nothing is lost while the process lives.
// The first failure of an outage is logged once, loudly, through `log`
// (never once per flush); the recovery once. up() and write_errors() say
// the same to the metrics. Thread safety: the accessors are atomics, safe
// from any thread; flush() is serialized.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "ledger/counts.h"
#include "ledger/ledger.h"

namespace signet::ledger {

class Writer {
 public:
  // log(error, line): error true for the loud line of a failure.
  using LogFn = std::function<void(bool error, std::string_view line)>;
  Writer(SignatureCounts& counts, std::string path, int interval_seconds, LogFn log);
  ~Writer() { stop(); }
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  void start();
  void stop();
  bool flush();

  bool up() const { return up_.load(); }
  std::uint64_t write_errors() const { return write_errors_.load(); }
  std::int64_t last_flush() const { return last_flush_.load(); }  // Unix time of the last good write; 0: none yet
  std::uint64_t pending() const { return pending_count_.load(); }  // signatures counted, not yet written
  const std::string& path() const { return path_; }

 private:
  SignatureCounts& counts_;
  std::string path_;
  int interval_;
  LogFn log_;
  std::mutex flush_mu_;
  std::optional<LedgerFile> file_;  // opened on the first flush (after privileges dropped), reopened after an error
  Deltas pending_;
  std::atomic<bool> up_{true};
  std::atomic<std::uint64_t> write_errors_{0}, pending_count_{0};
  std::atomic<std::int64_t> last_flush_{0};
  std::mutex wake_mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace signet::ledger
