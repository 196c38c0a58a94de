#include "doctor/milter_socket.h"

#include <arpa/inet.h>

#include <charconv>
#include <optional>

#include "base/ascii.h"

namespace signet::doctor {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::optional<int> parse_port(std::string_view text) {
  int port = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || port <= 0 || port > 65535) {
    return std::nullopt;
  }
  return port;
}

std::string strip_brackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  return std::string(host);
}

// The host as a client's connect() sees it: lowercase, localhost resolved
// as /etc/hosts has it on Debian.
std::string canonical_host(std::string_view host) {
  std::string h = ascii::to_lower(host);
  if (h == "localhost") return "127.0.0.1";
  if (h == "ip6-localhost" || h == "ip6-loopback") return "::1";
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {  // one spelling per IPv6 address
    char buf[INET6_ADDRSTRLEN];
    if (inet_ntop(AF_INET6, &a6, buf, sizeof buf)) return buf;
  }
  return h;
}

}  // namespace

std::string MilterSocket::postfix_form() const {
  if (unix_domain()) return "unix:" + path;
  const std::string h = host.empty() ? "127.0.0.1" : host;
  return "inet:" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + std::to_string(port);
}

std::string MilterSocket::libmilter_form() const {
  if (unix_domain()) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "inet6:" + std::to_string(port) + "@[" + host + "]";
  return "inet:" + std::to_string(port) + (host.empty() ? "" : "@" + host);
}

Result<MilterSocket> parse_libmilter_socket(std::string_view spec) {
  const std::string shown(spec);
  MilterSocket s;
  for (std::string_view prefix : {"unix:", "local:"}) {
    if (starts_with(spec, prefix)) {
      s.path = std::string(spec.substr(prefix.size()));
      if (s.path.empty()) return permanent_error("socket " + shown + ": no path after " + std::string(prefix));
      return s;
    }
  }
  if (starts_with(spec, "/")) {  // libmilter takes a bare path as local:
    s.path = shown;
    return s;
  }
  for (std::string_view prefix : {"inet:", "inet6:"}) {
    if (!starts_with(spec, prefix)) continue;
    const std::string_view rest = spec.substr(prefix.size());
    const std::size_t at = rest.find('@');
    auto port = parse_port(rest.substr(0, at));
    if (!port) return permanent_error("socket " + shown + ": libmilter writes " + std::string(prefix) + "PORT@HOST, with a numeric PORT");
    s.family = MilterSocket::Family::Inet;
    s.port = *port;
    if (at != std::string_view::npos) s.host = strip_brackets(rest.substr(at + 1));
    return s;
  }
  return permanent_error("socket " + shown + ": expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST");
}

Result<MilterSocket> parse_postfix_socket(std::string_view spec) {
  const std::string shown(spec);
  MilterSocket s;
  for (std::string_view prefix : {"unix:", "local:"}) {  // milter8.c accepts both
    if (starts_with(spec, prefix)) {
      s.path = std::string(spec.substr(prefix.size()));
      if (s.path.empty()) return permanent_error(shown + ": no path after " + std::string(prefix));
      return s;
    }
  }
  if (!starts_with(spec, "inet:")) {
    if (starts_with(spec, "inet6:")) {
      return permanent_error(shown + " is libmilter's syntax; Postfix writes IPv6 as inet:[ADDRESS]:PORT");
    }
    return permanent_error(shown + ": Postfix expects unix:PATHNAME or inet:HOST:PORT (MILTER_README)");
  }
  const std::string_view rest = spec.substr(5);
  const std::size_t at = rest.find('@');
  const std::size_t colon = rest.rfind(':');
  if (at != std::string_view::npos && (colon == std::string_view::npos || colon < at)) {
    // inet:8891@127.0.0.1: what signet.conf (libmilter) says, not Postfix.
    auto port = parse_port(rest.substr(0, at));
    if (port) {
      MilterSocket m;
      m.family = MilterSocket::Family::Inet;
      m.port = *port;
      m.host = strip_brackets(rest.substr(at + 1));
      return permanent_error(shown + " is libmilter's syntax (signet.conf's); Postfix writes " + m.postfix_form());
    }
  }
  if (colon == std::string_view::npos || colon == 0) {
    return permanent_error(shown + ": Postfix expects inet:HOST:PORT (MILTER_README)");
  }
  auto port = parse_port(rest.substr(colon + 1));
  if (!port) return permanent_error(shown + ": the port must be a number for signet doctor to compare it");
  s.family = MilterSocket::Family::Inet;
  s.port = *port;
  s.host = strip_brackets(rest.substr(0, colon));
  return s;
}

bool reaches(const MilterSocket& to, const MilterSocket& on) {
  if (to.family != on.family) return false;
  if (to.unix_domain()) return normalize_path(to.path) == normalize_path(on.path);
  if (to.port != on.port) return false;
  if (is_wildcard(on.host)) return true;
  return canonical_host(to.host) == canonical_host(on.host);
}

bool is_loopback(std::string_view host) {
  const std::string h = canonical_host(host);
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  return h == "::1";
}

bool is_wildcard(std::string_view host) {
  const std::string h = canonical_host(host);
  return h.empty() || h == "0.0.0.0" || h == "::" || h == "*";
}

std::string normalize_path(std::string_view path) {
  std::string out;
  std::size_t i = 0;
  const bool absolute = !path.empty() && path[0] == '/';
  while (i < path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    const std::string_view part = path.substr(i, j - i);
    if (!part.empty() && part != ".") {
      if (!out.empty() || absolute) out += '/';
      out += part;
    }
    i = j + 1;
  }
  return out.empty() && absolute ? "/" : out;
}

}  // namespace signet::doctor
