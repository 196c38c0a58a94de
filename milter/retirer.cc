#include "milter/retirer.h"

#include <signal.h>
#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <system_error>
#include <thread>

namespace signet::milter {
namespace {

struct State {
  std::mutex mu;
  std::condition_variable wake;
  std::deque<std::function<void()>> queue;
  std::thread thread;
  bool running = false;
  pid_t pid = 0;  // the process that started the thread: a forked child has none
  bool running_here() const { return running && pid == ::getpid(); }
};

// Never destroyed: a Runtime's last reference may go during static
// destruction (a test's global), after a destroyed State would have gone.
State& state() {
  static State* s = new State;
  return *s;
}

void run(State& s) {
  std::unique_lock<std::mutex> lock(s.mu);
  for (;;) {
    s.wake.wait(lock, [&] { return !s.queue.empty() || !s.running; });
    if (s.queue.empty()) return;  // stopped, and everything handed over is freed
    auto free = std::move(s.queue.front());
    s.queue.pop_front();
    lock.unlock();
    free();
    free = nullptr;  // whatever the closure owned goes here too, not under the lock
    lock.lock();
  }
}

}  // namespace

bool Retirer::start() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.running_here()) return true;
  if (s.running) return false;  // a fork's child: its parent's thread is not here, nor joinable
  s.running = true;
  s.pid = ::getpid();
  // The thread starts with every signal blocked (it inherits this mask):
  // the daemon's signals are for its sigwait thread (milter/lifecycle.h),
  // and a SIGHUP or SIGTERM delivered here would take the default action
  // and end the process, whenever start() runs before the mask is set.
  sigset_t all, before;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &before);
  bool ok = true;
  try {
    s.thread = std::thread([&s] { run(s); });
  } catch (const std::system_error&) {
    s.running = false;  // freed in place, as without a retirer
    ok = false;
  }
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  return ok;
}

void Retirer::stop() {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (!s.running_here()) return;
    s.running = false;
  }
  s.wake.notify_one();
  if (s.thread.joinable()) s.thread.join();
}

void Retirer::hand_over(std::function<void()> free) {
  State& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.running_here()) {
      s.queue.push_back(std::move(free));
      s.wake.notify_one();
      return;
    }
  }
  free();
}

}  // namespace signet::milter
