// The TCP delayed-ACK stall, fixed on the milter's side.
//
// Postfix writes milter commands that need no reply (macros, and headers with
// SMFIP_NR_HDR) back to back. With Nagle on the MTA's socket, the second small
// write waits until the first is ACKed, and a receiver that has nothing to send
// delays its ACK (40 ms on Linux): one SMTP session then signs ~11 messages/s
// over inet: against ~120/s over unix: (measured with OpenDKIM).
//
// libmilter offers no hook on its sockets, so signet-milter links libmilter.a
// statically with -Wl,--wrap=accept,--wrap=read (milter/CMakeLists.txt):
//   accept(): each new TCP connection gets TCP_NODELAY (our replies are never
//             held back) and TCP_QUICKACK;
//   read():   TCP_QUICKACK is re-armed after every read, since Linux clears it
//             once the connection looks interactive again (tcp(7)).
// Unix-socket connections are recognised once at accept and left alone.
// While draining for shutdown, accept() also refuses new connections.
//
// Idle connections: libmilter's own timeout does not cover a connection its
// worker pool is waiting on, so an MTA that opens a message and never ends it
// would hold the connection and its memory forever. Every accepted connection
// is tracked (accept, read and close are wrapped); close_idle_connections()
// shuts down those that sent nothing for `timeout` seconds, and libmilter then
// sees the end of the stream and frees the session (xxfi_abort, xxfi_close).
// SIGNET_TCP_TUNING=off in the environment turns this off: only for tests and
// benchmarks that show the stall this prevents.
//
// A syscall per read (issue 12): libmilter reads each command with poll(),
// read() of its 5-byte head, poll() and read() of its data — four syscalls a
// command, and Postfix writes a message's macros, headers and end of header
// back to back, a dozen commands at once. So each accepted connection (unix
// or TCP) gets a small read-ahead buffer (kReadAhead bytes, allocated at its
// first read, freed at close): a read takes what the kernel has, up to the
// buffer, and the commands after it are served from the buffer; poll() on a
// connection with buffered bytes returns at once (-Wl,--wrap=poll: libmilter's
// per-command poll and its worker pool's poll over idle connections both see
// them readable). A read of at least kReadAhead bytes with nothing buffered
// (a body chunk) goes straight into libmilter's buffer: no copy.
#include "milter/conn_wrap.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

#include "milter/lifecycle.h"

extern "C" {
ssize_t __real_read(int fd, void* buf, size_t count);
int __real_accept(int fd, struct sockaddr* addr, socklen_t* len);
int __real_close(int fd);
int __real_poll(struct pollfd* fds, nfds_t nfds, int timeout);
ssize_t __wrap_read(int fd, void* buf, size_t count);
int __wrap_poll(struct pollfd* fds, nfds_t nfds, int timeout);
int __wrap_accept(int fd, struct sockaddr* addr, socklen_t* len);
int __wrap_close(int fd);
}

namespace {

constexpr int kTrackedFds = 65536;
std::atomic<bool> g_tcp[kTrackedFds];  // fd -> accepted TCP milter connection
// fd -> when the MTA last sent something (monotonic milliseconds); 0: not an
// open accepted connection. Milliseconds, not seconds: in whole seconds a
// 1.5 s pause could be counted as 2 s and cut a slow but steady MTA off at a
// 2 s timeout.
std::atomic<std::int64_t> g_last[kTrackedFds];

// The read-ahead buffer of an accepted connection. One thread reads a
// connection at a time (libmilter hands a session from thread to thread
// through its own locks); `avail` is atomic for the worker pool's poll(),
// which looks at idle connections from another thread.
constexpr std::size_t kReadAhead = 16384;
struct ReadAhead {
  std::size_t off = 0;
  std::atomic<std::size_t> avail{0};
  char data[kReadAhead];
};
std::atomic<ReadAhead*> g_ahead[kTrackedFds];

bool buffered(int fd) {
  if (fd < 0 || fd >= kTrackedFds) return false;
  const ReadAhead* ra = g_ahead[fd].load(std::memory_order_acquire);
  return ra && ra->avail.load(std::memory_order_relaxed) > 0;
}

std::int64_t now_ms() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000 + 1;  // never 0
}

bool tuning_enabled() {
  static const bool on = [] {
    const char* v = std::getenv("SIGNET_TCP_TUNING");
    return !(v && std::strcmp(v, "off") == 0);
  }();
  return on;
}

void quickack(int fd) {
  int one = 1;
  (void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &one, sizeof one);
}

}  // namespace

extern "C" int __wrap_accept(int fd, struct sockaddr* addr, socklen_t* len) {
  const int c = __real_accept(fd, addr, len);
  if (c < 0) return c;
  if (signet::milter::draining()) {
    // Shutting down (milter/lifecycle.h): refuse new connections; libmilter
    // takes ECONNABORTED as "try again" and keeps serving open ones.
    ::close(c);
    errno = ECONNABORTED;
    return -1;
  }
  if (c < kTrackedFds) g_last[c].store(now_ms(), std::memory_order_relaxed);
  sockaddr_storage local{};
  socklen_t local_len = sizeof local;
  if (!tuning_enabled()) return c;
  const bool tcp = getsockname(c, reinterpret_cast<sockaddr*>(&local), &local_len) == 0 &&
                   (local.ss_family == AF_INET || local.ss_family == AF_INET6);
  if (tcp) {
    int one = 1;
    (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    quickack(c);
  }
  if (c < kTrackedFds) g_tcp[c].store(tcp, std::memory_order_relaxed);
  return c;
}

namespace {

ssize_t real_read_noted(int fd, void* buf, size_t count) {
  const ssize_t n = __real_read(fd, buf, count);
  if (n > 0 && fd >= 0 && fd < kTrackedFds) {
    if (g_last[fd].load(std::memory_order_relaxed) != 0) g_last[fd].store(now_ms(), std::memory_order_relaxed);
    if (g_tcp[fd].load(std::memory_order_relaxed)) quickack(fd);
  }
  return n;
}

}  // namespace

extern "C" ssize_t __wrap_read(int fd, void* buf, size_t count) {
  // Only accepted milter connections are buffered (g_last set at accept).
  if (fd < 0 || fd >= kTrackedFds || count == 0 || g_last[fd].load(std::memory_order_relaxed) == 0) {
    return real_read_noted(fd, buf, count);
  }
  ReadAhead* ra = g_ahead[fd].load(std::memory_order_acquire);
  std::size_t avail = ra ? ra->avail.load(std::memory_order_relaxed) : 0;
  if (avail == 0) {
    if (count >= kReadAhead) return real_read_noted(fd, buf, count);  // large: no copy
    if (!ra) {
      ra = new (std::nothrow) ReadAhead();
      if (!ra) return real_read_noted(fd, buf, count);
      g_ahead[fd].store(ra, std::memory_order_release);
    }
    const ssize_t n = real_read_noted(fd, ra->data, kReadAhead);
    if (n <= 0) return n;  // EOF or error, errno as read(2) set it
    ra->off = 0;
    avail = static_cast<std::size_t>(n);
  }
  const std::size_t k = avail < count ? avail : count;
  std::memcpy(buf, ra->data + ra->off, k);
  ra->off += k;
  ra->avail.store(avail - k, std::memory_order_relaxed);
  return static_cast<ssize_t>(k);
}

extern "C" int __wrap_poll(struct pollfd* fds, nfds_t nfds, int timeout) {
  nfds_t ready = 0;
  for (nfds_t i = 0; i < nfds; ++i) ready += (fds[i].events & POLLIN) && buffered(fds[i].fd);
  if (ready == 0) return __real_poll(fds, nfds, timeout);
  if (nfds == 1) {  // libmilter's per-command poll: no syscall at all
    fds[0].revents = POLLIN;
    return 1;
  }
  // Some are readable already: the others' state now, without waiting.
  int n = __real_poll(fds, nfds, 0);
  if (n < 0) n = 0;
  for (nfds_t i = 0; i < nfds; ++i) {
    if ((fds[i].events & POLLIN) && buffered(fds[i].fd)) {
      if (fds[i].revents == 0) ++n;
      fds[i].revents |= POLLIN;
    }
  }
  return n;
}

extern "C" int __wrap_close(int fd) {
  if (fd >= 0 && fd < kTrackedFds) {
    g_last[fd].store(0, std::memory_order_relaxed);  // before the number can be reused
    g_tcp[fd].store(false, std::memory_order_relaxed);
    delete g_ahead[fd].exchange(nullptr, std::memory_order_acq_rel);
  }
  return __real_close(fd);
}

int signet::milter::close_idle_connections(int timeout_seconds) {
  const std::int64_t now = now_ms();
  int closed = 0;
  for (int fd = 0; fd < kTrackedFds; ++fd) {
    const std::int64_t last = g_last[fd].load(std::memory_order_relaxed);
    if (last == 0 || now - last < std::int64_t{timeout_seconds} * 1000) continue;
    // Shut down, not closed: the descriptor stays libmilter's to close.
    if (::shutdown(fd, SHUT_RDWR) == 0) ++closed;
    g_last[fd].store(0, std::memory_order_relaxed);
  }
  return closed;
}
