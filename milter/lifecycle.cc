#include "milter/lifecycle.h"

#include <signal.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "milter/log.h"
#include "milter/notify.h"
#include "milter/server.h"

namespace signet::milter {
namespace {

std::atomic<bool> g_draining{false};
std::thread g_thread;

void drain_then_stop(MilterServer& server, int shutdown_timeout) {
  g_draining = true;
  notify::stopping();
  server.stop_accepting();
  Log::info("SIGTERM: no new connections; finishing " + std::to_string(server.open_connections()) +
            " open connection(s)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(shutdown_timeout);
  while (server.open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (server.open_connections() > 0) {
    Log::warn(std::to_string(server.open_connections()) + " connection(s) still open at shutdown-timeout: dropped");
  }
  server.stop();
}

}  // namespace

bool draining() { return g_draining.load(std::memory_order_relaxed); }

bool start_lifecycle(std::function<void()> reload, MilterServer& server, int shutdown_timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // stop_lifecycle(): end the thread
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return false;
  g_thread = std::thread([set, reload = std::move(reload), &server, shutdown_timeout] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        reload();
        continue;
      }
      if (sig == SIGTERM) drain_then_stop(server, shutdown_timeout);
      if (sig == SIGINT) {
        g_draining = true;
        notify::stopping();
        Log::info("SIGINT: stopping now; open connections are closed");
        server.stop();
      }
      return;
    }
  });
  return true;
}

void stop_lifecycle() {
  if (!g_thread.joinable()) return;
  if (!draining()) pthread_kill(g_thread.native_handle(), SIGUSR1);
  g_thread.join();
}

}  // namespace signet::milter
