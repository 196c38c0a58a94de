#include "privsep/sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <seccomp.h>
#include <sys/prctl.h>

#include <cstring>
#include <memory>
#include <string>

// libseccomp's SCMP_A1/SCMP_A2 expand to C compound literals, which clang
// (the fuzz build, -Werror) refuses as an extension in C++; g++ accepts them.
#if defined(__clang__)
#pragma clang diagnostic ignored "-Wc99-extensions"
#endif

namespace signet::privsep {

Status restrict_signer(bool allow_file_writes) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return permanent_error(std::string("signer process: prctl(PR_SET_NO_NEW_PRIVS) failed: ") + std::strerror(errno));
  }
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_ALLOW), seccomp_release);
  if (!ctx) return permanent_error("signer process: seccomp_init failed");
  const std::uint32_t deny = SCMP_ACT_ERRNO(EPERM);
  int rc = 0;
  auto rule = [&](int nr) {
    if (rc == 0) rc = seccomp_rule_add(ctx.get(), deny, nr, 0);
  };
  for (int nr : {SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
                 SCMP_SYS(accept), SCMP_SYS(accept4), SCMP_SYS(execve), SCMP_SYS(execveat), SCMP_SYS(ptrace),
                 SCMP_SYS(process_vm_readv), SCMP_SYS(process_vm_writev)}) {
    rule(nr);
  }
  if (!allow_file_writes) {
    for (int nr : {SCMP_SYS(creat), SCMP_SYS(openat2), SCMP_SYS(unlink), SCMP_SYS(unlinkat), SCMP_SYS(rename),
                   SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(mkdir), SCMP_SYS(mkdirat), SCMP_SYS(rmdir),
                   SCMP_SYS(link), SCMP_SYS(linkat), SCMP_SYS(symlink), SCMP_SYS(symlinkat), SCMP_SYS(mknod),
                   SCMP_SYS(mknodat), SCMP_SYS(truncate), SCMP_SYS(chmod), SCMP_SYS(fchmodat), SCMP_SYS(chown),
                   SCMP_SYS(lchown), SCMP_SYS(fchownat)}) {
      rule(nr);
    }
    // open(path, flags) and openat(dir, path, flags): a flag bit that writes
    // or creates is denied, one rule per bit (a masked compare tests equality).
    for (unsigned flag : {O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND}) {
      if (rc == 0) rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(open), 1, SCMP_A1(SCMP_CMP_MASKED_EQ, flag, flag));
      if (rc == 0) rc = seccomp_rule_add(ctx.get(), deny, SCMP_SYS(openat), 1, SCMP_A2(SCMP_CMP_MASKED_EQ, flag, flag));
    }
  }
  if (rc != 0) return permanent_error(std::string("signer process: a seccomp rule was refused: ") + std::strerror(-rc));
  if (const int r = seccomp_load(ctx.get()); r != 0) {
    return permanent_error(std::string("signer process: the seccomp filter was refused by the kernel: ") + std::strerror(-r));
  }
  return Ok{};
}

}  // namespace signet::privsep
