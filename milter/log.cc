#include "milter/log.h"

#include <syslog.h>
#include <unistd.h>

#include <atomic>
#include <string>

namespace signet::milter {
namespace {

std::atomic<bool> g_stderr{true};
std::atomic<Log::Sink> g_sink{nullptr};

void write_line(int priority, const char* level, std::string_view line) {
  if (const Log::Sink sink = g_sink.load(std::memory_order_relaxed)) {
    sink(std::string(level).append(line));
    return;
  }
  if (g_stderr.load(std::memory_order_relaxed)) {
    std::string out = "signet-milter[" + std::to_string(::getpid()) + "]: " + level;
    out.append(line);
    out.push_back('\n');
    const ssize_t n = ::write(STDERR_FILENO, out.data(), out.size());
    (void)n;
    return;
  }
  ::syslog(priority, "%s%.*s", level, static_cast<int>(line.size()), line.data());
}

}  // namespace

void Log::init(bool to_stderr) {
  g_stderr = to_stderr;
  if (!to_stderr) ::openlog("signet-milter", LOG_PID | LOG_NDELAY, LOG_MAIL);
}

void Log::capture(Sink sink) { g_sink = sink; }

void Log::info(std::string_view line) { write_line(LOG_INFO, "", line); }
void Log::warn(std::string_view line) { write_line(LOG_WARNING, "warning: ", line); }
void Log::error(std::string_view line) { write_line(LOG_ERR, "error: ", line); }

}  // namespace signet::milter
