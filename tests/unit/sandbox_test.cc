// The signer process's seccomp filter (privsep/sandbox.h) in a forked child:
// what the signer does in steady state still works (a read-only open, recv
// and send on a socketpair made before the filter, a thread, the heap,
// getrandom); what it never does fails with EPERM. Among the refused are
// calls the former deny list let through (fork, kill of another process,
// setuid, pipe2, uname): the filter is an allow list. And the signer's
// syslog lines still reach syslog through the socket connected before it.
#include "privsep/sandbox.h"

#include <sched.h>
#include <sys/mount.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <system_error>
#include <string>
#include <thread>
#include <vector>

#include "base/locked_thread.h"
#include "milter/log.h"
#include "test_util.h"

namespace signet::privsep {
namespace {

constexpr int kWorked = 0;
// A sanitizer build's filter also allows pipes (privsep/sandbox.cc).
#if defined(SIGNET_SANITIZER_RUNTIME)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

// errno of a call that returns -1 on failure, kWorked when it did not fail.
int outcome(long rc) { return rc < 0 ? errno : kWorked; }

// Runs restrict_signer(allow_file_writes) in a child, then each probe there;
// the child writes "name errno" lines to a pipe made before the filter.
// Returns probe name -> its errno (kWorked), plus "filter" for the call itself.
std::map<std::string, int> probe_in_child(bool allow_file_writes, const std::string& dir) {
  int out[2];
  EXPECT_EQ(::pipe(out), 0);
  int chan[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_SEQPACKET, 0, chan), 0);
  const std::string readable = dir + "/readable";
  const std::string writable = dir + "/written";
  if (FILE* f = std::fopen(readable.c_str(), "w")) {
    std::fputs("key material stand-in\n", f);
    std::fclose(f);
  }
  std::fflush(nullptr);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    std::string report;
    auto put = [&](const char* name, int e) { report += std::string(name) + " " + std::to_string(e) + "\n"; };
    put("filter", restrict_signer(allow_file_writes) ? kWorked : EINVAL);

    // What the signer does.
    const int fd = ::open(readable.c_str(), O_RDONLY | O_CLOEXEC);
    put("open read-only", outcome(fd));
    char buf[64];
    put("read", outcome(fd >= 0 ? ::read(fd, buf, sizeof buf) : -1));
    struct stat st;
    put("fstat", outcome(::fstat(fd, &st)));
    if (fd >= 0) ::close(fd);
    put("send on a channel", outcome(::send(chan[0], "SGNP", 4, MSG_NOSIGNAL)));
    put("recv on a channel", outcome(::recv(chan[1], buf, sizeof buf, 0)));
    int in_thread = -1;
    try {
      std::thread t([&] { in_thread = static_cast<int>(::getrandom(buf, 16, 0)); });
      t.join();
      put("thread", kWorked);
    } catch (const std::system_error& e) {
      put("thread", e.code().value());
    }
    put("getrandom in a thread", in_thread == 16 ? kWorked : EIO);
    // The channels and key parsers run on locked, never-dumped stacks
    // (base/locked_thread.h: mmap, mprotect, madvise, mlock, munmap),
    // started after the filter.
    put("check_lockable", LockedThread::check_lockable(2) ? kWorked : EIO);
    bool on_locked = false;
    auto locked = LockedThread::start([&] {
      const int here = 0;
      const auto m = signet::testing::mapping_of(&here);
      on_locked = m && m->flags.find(" lo ") != std::string::npos && m->flags.find(" dd ") != std::string::npos;
    });
    if (locked) locked->join();
    put("thread on a locked stack", locked ? kWorked : EIO);
    put("its stack is locked and never dumped", on_locked ? kWorked : EIO);
    std::vector<char> big(8 << 20, 'x');  // mmap'd by malloc
    put("8 MiB allocation", big[big.size() - 1] == 'x' ? kWorked : EIO);
    // abort()'s path: a signal raised at itself (tgkill), its handler set
    // (rt_sigaction) and returned from (rt_sigreturn).
    static volatile sig_atomic_t raised = 0;
    ::signal(SIGUSR1, [](int) { raised = 1; });
    put("raise a signal at itself", ::raise(SIGUSR1) == 0 && raised == 1 ? kWorked : EIO);
    // A LOAD's key parsers lower their own priority (keystore/snapshot.cc).
    put("setpriority nice 10", outcome(::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10)));
    put("setpriority nice -5", outcome(::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), -5)));
    put("clone3 (glibc falls back to clone)", outcome(::syscall(SYS_clone3, nullptr, 0)));

    // What it never does.
    put("socket AF_INET", outcome(::socket(AF_INET, SOCK_STREAM, 0)));
    put("socket AF_UNIX", outcome(::socket(AF_UNIX, SOCK_DGRAM, 0)));
    int pair[2];
    put("socketpair", outcome(::socketpair(AF_UNIX, SOCK_STREAM, 0, pair)));
    const int w = ::open(writable.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    put("open for writing", outcome(w));
    if (w >= 0) ::close(w);
    put("open read-write", outcome(::open(readable.c_str(), O_RDWR | O_CLOEXEC)));
    put("unlink", outcome(::unlink(readable.c_str())));
    char* const argv[] = {const_cast<char*>("/bin/true"), nullptr};
    put("execve", outcome(::execve("/bin/true", argv, nullptr)));
    // The former deny list allowed each of these.
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    if (child > 0) ::waitpid(child, nullptr, 0);
    put("fork", outcome(child));
    put("kill another process", outcome(::kill(parent, 0)));
    put("setuid", outcome(::setuid(::getuid())));
    int p[2];
    put("pipe2", outcome(::pipe2(p, O_CLOEXEC)));
    struct utsname u;
    put("uname", outcome(::uname(&u)));
    put("ptrace", outcome(::syscall(SYS_ptrace, 0, 0, 0, 0)));
    put("chroot", outcome(::chroot("/")));
    const ssize_t n = ::write(out[1], report.data(), report.size());
    ::_exit(n == static_cast<ssize_t>(report.size()) ? 0 : 3);
  }
  ::close(out[1]);
  ::close(chan[0]);
  ::close(chan[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  std::map<std::string, int> got;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t nl = text.find('\n', start);
    const std::string line = text.substr(start, nl - start);
    const std::size_t sp = line.rfind(' ');
    got[line.substr(0, sp)] = std::atoi(line.c_str() + sp + 1);
    start = nl + 1;
  }
  return got;
}

class SignerSandbox : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/sandbox_test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    ::unlink((dir_ + "/readable").c_str());
    ::unlink((dir_ + "/written").c_str());
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
};

TEST_F(SignerSandbox, AllowsWhatTheSignerDoesAndRefusesTheRest) {
  auto got = probe_in_child(false, dir_);
  ASSERT_EQ(got.count("filter"), 1u) << "the child reported nothing";
  EXPECT_EQ(got["filter"], kWorked);
  for (const char* works : {"open read-only", "read", "fstat", "send on a channel", "recv on a channel", "thread",
                            "getrandom in a thread", "check_lockable", "thread on a locked stack",
                            "its stack is locked and never dumped", "8 MiB allocation", "setpriority nice 10",
                            "raise a signal at itself"}) {
    EXPECT_EQ(got[works], kWorked) << works << ": " << std::strerror(got[works]);
  }
  EXPECT_EQ(got["clone3 (glibc falls back to clone)"], ENOSYS);
  for (const char* refused : {"socket AF_INET", "socket AF_UNIX", "socketpair", "open for writing", "open read-write",
                              "unlink", "execve", "fork", "kill another process", "setuid", "uname", "ptrace",
                              "chroot", "setpriority nice -5"}) {
    EXPECT_EQ(got[refused], EPERM) << refused << ": " << std::strerror(got[refused]);
  }
  EXPECT_EQ(got["pipe2"], kSanitized ? kWorked : EPERM) << "pipe2: " << std::strerror(got["pipe2"]);
  EXPECT_EQ(::access((dir_ + "/written").c_str(), F_OK), -1) << "the filtered child created a file";
  EXPECT_EQ(::access((dir_ + "/readable").c_str(), F_OK), 0) << "the filtered child unlinked a file";
}

TEST_F(SignerSandbox, FileWritesForAPkcs11ModuleKeepTheRestRefused) {
  auto got = probe_in_child(true, dir_);
  ASSERT_EQ(got.count("filter"), 1u) << "the child reported nothing";
  EXPECT_EQ(got["filter"], kWorked);
  for (const char* works : {"open read-only", "open for writing", "open read-write", "thread", "recv on a channel",
                            "thread on a locked stack", "its stack is locked and never dumped"}) {
    EXPECT_EQ(got[works], kWorked) << works << ": " << std::strerror(got[works]);
  }
  for (const char* refused : {"socket AF_INET", "socket AF_UNIX", "socketpair", "unlink", "execve", "fork",
                              "kill another process", "setuid", "ptrace", "chroot"}) {
    EXPECT_EQ(got[refused], EPERM) << refused << ": " << std::strerror(got[refused]);
  }
  EXPECT_EQ(got["pipe2"], kSanitized ? kWorked : EPERM) << "pipe2: " << std::strerror(got["pipe2"]);
}

#if defined(__x86_64__)
// The allow list names x86_64 syscall numbers; the same call through the
// i386 ABI (int 0x80: getpid is 20 there) must not slip past it, and kills
// the whole process, not only the serving thread that made it (which would
// leave the main thread running: exit 0 here).
TEST(SignerSandboxAbi, ASyscallThroughTheI386AbiKillsTheProcess) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    if (!restrict_signer(false)) ::_exit(2);
    std::thread t([] {
      long r = 20;  // __NR_getpid of i386
      asm volatile("int $0x80" : "+a"(r) : : "memory");
    });
    t.join();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS) << "status " << status;
}
#endif

// Log::init(false) connects to syslog before the filter (openlog with
// LOG_NDELAY, milter/log.h); the signer's lines after it go out on that
// socket. glibc only knows /dev/log: the child gets a /dev of its own (a
// mount namespace, so root only) with a datagram socket bound there.
TEST(SignerSandboxSyslog, LinesAfterTheFilterReachSyslogOnTheSocketOpenedBefore) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a mount namespace for its own /dev/log)";
  int out[2];
  ASSERT_EQ(::pipe(out), 0);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(out[0]);
    auto report = [&](const std::string& text) {
      (void)!::write(out[1], text.data(), text.size());
      ::_exit(0);
    };
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", "/dev", "tmpfs", 0, "size=64k") != 0) {
      report("skip: no mount namespace here");
    }
    const int syslogd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, "/dev/log");
    if (syslogd < 0 || ::bind(syslogd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) report("bind failed");
    signet::milter::Log::init(false);
    if (!restrict_signer(false)) report("filter refused");
    signet::milter::Log::warn("signer: a line after the filter");
    char buf[512];
    const ssize_t n = ::recv(syslogd, buf, sizeof buf, MSG_DONTWAIT);
    report(n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "nothing received: " + std::string(std::strerror(errno)));
  }
  ::close(out[1]);
  std::string text;
  char buf[1024];
  for (ssize_t n; (n = ::read(out[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<std::size_t>(n));
  ::close(out[0]);
  ::waitpid(pid, nullptr, 0);
  if (text.rfind("skip:", 0) == 0) GTEST_SKIP() << text;
  EXPECT_NE(text.find("signet-milter["), std::string::npos) << text;
  EXPECT_NE(text.find("warning: signer: a line after the filter"), std::string::npos) << text;
  EXPECT_EQ(text.rfind("<20>", 0), 0u) << "facility mail, priority warning: " << text;  // LOG_MAIL | LOG_WARNING
}

}  // namespace
}  // namespace signet::privsep
