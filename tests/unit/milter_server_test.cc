// milter/server.h: the socket side — where it listens and what it refuses,
// a conversation over a real unix socket, the idle timeout, bad input, and
// stop_accepting()/stop() with a connection open.
#include <gtest/gtest.h>
#include <libmilter/mfdef.h>
#include <pwd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/big_endian.h"
#include "milter/log.h"
#include "milter/mta_connection.h"
#include "milter/server.h"
#include "milter_fixture.h"

using namespace signet;
using namespace signet::milter;
using signet::testing::SessionFixture;

namespace {

std::mutex g_mu;
std::vector<std::string> g_lines;
void capture(std::string_view line) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_lines.emplace_back(line);
}
bool logged(std::string_view what) {
  std::lock_guard<std::mutex> lock(g_mu);
  for (const auto& l : g_lines) {
    if (l.find(what) != std::string::npos) return true;
  }
  return false;
}

int connect_to(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Reads one reply packet; "" on EOF or after 5 s.
std::string read_packet(int fd) {
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string buf;
  char chunk[4096];
  while (buf.size() < 4 || buf.size() < 4 + read_u32_be(buf, 0)) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n <= 0) return {};
    buf.append(chunk, static_cast<std::size_t>(n));
  }
  return buf;
}

struct Served {
  SessionFixture fx;
  RuntimeHolder holder;
  std::string dir, path;
  std::unique_ptr<MilterServer> server;
  std::thread thread;

  explicit Served(MilterServer::Options o = {}) {
    Log::capture(capture);
    holder.replace(fx.runtime);
    dir = fx.dir;
    path = dir + "/milter.sock";
    auto s = MilterServer::listen("unix:" + path, o);
    EXPECT_TRUE(s.ok()) << s.error().message;
    server = std::move(s.value());
    thread = std::thread([this] { server->serve(holder); });
  }
  ~Served() {
    server->stop();
    thread.join();
    server.reset();
    Log::capture(nullptr);
  }
};

std::string optneg() {
  std::string d, out;
  append_u32_be(d, 6);
  append_u32_be(d, 0x1FF);
  append_u32_be(d, 0x1FFFFF);
  append_packet(out, SMFIC_OPTNEG, d);
  return out;
}

}  // namespace

TEST(MilterServer, AStaleSocketFileIsReplacedAnythingElseIsRefusedWithItsPath) {
  SessionFixture fx;
  const std::string stale = fx.dir + "/stale.sock";
  {
    // A daemon killed without cleaning up leaves its socket file.
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", stale.c_str());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa), 0);
    ::close(fd);
  }
  auto again = MilterServer::listen("unix:" + stale, {});
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_EQ(again.value()->unix_path(), stale);
  const std::string file = fx.dir + "/not-a-socket";
  std::ofstream(file) << "keep me\n";
  auto refused = MilterServer::listen("unix:" + file, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("exists and is not a socket"), std::string::npos) << refused.error().message;
  struct stat st {};
  EXPECT_EQ(::stat(file.c_str(), &st), 0) << "the file that was there is gone";
  auto bad = MilterServer::listen("tcp:8891", {});
  ASSERT_FALSE(bad.ok());
  auto missing_dir = MilterServer::listen("unix:" + fx.dir + "/no/such/dir.sock", {});
  ASSERT_FALSE(missing_dir.ok());
  EXPECT_NE(missing_dir.error().message.find("a directory that does not exist"), std::string::npos);
}

TEST(MilterServer, AConversationOverTheSocketGetsItsRepliesAndTheSocketFileGoesAtTheEnd) {
  std::string path;
  {
    Served s;
    path = s.path;
    const int fd = connect_to(s.path);
    ASSERT_GE(fd, 0);
    const std::string in = optneg();
    ASSERT_EQ(::write(fd, in.data(), in.size()), static_cast<ssize_t>(in.size()));
    const std::string reply = read_packet(fd);
    ASSERT_GE(reply.size(), 5u);
    EXPECT_EQ(reply[4], SMFIC_OPTNEG);
    EXPECT_EQ(s.server->open_connections(), 1);
    std::string quit;
    append_packet(quit, SMFIC_QUIT, {});
    ASSERT_EQ(::write(fd, quit.data(), quit.size()), static_cast<ssize_t>(quit.size()));
    EXPECT_EQ(read_packet(fd), "") << "the server closes after quit";
    ::close(fd);
    for (int i = 0; i < 200 && s.server->open_connections() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(s.server->open_connections(), 0);
  }
  struct stat st {};
  EXPECT_NE(::stat(path.c_str(), &st), 0) << "the socket file outlived the server";
}

TEST(MilterServer, AConnectionSilentForTheTimeoutIsClosedWithALine) {
  MilterServer::Options o;
  o.timeout_seconds = 1;
  Served s(o);
  const int fd = connect_to(s.path);
  ASSERT_GE(fd, 0);
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(read_packet(fd), "") << "closed, nothing sent";
  const auto waited = std::chrono::steady_clock::now() - started;
  EXPECT_GE(waited, std::chrono::milliseconds(900));
  EXPECT_LT(waited, std::chrono::milliseconds(4900)) << "not closed by the timeout";
  ::close(fd);
  for (int i = 0; i < 200 && !logged("silent for 1s (timeout): closed"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(logged("silent for 1s (timeout): closed"));
}

TEST(MilterServer, AnOversizedPacketClosesTheConnectionAndTheServerServesOn) {
  Served s;
  const int fd = connect_to(s.path);
  ASSERT_GE(fd, 0);
  const std::string huge("\x10\x00\x00\x00", 4);  // 256 MiB announced
  ASSERT_EQ(::write(fd, huge.data(), huge.size()), 4);
  EXPECT_EQ(read_packet(fd), "");
  ::close(fd);
  for (int i = 0; i < 200 && !logged("a packet of 268435456 bytes"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(logged("a packet of 268435456 bytes"));
  const int next = connect_to(s.path);
  ASSERT_GE(next, 0);
  const std::string in = optneg();
  ASSERT_EQ(::write(next, in.data(), in.size()), static_cast<ssize_t>(in.size()));
  EXPECT_NE(read_packet(next), "") << "the next connection is not served";
  ::close(next);
}

TEST(MilterServer, StopAcceptingRefusesNewConnectionsServesOpenOnesAndStopEndsThem) {
  Served s;
  const int open = connect_to(s.path);
  ASSERT_GE(open, 0);
  const std::string in = optneg();
  ASSERT_EQ(::write(open, in.data(), in.size()), static_cast<ssize_t>(in.size()));
  ASSERT_NE(read_packet(open), "");
  s.server->stop_accepting();
  EXPECT_EQ(connect_to(s.path), -1) << "a new connection while draining";
  // The open one is still served.
  ASSERT_EQ(::write(open, in.data(), in.size()), static_cast<ssize_t>(in.size()));
  EXPECT_NE(read_packet(open), "");
  s.server->stop();
  EXPECT_EQ(read_packet(open), "") << "stop() leaves the connection open";
  s.thread.join();  // serve() returned
  s.thread = std::thread([] {});
  ::close(open);
}

// A thread that cannot be started (RLIMIT_NPROC, memory) was an escaping
// std::system_error: std::terminate, the daemon gone with its messages.
// Now serve() says so and returns false. In a child that is nobody with a
// process limit it has already reached.
TEST(MilterServer, NoThreadForConnectionsIsLoggedAndServeReturnsFalseInsteadOfAborting) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to become nobody";
  const passwd* nobody = ::getpwnam("nobody");
  ASSERT_NE(nobody, nullptr);
  char tmpl[] = "/tmp/signet-server-nproc-XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    Log::capture(capture);
    auto server = MilterServer::listen("unix:" + dir + "/m.sock", {});
    if (!server) ::_exit(3);
    const rlimit none{1, 1};  // this process is nobody's one
    if (::setgid(nobody->pw_gid) != 0 || ::setuid(nobody->pw_uid) != 0 || ::setrlimit(RLIMIT_NPROC, &none) != 0) {
      ::_exit(4);
    }
    RuntimeHolder holder;
    const bool served = server.value()->serve(holder);
    ::_exit(served ? 5 : logged("cannot start any thread to serve MTA connections") ? 0 : 6);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "3: no listen, 4: no nobody/limit, 5: served, 6: not logged";
}
