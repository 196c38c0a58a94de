#include "milter/dns_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <ctime>

#include "base/time.h"
#include "keystore/manifest.h"
#include "keystore/txt_lookup.h"
#include "milter/log.h"
#include "signer/key_record.h"

namespace signet::milter {
namespace {

std::atomic<std::shared_ptr<const std::set<std::string>>> g_hidden{std::make_shared<const std::set<std::string>>()};

}  // namespace

std::shared_ptr<const std::set<std::string>> hidden_keys() { return g_hidden.load(std::memory_order_acquire); }

void DnsWatch::check_once() {
  const auto rt = holder_.current();
  if (!rt->config.dns_check) {
    g_hidden.store(std::make_shared<const std::set<std::string>>());
    return;
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  keystore::DnsTxtLookup dns(rt->config.dns_server);
  auto hidden = std::make_shared<std::set<std::string>>();
  const auto before = hidden_keys();
  for (const auto& [key, from] : rt->keys->upcoming(now, 3600)) {
    const std::string id = key.domain + "/" + key.selector;
    const std::string name = key.selector + "._domainkey." + key.domain;
    bool visible = false;
    auto records = dns.txt(name);
    if (records) {
      for (const std::string& txt : records.value()) {
        auto rec = parse_key_record(txt);
        visible |= rec && !rec->revoked() && rec->public_key_base64 == key.key->public_key_base64();
      }
    }
    if (visible) {
      if (before->count(id)) Log::info("DNS: " + name + " is visible now; it signs from " + rfc3339::format(from));
      continue;
    }
    hidden->insert(id);
    if (from <= now) {
      Log::error("DNS: " + name + " should sign since " + rfc3339::format(from) +
                 " but its record is not visible: still signing with the key it replaces while that key's record "
                 "is published; publish the record (signet dns records)");
    } else {
      Log::warn("DNS: " + name + " cuts over at " + rfc3339::format(from) +
                " but its record is not visible yet; it will not sign until it is");
    }
  }
  g_hidden.store(std::shared_ptr<const std::set<std::string>>(std::move(hidden)));
}

bool DnsWatch::start() {
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) return false;
  thread_ = std::thread([this] {
    for (;;) {
      check_once();
      pollfd p{stop_pipe_[0], POLLIN, 0};
      if (::poll(&p, 1, holder_.current()->config.dns_check_interval * 1000) != 0) return;
    }
  });
  return true;
}

void DnsWatch::stop() {
  if (!thread_.joinable()) return;
  const char c = 'x';
  (void)!::write(stop_pipe_[1], &c, 1);
  thread_.join();
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

}  // namespace signet::milter
