// milter/dns_watch.h — the next key's DNS record, checked before its cutover.
//
// A background thread (never the signing path) looks up, every
// dns-check-interval, the record of each key whose window starts within the
// next hour or started within the last: visible means a DKIM record whose p=
// is that key's public key. A key that is not visible is "hidden": keys_for()
// skips it and the key it replaces keeps signing while its record is still
// published (keystore/snapshot.h), so switching to a key receivers cannot
// find never happens; the watch logs it loudly until the record appears.
// hidden_keys(): the current set, "domain/selector"; lock-free to read.
// With dns-check = false nothing is looked up and nothing is hidden.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <thread>

#include "milter/runtime.h"

namespace signet::milter {

std::shared_ptr<const std::set<std::string>> hidden_keys();

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
