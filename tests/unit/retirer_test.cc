// milter/retirer.h: what a reload replaced is freed on the retirer's thread,
// not on the thread (a connection's, mid-message) that let go of it last.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "milter/retirer.h"

using namespace signet::milter;

namespace {

// Records the thread its destructor ran on.
struct Tracked {
  Tracked(std::thread::id* on, std::atomic<int>* count) : freed_on(on), freed(count) {}
  Tracked(const Tracked&) = delete;
  std::thread::id* freed_on;
  std::atomic<int>* freed;
  ~Tracked() {
    *freed_on = std::this_thread::get_id();
    freed->fetch_add(1);
  }
};

}  // namespace

TEST(Retirer, WithoutARetirerTheLastReleaseFreesInPlace) {
  std::thread::id on;
  std::atomic<int> freed{0};
  auto p = retire_off_path(std::make_unique<Tracked>(&on, &freed));
  std::thread t([q = std::move(p)]() mutable { q.reset(); });
  const auto releaser = t.get_id();
  t.join();
  EXPECT_EQ(freed.load(), 1);
  EXPECT_EQ(on, releaser);
}

TEST(Retirer, TheLastReleaseOnAConnectionThreadIsFreedOnTheRetirersThread) {
  ASSERT_TRUE(Retirer::start());
  std::thread::id on;
  std::atomic<int> freed{0};
  auto p = retire_off_path(std::make_unique<Tracked>(&on, &freed));
  auto held = p;  // a message in flight on the old Runtime
  p.reset();      // the reload replaced it
  std::thread conn([q = std::move(held)]() mutable { q.reset(); });
  const auto releaser = conn.get_id();
  conn.join();
  for (int i = 0; i < 2000 && freed.load() == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Retirer::stop();
  ASSERT_EQ(freed.load(), 1);
  EXPECT_NE(on, releaser);
  EXPECT_NE(on, std::this_thread::get_id());
}

TEST(Retirer, StopFreesEverythingHandedOverBeforeItReturnsAndThenFreesInPlace) {
  ASSERT_TRUE(Retirer::start());
  std::atomic<int> freed{0};
  std::vector<std::thread::id> on(100);
  {
    std::vector<std::shared_ptr<const Tracked>> all;
    for (auto& id : on) all.push_back(retire_off_path(std::make_unique<Tracked>(&id, &freed)));
    // Something slow ahead of them, so they are still queued when stop() is called.
    Retirer::hand_over([] { std::this_thread::sleep_for(std::chrono::milliseconds(50)); });
  }
  Retirer::stop();
  EXPECT_EQ(freed.load(), 100);
  std::thread::id after;
  auto p = retire_off_path(std::make_unique<Tracked>(&after, &freed));
  p.reset();
  EXPECT_EQ(freed.load(), 101);
  EXPECT_EQ(after, std::this_thread::get_id());
  Retirer::stop();  // idempotent
}

// The daemon's signals go to its sigwait thread: one delivered to the
// retirer's would end the process (SIGHUP's default action), as it did when
// signet-milter started the retirer before blocking them.
TEST(Retirer, TheRetirersThreadBlocksEverySignal) {
  sigset_t none, before;
  sigemptyset(&none);
  pthread_sigmask(SIG_SETMASK, &none, &before);
  ASSERT_TRUE(Retirer::start());
  sigset_t seen;
  sigemptyset(&seen);
  std::atomic<bool> done{false};
  Retirer::hand_over([&] {
    pthread_sigmask(SIG_SETMASK, nullptr, &seen);
    done = true;
  });
  Retirer::stop();
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  ASSERT_TRUE(done.load());
  for (int sig : {SIGHUP, SIGTERM, SIGINT, SIGPIPE, SIGUSR1}) EXPECT_EQ(sigismember(&seen, sig), 1) << sig;
}

// daemon(3) forks: the child has no retirer thread. Started before the fork,
// the child queued what it released (never freed) and joined a thread it did
// not have; it frees in place now, as without a retirer.
TEST(Retirer, AForkedChildFreesInPlaceAndStopsWithoutTheParentsThread) {
  ASSERT_TRUE(Retirer::start());
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::thread::id on;
    std::atomic<int> freed{0};
    auto p = retire_off_path(std::make_unique<Tracked>(&on, &freed));
    p.reset();
    const bool in_place = freed.load() == 1 && on == std::this_thread::get_id();
    Retirer::stop();
    ::_exit(in_place ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  Retirer::stop();
  ASSERT_TRUE(WIFEXITED(status)) << "the child died of signal " << WTERMSIG(status);
  EXPECT_EQ(WEXITSTATUS(status), 0) << "the child's release was not freed in place";
}
