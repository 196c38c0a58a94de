#include "milter/dns_watch.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <ctime>

#include "base/time.h"
#include "keystore/dns_check.h"
#include "keystore/txt_lookup.h"
#include "milter/clock.h"
#include "milter/log.h"

namespace signet::milter {

void DnsWatch::check_once() {
  const auto rt = holder_.current();
  if (!rt->config.dns_check) {
    holder_.set_hidden(std::make_shared<const keystore::HiddenKeys>());
    return;
  }
  const std::int64_t now = Clock::now();
  keystore::DnsTxtLookup dns(rt->config.dns_server);
  auto hidden = std::make_shared<keystore::HiddenKeys>();
  const auto before = holder_.hidden();
  for (const auto& up : rt->keys->upcoming(now, 3600)) {
    const std::string id = up.row.domain + "/" + up.row.selector;
    const std::string name = up.row.dns_name();
    const std::int64_t from = up.row.window.from;
    const keystore::DnsFinding f =
        keystore::check_record(dns, up.row, now, [&]() -> Result<std::string> { return up.key.key->public_key_base64(); });
    if (keystore::visible(f)) {
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
  holder_.set_hidden(std::move(hidden));
}

bool DnsWatch::start() {
  if (pipe2(stop_pipe_, O_CLOEXEC) != 0) return false;
  thread_ = std::thread([this] {
    for (;;) {
      check_once();
      // Its own statement: a Runtime taken in the poll's argument would live,
      // as a temporary, to the end of the full expression, i.e. through the
      // whole interval, pinning a replaced key set (and its private keys)
      // for up to dns-check-interval after a reload.
      const int interval_ms = holder_.current()->config.dns_check_interval * 1000;
      pollfd p{stop_pipe_[0], POLLIN, 0};
      if (::poll(&p, 1, interval_ms) != 0) return;
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
