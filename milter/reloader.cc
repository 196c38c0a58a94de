#include "milter/reloader.h"

#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <set>

#include "base/time.h"
#include "keystore/manifest.h"
#include "milter/clock.h"
#include "milter/log.h"

namespace signet::milter {
namespace {

std::string dir_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string describe(const keystore::KeySnapshot& keys, const conf::Config& cfg, std::int64_t now) {
  std::string out;
  for (const conf::Stream& s : cfg.streams) {
    out += (out.empty() ? "" : "; ") + s.name + ":";
    for (const SigningKey& k : keys.keys_for(s.name, now)) out += " " + k.selector;
  }
  return out;
}

}  // namespace

bool Reloader::reload(const std::string& why) {
  std::lock_guard<std::mutex> lock(mu_);
  const auto started = std::chrono::steady_clock::now();
  const auto current = holder_.current();
  auto next = load_runtime(args_, current.get(), instruments_, signer_, master_key_);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count();
  if (!next) {
    ++refused_;
    Log::error(why + ": reload refused (" + std::to_string(refused_.load()) +
               " refused so far), still signing with the last good key set: " + next.error().message);
    return false;
  }
  const std::int64_t now = Clock::now();
  for (const std::string& gap : next.value()->keys->gaps(now)) Log::warn("key set: " + gap);
  holder_.replace(next.value());
  const_cast<std::shared_ptr<const Runtime>&>(current).reset();  // ours was the last hold in most cases
  ++reloads_;
  last_good_ = static_cast<std::int64_t>(std::time(nullptr));
  // The previous snapshot (20 000 keys at scale) is freed once its last
  // message ends; hand its memory back rather than keeping the peak.
  ::malloc_trim(0);
  Log::info(why + ": reloaded, " + std::to_string(next.value()->config.streams.size()) + " streams, " +
            std::to_string(next.value()->keys->size()) + " keys (" + std::to_string(next.value()->keys->parsed()) +
            " parsed) in " + std::to_string(ms) + " ms; signing now with " +
            (next.value()->config.streams.size() <= 20 ? describe(*next.value()->keys, next.value()->config, now)
                                                       : std::string("(") + std::to_string(next.value()->config.streams.size()) + " streams)"));
  return true;
}

void Reloader::sync_watches() {
  for (int wd : watches_) inotify_rm_watch(inotify_fd_, wd);
  watches_.clear();
  name_filters_.clear();
  const auto rt = holder_.current();
  std::set<std::string> dirs = {rt->config.key_directory};  // dedicated directories: any change counts
  // The rows of the set in force, not key_rows() again: no second listing
  // (and manifest read) of 200 000 rows per reload, and the watches follow
  // the keys actually loaded.
  for (std::size_t i = 0; i < rt->keys->size(); ++i) {
    const keystore::KeyRow& r = rt->keys->row(i);
    if (!r.retired_at && !r.in_token()) dirs.insert(dir_of(rt->config.key_directory + "/" + r.file));  // a token has no file
  }
  const uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_ATTRIB |
                        IN_DELETE_SELF | IN_MOVE_SELF;
  for (const std::string& d : dirs) {
    const int wd = inotify_add_watch(inotify_fd_, d.c_str(), mask);
    if (wd >= 0) watches_.push_back(wd);
  }
  // The configuration file lives among others (/etc/signet, /etc): only its name counts.
  const std::string& cf = rt->config.config_file;
  const int wd = inotify_add_watch(inotify_fd_, dir_of(cf).c_str(), mask);
  if (wd >= 0) {
    watches_.push_back(wd);
    name_filters_.emplace_back(wd, cf.substr(cf.rfind('/') + 1));
  }
}

void Reloader::log_schedule(std::int64_t now) {
  const auto rt = holder_.current();
  Log::info("key schedule: at " + rfc3339::format(now) + " signing with " +
            (rt->config.streams.size() <= 20 ? describe(*rt->keys, rt->config, now) : std::string("the new schedule")));
}

bool Reloader::start() {
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (inotify_fd_ < 0 || pipe2(stop_pipe_, O_CLOEXEC) != 0) return false;
  sync_watches();
  thread_ = std::thread([this] { run(); });
  return true;
}

void Reloader::run() {
  bool dirty = false;
  // Scheduled instants up to here have been logged. Measured from this, not
  // from the clock, so an instant that passes during a reload is not skipped.
  std::int64_t checked = Clock::now();
  for (;;) {
    const std::int64_t now = Clock::now();
    const auto next = holder_.current()->keys->next_change(checked);
    if (next && now >= *next) {
      // One line per instant, stating the keys from that instant on: when the
      // thread wakes late (a slow reload, a loaded host) and several instants
      // have passed, each still gets its own line, in order.
      log_schedule(*next);
      checked = *next;
      continue;
    }
    int timeout_ms = -1;
    if (next) timeout_ms = static_cast<int>(std::min<std::int64_t>((*next - now) * 1000, 3'600'000));
    if (dirty) timeout_ms = timeout_ms < 0 ? 200 : std::min(timeout_ms, 200);  // quiet period: tools write several files
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_pipe_[0], POLLIN, 0}};
    const int r = ::poll(fds, 2, timeout_ms);
    if (r < 0) continue;
    if (fds[1].revents) return;
    if (fds[0].revents) {
      alignas(inotify_event) char buf[8192];
      ssize_t n;
      while ((n = ::read(inotify_fd_, buf, sizeof buf)) > 0) {
        for (char* p = buf; p < buf + n;) {
          const auto* ev = reinterpret_cast<const inotify_event*>(p);
          bool counts = true;
          for (const auto& [wd, name] : name_filters_) {
            if (ev->wd == wd) counts = ev->len > 0 && name == ev->name;
          }
          if (counts && !(ev->mask & IN_IGNORED)) dirty = true;
          p += sizeof(inotify_event) + ev->len;
        }
      }
      continue;  // reload after 200 ms without events
    }
    if (r == 0 && dirty) {
      dirty = false;
      if (reload("key set or configuration changed on disk")) sync_watches();
    }
  }
}

void Reloader::stop() {
  if (!thread_.joinable()) return;
  const char c = 'x';
  (void)!::write(stop_pipe_[1], &c, 1);
  thread_.join();
  ::close(inotify_fd_);
  ::close(stop_pipe_[0]);
  ::close(stop_pipe_[1]);
}

}  // namespace signet::milter
