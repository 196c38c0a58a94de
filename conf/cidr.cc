#include "conf/cidr.h"

#include <arpa/inet.h>

#include <cstring>

#include "conf/values.h"

namespace signet::conf {
namespace {

// Any address as 16 bytes: IPv4 becomes ::ffff:a.b.c.d (RFC 4291 §2.5.5.2).
bool to_bytes(std::string_view text, std::array<unsigned char, 16>& out, bool& is_v4) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') text = text.substr(1, text.size() - 2);
  if (text.substr(0, 5) == "IPv6:") text.remove_prefix(5);
  const std::string s(text);
  in_addr v4{};
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out.fill(0);
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    is_v4 = true;
    return true;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memcpy(out.data(), &v6, 16);
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    is_v4 = std::memcmp(out.data(), mapped, 12) == 0;
    return true;
  }
  return false;
}

}  // namespace

Result<CidrSet> CidrSet::parse(std::string_view list) {
  CidrSet set;
  if (Status s = set.add(list); !s) return s.error();
  return set;
}

Status CidrSet::add(std::string_view list) {
  for (const std::string& item : split_list(list)) {
    const std::size_t slash = item.find('/');
    Net net;
    bool v4 = false;
    if (!to_bytes(std::string_view(item).substr(0, slash), net.addr, v4)) {
      return permanent_error("\"" + item + "\" is not an IPv4 or IPv6 address or network");
    }
    const int max = v4 ? 32 : 128;
    int prefix = max;
    if (slash != std::string::npos) {
      const std::string p = item.substr(slash + 1);
      if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(p) > max) {
        return permanent_error("\"" + item + "\" has a bad prefix length (0-" + std::to_string(max) + ")");
      }
      prefix = std::stoi(p);
    }
    net.prefix = v4 ? prefix + 96 : prefix;
    // Host bits set below the prefix are an operator error worth a message.
    for (int bit = net.prefix; bit < 128; ++bit) {
      if (net.addr[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8))) {
        return permanent_error("\"" + item + "\" has host bits set beyond /" + std::to_string(prefix));
      }
    }
    nets_.push_back(net);
  }
  return Ok{};
}

std::optional<CidrSet::Bytes> CidrSet::address(std::string_view text) {
  Bytes a{};
  bool v4 = false;
  if (!to_bytes(text, a, v4)) return std::nullopt;
  return a;
}

bool CidrSet::contains(std::string_view address) const {
  std::array<unsigned char, 16> a{};
  bool v4 = false;
  if (!to_bytes(address, a, v4)) return false;
  for (const Net& n : nets_) {
    const int full = n.prefix / 8;
    if (std::memcmp(a.data(), n.addr.data(), static_cast<std::size_t>(full)) != 0) continue;
    const int rest = n.prefix % 8;
    if (rest == 0) return true;
    const unsigned char mask = static_cast<unsigned char>(0xff << (8 - rest));
    if ((a[static_cast<std::size_t>(full)] & mask) == n.addr[static_cast<std::size_t>(full)]) return true;
  }
  return false;
}

}  // namespace signet::conf
