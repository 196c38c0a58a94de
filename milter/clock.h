// milter/clock.h — the one clock signet-milter signs, schedules and counts by.
//
// Clock::now(): the Unix time. In production it is time(2). Every reader of
// "now" in the daemon goes through it: the Session's t= and key choice (the
// MTA connection passes it to end_of_headers/end_of_message), the reloader's
// schedule, the DNS watch's upcoming keys, the metrics' cutover countdowns
// and the ledger's day (which comes from the `now` a signature was made at).
//
// TEST ONLY: SIGNET_TEST_CLOCK_FILE=PATH in signet-milter's environment makes
// now() the Unix time written in PATH (one integer, e.g. `echo 1767225600 >
// PATH`), re-read whenever the file's modification time or size changes, so a
// test moves the daemon through a week of days and cutovers in seconds.
// Clock::init() (once, at start, before threads) reads the variable; it
// refuses to start when the daemon runs under systemd (INVOCATION_ID is set),
// so a unit file or an inherited environment cannot turn it on in production,
// and the daemon logs a loud warning at start whenever it is on. A file that
// is missing or does not hold a number leaves the last good time (the real
// time until one was read), with one warning per change of the file.
// Fails: init() returns an error text (the daemon exits 2 with it); now()
// never fails. Thread safety: now() is safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace signet::milter {

class Clock {
 public:
  // nullopt: fine (test clock off, or on and announced by warning()); else why the daemon must not start.
  static std::optional<std::string> init();
  static std::int64_t now();
  static bool injected();
  // The start-up warning when the test clock is on ("" when it is off).
  static std::string warning();
};

}  // namespace signet::milter
