// milter/runtime.h — what the daemon signs with, as one immutable value
// behind one atomic pointer.
//
// A Runtime pairs a configuration with the key snapshot loaded for it, so
// streams and the keys they name always change together. A message takes the
// current Runtime when it starts (current()) and keeps that shared_ptr to its
// end; replace() (the key-set issue's reload) swaps in a new one without
// disturbing messages in flight. Lock-free for readers.
// hidden(): the keys whose DNS record the watch (milter/dns_watch.h) did not
// find, as of its last check: the signing path passes them to
// KeySnapshot::keys_for. Never null; empty when nothing is hidden.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "conf/config.h"
#include "keystore/snapshot.h"

namespace signet::milter {

struct Runtime {
  conf::Config config;
  std::shared_ptr<const keystore::KeySnapshot> keys;
};

// Configuration (from the command line in `args`) and its key set, validated
// whole. Keys whose files are unchanged since `previous` are not parsed again.
Result<std::shared_ptr<const Runtime>> load_runtime(const std::vector<std::string>& args,
                                                    const Runtime* previous = nullptr);

class RuntimeHolder {
 public:
  std::shared_ptr<const Runtime> current() const { return current_.load(std::memory_order_acquire); }
  void replace(std::shared_ptr<const Runtime> next) { current_.store(std::move(next), std::memory_order_release); }
  std::shared_ptr<const keystore::HiddenKeys> hidden() const { return hidden_.load(std::memory_order_acquire); }
  void set_hidden(std::shared_ptr<const keystore::HiddenKeys> h) { hidden_.store(std::move(h), std::memory_order_release); }

 private:
  std::atomic<std::shared_ptr<const Runtime>> current_;
  std::atomic<std::shared_ptr<const keystore::HiddenKeys>> hidden_{std::make_shared<const keystore::HiddenKeys>()};
};

}  // namespace signet::milter
