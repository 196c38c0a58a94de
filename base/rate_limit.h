// base/rate_limit.h — a log that writes at most N lines of one kind per
// interval and sums up the rest in one line, so a peer that sends bad input
// in a loop (a compromised or buggy milter process, to the signer process)
// cannot flood syslog while every bad input is still answered as before.
//
// RateLimitedLog(sink, noun, limits, now):
//   write(kind, line, reason)  one event of `kind` (a short fixed word such
//       as "malformed"): the first limits.lines events of a kind in an
//       interval of limits.seconds go to `sink` as `line`; the rest are only
//       counted, with `reason` kept. An interval starts with the first event
//       of its kind after the previous interval ended (never a fixed grid).
//   flush()  for every kind whose interval has ended with events counted and
//       not written: one line "N more NOUN in the last S s not logged (last:
//       REASON)" (S: from the interval's start to now). write() does the
//       same first, for the kind it is given, so the summary always comes
//       before the next line of that kind; a caller without a timer still
//       gets it then, and one with a timer (the signer process flushes every
//       second, milter/signer_main.cc) gets it when the interval ends.
//   Each kind has its own budget: a flood of one kind never hides another.
// `now` is seconds on a clock that never goes back (default: steady_clock);
// tests pass their own. Thread-safe; `sink` is called without the lock held,
// one whole line per call. Never fails. The caller's lines and reasons are
// written as given: keep key material out of them, as out of any log line.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace signet {

// Outside the class: a nested struct's member initializers cannot serve as a
// default argument of the class's own constructor (C++ [class.mem]; GCC).
struct LogLimits {
  std::size_t lines = 10;     // written per kind and interval
  std::int64_t seconds = 60;  // the interval
};

class RateLimitedLog {
 public:
  using Sink = std::function<void(std::string_view line)>;
  using Clock = std::function<std::int64_t()>;
  using Limits = LogLimits;

  // noun: what is counted, plural ("refusals").
  RateLimitedLog(Sink sink, std::string noun, Limits limits = {}, Clock now = {});

  void write(std::string_view kind, std::string_view line, std::string_view reason);
  void flush();

 private:
  struct Budget {
    bool open = false;              // an interval is running
    std::int64_t started = 0;       // when this kind's interval began
    std::size_t written = 0;        // lines written in it
    std::uint64_t not_written = 0;  // events counted in it, not written
    std::string last;               // the reason of the last of those
  };
  // Ends b's interval if it ran its time by `now`, with its summary line
  // into `out` when events were not written.
  void close_if_ended(Budget& b, std::int64_t now, std::vector<std::string>& out) const;

  Sink sink_;
  std::string noun_;
  Limits limits_;
  Clock now_;
  std::mutex mu_;
  std::map<std::string, Budget, std::less<>> budgets_;  // a handful of fixed kinds
};

}  // namespace signet
