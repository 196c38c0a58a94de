// milter/dns_watch.h — the next key's DNS record, checked before its cutover.
//
// A background thread (never the signing path) looks up, every
// dns-check-interval, the record of each key whose window starts within the
// next hour or started within the last (KeySnapshot::upcoming), with the
// same check `signet dns check` makes (keystore/dns_check.h). A key whose
// record is not visible is "hidden": the watch publishes the set through the
// RuntimeHolder (set_hidden), keys_for() skips those keys and the key they
// replace keeps signing while its record is still published
// (keystore/snapshot.h), so switching to a key receivers cannot find never
// happens; the watch logs it loudly until the record appears.
// With dns-check = false nothing is looked up and nothing is hidden.
// Holds the current Runtime only while a check runs (its lookups), never
// while it waits for the next one: a reload's old key set is freed once its
// messages end, not an interval later (docs/key-custody.md, "Keys in memory").
#pragma once

#include <thread>

#include "milter/runtime.h"

namespace signet::milter {

class DnsWatch {
 public:
  explicit DnsWatch(RuntimeHolder& holder) : holder_(holder) {}
  ~DnsWatch() { stop(); }
  bool start();
  void stop();
  void check_once();  // also used by tests

 private:
  RuntimeHolder& holder_;
  int stop_pipe_[2] = {-1, -1};
  std::thread thread_;
};

}  // namespace signet::milter
