// milter/log.h — one line per event, to syslog (facility mail) or stderr.
//
// Log::init(to_stderr): once, before threads start. Log::info/warn/error:
// thread-safe; each call writes one whole line (a single write(2) on stderr,
// one syslog(3) record otherwise). Callers never pass key material.
#pragma once

#include <string_view>

namespace signet::milter {

class Log {
 public:
  static void init(bool to_stderr);
  static void info(std::string_view line);
  static void warn(std::string_view line);
  static void error(std::string_view line);
};

}  // namespace signet::milter
