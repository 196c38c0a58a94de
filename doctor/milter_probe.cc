#include "doctor/milter_probe.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <sstream>

#include "base/big_endian.h"

namespace signet::doctor {
namespace {

using Clock = std::chrono::steady_clock;

ProbeResult failed(int error_number, std::string what) {
  ProbeResult r;
  r.error_number = error_number;
  r.error = std::move(what);
  return r;
}

int remaining_ms(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Waits for `events` on fd until the deadline: 0, or ETIMEDOUT / errno.
int wait_for(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, remaining_ms(deadline));
    if (n > 0) return 0;
    if (n == 0) return ETIMEDOUT;
    if (errno != EINTR) return errno;
  }
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};


// Non-blocking connect within the deadline; the socket stays non-blocking.
int connect_by(int fd, const sockaddr* sa, socklen_t len, Clock::time_point deadline) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (::connect(fd, sa, len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EAGAIN) return errno;
  if (const int e = wait_for(fd, POLLOUT, deadline)) return e;
  int err = 0;
  socklen_t l = sizeof err;
  ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
  return err;
}

int send_all(int fd, const std::string& data, Clock::time_point deadline) {
  std::size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n > 0) {
      off += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (const int e = wait_for(fd, POLLOUT, deadline)) return e;
    } else {
      return n < 0 ? errno : EPIPE;
    }
  }
  return 0;
}

// Reads exactly n bytes: 0, ECONNRESET for end of stream, or errno.
int read_exact(int fd, char* buf, std::size_t n, Clock::time_point deadline) {
  std::size_t got = 0;
  while (got < n) {
    const ssize_t r = ::read(fd, buf + got, n - got);
    if (r > 0) {
      got += static_cast<std::size_t>(r);
    } else if (r == 0) {
      return ECONNRESET;
    } else if (errno == EAGAIN || errno == EINTR) {
      if (const int e = wait_for(fd, POLLIN, deadline)) return e;
    } else {
      return errno;
    }
  }
  return 0;
}

std::string packet(char cmd, const std::string& data) {
  std::string p;
  append_u32_be(p, static_cast<std::uint32_t>(data.size() + 1));
  p.push_back(cmd);
  return p + data;
}

ProbeResult negotiate(const MilterSocket& where, const ProbeOptions& o, const std::string& who) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(o.timeout_ms);
  const std::string shown = where.unix_domain() ? where.path : where.postfix_form();
  int fd = -1;
  int e = 0;
  if (where.unix_domain()) {
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    if (where.path.size() >= sizeof sa.sun_path) return failed(ENAMETOOLONG, "socket path too long: " + where.path);
    std::memcpy(sa.sun_path, where.path.c_str(), where.path.size() + 1);
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return failed(errno, std::string("socket: ") + std::strerror(errno));
    e = connect_by(fd, reinterpret_cast<const sockaddr*>(&sa), sizeof sa, deadline);
  } else {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* ai = nullptr;
    const std::string host = where.host.empty() ? "127.0.0.1" : where.host;
    if (const int g = ::getaddrinfo(host.c_str(), std::to_string(where.port).c_str(), &hints, &ai); g != 0) {
      return failed(EHOSTUNREACH, "cannot resolve " + host + ": " + ::gai_strerror(g));
    }
    // Each address in turn, as Postfix's inet_connect() does (localhost may be ::1 first).
    for (addrinfo* a = ai; a; a = a->ai_next) {
      if (fd >= 0) ::close(fd);
      fd = ::socket(a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
      e = fd < 0 ? errno : connect_by(fd, a->ai_addr, a->ai_addrlen, deadline);
      if (e == 0 || e == ETIMEDOUT) break;
    }
    ::freeaddrinfo(ai);
  }
  Fd sock(fd);
  if (e) {
    return failed(e, "connect(" + shown + ")" + who + ": " +
                         (e == ETIMEDOUT ? "no connection within " + std::to_string(o.timeout_ms / 1000) + "s" : std::strerror(e)));
  }
  std::string optneg;
  append_u32_be(optneg, static_cast<std::uint32_t>(o.version));
  append_u32_be(optneg, kPostfixActions);
  append_u32_be(optneg, postfix_events(o.version));
  if ((e = send_all(fd, packet('O', optneg), deadline))) {
    return failed(e, "sending the option negotiation to " + shown + ": " + std::strerror(e));
  }
  char head[5];
  if ((e = read_exact(fd, head, 5, deadline)) == 0) {
    std::uint32_t len;
    std::memcpy(&len, head, 4);
    len = ntohl(len);
    if (head[4] != 'O' || len < 13 || len > (1u << 20)) {
      return failed(EPROTO, std::string("the reply to the option negotiation is '") + head[4] + "', not 'O': not a milter?");
    }
    std::string data(len - 1, '\0');
    if ((e = read_exact(fd, data.data(), data.size(), deadline)) == 0) {
      ProbeResult r;
      r.answered = true;
      r.version = read_u32_be(data, 0);
      r.actions = read_u32_be(data, 4);
      r.steps = read_u32_be(data, 8);
      (void)send_all(fd, packet('Q', ""), deadline);  // SMFIC_QUIT: hang up politely
      return r;
    }
  }
  if (e == ETIMEDOUT) {
    return failed(e, "connected to " + shown + ", but no reply to the option negotiation within " +
                         std::to_string(o.timeout_ms / 1000) + "s");
  }
  return failed(e, "connected to " + shown + ", but the reply to the option negotiation failed: " +
                       (e == ECONNRESET ? std::string("the milter closed the connection") : std::strerror(e)));
}

// The probe in a child running as `user` (its uid, gid, groups), the result
// sent back over a pipe as "answered version actions steps errno\nmessage".
ProbeResult negotiate_as(const MilterSocket& where, const ProbeOptions& o) {
  const passwd* pw = ::getpwnam(o.as_user.c_str());
  if (!pw) return failed(ENOENT, "no user " + o.as_user + " on this host (Postfix's mail_owner)");
  const uid_t uid = pw->pw_uid;
  const gid_t gid = pw->pw_gid;
  int fds[2];
  if (::pipe(fds) != 0) return failed(errno, std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = ::fork();
  if (pid < 0) return failed(errno, std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    ::close(fds[0]);
    ProbeResult r;
    if (::initgroups(o.as_user.c_str(), gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
      r = failed(errno, "cannot become " + o.as_user + ": " + std::strerror(errno));
    } else {
      r = negotiate(where, o, " as " + o.as_user);
    }
    std::ostringstream out;
    out << r.answered << ' ' << r.version << ' ' << r.actions << ' ' << r.steps << ' ' << r.error_number << '\n'
        << r.error;
    const std::string text = out.str();
    (void)!::write(fds[1], text.data(), text.size());
    ::_exit(0);
  }
  ::close(fds[1]);
  std::string text;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fds[0], buf, sizeof buf);
    if (n > 0) {
      text.append(buf, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      break;
    }
  }
  ::close(fds[0]);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  std::istringstream in(text);
  ProbeResult r;
  if (!(in >> r.answered >> r.version >> r.actions >> r.steps >> r.error_number)) {
    return failed(EPROTO, "the probe as " + o.as_user + " died without a result");
  }
  in.get();
  std::getline(in, r.error, '\0');
  return r;
}

std::string names(std::uint32_t bits, const char* const* table, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) {
    if (bits & (1u << i)) out += (out.empty() ? "" : "|") + std::string(table[i]);
  }
  return out.empty() ? "none" : out;
}

}  // namespace

std::uint32_t postfix_events(int version) {
  constexpr std::uint32_t v2 = 0x7F;         // NOCONNECT .. NOEOH
  constexpr std::uint32_t v3 = v2 | 0x100;   // | NOUNKNOWN
  constexpr std::uint32_t v4 = v3 | 0x200;   // | NODATA
  constexpr std::uint32_t v6 = 0x1FFFFF;     // | SKIP, RCPT_REJ, every NR_*, HDR_LEADSPC
  switch (version) {
    case 2: return v2;
    case 3: return v3;
    case 4: return v4;
    case 6: return v6;
    default: return 0;
  }
}

std::string action_names(std::uint32_t actions) {
  static const char* const kNames[] = {"ADDHDRS", "CHGBODY", "ADDRCPT", "DELRCPT", "CHGHDRS",
                                       "QUARANTINE", "CHGFROM", "ADDRCPT_PAR", "SETSYMLIST"};
  return names(actions, kNames, 9);
}

std::string step_names(std::uint32_t steps) {
  static const char* const kNames[] = {"NOCONNECT", "NOHELO",  "NOMAIL",  "NORCPT",  "NOBODY",  "NOHDRS",
                                       "NOEOH",     "NR_HDR",  "NOUNKNOWN", "NODATA", "SKIP",   "RCPT_REJ",
                                       "NR_CONN",   "NR_HELO", "NR_MAIL", "NR_RCPT", "NR_DATA", "NR_UNKN",
                                       "NR_EOH",    "NR_BODY", "HDR_LEADSPC"};
  return names(steps, kNames, 21);
}

ProbeResult probe_milter(const MilterSocket& socket, const ProbeOptions& options) {
  if (!options.as_user.empty() && ::geteuid() == 0) return negotiate_as(socket, options);
  return negotiate(socket, options, "");
}

}  // namespace signet::doctor
