#include "privsep/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>
#include <initializer_list>
#include <memory>
#include <string>

namespace signet::privsep {
namespace {

// The open(2) flag bits that write or create: a read-only open has none.
constexpr unsigned kWriteFlags = O_WRONLY | O_RDWR | O_CREAT | O_TRUNC | O_APPEND;

// Argument number `arg` has `value` in the bits of `mask`. Aggregates, not
// libseccomp's SCMP_A0.. macros: those are C compound literals, which clang
// (the fuzz build, -Werror) refuses in C++.
scmp_arg_cmp masked(unsigned arg, scmp_datum_t mask, scmp_datum_t value) {
  return scmp_arg_cmp{arg, SCMP_CMP_MASKED_EQ, mask, value};
}
// An int argument equals v (only its 32 bits: the register's upper half is
// not the caller's).
scmp_arg_cmp int_is(unsigned arg, int v) { return masked(arg, 0xFFFFFFFFu, static_cast<unsigned>(v)); }

class Filter {
 public:
  Filter() : ctx_(seccomp_init(SCMP_ACT_ERRNO(EPERM)), seccomp_release) {}
  bool made() const { return ctx_ != nullptr; }
  int error() const { return rc_; }
  scmp_filter_ctx get() const { return ctx_.get(); }

  // Each syscall allowed whatever its arguments. A name the architecture
  // does not have (open on aarch64) is a pseudo-number libseccomp ignores.
  void allow(std::initializer_list<int> syscalls) {
    for (int nr : syscalls) add(SCMP_ACT_ALLOW, nr, {});
  }
  void add(std::uint32_t action, int nr, std::initializer_list<scmp_arg_cmp> args) {
    if (rc_ != 0) return;
    rc_ = seccomp_rule_add_array(ctx_.get(), action, nr, static_cast<unsigned>(args.size()),
                                 args.size() ? args.begin() : nullptr);
  }

 private:
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx_;
  int rc_ = 0;
};

}  // namespace

Status restrict_signer(bool allow_file_writes) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return permanent_error(std::string("signer process: prctl(PR_SET_NO_NEW_PRIVS) failed: ") + std::strerror(errno));
  }
  Filter f;
  if (!f.made()) return permanent_error("signer process: seccomp_init failed");
  // A syscall through another ABI (int 0x80 or x32 on x86_64) has other
  // numbers than the ones allowed here: the whole process dies (SIGSYS), not
  // only the thread (libseccomp's default), so no channel is left unanswered.
  if (const int r = seccomp_attr_set(f.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS); r != 0) {
    return permanent_error(std::string("signer process: seccomp_attr_set failed: ") + std::strerror(-r));
  }

  // The channels (blocking recv/send, privsep/signer_service.cc) and the log:
  // write(2) on stderr, or send on the syslog socket openlog(LOG_NDELAY)
  // connected before the filter (milter/log.h).
  f.allow({SCMP_SYS(recvfrom), SCMP_SYS(recvmsg), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(write),
           SCMP_SYS(writev), SCMP_SYS(close)});
  // Memory: malloc, OpenSSL, thread stacks; mlock for libsodium's
  // sodium_malloc of the master key, made anew on each LOAD of sealed keys,
  // and for the threads' locked stacks (base/locked_thread.h: mmap, mprotect
  // of the guard page, madvise MADV_DONTDUMP, mlock, munmap; nothing more).
  f.allow({SCMP_SYS(brk), SCMP_SYS(mmap), SCMP_SYS(munmap), SCMP_SYS(mprotect), SCMP_SYS(madvise),
           SCMP_SYS(mremap), SCMP_SYS(mlock), SCMP_SYS(mlock2), SCMP_SYS(munlock)});
  // Threads: one per channel, started after the filter. clone only with
  // CLONE_THREAD (a thread, never a process: no fork). clone3 passes its
  // flags in a struct seccomp cannot read, so it is answered ENOSYS, on
  // which glibc's pthread_create falls back to clone (glibc
  // sysdeps/unix/sysv/linux/clone-internal.c).
  f.add(SCMP_ACT_ALLOW, SCMP_SYS(clone), {masked(0, CLONE_THREAD, CLONE_THREAD)});
  f.add(SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), {});
  f.allow({SCMP_SYS(futex), SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(sched_yield), SCMP_SYS(exit),
           SCMP_SYS(exit_group), SCMP_SYS(getpid), SCMP_SYS(gettid), SCMP_SYS(getppid)});
  // A LOAD's key-parsing threads lower their own priority (keystore/
  // snapshot.cc: nice 10, so signing goes first); only to exactly that.
  f.add(SCMP_ACT_ALLOW, SCMP_SYS(setpriority), {int_is(0, PRIO_PROCESS), int_is(2, 10)});
  // Signals: pthread_create blocks them around clone; returns from handlers;
  // abort() raising SIGABRT at its own process, and no other (tgkill's first
  // argument is the thread group).
  f.allow({SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(rt_sigaction)});
  f.add(SCMP_ACT_ALLOW, SCMP_SYS(tgkill), {int_is(0, ::getpid())});
  // Time (log timestamps, key windows) and randomness (OpenSSL's DRBG).
  f.allow({SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time), SCMP_SYS(nanosleep),
           SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom)});
  // A LOAD re-reads the configuration, the key directory and its manifest,
  // sealed files and the master key, as the unprivileged user.
  f.allow({SCMP_SYS(read), SCMP_SYS(pread64), SCMP_SYS(readv), SCMP_SYS(lseek), SCMP_SYS(fstat), SCMP_SYS(newfstatat),
           SCMP_SYS(statx), SCMP_SYS(stat), SCMP_SYS(lstat), SCMP_SYS(getdents64), SCMP_SYS(readlink),
           SCMP_SYS(readlinkat), SCMP_SYS(access), SCMP_SYS(faccessat), SCMP_SYS(faccessat2), SCMP_SYS(getuid),
           SCMP_SYS(geteuid), SCMP_SYS(getgid), SCMP_SYS(getegid)});
  for (int cmd : {F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD_CLOEXEC}) {
    f.add(SCMP_ACT_ALLOW, SCMP_SYS(fcntl), {int_is(1, cmd)});
  }
  if (!allow_file_writes) {
    // Read-only opens: open(path, flags), openat(dir, path, flags) with no
    // bit of kWriteFlags. openat2 (flags in a struct) and creat stay out.
    f.add(SCMP_ACT_ALLOW, SCMP_SYS(open), {masked(1, kWriteFlags, 0)});
    f.add(SCMP_ACT_ALLOW, SCMP_SYS(openat), {masked(2, kWriteFlags, 0)});
  } else {
    // A PKCS#11 module in the process. SoftHSM2 2.6 (file object store)
    // under strace -f in integration.pkcs11_keys_sign_through_postfix_privsep:
    // on every session it opens its token files O_RDWR|O_CREAT, takes
    // fcntl locks in them, and rewrites one with O_WRONLY|O_CREAT|O_TRUNC,
    // write and ftruncate. Nothing more: no unlink, rename, fsync or flock.
    f.allow({SCMP_SYS(open), SCMP_SYS(openat), SCMP_SYS(ftruncate)});
    for (int cmd : {F_GETLK, F_SETLK, F_SETLKW}) f.add(SCMP_ACT_ALLOW, SCMP_SYS(fcntl), {int_is(1, cmd)});
  }
#if defined(SIGNET_SANITIZER_RUNTIME)
  // Sanitizer builds only (make test's ASan/UBSan and TSan passes, fuzz):
  // the runtime asks whether memory is readable by writing it into a pipe
  // (sanitizer_common's IsAccessibleMemoryRange, which UBSan's vptr check
  // calls on every std::thread start: refused, it reports an invalid vptr and
  // the signer dies), asks each new thread's stack through
  // pthread_getattr_np (sched_getaffinity), gives each an alternate signal
  // stack (sigaltstack), reads limits and names threads (prlimit64,
  // getrlimit, prctl), and asks whether stderr is a terminal before a report.
  f.allow({SCMP_SYS(pipe), SCMP_SYS(pipe2), SCMP_SYS(sched_getaffinity), SCMP_SYS(sigaltstack), SCMP_SYS(prctl),
           SCMP_SYS(prlimit64), SCMP_SYS(getrlimit), SCMP_SYS(mincore)});
  f.add(SCMP_ACT_ALLOW, SCMP_SYS(ioctl), {int_is(1, TCGETS)});
#endif
  if (f.error() != 0) {
    return permanent_error(std::string("signer process: a seccomp rule was refused: ") + std::strerror(-f.error()));
  }
  if (const int r = seccomp_load(f.get()); r != 0) {
    return permanent_error(std::string("signer process: the seccomp filter was refused by the kernel: ") + std::strerror(-r));
  }
  return Ok{};
}

}  // namespace signet::privsep
