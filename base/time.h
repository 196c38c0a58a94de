// base/time.h — RFC 3339 UTC timestamps, the one time format signet writes
// (manifest, register, CLI output, log lines) and reads (manifest, --at, --now).
//
// rfc3339::format(t): Unix time -> "2026-11-26T14:00:00Z".
// rfc3339::parse(text): exactly "YYYY-MM-DDTHH:MM:SSZ" (T/Z in either case)
//   -> Unix time; nullopt for anything else, including dates that do not
//   exist (2026-02-31) and years before 1970. Leap second 60 is accepted as
//   the next second, as timegm does.
// Fails: never throws; parse reports malformed text as nullopt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace signet::rfc3339 {

std::string format(std::int64_t t);
std::optional<std::int64_t> parse(std::string_view text);

}  // namespace signet::rfc3339
