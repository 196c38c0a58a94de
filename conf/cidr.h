// conf/cidr.h — IPv4/IPv6 networks for `internal-hosts`, stream `hosts` and
// rule `client`.
//
// CidrSet::parse("127.0.0.1/32 10.0.0.0/8, ::1/128") adds each network (a
// bare address means /32 or /128). Fails (permanent) naming the bad entry.
// add(list): the same into an existing set (repeated options accumulate);
// on failure the set is unchanged up to the bad entry's predecessors.
// contains(addr) takes an address as text ("10.1.2.3", "::1",
// "::ffff:10.1.2.3" which counts as IPv4, "[::1]" as libmilter gives it);
// an unparsable address is contained in nothing.
// address(text): the same parse as contains() on its own, the 16 bytes (IPv4
// as ::ffff:a.b.c.d), nullopt when unparsable; networks(): the entries, host
// bits zero below each prefix (IPv4 prefixes + 96), for conf/rule_index.h.
// Thread safety: immutable after parse; concurrent contains() is safe.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet::conf {

class CidrSet {
 public:
  using Bytes = std::array<unsigned char, 16>;
  struct Net {
    Bytes addr{};  // IPv4 as IPv4-mapped IPv6
    int prefix = 128;
  };

  static Result<CidrSet> parse(std::string_view list);
  Status add(std::string_view list);
  bool contains(std::string_view address) const;
  bool empty() const { return nets_.empty(); }
  static std::optional<Bytes> address(std::string_view text);
  const std::vector<Net>& networks() const { return nets_; }

 private:
  std::vector<Net> nets_;
};

}  // namespace signet::conf
