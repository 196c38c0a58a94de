// keystore/manifest.h — the key set's file format: a human-readable,
// diffable manifest, one [key] block per key (keystore/key_row.h), in the
// key directory beside the key files (default /var/lib/signet/keys).
//
//   [key]
//   stream = tx
//   domain = example.com
//   selector = tx-202611-rsa2048
//   algorithm = rsa
//   bits = 2048
//   owner = platform-team
//   file = example.com/tx-202611-rsa2048.key      (relative to the directory,
//          or pkcs11:token=…;object=…?module-path=…&pin-source=…: a key in a
//          PKCS#11 token, hsm/pkcs11.h; pin-value= is refused here)
//   created = 2026-11-01T00:00:00Z
//   published-at = 2026-11-01T00:00:00Z           (DNS record published)
//   active-from = 2026-11-03T00:00:00Z            (signs from here...; empty = standby)
//   active-until = 2027-05-01T00:00:00Z           (...to here, exclusive; empty = open)
//   retire-at = 2027-05-15T00:00:00Z              (record becomes p= empty)
//   retired-at =                                  (set once retired; the row stays forever)
//
// Retired rows are the register: a (domain, selector) pair that appears once
// can never appear again. Times are RFC 3339 UTC (base/time.h).
//
// parse_manifest(text, path): every row (origin "PATH:LINE"), or the first
// syntax problem as "PATH:LINE: what; what to do". format_manifest(): the
// canonical text (what `signet key` writes; parse(format(m)) == m).
// check_manifest(m): the rows' schedules are possible: created <=
// published-at <= active-from < active-until <= retire-at, RSA of at least
// 1024 bits; fails naming the row's origin. read_manifest(dir): parse of
// DIR/manifest; an empty manifest when there is no such file.
// Writing goes through keystore/key_directory.h (validated whole, atomic).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "keystore/key_row.h"

namespace signet::keystore {

inline constexpr const char* kManifestName = "manifest";

struct Manifest {
  std::vector<KeyRow> keys;
};

Result<Manifest> parse_manifest(std::string_view text, const std::string& path);
std::string format_manifest(const Manifest& m);
Status check_manifest(const Manifest& m);
Result<Manifest> read_manifest(const std::string& dir);

}  // namespace signet::keystore
