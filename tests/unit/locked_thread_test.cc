// base/locked_thread.h: a thread started on a locked stack runs on a mapping
// /proc/self/smaps shows locked ("lo") and never dumped ("dd"), with a guard
// page below it; after join() what it wrote is zeroed and the mapping is
// gone; a stack RLIMIT_MEMLOCK cannot cover is refused with what to do (in a
// forked child without CAP_IPC_LOCK), never started on an ordinary stack.
#include "base/locked_thread.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <functional>
#include <string>
#include <thread>

#include "test_util.h"

namespace signet {
namespace {

using testing::Mapping;
using testing::mapping_of;

struct Seen {
  std::optional<Mapping> stack;  // the mapping holding a local of the thread
  std::optional<Mapping> below;  // the one just under it (the guard)
  const void* local = nullptr;
};

// The sanitizers' runtime (sanitizer_common, in ASan and TSan) intercepts
// mlock(2) and does nothing (a kernel deadlock with huge mappings; for ASan
// also its shadow), so under a sanitizer no stack is
// locked and RLIMIT_MEMLOCK refuses nothing: what these tests check cannot
// hold there: the sanitizer passes of make test report them skipped; the
// Release pass runs them.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define SKIP_WITHOUT_MLOCK() GTEST_SKIP() << "the sanitizer runtime's mlock interceptor locks nothing"
#else
#define SKIP_WITHOUT_MLOCK() (void)0
#endif

Seen look_from_inside() {
  volatile char local = 1;
  Seen s;
  s.local = const_cast<const char*>(&local);
  s.stack = mapping_of(s.local);
  if (s.stack) s.below = mapping_of(reinterpret_cast<const void*>(s.stack->lo - 1));
  return s;
}

TEST(LockedThread, RunsOnALockedNeverDumpedStackWithAGuardPage) {
  SKIP_WITHOUT_MLOCK();
  Seen seen;
  auto t = LockedThread::start([&] { seen = look_from_inside(); });
  ASSERT_TRUE(t.ok()) << t.error().message;
  EXPECT_TRUE(t->locked());
  t->join();
  ASSERT_TRUE(seen.stack) << "no mapping holds the thread's local";
  EXPECT_NE(seen.stack->flags.find(" lo "), std::string::npos) << "VmFlags:" << seen.stack->flags;
  EXPECT_NE(seen.stack->flags.find(" dd "), std::string::npos) << "VmFlags:" << seen.stack->flags;
  EXPECT_EQ(seen.stack->perms.substr(0, 2), "rw");
  EXPECT_EQ(seen.stack->hi - seen.stack->lo, kKeyThreadStack);
  ASSERT_TRUE(seen.below);
  EXPECT_EQ(seen.below->perms.substr(0, 3), "---") << "no guard page under the stack";
  // The same check on an ordinary thread fails: the test can tell.
  Seen plain;
  std::thread([&] { plain = look_from_inside(); }).join();
  ASSERT_TRUE(plain.stack);
  EXPECT_EQ(plain.stack->flags.find(" lo "), std::string::npos) << "VmFlags:" << plain.stack->flags;
}

// What join() saw of the stack it zeroed, before unmapping it.
struct Wiped {
  static inline const unsigned char* stack = nullptr;
  static inline std::size_t size = 0;
  static inline std::size_t nonzero = 0;
  static void observe(const unsigned char* s, std::size_t n) {
    stack = s;
    size = n;
    nonzero = 0;
    for (std::size_t i = 0; i < n; ++i) nonzero += s[i] != 0;
  }
};

TEST(LockedThread, WhatTheThreadWroteIsZeroedAndTheStackUnmappedAfterJoin) {
  LockedThread::observe_wipe_for_tests(&Wiped::observe);
  const void* local = nullptr;
  auto t = LockedThread::start([&] {
    // A key-sized secret on the stack, as the RSA CRT exponentiation leaves one.
    volatile unsigned char secret[4096];
    for (std::size_t i = 0; i < sizeof secret; ++i) secret[i] = static_cast<unsigned char>(0xA5 ^ i);
    local = const_cast<const unsigned char*>(secret);
  });
  ASSERT_TRUE(t.ok()) << t.error().message;
  t->join();
  LockedThread::observe_wipe_for_tests(nullptr);
  ASSERT_NE(Wiped::stack, nullptr) << "join() did not wipe";
  const auto at = reinterpret_cast<std::uintptr_t>(local);
  const auto lo = reinterpret_cast<std::uintptr_t>(Wiped::stack);
  EXPECT_TRUE(lo <= at && at < lo + Wiped::size) << "the secret was not on the locked stack";
  EXPECT_GE(t->stack_used(), 4096u);
  EXPECT_LT(t->stack_used(), Wiped::size);
  EXPECT_EQ(Wiped::nonzero, 0u) << "bytes left on the stack after join";
  EXPECT_FALSE(mapping_of(local)) << "the stack is still mapped after join";
  EXPECT_FALSE(t->joinable());
}

TEST(LockedThread, TheDestructorJoins) {
  std::atomic<bool> ran{false};
  {
    auto t = LockedThread::start([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      ran = true;
    });
    ASSERT_TRUE(t.ok()) << t.error().message;
  }
  EXPECT_TRUE(ran);
}

// In a forked child (memory locks are not inherited: VmLck starts at 0)
// with RLIMIT_MEMLOCK at 64 KiB and, as root, without CAP_IPC_LOCK (a uid
// change drops it): `probe` returns a line for the pipe.
std::string in_child_with_64k_memlock(const std::function<std::string()>& probe) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    const rlimit rl{64 << 10, 64 << 10};
    std::string line;
    if (::setrlimit(RLIMIT_MEMLOCK, &rl) != 0) {
      line = "setrlimit failed";
    } else if (::geteuid() == 0 && (::setresgid(65534, 65534, 65534) != 0 || ::setresuid(65534, 65534, 65534) != 0)) {
      line = "cannot drop root";
    } else {
      line = probe();
    }
    const bool written = ::write(out[1], line.data(), line.size()) == static_cast<ssize_t>(line.size());
    ::_exit(written ? 0 : 3);
  }
  ::close(out[1]);
  std::string text;
  char buf[1024];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  return text;
}

TEST(LockedThread, AStackBeyondRlimitMemlockIsRefusedWithWhatToDo) {
  SKIP_WITHOUT_MLOCK();
  const std::string got = in_child_with_64k_memlock([] {
    bool ran = false;
    auto big = LockedThread::start([&] { ran = true; });  // 256 KiB > 64 KiB
    if (big.ok()) return std::string("started a 256 KiB locked stack under a 64 KiB limit");
    if (ran) return std::string("fn ran");
    // A small one fits: the limit is what refused, not locking as such.
    auto small = LockedThread::start([&] { ran = true; }, 32 << 10);
    if (!small.ok()) return "a 32 KiB stack was refused too: " + small.error().message;
    small->join();
    return (ran ? "ok " : "small did not run ") + big.error().message;
  });
  EXPECT_EQ(got.rfind("ok ", 0), 0u) << got;
  EXPECT_NE(got.find("cannot lock a 256 KiB thread stack"), std::string::npos) << got;
  EXPECT_NE(got.find("RLIMIT_MEMLOCK (64 KiB"), std::string::npos) << got;
  EXPECT_NE(got.find("LimitMEMLOCK="), std::string::npos) << got;
}

TEST(LockedThread, CheckLockableCountsEveryStack) {
  SKIP_WITHOUT_MLOCK();
  const std::string got = in_child_with_64k_memlock([] {
    // Two 24 KiB stacks fit under 64 KiB, three do not.
    if (Status two = LockedThread::check_lockable(2, 24 << 10); !two) return "two refused: " + two.error().message;
    Status three = LockedThread::check_lockable(3, 24 << 10);
    if (three) return std::string("three 24 KiB stacks locked under a 64 KiB limit");
    // Released after the check: two fit again.
    if (Status again = LockedThread::check_lockable(2, 24 << 10); !again) return "not released: " + again.error().message;
    return "ok " + three.error().message;
  });
  EXPECT_EQ(got.rfind("ok ", 0), 0u) << got;
  EXPECT_NE(got.find("3 stacks of 24 KiB needed, 2 fit"), std::string::npos) << got;
}

TEST(LockedThread, KeyThreadsAreOrdinaryUntilTheProcessChoosesLockedStacks) {
  SKIP_WITHOUT_MLOCK();
  ASSERT_FALSE(key_thread_stacks_locked()) << "this test process must not have chosen";
  Seen seen;
  auto plain = start_key_thread([&] { seen = look_from_inside(); });
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  plain->join();
  EXPECT_FALSE(plain->locked());
  ASSERT_TRUE(seen.stack);
  EXPECT_EQ(seen.stack->flags.find(" lo "), std::string::npos) << "VmFlags:" << seen.stack->flags;
  // The choice cannot be undone: made in a child.
  const pid_t pid = ::fork();
  if (pid == 0) {
    lock_key_thread_stacks();
    Seen in_child;
    auto t = start_key_thread([&] { in_child = look_from_inside(); });
    const bool good = t.ok() && (t->join(), t->locked()) && in_child.stack &&
                      in_child.stack->flags.find(" lo ") != std::string::npos &&
                      in_child.stack->flags.find(" dd ") != std::string::npos;
    ::_exit(good ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "a key thread after the choice is not locked";
}

}  // namespace
}  // namespace signet
