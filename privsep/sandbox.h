// privsep/sandbox.h — what the signer process may still do once its keys are
// loaded: a seccomp filter (libseccomp) that allows the syscalls the signer
// makes in steady state and refuses every other one.
//
// restrict_signer(allow_file_writes): installs, for this process and every
// thread it starts later, an ALLOW list; anything not on it fails with
// EPERM (seccomp(2) SECCOMP_RET_ERRNO). Allowed:
//   - its channels and its log: recvfrom/recvmsg, sendto/sendmsg on the
//     sockets it already holds (it cannot make another), write/writev
//     (stderr), close;
//   - memory: brk, mmap, munmap, mprotect, madvise, mremap, and mlock,
//     mlock2, munlock (libsodium locks the master key, read anew on a LOAD of
//     sealed keys; the secure heap itself is locked before the filter; the
//     channel threads' and a LOAD's key parsers' stacks are mapped, given a
//     PROT_NONE guard page, MADV_DONTDUMP and mlock'd after it, and zeroed
//     and unmapped when the thread ends: base/locked_thread.h);
//   - threads (one per channel, started after the filter, and a LOAD's key
//     parsers): clone only with CLONE_THREAD (never a new process), futex,
//     set_robust_list, rseq, sched_yield, exit, exit_group,
//     getpid/gettid/getppid; clone3 answers ENOSYS (its flags are behind a
//     pointer seccomp cannot read), on which glibc falls back to clone;
//     setpriority(PRIO_PROCESS, _, 10) only (the parsers' nice 10,
//     keystore/snapshot.cc);
//   - signals: rt_sigprocmask, rt_sigreturn, rt_sigaction, and tgkill to its
//     own process only (abort());
//   - time and randomness: clock_gettime, gettimeofday, time, nanosleep,
//     clock_nanosleep, getrandom;
//   - what a LOAD reads (configuration, key directory, manifest, sealed
//     files, master key): open/openat without O_WRONLY, O_RDWR, O_CREAT,
//     O_TRUNC or O_APPEND, read, pread64, readv, lseek, fstat, newfstatat,
//     statx, stat, lstat, getdents64, readlink(at), access, faccessat(2),
//     getuid/geteuid/getgid/getegid, fcntl F_GETFD/F_SETFD/F_GETFL/F_SETFL/
//     F_DUPFD_CLOEXEC;
//   - with allow_file_writes (a PKCS#11 module in the process; what SoftHSM2
//     2.6 does on every session, seen under strace: it opens its token files
//     O_RDWR|O_CREAT and O_WRONLY|O_CREAT|O_TRUNC, locks them, rewrites
//     them): open/openat with any flags, ftruncate, fcntl F_GETLK/F_SETLK/
//     F_SETLKW. Still refused there: unlink, rename, mkdir, chmod and the
//     rest; a module that needs the network (a network HSM's) cannot work.
// Not on the list, so refused in both modes: the network (socket,
// socketpair, connect, bind, listen, accept), exec, fork, ptrace,
// process_vm_*, kill of another process, set*id, pipe, mount, chroot,
// unshare, uname, and every syscall not named above. A syscall through
// another ABI (int 0x80, x32 on x86_64) kills the process with SIGSYS.
// EPERM rather than killing the process: a call missed here (a new glibc,
// OpenSSL or SoftHSM2 path) fails as an error its caller reports (a LOAD or
// a signature REFUSED, a log line lost) instead of killing the one process
// that holds the keys mid-signature; to code run by an attacker the two are
// the same refusal. Syslog: Log::init (milter/log.h) connected its socket
// before the filter (openlog LOG_NDELAY), and lines go out on it with
// sendto; if syslogd restarts, glibc's reconnect (socket + connect) is
// refused and the signer's syslog lines are lost until the signer restarts
// (a socket + connect to any unix socket would be a way out of the process).
// A PKCS#11 module's own syslog(3) calls share that socket; with
// log = stderr they are refused (socket) and dropped by glibc.
// Sanitizer builds (SIGNET_SANITIZER_RUNTIME: make test's ASan/UBSan and
// TSan passes, the fuzz build) also allow what the sanitizer runtime does in
// the signer: pipe/pipe2 (it probes memory through a pipe: UBSan's vptr
// check, on every std::thread start), sched_getaffinity and sigaltstack (each
// new thread's stack and signal stack), prlimit64/getrlimit, prctl, mincore
// and ioctl(TCGETS) (isatty before a report). Never in a Release build.
// Sets no_new_privs first (a filter requires it without CAP_SYS_ADMIN).
// Fails when libseccomp or the kernel refuses the filter: the caller refuses
// to serve.
#pragma once

#include "base/result.h"

namespace signet::privsep {

Status restrict_signer(bool allow_file_writes);

}  // namespace signet::privsep
