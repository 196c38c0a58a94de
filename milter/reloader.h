// milter/reloader.h — keeping the Runtime current while mail flows.
//
// reload(why): loads configuration and key set anew (milter/runtime.h),
// validated whole; on success swaps it in (messages in flight keep theirs);
// on failure keeps the running one, logs the file, line and reason, and
// counts the refusal. Serialized: two triggers never load at once.
// start(): a thread that reloads when the key directory, the directories
// holding key files or included configuration, or the configuration file
// change (in its directory only that file's name counts) — inotify,
// including the rename of a symlink that Kubernetes secret volumes and
// configuration tools use to swap a directory whole — after 200 ms of quiet,
// and that wakes at the key set's next scheduled instant to log the cutover
// (the cutover itself needs no reload: keys_for() is a function of time).
// SIGHUP calls reload() from milter/lifecycle.cc. reloads(), refused() and
// last_good_load() are what the metrics report (milter/metrics.h).
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "milter/runtime.h"

namespace signet::milter {

class Reloader {
 public:
  // instruments: what the new Runtimes count into (milter/runtime.h);
  // loaded_at: when the running key set was loaded (the start).
  Reloader(RuntimeHolder& holder, std::vector<std::string> args, Instruments instruments = {},
           std::int64_t loaded_at = 0)
      : holder_(holder), args_(std::move(args)), instruments_(instruments), last_good_(loaded_at) {}
  ~Reloader() { stop(); }

  bool reload(const std::string& why);
  // privilege-separation = on: every reload goes through the signer process
  // (milter/runtime.h). Set before start().
  void set_signer(privsep::SignerClient* signer) { signer_ = signer; }
  // Without a signer: the process's master key keeper (milter/runtime.h),
  // which outlives the Reloader. Set before start().
  void set_master_key(keystore::MasterKeyKeeper* keeper) { master_key_ = keeper; }
  bool start();
  void stop();

  std::uint64_t reloads() const { return reloads_; }
  std::uint64_t refused() const { return refused_; }
  std::int64_t last_good_load() const { return last_good_; }  // Unix time (real clock) of the last good load

 private:
  void run();
  void sync_watches();
  void log_schedule(std::int64_t now);

  RuntimeHolder& holder_;
  std::vector<std::string> args_;
  Instruments instruments_;
  privsep::SignerClient* signer_ = nullptr;
  keystore::MasterKeyKeeper* master_key_ = nullptr;
  std::atomic<std::int64_t> last_good_;
  std::mutex mu_;
  std::atomic<std::uint64_t> reloads_{0}, refused_{0};
  int inotify_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  std::vector<int> watches_;
  std::vector<std::pair<int, std::string>> name_filters_;  // wd -> only this file name counts
  std::thread thread_;
};

}  // namespace signet::milter
