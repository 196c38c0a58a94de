#include "base/time.h"

#include <ctime>

namespace signet::rfc3339 {

std::optional<std::int64_t> parse(std::string_view t) {
  // YYYY-MM-DDTHH:MM:SSZ, exactly (RFC 3339 §5.6, UTC only).
  if (t.size() != 20 || t[4] != '-' || t[7] != '-' || (t[10] != 'T' && t[10] != 't') || t[13] != ':' ||
      t[16] != ':' || (t[19] != 'Z' && t[19] != 'z'))
    return std::nullopt;
  auto num = [&](std::size_t pos, std::size_t len) -> int {
    int v = 0;
    for (std::size_t i = pos; i < pos + len; ++i) {
      if (t[i] < '0' || t[i] > '9') return -1;
      v = v * 10 + (t[i] - '0');
    }
    return v;
  };
  std::tm tm{};
  const int y = num(0, 4), mo = num(5, 2), d = num(8, 2), h = num(11, 2), mi = num(14, 2), s = num(17, 2);
  if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 || mi > 59 || s < 0 || s > 60)
    return std::nullopt;
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  const std::time_t v = timegm(&tm);
  std::tm back{};
  gmtime_r(&v, &back);
  if (back.tm_mday != d) return std::nullopt;  // 2026-02-31
  return static_cast<std::int64_t>(v);
}

std::string format(std::int64_t t) {
  const std::time_t v = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&v, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace signet::rfc3339
