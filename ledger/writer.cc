#include "ledger/writer.h"

#include <fmt/format.h>

#include <chrono>
#include <ctime>

namespace signet::ledger {

Writer::Writer(SignatureCounts& counts, std::string path, int interval_seconds, LogFn log)
    : counts_(counts), path_(std::move(path)), interval_(interval_seconds), log_(std::move(log)) {}

bool Writer::flush() {
  std::lock_guard<std::mutex> lock(flush_mu_);
  std::uint64_t waiting = 0;
  counts_.drain_all([this](const KeyId& key, std::int64_t day, std::uint64_t count) {
    pending_[{day, key}] += static_cast<std::int64_t>(count);
  });
  for (const auto& [at, count] : pending_) waiting += static_cast<std::uint64_t>(count);
  pending_count_ = waiting;
  if (pending_.empty() && file_) return true;
  Status written = Ok{};
  if (!file_) {
    auto opened = LedgerFile::open(path_);
    if (opened) {
      file_.emplace(std::move(opened.value()));
    } else {
      written = opened.error();
    }
  }
  if (written && file_) written = file_->add(pending_);
  if (!written) {
    file_.reset();  // reopened next time: the file may have been replaced or repaired
    ++write_errors_;
    if (up_.exchange(false)) {
      // The store's message names the file and SQLite's reason.
      log_(true, fmt::format("ledger: cannot write: {}; signing goes on, {} signature count(s) are kept in memory "
                             "and written when the ledger is writable again (signet_ledger_up 0)",
                             written.error().message, waiting));
    }
    return false;
  }
  pending_.clear();
  pending_count_ = 0;
  last_flush_ = static_cast<std::int64_t>(std::time(nullptr));
  if (!up_.exchange(true)) {
    log_(false, fmt::format("ledger: {} is written again; the {} signature count(s) kept in memory are recorded",
                            path_, waiting));
  }
  return true;
}

void Writer::start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(wake_mu_);
    while (!stopping_) {
      wake_.wait_for(lock, std::chrono::seconds(interval_), [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      flush();
      lock.lock();
    }
  });
}

void Writer::stop() {
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(wake_mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
    flush();  // the counts of the last interval: a clean stop loses none
  }
}

}  // namespace signet::ledger
