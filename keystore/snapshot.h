// keystore/snapshot.h — the keys the daemon signs with, as one immutable value.
//
// KeySnapshot::load(specs, options, previous): reads and parses every key file
// once (keystore/key_file.h: 0600, or group-readable only when the operator
// allows it) and validates the set whole: each (domain, selector) once, the
// file's algorithm and size match the spec, RSA >= 1024. All or nothing: the
// first problem fails the load naming where it comes from (manifest line or
// config), and the caller keeps its last good snapshot. A key whose file is
// unchanged since `previous` (same inode, size, mtime) is not parsed again.
// Key material is zeroized when the last snapshot holding it is dropped.
//
// keys_for(stream, now): a pure function of (snapshot, now). Per algorithm,
// the key whose active window [active-from, active-until) contains now; where
// two overlap, the newer (later active-from). With overlap signing (options),
// for that many seconds after a cutover the outgoing key signs too. So a
// cutover planned for 14:00:00 happens at 14:00:00 on every host holding the
// same key set, with no reload and no coordinator. Order: rsa before ed25519.
// next_change(now): the next instant keys_for() may answer differently.
// gaps(now): warnings for streams with no key now or a hole ahead.
//
// Thread safety: immutable after load; share it through std::shared_ptr and
// an atomic pointer (milter/runtime.h); concurrent calls are safe.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "signer/key.h"
#include "signer/signer.h"

namespace signet::keystore {

struct KeySpec {
  std::string stream;
  std::string domain;
  std::string selector;
  std::string path;
  std::string origin;                       // "…/manifest:12" or "config", for messages
  std::optional<Algorithm> algorithm;       // checked against the file when set
  int bits = 0;                             // checked against the file when set
  std::int64_t active_from = std::numeric_limits<std::int64_t>::min();
  std::optional<std::int64_t> active_until;  // exclusive
  std::optional<std::int64_t> retire_at;
  bool retired = false;                     // register row only: no file, never signs
};

struct LoadOptions {
  bool allow_group_readable = false;  // key files may be mode 0640
  std::int64_t overlap_signing = 0;   // seconds after a cutover the outgoing key also signs
};

class KeySnapshot {
 public:
  static Result<std::shared_ptr<const KeySnapshot>> load(const std::vector<KeySpec>& specs,
                                                         const LoadOptions& options = {},
                                                         const KeySnapshot* previous = nullptr);

  // hidden: keys ("domain/selector") whose DNS record is not visible
  // (milter/dns_watch.h). A hidden key does not sign; the key it replaces
  // keeps signing while its record is still published (before retire-at).
  std::vector<SigningKey> keys_for(std::string_view stream, std::int64_t now,
                                   const std::set<std::string>* hidden = nullptr) const;
  // Keys whose window starts within (now, now + horizon], and active keys
  // that started within the last `horizon`: what the DNS watch checks.
  std::vector<std::pair<SigningKey, std::int64_t>> upcoming(std::int64_t now, std::int64_t horizon) const;
  std::optional<std::int64_t> next_change(std::int64_t now) const;
  std::vector<std::string> gaps(std::int64_t now) const;
  std::size_t size() const { return keys_.size(); }
  std::size_t parsed() const { return parsed_; }  // keys parsed by this load (not reused)

 private:
  struct Entry {
    KeySpec spec;
    Algorithm algorithm = Algorithm::RsaSha256;
    std::shared_ptr<const PrivateKey> key;  // null for retired rows
    Sha256Digest content{};                 // of the key file, to reuse the parse on reload
  };
  const Entry* pick(std::string_view stream, Algorithm a, std::int64_t now, const Entry* newer_than,
                    const std::set<std::string>* hidden = nullptr, bool draining_ok = false) const;

  std::vector<Entry> keys_;  // sorted by stream
  std::map<std::string, std::pair<std::size_t, std::size_t>, std::less<>> by_stream_;  // [begin, end)
  LoadOptions options_;
  std::size_t parsed_ = 0;
};

}  // namespace signet::keystore
