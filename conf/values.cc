#include "conf/values.h"

#include <fnmatch.h>

#include "base/ascii.h"
#include "canon/header.h"

namespace signet::conf {

std::optional<std::int64_t> parse_duration(std::string_view t) {
  if (t.empty()) return std::nullopt;
  std::int64_t unit = 1;
  switch (t.back()) {
    case 'd': unit = 86400; break;
    case 'h': unit = 3600; break;
    case 'm': unit = 60; break;
    case 's': unit = 1; break;
    default: unit = 0;
  }
  if (unit != 0) {
    t.remove_suffix(1);
  } else {
    unit = 1;
  }
  if (t.empty() || t.size() > 9) return std::nullopt;
  std::int64_t v = 0;
  for (char c : t) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  if (v <= 0) return std::nullopt;
  return v * unit;
}

bool valid_dns_name(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t label = 0;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    if (c == '.') {
      if (label == 0 || name[i - 1] == '-') return false;
      label = 0;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    (c == '-' && label > 0) || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

std::optional<bool> parse_bool(std::string_view t) {
  const std::string v = ascii::to_lower(t);
  if (v == "true" || v == "yes" || v == "on" || v == "1") return true;
  if (v == "false" || v == "no" || v == "off" || v == "0") return false;
  return std::nullopt;
}

std::vector<std::string> split_list(std::string_view list) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : list) {
    if (c == ' ' || c == '\t' || c == ',' || c == '\n' || c == '\r') {
      if (!cur.empty()) out.push_back(std::move(cur));
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) out.push_back(std::move(cur));
  return out;
}

bool domain_matches(std::string_view pattern, std::string_view domain) {
  if (pattern.substr(0, 2) == "*.") {
    const std::string_view suffix = pattern.substr(1);  // ".example.com"
    return domain.size() > suffix.size() && ascii::iequals(domain.substr(domain.size() - suffix.size()), suffix);
  }
  return ascii::iequals(pattern, domain);
}

bool glob_matches(std::string_view pattern, std::string_view text) {
  return fnmatch(std::string(pattern).c_str(), std::string(text).c_str(), 0) == 0;
}

std::string address_domain(std::string_view v) {
  // The addr-spec is inside <...> when there is an angle address (RFC 5322
  // §3.4); otherwise the value is the address. Quoted local parts may hold
  // '@', so the domain is what follows the last '@'.
  const std::size_t lt = v.find('<');
  if (lt != std::string_view::npos) {
    const std::size_t gt = v.find('>', lt);
    v = v.substr(lt + 1, gt == std::string_view::npos ? std::string_view::npos : gt - lt - 1);
  }
  const std::size_t at = v.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string_view d = v.substr(at + 1);
  std::size_t end = 0;
  while (end < d.size() && d[end] != '>' && d[end] != ' ' && d[end] != '\t' && d[end] != '\r' &&
         d[end] != '\n' && d[end] != ',' && d[end] != ';' && d[end] != '(')
    ++end;
  d = d.substr(0, end);
  if (!d.empty() && d.back() == '.') d.remove_suffix(1);
  return ascii::to_lower(d);
}

std::optional<std::pair<std::string, int>> parse_loopback_listen(std::string_view text) {
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  std::string host(text.substr(0, colon));
  const std::string_view port_text = text.substr(colon + 1);
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const int port = std::stoi(std::string(port_text));
  if (port < 1 || port > 65535) return std::nullopt;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return std::pair{std::string("127.0.0.1"), port};
  if (host == "::1") return std::pair{host, port};
  int dots = 0;
  for (char c : host) dots += c == '.';
  if (host.rfind("127.", 0) == 0 && dots == 3 && host.find_first_not_of("0123456789.") == std::string::npos &&
      host.find("..") == std::string::npos && host.back() != '.') {
    return std::pair{host, port};
  }
  return std::nullopt;
}

}  // namespace signet::conf
