#include "milter/clock.h"

#include <sys/stat.h>

#include <atomic>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <mutex>

#include "milter/log.h"

namespace signet::milter {
namespace {

std::atomic<bool> g_injected{false};
std::string g_path;
// The test clock's cache: re-read when the file's mtime or size changes.
std::mutex g_mu;
struct timespec g_mtime {};
off_t g_size = -1;
std::int64_t g_time = 0;

std::int64_t real_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

std::optional<std::string> Clock::init() {
  const char* path = std::getenv("SIGNET_TEST_CLOCK_FILE");
  if (!path || !*path) return std::nullopt;
  if (const char* unit = std::getenv("INVOCATION_ID"); unit && *unit) {
    return std::string("SIGNET_TEST_CLOCK_FILE is set but signet-milter runs under systemd: the test clock is for "
                       "tests only; remove it from the unit's environment");
  }
  g_path = path;
  g_time = real_now();
  g_injected = true;
  (void)now();  // the file's time from the start, when it holds one
  return std::nullopt;
}

bool Clock::injected() { return g_injected.load(std::memory_order_relaxed); }

std::string Clock::warning() {
  if (!injected()) return {};
  return "TEST CLOCK: SIGNET_TEST_CLOCK_FILE=" + g_path + " sets this daemon's time (now " + std::to_string(now()) +
         "); signatures, key cutovers and the ledger follow it. Never use this in production";
}

std::int64_t Clock::now() {
  if (!g_injected.load(std::memory_order_relaxed)) return real_now();
  std::lock_guard<std::mutex> lock(g_mu);  // test mode only: production never gets here
  struct stat st {};
  if (::stat(g_path.c_str(), &st) != 0) return g_time;
  if (st.st_size == g_size && st.st_mtim.tv_sec == g_mtime.tv_sec && st.st_mtim.tv_nsec == g_mtime.tv_nsec) return g_time;
  g_size = st.st_size;
  g_mtime = st.st_mtim;
  std::ifstream in(g_path);
  long long t = 0;
  if (in >> t && t > 0) {
    g_time = t;
  } else {
    Log::warn("TEST CLOCK: " + g_path + " does not hold a Unix time; the clock stays at " + std::to_string(g_time));
  }
  return g_time;
}

}  // namespace signet::milter
