#include "milter/signer_main.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <thread>

#include "base/locked_thread.h"
#include "conf/config.h"
#include "keystore/snapshot.h"
#include "milter/runtime.h"
#include "milter/log.h"
#include "milter/privileges.h"
#include "privsep/sandbox.h"
#include "privsep/signer_service.h"
#include "signer/secure_memory.h"

namespace signet::milter {
namespace {

int refuse(const std::string& what) {
  std::fprintf(stderr, "signet-milter: signer process: %s\n", what.c_str());
  Log::error("signer: " + what);
  return 2;
}

// "A,B,C": open descriptors, each once, at most 64 (the daemon passes a few).
bool parse_fds(const std::string& text, std::vector<int>& out) {
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::size_t comma = rest.find(',');
    const std::string_view one = rest.substr(0, comma);
    int fd = -1;
    const auto [end, ec] = std::from_chars(one.data(), one.data() + one.size(), fd);
    if (ec != std::errc() || end != one.data() + one.size() || fd < 3 || ::fcntl(fd, F_GETFD) < 0) return false;
    for (int seen : out) {
      if (seen == fd) return false;
    }
    out.push_back(fd);
    if (out.size() > 64) return false;
    rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
  }
  return !out.empty();
}

// The key set as the daemon would load it in-process (milter/runtime.h),
// reusing the parse of keys whose files are unchanged since `previous`.
Result<std::shared_ptr<const keystore::KeySnapshot>> load_keys(const std::vector<std::string>& args,
                                                               std::shared_ptr<const keystore::KeySnapshot> previous,
                                                               keystore::MasterKeyKeeper& master_key) {
  Runtime before;
  before.keys = std::move(previous);
  auto rt = load_runtime(args, before.keys ? &before : nullptr, {}, nullptr, &master_key);
  if (!rt) return rt.error();
  return rt.value()->keys;
}

}  // namespace

int signer_main(const std::string& fd_list, const std::vector<std::string>& args) {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return refuse("prctl(PR_SET_DUMPABLE) failed");
  const pid_t daemon_pid = ::getppid();
  std::vector<int> fds;
  if (!parse_fds(fd_list, fds)) return refuse("--signer-fds " + fd_list + " is not a list of open descriptors");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto cfg = conf::load_config(static_cast<int>(argv.size()), argv.data());
  if (!cfg) return refuse(cfg.error().message);
  Log::init(cfg->log_to_stderr);
  // The same locked arena as an in-process daemon (milter/main.cc); here is
  // the only process that needs one.
  if (Status s = init_secure_heap(cfg->secure_heap_size); !s) return refuse(s.error().message);
  if (const SecureHeapState heap = secure_heap(); !heap.locked || !heap.hooked) {
    return refuse(!heap.hooked ? "OpenSSL's allocator could not be hooked: private keys would not stay in the secure heap"
                               : "cannot lock the secure heap (secure-heap-size = " + std::to_string(heap.size) +
                                     " bytes): RLIMIT_MEMLOCK is too small; raise it (systemd: LimitMEMLOCK=) or lower "
                                     "secure-heap-size");
  }
  auto log = [](std::string_view line) { Log::warn("signer: " + std::string(line)); };
  // This process alone opens sealed key files: read as root now, and kept
  // for the reloads (as `user`) that can no longer read a root-owned file.
  keystore::MasterKeyKeeper master_key(log);
  // Every thread that touches a key runs on a locked, never-dumped stack
  // (base/locked_thread.h): the key parsers, the first load (on its own
  // thread, so this one's ordinary stack never holds a key) and the channels.
  lock_key_thread_stacks();
  std::optional<privsep::SignerService> service;
  {
    auto first_load = LockedThread::start([&] {
      service.emplace(
          [&args, &master_key](std::shared_ptr<const keystore::KeySnapshot> previous) {
            return load_keys(args, std::move(previous), master_key);
          },
          log);
    });
    if (!first_load) return refuse(first_load.error().message);
  }
  if (Status s = drop_privileges(cfg.value()); !s) return refuse(s.error().message);
  // Never dumpable, whatever core-dumps says: this process is the keys.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return refuse("prctl(PR_SET_DUMPABLE) failed");
  // Set after the uid change (which clears it); a daemon already gone is
  // seen by getppid.
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) != 0 || ::getppid() != daemon_pid) return 0;
  // Locked now, as `user` (root no longer locks regardless), before the
  // filter (which refuses getrlimit, so the message could not say the
  // limit): the channels and the most key parsers a LOAD starts (one per
  // core), so a budget too small refuses here, not at a reload.
  if (Status s = LockedThread::check_lockable(fds.size() + std::max(1u, std::thread::hardware_concurrency())); !s) {
    return refuse("cannot lock the channel and key-parsing threads' stacks: " + s.error().message +
                  "; LimitMEMLOCK= must cover secure-heap-size (" + std::to_string(secure_heap().size) + " bytes) plus " +
                  std::to_string(kKeyThreadStack >> 10) + " KiB per channel and per core");
  }
  const bool token = service->holds_token_keys();
  if (Status s = privsep::restrict_signer(token); !s) return refuse(s.error().message);
  Log::info("signer: serving " + std::to_string(fds.size()) + " channels, seccomp filter on (no network" +
            (token ? "; file writes allowed for the PKCS#11 module" : ", no file writes") + ")");
  std::vector<LockedThread> threads;
  std::mutex mu;
  std::condition_variable done;
  std::size_t serving = fds.size();
  for (int fd : fds) {
    auto t = LockedThread::start([&, fd] {
      service->serve(fd);
      std::lock_guard<std::mutex> lock(mu);
      --serving;
      done.notify_one();
    });
    // The channels started already serve until the daemon closes them: a
    // return would wait on them. Leave now; the daemon sees the signer gone.
    if (!t) std::_Exit(refuse(t.error().message));
    threads.push_back(std::move(t.value()));
  }
  // This thread writes the refusal log's summaries (privsep/signer_service.h)
  // when their interval ends, not only at the next refusal of their kind.
  {
    std::unique_lock<std::mutex> lock(mu);
    while (!done.wait_for(lock, std::chrono::seconds(1), [&] { return serving == 0; })) service->flush_log();
  }
  service->flush_log();
  for (auto& t : threads) t.join();
  return 0;
}

}  // namespace signet::milter
