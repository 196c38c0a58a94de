// milter/log.h — one line per event, to syslog (facility mail) or stderr.
//
// Log::init(to_stderr): once, before threads start. Log::info/warn/error:
// thread-safe; each call writes one whole line (a single write(2) on stderr,
// one syslog(3) record otherwise). Callers never pass key material.
// Log::capture(sink): every line ("warning: ..." with its level prefix, no
// newline) goes to sink instead of stderr or syslog, for tests and the fuzzer
// that count a message's lines; nullptr goes back to what init chose. Set it
// before the calls it should see (not while other threads log).
#pragma once

#include <string_view>

namespace signet::milter {

class Log {
 public:
  using Sink = void (*)(std::string_view line);
  static void init(bool to_stderr);
  static void capture(Sink sink);
  static void info(std::string_view line);
  static void warn(std::string_view line);
  static void error(std::string_view line);
};

}  // namespace signet::milter
