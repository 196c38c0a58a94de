// base/locked_thread.h — a thread whose stack is locked, never-dumped memory.
//
// Why: a thread's stack is ordinary memory (glibc maps 8 MiB per thread):
// it can be swapped out and lands in a core dump. On a CPU with AVX-512
// IFMA, OpenSSL 3.0's RSA CRT signature (ossl_rsaz_mod_exp_avx512_x2)
// copies the CRT exponents dmp1/dmq1 into a buffer on the calling thread's
// stack for the length of one exponentiation (docs/key-custody.md, "Keys in
// memory"); key parsing does the like. In the signer process
// (privilege-separation = on) every thread that can touch a key runs here.
//
// LockedThread::start(fn, stack_bytes): maps a fresh stack of stack_bytes
// (rounded up to pages) with one PROT_NONE guard page below it (stacks grow
// down on x86_64 and aarch64; glibc adds no guard to a stack it is given),
// excludes it from core dumps (madvise(2) MADV_DONTDUMP), locks it in RAM
// (mlock(2): never swapped; the pages are faulted in now, so a thread never
// fails later for lack of memory) and runs fn() on a new thread on it
// (pthread_attr_setstack(3)). glibc keeps the thread's descriptor and its
// static TLS (thread_local data) at the top of that stack: locked too.
//   Fails, with nothing started and nothing left mapped or locked:
//   - mlock refused (EAGAIN/ENOMEM/EPERM: RLIMIT_MEMLOCK too small for a
//     process without CAP_IPC_LOCK; every locked byte of the process counts,
//     e.g. OpenSSL's secure heap): "cannot lock a 256 KiB thread stack in
//     memory: RLIMIT_MEMLOCK (8192 KiB, 8000 KiB locked already) is too
//     small; raise it (systemd: LimitMEMLOCK=)". Never falls back to an
//     unlocked stack: the caller refuses to go on;
//   - mmap, madvise (kernel < 3.4) or pthread_create refused: the call and
//     strerror(3).
//   fn must not throw (std::terminate, as for std::thread).
// join(): waits for fn to return, then zeroes what the thread wrote on its
//   stack (explicit_bzero(3) of the used part: the stack was all zeros when
//   mapped) and unmaps it (which unlocks it). The destructor joins a thread
//   not joined yet, so a stack is never unmapped under a running thread.
// stack_used(): after join(), how many bytes at the top of the stack were
//   written (the lowest non-zero byte: a zero-fill canary; TLS and
//   descriptor included): the figure the stack size was chosen by.
// check_lockable(count, stack_bytes): maps and locks `count` stacks at once,
//   then releases them: fails as start() would if that many more stacks do
//   not fit under RLIMIT_MEMLOCK now. For a process to refuse at start
//   rather than at a later reload that needs them.
//
// The process-wide choice, for code that runs in more than one process
// (keystore's key parsers run in the in-process daemon too):
// lock_key_thread_stacks() says that from now on start_key_thread(fn) in this
// process starts on a locked stack of kKeyThreadStack bytes; without it,
// start_key_thread starts an ordinary thread (glibc's default stack, as
// std::thread). Call it before any such thread starts (the signer process
// does, first thing); it cannot be undone.
//
// Thread safety: start/join of different LockedThreads from any thread;
// one LockedThread is used by one thread at a time (as std::thread).
#pragma once

#include <pthread.h>

#include <cstddef>
#include <functional>
#include <memory>

#include "base/result.h"

namespace signet {

// Measured (a zero-fill canary, on a CPU with AVX-512 IFMA, OpenSSL 3.0,
// integration.privsep_keys_only_in_the_signer_process): a signer channel
// thread signing RSA-2048 and Ed25519 under load 18 KiB, one that also
// served a LOAD (the configuration and key set read again) 74 KiB, the
// signer's first load 76 KiB, a key-parsing thread 7 to 10 KiB (TLS and
// glibc's thread descriptor included). Over three times the deepest: room
// for a PKCS#11 module's own frames and another OpenSSL.
inline constexpr std::size_t kKeyThreadStack = std::size_t{256} << 10;

class LockedThread {
 public:
  static Result<LockedThread> start(std::function<void()> fn, std::size_t stack_bytes = kKeyThreadStack);
  static Status check_lockable(std::size_t count, std::size_t stack_bytes = kKeyThreadStack);

  LockedThread(LockedThread&& other) noexcept;
  LockedThread& operator=(LockedThread&& other) noexcept;
  LockedThread(const LockedThread&) = delete;
  LockedThread& operator=(const LockedThread&) = delete;
  ~LockedThread();

  bool joinable() const { return state_ != nullptr; }
  void join();
  bool locked() const { return locked_; }  // false: an ordinary thread (start_key_thread without the choice)
  std::size_t stack_used() const { return used_; }

  // Tests only: `seen` is called by join() with the whole stack once it is
  // zeroed, just before it is unmapped (null: no call).
  using WipeObserver = void (*)(const unsigned char* stack, std::size_t size);
  static void observe_wipe_for_tests(WipeObserver seen);

 private:
  struct State;
  LockedThread() = default;
  static void* run(void* state) noexcept;
  friend Result<LockedThread> start_key_thread(std::function<void()> fn);

  std::unique_ptr<State> state_;
  bool locked_ = false;
  std::size_t used_ = 0;
};

void lock_key_thread_stacks();
bool key_thread_stacks_locked();
Result<LockedThread> start_key_thread(std::function<void()> fn);

}  // namespace signet
