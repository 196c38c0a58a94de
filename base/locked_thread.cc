#include "base/locked_thread.h"

#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace signet {
namespace {

std::atomic<bool> g_lock_key_threads{false};
std::atomic<LockedThread::WipeObserver> g_wipe_observer{nullptr};

std::size_t page_size() {
  const long p = ::sysconf(_SC_PAGESIZE);
  return p > 0 ? static_cast<std::size_t>(p) : 4096;
}

std::string kib(std::size_t bytes) { return std::to_string(bytes >> 10) + " KiB"; }

// VmLck of /proc/self/status in KiB; -1 when it cannot be read (the signer's
// seccomp filter allows the read-only open).
long locked_kib() {
  FILE* f = std::fopen("/proc/self/status", "re");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (std::fgets(line, sizeof line, f)) {
    if (std::sscanf(line, "VmLck: %ld kB", &kb) == 1) break;
  }
  std::fclose(f);
  return kb;
}

// What to say when mlock refuses: the limit and what is locked already, as
// far as they can be read (getrlimit is not on the signer's seccomp list;
// without it the figure is left out, never guessed).
std::string lock_refused(std::size_t bytes, int err) {
  std::string limit;
  rlimit rl{};
  if (::getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    limit = kib(static_cast<std::size_t>(rl.rlim_cur));
  }
  if (const long held = locked_kib(); held >= 0) {
    limit += (limit.empty() ? "" : ", ") + std::to_string(held) + " KiB locked already";
  }
  if (!limit.empty()) limit = " (" + limit + ")";
  return "cannot lock a " + kib(bytes) + " thread stack in memory (mlock: " + std::strerror(err) +
         "): RLIMIT_MEMLOCK" + limit + " is too small; raise it (systemd: LimitMEMLOCK=)";
}

// One stack: [base, base + guard) PROT_NONE, then `size` bytes locked and
// never dumped. Unmapped (after zeroing what was written) when destroyed.
class Stack {
 public:
  static Result<Stack> map(std::size_t bytes) {
    const std::size_t page = page_size();
    const std::size_t size = std::max<std::size_t>((bytes + page - 1) / page * page, PTHREAD_STACK_MIN);
    Stack s;
    // MAP_STACK: no transparent huge page (Linux 6.7+), so exactly `size`
    // is locked.
    void* p = ::mmap(nullptr, page + size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (p == MAP_FAILED) return permanent_error("cannot map a " + kib(size) + " thread stack: " + std::strerror(errno));
    s.base_ = static_cast<unsigned char*>(p);
    s.total_ = page + size;
    if (::mprotect(s.base_, page, PROT_NONE) != 0) {
      return permanent_error(std::string("cannot make a thread stack's guard page: ") + std::strerror(errno));
    }
    // MADV_DONTDUMP (Linux 3.4): never in a core, whatever core-dumps says.
    if (::madvise(s.stack(), size, MADV_DONTDUMP) != 0) {
      return permanent_error(std::string("cannot exclude a thread stack from core dumps (madvise MADV_DONTDUMP): ") +
                             std::strerror(errno));
    }
    if (::mlock(s.stack(), size) != 0) return permanent_error(lock_refused(size, errno));
    return s;
  }

  Stack() = default;
  Stack(Stack&& o) noexcept : base_(o.base_), total_(o.total_) { o.base_ = nullptr; }
  Stack& operator=(Stack&& o) noexcept {
    std::swap(base_, o.base_);
    std::swap(total_, o.total_);
    return *this;
  }
  ~Stack() {
    if (base_) ::munmap(base_, total_);  // also unlocks (mlock(2))
  }

  unsigned char* stack() const { return base_ + page_size(); }
  std::size_t size() const { return total_ - page_size(); }

  // The bytes written from the top down to the lowest non-zero one (the
  // pages were zero when mapped), then zeroes them. REQUIRES: no thread runs
  // on it.
  std::size_t wipe() {
    unsigned char* lo = stack();
    unsigned char* const hi = lo + size();
    // Word by word from the bottom: the stack is page-aligned.
    while (lo < hi && *reinterpret_cast<const std::uint64_t*>(lo) == 0) lo += sizeof(std::uint64_t);
    const std::size_t used = static_cast<std::size_t>(hi - lo);
    ::explicit_bzero(lo, used);
    return used;
  }

 private:
  unsigned char* base_ = nullptr;
  std::size_t total_ = 0;
};

}  // namespace

struct LockedThread::State {
  std::function<void()> fn;
  Stack stack;  // empty: an ordinary thread on glibc's stack
  pthread_t thread{};
};

void* LockedThread::run(void* arg) noexcept {
  static_cast<State*>(arg)->fn();
  return nullptr;
}

Result<LockedThread> LockedThread::start(std::function<void()> fn, std::size_t stack_bytes) {
  auto state = std::make_unique<State>();
  state->fn = std::move(fn);
  auto stack = Stack::map(stack_bytes);
  if (!stack) return stack.error();
  state->stack = std::move(stack.value());
  pthread_attr_t attr;
  if (const int e = ::pthread_attr_init(&attr); e != 0) {
    return permanent_error(std::string("pthread_attr_init: ") + std::strerror(e));
  }
  int e = ::pthread_attr_setstack(&attr, state->stack.stack(), state->stack.size());
  if (e == 0) e = ::pthread_create(&state->thread, &attr, run, state.get());
  ::pthread_attr_destroy(&attr);
  if (e != 0) return permanent_error(std::string("cannot start a thread on a locked stack: ") + std::strerror(e));
  LockedThread t;
  t.state_ = std::move(state);
  t.locked_ = true;
  return t;
}

Status LockedThread::check_lockable(std::size_t count, std::size_t stack_bytes) {
  std::vector<Stack> held;
  held.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto s = Stack::map(stack_bytes);
    if (!s) {
      return permanent_error(s.error().message + " (" + std::to_string(count) + " stacks of " + kib(stack_bytes) +
                             " needed, " + std::to_string(i) + " fit)");
    }
    held.push_back(std::move(s.value()));
  }
  return Ok{};
}

LockedThread::LockedThread(LockedThread&& other) noexcept
    : state_(std::move(other.state_)), locked_(other.locked_), used_(other.used_) {}

LockedThread& LockedThread::operator=(LockedThread&& other) noexcept {
  if (this != &other) {
    if (joinable()) join();
    state_ = std::move(other.state_);
    locked_ = other.locked_;
    used_ = other.used_;
  }
  return *this;
}

LockedThread::~LockedThread() {
  if (joinable()) join();
}

void LockedThread::join() {
  if (!state_) return;
  ::pthread_join(state_->thread, nullptr);
  if (locked_) {
    used_ = state_->stack.wipe();
    if (const WipeObserver seen = g_wipe_observer.load()) seen(state_->stack.stack(), state_->stack.size());
  }
  state_.reset();  // unmaps the stack
}

void LockedThread::observe_wipe_for_tests(WipeObserver seen) { g_wipe_observer.store(seen); }

void lock_key_thread_stacks() { g_lock_key_threads.store(true); }
bool key_thread_stacks_locked() { return g_lock_key_threads.load(); }

Result<LockedThread> start_key_thread(std::function<void()> fn) {
  if (key_thread_stacks_locked()) return LockedThread::start(std::move(fn));
  auto state = std::make_unique<LockedThread::State>();
  state->fn = std::move(fn);
  if (const int e = ::pthread_create(&state->thread, nullptr, LockedThread::run, state.get()); e != 0) {
    return permanent_error(std::string("cannot start a thread: ") + std::strerror(e));
  }
  LockedThread t;
  t.state_ = std::move(state);
  return t;
}

}  // namespace signet
