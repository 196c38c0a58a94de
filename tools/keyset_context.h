// tools/keyset_context.h — what the `signet key|dns|register` commands share:
// the configuration (streams, rotation policy), the key directory, its lock,
// its manifest, and the clock.
//
// open(): reads --config (default /etc/signet/signet.conf) and the key
// directory (--dir, else the config's key-directory); with `lock`, holds an
// exclusive flock on DIR/.lock until destroyed, so two commands at once never
// interleave their writes. --now TIME (RFC 3339, or a Unix time) injects the
// clock, for tests and dry runs.
// commit(): validates the new manifest whole with the directory's key files
// (as the daemon would load it) and writes it atomically; on failure nothing
// is written.
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "conf/config.h"
#include "keystore/manifest.h"
#include "signer/verifier.h"

namespace signet::tools {

class KeySetContext {
 public:
  static void add_options(boost::program_options::options_description& desc);
  static Result<KeySetContext> open(const boost::program_options::variables_map& vm, bool lock);

  KeySetContext(KeySetContext&& o) noexcept;
  ~KeySetContext();

  Result<keystore::StreamInfo> stream(const std::string& name) const;
  Status commit(const keystore::Manifest& next) const;
  std::string key_path(const keystore::KeyEntry& k) const { return dir + "/" + k.file; }

  conf::Config config;
  std::string dir;
  std::int64_t now = 0;
  keystore::Manifest manifest;
  std::vector<keystore::Delegated> delegated;

  // Selectors of `domain` used by delegated entries (never reusable either).
  std::set<std::string> delegated_names(const std::string& domain) const;

 private:
  KeySetContext() = default;
  int lock_fd_ = -1;
};

// The key set's published selectors compared with DNS (signet dns check,
// signet key rotate, signet audit): severity ok | warning | error.
struct DnsFinding {
  std::string severity, name, stream, message;
};
std::vector<DnsFinding> check_published(const KeySetContext& ctx, KeyLookup& dns);
DnsFinding check_one(const KeySetContext& ctx, const keystore::KeyEntry& k, KeyLookup& dns);

// Overwrites a private-key file with zeros, syncs, and removes it: retiring
// destroys the key; the register row stays.
Status destroy_key_file(const std::string& path);

}  // namespace signet::tools
