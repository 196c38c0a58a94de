#include "milter/server.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "base/rate_limit.h"
#include "doctor/milter_socket.h"
#include "milter/log.h"
#include "milter/mta_connection.h"

namespace signet::milter {
namespace {

// A connection's read buffer: small while it carries commands; at the first
// packet that does not fit (a body chunk, up to 64 KB), 256 KB at least, so
// that one read takes several chunks as the kernel holds them. Measured over
// inet: at 1 MB a message, 2.07-2.13 -> 1.8 ms of milter CPU, with one
// 64 KB buffer against a 256 KB one; not allocated (nor zeroed) for a
// message that needs no more. Kept for the connection.
constexpr std::size_t kInitialBuffer = 16384;
constexpr std::size_t kBodyBuffer = 262144;

bool tcp_tuning() {
  static const bool on = [] {
    const char* v = std::getenv("SIGNET_TCP_TUNING");
    return !(v && std::strcmp(v, "off") == 0);
  }();
  return on;
}

void set_option(int fd, int level, int name, int value) { (void)::setsockopt(fd, level, name, &value, sizeof value); }

// Every byte, or false (the MTA went away, or took nothing for `timeout`).
bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

// Protocol errors come from a peer: bounded in the log like the signer's refusals.
RateLimitedLog& protocol_log() {
  static RateLimitedLog log([](std::string_view line) { Log::warn(line); }, "MTA connections closed on bad input");
  return log;
}

Result<int> listen_unix(const std::string& path, const std::string& spec) {
  sockaddr_un sa{};
  if (path.size() >= sizeof sa.sun_path) {
    return permanent_error(fmt::format("socket {}: the path is longer than {} bytes", spec, sizeof sa.sun_path - 1));
  }
  // A socket file left by a daemon that did not stop cleanly is removed;
  // anything else at that name is not ours to remove.
  struct stat st{};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return permanent_error(fmt::format("socket {}: {} exists and is not a socket; remove it or choose another path",
                                         spec, path));
    }
    (void)::unlink(path.c_str());
  }
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return permanent_error(fmt::format("socket {}: {}", spec, std::strerror(errno)));
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), path.size());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    const int e = errno;
    ::close(fd);
    return permanent_error(fmt::format("cannot open socket {}: {} (in use, or a directory that does not exist?)", spec,
                                       std::strerror(e)));
  }
  return fd;
}

Result<int> listen_inet(const doctor::MilterSocket& where, bool v6, const std::string& spec) {
  addrinfo hints{};
  hints.ai_family = v6 ? AF_INET6 : AF_INET;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(where.port);
  if (const int rc = ::getaddrinfo(where.host.empty() ? nullptr : where.host.c_str(), port.c_str(), &hints, &found);
      rc != 0) {
    return permanent_error(fmt::format("socket {}: cannot resolve {}: {}", spec, where.host, ::gai_strerror(rc)));
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ::freeaddrinfo(found);
    return permanent_error(fmt::format("socket {}: {}", spec, std::strerror(errno)));
  }
  set_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  const bool ok = ::bind(fd, found->ai_addr, found->ai_addrlen) == 0 && ::listen(fd, SOMAXCONN) == 0;
  const int e = errno;
  ::freeaddrinfo(found);
  if (!ok) {
    ::close(fd);
    return permanent_error(fmt::format("cannot open socket {}: {}", spec, std::strerror(e)));
  }
  return fd;
}

}  // namespace

Result<std::unique_ptr<MilterServer>> MilterServer::listen(const std::string& spec, Options options) {
  auto where = doctor::parse_libmilter_socket(spec);
  if (!where) return where.error();
  std::string path;
  Result<int> fd = where->unix_domain() ? listen_unix(where->path, spec)
                                        : listen_inet(*where, spec.rfind("inet6:", 0) == 0, spec);
  if (!fd) return fd.error();
  if (where->unix_domain()) path = where->path;
  // accept() wakes at least this often to look at the stop flags: the
  // shutdown(2) in stop_accepting() wakes it at once on Linux; this is the
  // fallback (accept honours SO_RCVTIMEO, socket(7)).
  timeval tick{0, 250000};
  (void)::setsockopt(fd.value(), SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
  // Known here, once: every connection accepted on an inet socket is TCP.
  const bool tcp = tcp_tuning() && !where->unix_domain();
  return std::unique_ptr<MilterServer>(new MilterServer(fd.value(), std::move(path), options, tcp));
}

MilterServer::~MilterServer() {
  stop();
  ::close(listen_fd_);
  if (!unix_path_.empty()) (void)::unlink(unix_path_.c_str());
}

bool MilterServer::spawn_locked() {
  try {
    std::thread t([this] { worker(*holder_); });
    const std::thread::id id = t.get_id();
    threads_.emplace(id, std::move(t));
    return true;
  } catch (const std::exception& e) {
    // No thread (RLIMIT_NPROC, memory): the connections already taken are
    // served; new ones wait in the backlog until a thread is free.
    protocol_log().write("thread", fmt::format("cannot start a thread for MTA connections: {}", e.what()), e.what());
    return false;
  }
}

bool MilterServer::serve(RuntimeHolder& holder) {
  std::unique_lock<std::mutex> lock(mu_);
  holder_ = &holder;
  // Two waiting from the start: a connection that arrives while the first
  // is being taken finds the second.
  const bool first = !stopped_ && spawn_locked();
  const bool second = !stopped_ && spawn_locked();
  if (!stopped_ && !first && !second) {
    Log::error("cannot start any thread to serve MTA connections: signet-milter stops");
    return false;
  }
  for (;;) {
    changed_.wait(lock, [&] { return !finished_.empty() || threads_.empty(); });
    while (!finished_.empty()) {
      const std::thread::id id = finished_.back();
      finished_.pop_back();
      auto it = threads_.find(id);
      if (it == threads_.end()) continue;
      std::thread t = std::move(it->second);
      threads_.erase(it);
      lock.unlock();
      t.join();
      lock.lock();
    }
    if (threads_.empty()) return true;
  }
}

void MilterServer::worker(RuntimeHolder& holder) {
  for (;;) {
    if (!accepting_.load()) break;
    waiting_.fetch_add(1);
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    waiting_.fetch_sub(1);
    if (fd < 0) {
      if (!accepting_.load()) break;
      if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) continue;
      // Out of descriptors or memory (EMFILE, ENFILE, ENOBUFS): the MTA's
      // connections wait in the backlog while others end.
      protocol_log().write("accept", fmt::format("cannot accept an MTA connection: {}", std::strerror(errno)),
                           std::strerror(errno));
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    int rank = 0;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!accepting_.load()) {  // stop_accepting() came while this one was taken
        ::close(fd);
        break;
      }
      connections_.insert(fd);
      rank = open_.fetch_add(1) + 1;
      // One more waiting before this connection is served, unless enough
      // threads exist for max-connections (and one over it, to be told so).
      if (waiting_.load() == 0 && threads_.size() <= options_.max_connections) spawn_locked();
    }
    converse(fd, holder, rank);
    std::lock_guard<std::mutex> lock(mu_);
    connections_.erase(fd);
    ::close(fd);  // under the lock: stop() never shuts down a number reused by then
    open_.fetch_sub(1);
    if (waiting_.load() >= static_cast<int>(options_.spare_threads)) break;
  }
  std::lock_guard<std::mutex> lock(mu_);
  finished_.push_back(std::this_thread::get_id());
  changed_.notify_all();
}

void MilterServer::converse(int fd, RuntimeHolder& holder, int rank) {
  const timeval limit{options_.timeout_seconds, 0};
  (void)::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
  (void)::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
  const bool tcp = tcp_;
  if (tcp) {
    set_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
    set_option(fd, IPPROTO_TCP, TCP_QUICKACK, 1);
  }
  MtaConnection conn(holder, open_, rank);
  std::size_t size = kInitialBuffer;
  std::unique_ptr<char[]> buf(new char[size]);  // not zeroed: only read bytes are looked at
  std::size_t begin = 0, end = 0;
  std::string out;
  auto bad = [&](const std::string& why) {
    protocol_log().write("protocol", fmt::format("MTA connection closed: {}; the MTA applies its milter_default_action", why),
                         why);
    conn.closed("connection closed on bad input mid-message");
  };
  for (;;) {
    // Every complete packet in the buffer, in place.
    const MtaConnection::Consumed c =
        conn.consume(std::string_view(buf.get() + begin, end - begin), options_.max_packet, out);
    begin += c.bytes;
    const std::size_t need = c.need;
    const bool quit = c.next == MtaConnection::Next::Close;
    // The replies the MTA waits for, in one write, before reading again.
    if (!out.empty()) {
      if (!send_all(fd, out)) {
        conn.closed(errno == EAGAIN || errno == EWOULDBLOCK ? "aborted (the MTA took no reply: timeout)" : kAborted);
        return;
      }
      out.clear();
    }
    if (quit) {
      if (!conn.why().empty()) {
        bad(conn.why());
      } else {
        conn.closed("connection closed mid-message");
      }
      return;
    }
    // Room for the rest of the next packet.
    if (begin == end) {
      begin = end = 0;
    } else if (begin + need > size) {
      std::memmove(buf.get(), buf.get() + begin, end - begin);
      end -= begin;
      begin = 0;
    }
    if (need > size) {
      const std::size_t bigger = std::max(need, kBodyBuffer);
      std::unique_ptr<char[]> grown(new char[bigger]);
      std::memcpy(grown.get(), buf.get(), end);
      buf = std::move(grown);
      size = bigger;
    }
    const ssize_t n = ::read(fd, buf.get() + end, size - end);
    if (n > 0) {
      end += static_cast<std::size_t>(n);
      if (tcp) set_option(fd, IPPROTO_TCP, TCP_QUICKACK, 1);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      Log::warn(fmt::format("an MTA connection was silent for {}s (timeout): closed", options_.timeout_seconds));
      conn.closed(fmt::format("aborted (the MTA sent nothing for {}s: timeout)", options_.timeout_seconds));
      return;
    }
    conn.closed(kAborted);  // EOF, reset, or stop()
    return;
  }
}

void MilterServer::stop_accepting() {
  if (!accepting_.exchange(false)) return;
  // Wakes every accept() (EINVAL) and refuses connects from now on.
  (void)::shutdown(listen_fd_, SHUT_RDWR);
}

void MilterServer::stop() {
  stop_accepting();
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
  // A blocked read() returns 0; the conversation abandons its message.
  for (int fd : connections_) (void)::shutdown(fd, SHUT_RDWR);
}

}  // namespace signet::milter
