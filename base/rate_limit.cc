#include "base/rate_limit.h"

#include <chrono>
#include <utility>

namespace signet {
namespace {

std::int64_t steady_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

RateLimitedLog::RateLimitedLog(Sink sink, std::string noun, Limits limits, Clock now)
    : sink_(std::move(sink)), noun_(std::move(noun)), limits_(limits), now_(now ? std::move(now) : Clock(steady_seconds)) {}

void RateLimitedLog::close_if_ended(Budget& b, std::int64_t now, std::vector<std::string>& out) const {
  if (!b.open || now - b.started < limits_.seconds) return;
  if (b.not_written > 0) {
    out.push_back(std::to_string(b.not_written) + " more " + noun_ + " in the last " + std::to_string(now - b.started) +
                  " s not logged (last: " + b.last + ")");
  }
  b = Budget{};
}

void RateLimitedLog::write(std::string_view kind, std::string_view line, std::string_view reason) {
  std::vector<std::string> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_();
    auto it = budgets_.find(kind);
    if (it == budgets_.end()) it = budgets_.emplace(std::string(kind), Budget{}).first;
    Budget& b = it->second;
    close_if_ended(b, now, out);
    if (!b.open) {
      b.open = true;
      b.started = now;
    }
    if (b.written < limits_.lines) {
      ++b.written;
      out.emplace_back(line);
    } else {
      ++b.not_written;
      b.last.assign(reason);
    }
  }
  for (const std::string& l : out) sink_(l);
}

void RateLimitedLog::flush() {
  std::vector<std::string> out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    const std::int64_t now = now_();
    for (auto& [kind, b] : budgets_) close_if_ended(b, now, out);
  }
  for (const std::string& l : out) sink_(l);
}

}  // namespace signet
