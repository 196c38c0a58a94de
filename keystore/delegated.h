// keystore/delegated.h — selectors a vendor signs for on one of our domains:
// we publish a CNAME to the vendor's record (DIR/delegated, the manifest's
// style). They are register rows and count as used names (a selector is
// never reused), but there is no key here.
//
//   [delegated]
//   domain = example.com
//   selector = esp1
//   target = esp1.dkim.vendor.example
//   owner = marketing
//   added = 2026-11-26T10:00:00Z
//
// read_delegated(dir): every entry; none when the file does not exist. Fails
// naming DIR/delegated:LINE. write_delegated(dir, list): atomic
// (keystore/atomic_file.h).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"

namespace signet::keystore {

inline constexpr const char* kDelegatedName = "delegated";

struct Delegated {
  std::string domain, selector, target, owner;
  std::int64_t added = 0;
};

Result<std::vector<Delegated>> read_delegated(const std::string& dir);
Status write_delegated(const std::string& dir, const std::vector<Delegated>& list);

}  // namespace signet::keystore
