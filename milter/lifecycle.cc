#include "milter/lifecycle.h"

#include <libmilter/mfapi.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "milter/callbacks.h"
#include "milter/log.h"
#include "milter/notify.h"

extern "C" {
int __real_sigwait(const sigset_t* set, int* sig);
int __wrap_sigwait(const sigset_t* set, int* sig);
}

namespace signet::milter {
namespace {

std::atomic<bool> g_draining{false};
// libmilter's signal thread has started (its first sigwait): smfi_main has
// initialised the state smfi_stop() locks. Before that, smfi_stop() would
// lock mutexes that do not exist yet (ThreadSanitizer found it: a SIGTERM
// right after start).
std::atomic<bool> g_libmilter_up{false};
// The thread running smfi_main: libmilter's listener sleeps in poll() for
// up to 5 s between checks of its stop flag; a signal makes it look now.
pthread_t g_main_thread;
std::atomic<bool> g_main_returned{false};  // smfi_main has returned

void wake(int) {}
std::thread g_thread;

void drain_then_stop(int shutdown_timeout) {
  g_draining = true;
  notify::stopping();
  Log::info("SIGTERM: no new connections; finishing " + std::to_string(active_connections()) +
            " open connection(s)");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(shutdown_timeout);
  while (active_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  if (active_connections() > 0) {
    Log::warn(std::to_string(active_connections()) + " connection(s) still open at shutdown-timeout: dropped");
  }
  while (!g_libmilter_up.load()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // smfi_stop() sets libmilter's stop flag and then waits for the listener,
  // which holds its lock while it sleeps in poll() (up to 5 s). Interrupting
  // that poll (EINTR) until smfi_main returns makes the stop take
  // milliseconds instead.
  std::thread waker([] {
    for (int i = 0; i < 1000 && !g_main_returned.load(); ++i) {
      pthread_kill(g_main_thread, SIGUSR2);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  });
  smfi_stop();
  waker.join();
}

}  // namespace

bool draining() { return g_draining.load(std::memory_order_relaxed); }

bool start_lifecycle(std::function<void()> reload, int shutdown_timeout) {
  g_main_thread = pthread_self();
  struct sigaction sa {};
  sa.sa_handler = wake;  // no SA_RESTART: the listener's poll() is interrupted
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGUSR2, &sa, nullptr) != 0) return false;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // stop_lifecycle(): end the thread
  if (pthread_sigmask(SIG_BLOCK, &set, nullptr) != 0) return false;
  g_thread = std::thread([set, reload = std::move(reload), shutdown_timeout] {
    for (;;) {
      int sig = 0;
      if (__real_sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        reload();
        continue;
      }
      if (sig == SIGTERM) drain_then_stop(shutdown_timeout);
      return;
    }
  });
  return true;
}

void stop_lifecycle() {
  g_main_returned = true;
  if (!g_thread.joinable()) return;
  if (!draining()) pthread_kill(g_thread.native_handle(), SIGUSR1);
  g_thread.join();
}

}  // namespace signet::milter

// libmilter's signal thread waits for SIGHUP, SIGTERM and SIGINT; leave it SIGINT.
extern "C" int __wrap_sigwait(const sigset_t* set, int* sig) {
  signet::milter::g_libmilter_up.store(true);
  sigset_t mine = *set;
  sigdelset(&mine, SIGTERM);
  sigdelset(&mine, SIGHUP);
  return __real_sigwait(&mine, sig);
}
