// milter/runtime.h — what the daemon signs with, as one immutable value
// behind one atomic pointer.
//
// A Runtime pairs a configuration with the key snapshot loaded for it, so
// streams and the keys they name always change together. A message takes the
// current Runtime when it starts (current()) and keeps that shared_ptr to its
// end; replace() (the key-set issue's reload) swaps in a new one without
// disturbing messages in flight. Readers take a mutex only to copy the
// shared_ptr (two reference-count updates, never held across I/O or a
// signature): GCC 12's std::atomic<std::shared_ptr> hides its lock from
// ThreadSanitizer, which then cannot check the rest of the daemon.
// A copy of current() is a hold on that key set and its private keys: keep
// it while it is used and drop it before any wait (a temporary in a blocking
// call's arguments lives through the call), or a reload's old keys stay in
// memory until the wait ends (docs/key-custody.md, "Keys in memory").
// hidden(): the keys whose DNS record the watch (milter/dns_watch.h) did not
// find, as of its last check: the signing path passes them to
// KeySnapshot::keys_for. Never null; empty when nothing is hidden.
// current_for_scrape(), hidden_for_scrape(): the same values behind a second
// mutex that only the writers (reloader, DNS watch) and the metrics scrape
// take, so a scrape never contends with a message.
//
// Instruments: where the signing path counts (milter/metrics.h, and the
// per-key slots of ledger/counts.h that the ledger and the metrics share).
// load_runtime prepares, off the signing path, one slot per loaded key of
// the new snapshot; Runtime::slot() finds it without a lock. Null
// instruments (tests, --check-config): nothing is counted.
#pragma once

#include <mutex>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "conf/config.h"
#include "keystore/snapshot.h"
#include "ledger/counts.h"
#include "privsep/client.h"

namespace signet::milter {

class Metrics;

struct Instruments {
  Metrics* metrics = nullptr;
  ledger::SignatureCounts* counts = nullptr;
};

struct Runtime {
  conf::Config config;
  std::shared_ptr<const keystore::KeySnapshot> keys;
  Metrics* metrics = nullptr;  // null: not counted
  // (stream, d=, s=, a=) -> its slot, for every loaded key of `keys`.
  std::unordered_map<std::string, ledger::Slot*> slots = {};
  // privilege-separation = on: the signer's table the keys were made from
  // (its process and generation; the next LOAD asks it to keep this one).
  std::shared_ptr<const privsep::KeyTable> signer_table = nullptr;

  static std::string slot_key(std::string_view stream, std::string_view domain, std::string_view selector,
                              std::string_view algorithm);
  ledger::Slot* slot(std::string_view stream, std::string_view domain, std::string_view selector,
                     std::string_view algorithm) const;
};

// Configuration (from the command line in `args`) and its key set, validated
// whole. Keys whose files are unchanged since `previous` are not parsed again.
// The Runtime is freed, once its last holder lets go, on the retirer thread
// when one runs (milter/retirer.h), never mid-message on a connection thread.
// With `signer` (privilege-separation = on, privsep/client.h) no key file is
// read here: the signer process loads the set (LOAD) and every key becomes a
// PrivateKey::external over it; routing and windows are the same. The
// master key is not read either: the signer alone opens sealed files.
// Without a signer, `master_key` (the process's keystore::MasterKeyKeeper,
// null: none) reads the master key under key-protection = sealed and keeps
// the one of each good load, so a reload after the privilege drop still
// opens the sealed files when the master key file is root's
// (conf::key_load_options).
Result<std::shared_ptr<const Runtime>> load_runtime(const std::vector<std::string>& args,
                                                    const Runtime* previous = nullptr, Instruments instruments = {},
                                                    privsep::SignerClient* signer = nullptr,
                                                    keystore::MasterKeyKeeper* master_key = nullptr);

class RuntimeHolder {
 public:
  std::shared_ptr<const Runtime> current() const {
    std::lock_guard<std::mutex> lock(mu_);
    return current_;
  }
  void replace(std::shared_ptr<const Runtime> next) {
    {
      std::lock_guard<std::mutex> lock(scrape_mu_);
      scrape_current_ = next;
    }
    std::lock_guard<std::mutex> lock(mu_);
    current_.swap(next);  // the old one is released after the lock, below
  }
  std::shared_ptr<const keystore::HiddenKeys> hidden() const {
    std::lock_guard<std::mutex> lock(mu_);
    return hidden_;
  }
  void set_hidden(std::shared_ptr<const keystore::HiddenKeys> h) {
    {
      std::lock_guard<std::mutex> lock(scrape_mu_);
      scrape_hidden_ = h;
    }
    std::lock_guard<std::mutex> lock(mu_);
    hidden_.swap(h);
  }
  // The same two values for the metrics scrape, behind a mutex of their own:
  // a scrape never takes the one the signing path takes per message.
  std::shared_ptr<const Runtime> current_for_scrape() const {
    std::lock_guard<std::mutex> lock(scrape_mu_);
    return scrape_current_;
  }
  std::shared_ptr<const keystore::HiddenKeys> hidden_for_scrape() const {
    std::lock_guard<std::mutex> lock(scrape_mu_);
    return scrape_hidden_;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const Runtime> current_;
  std::shared_ptr<const keystore::HiddenKeys> hidden_ = std::make_shared<const keystore::HiddenKeys>();
  mutable std::mutex scrape_mu_;  // never taken on the signing path
  std::shared_ptr<const Runtime> scrape_current_;
  std::shared_ptr<const keystore::HiddenKeys> scrape_hidden_ = hidden_;
};

}  // namespace signet::milter
