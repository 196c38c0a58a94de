// keystore/manifest.h — the key set on disk: a human-readable, diffable
// manifest plus one private-key file per key (default /var/lib/signet/keys).
//
//   [key]
//   stream = tx
//   domain = example.com
//   selector = tx-202611-rsa2048
//   algorithm = rsa
//   bits = 2048
//   owner = platform-team
//   file = example.com/tx-202611-rsa2048.key      (relative to the directory)
//   created = 2026-11-01T00:00:00Z
//   published-at = 2026-11-01T00:00:00Z           (DNS record published)
//   active-from = 2026-11-03T00:00:00Z            (signs from here...; empty = standby)
//   active-until = 2027-05-01T00:00:00Z           (...to here, exclusive; empty = open)
//   retire-at = 2027-05-15T00:00:00Z              (record becomes p= empty)
//   retired-at =                                  (set once retired; the row stays forever)
//
// Retired rows are the register: a (domain, selector) pair that appears once
// can never appear again. Times are RFC 3339 UTC ("Z").
//
// parse_manifest(text, path): every entry, or the first problem as
// "PATH:LINE: what; what to do". format_manifest(): the canonical text (what
// `signet key` writes; parse(format(m)) == m). write_manifest(dir, m): atomic:
// temp file, fsync, rename over `manifest`, fsync of the directory, so a crash
// or a full disk never leaves half a key set.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "signer/key.h"

namespace signet::keystore {

inline constexpr const char* kManifestName = "manifest";

struct KeyEntry {
  std::string stream, domain, selector;
  Algorithm algorithm = Algorithm::RsaSha256;
  int bits = 0;
  std::string owner;
  std::string file;
  std::int64_t created = 0;
  std::int64_t published_at = 0;
  std::optional<std::int64_t> active_from;  // none: standby (published, not signing)
  std::optional<std::int64_t> active_until, retire_at, retired_at;
  std::size_t line = 0;  // where the entry starts in its file (0 when built in memory)

  bool operator==(const KeyEntry& o) const;
};

struct Manifest {
  std::vector<KeyEntry> keys;
};

Result<Manifest> parse_manifest(std::string_view text, const std::string& path);
std::string format_manifest(const Manifest& m);
Status write_manifest(const std::string& dir, const Manifest& m);

// Atomic replace of DIR/NAME: temp file, fsync, rename, fsync of DIR.
Status write_file_atomic(const std::string& dir, const std::string& name, std::string_view text);

// Delegated selectors: a vendor signs for one of our domains and we publish
// a CNAME to its record (DIR/delegated, same style as the manifest). They are
// in the register and count as used names, but have no key here.
//   [delegated]
//   domain = example.com
//   selector = esp1
//   target = esp1.dkim.vendor.example
//   owner = marketing
//   added = 2026-11-26T10:00:00Z
struct Delegated {
  std::string domain, selector, target, owner;
  std::int64_t added = 0;
};
inline constexpr const char* kDelegatedName = "delegated";
Result<std::vector<Delegated>> read_delegated(const std::string& dir);
Status write_delegated(const std::string& dir, const std::vector<Delegated>& d);

// The manifest in `dir` as KeySpecs (keystore/snapshot.h), its windows
// checked: created <= published-at <= active-from < active-until <= retire-at,
// RSA of at least 1024 bits. No manifest file: an empty list. Fails with
// "DIR/manifest:LINE: ...". Keys themselves are read by KeySnapshot::load.
// specs_from_manifest_text(): the same for manifest text not (yet) on disk,
// key files resolved in `dir`, errors naming `origin`.
struct KeySpec;
Result<std::vector<KeySpec>> specs_from_manifest(const std::string& dir);
Result<std::vector<KeySpec>> specs_from_manifest_text(const std::string& dir, std::string_view text,
                                                      const std::string& origin);


}  // namespace signet::keystore
