// privsep/sandbox.h — what the signer process may still do once its keys are
// loaded: a seccomp filter (libseccomp) over the syscalls that would reach
// out of it.
//
// restrict_signer(allow_file_writes): installs, for this process and every
// thread it starts, a filter that fails with EPERM:
//   - the network: socket, socketpair, connect, bind, listen, accept(4)
//     (its channels to the milter are already open; sendmsg on them is allowed);
//   - file writes: open/openat/creat with O_WRONLY, O_RDWR, O_CREAT, O_TRUNC
//     or O_APPEND, openat2, and unlink, rename, mkdir, rmdir, link, symlink,
//     mknod, truncate, chmod, chown and their *at forms — unless
//     allow_file_writes (a PKCS#11 module: SoftHSM2 opens its token files
//     read-write and takes locks in them on every session), which keeps the
//     network rules only;
//   - running anything else or reaching another process: execve, execveat,
//     ptrace, process_vm_readv/writev.
// Everything else is allowed (reading key files on reload, threads, the
// secure heap), so the filter is a deny list: it does not make a compromised
// signer harmless, it takes away the network and the disk it would use.
// Sets no_new_privs first (a filter requires it without CAP_SYS_ADMIN).
// Fails when the kernel refuses the filter: the caller refuses to serve.
#pragma once

#include "base/result.h"

namespace signet::privsep {

Status restrict_signer(bool allow_file_writes);

}  // namespace signet::privsep
