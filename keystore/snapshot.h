// keystore/snapshot.h — the keys the daemon signs with, as one immutable value.
//
// KeySnapshot::load(dir, rows, options, previous): reads and parses every key
// file once (keystore/key_file.h: 0600, or group-readable only when the
// operator allows it; paths are DIR/row.file; with key-protection = sealed
// each file is opened with the master key as its row's domain and selector,
// keystore/sealed.h, and a plaintext one is refused) and validates the set whole:
// each (domain, selector) once, the file's algorithm and size match the row
// (unless the row lets the file decide), RSA >= 1024. All or nothing: the
// first problem fails the load naming the row's origin, and the caller keeps
// its last good snapshot. A key whose file content is unchanged since
// `previous` is not parsed again (a sealed one is still opened, so a wrong
// master key fails the reload). Every key, its file bytes and the opened
// sealed plaintext live in the secure heap (signer/secure_memory.h); a key is
// cleansed when the last snapshot holding it is dropped. A row whose file is a
// pkcs11: URI is opened in its token at every load (hsm/pkcs11.h; never
// reused, so a deleted object or a missing token refuses the load). Retired rows are
// loaded as register rows: no file, never sign.
//
// Which keys sign is a pure function of (snapshot, now, hidden), written as
// named queries over the rows' windows (keystore/key_row.h):
//   signing_key    the newest key whose window contains now
//   outgoing_key   with overlap-signing, for that long after a cutover: the
//                  key it replaced, while that key's record is published
//   stand_in_key   when the scheduled key is hidden (its DNS record is not
//                  visible, milter/dns_watch.h): the newest key that has
//                  started signing and whose record is still published
// keys_for(stream, now, hidden) combines them per algorithm, rsa before
// ed25519. So a cutover planned for 14:00:00 happens at 14:00:00 on every
// host holding the same key set, with no reload and no coordinator.
// upcoming(now, horizon): scheduled keys starting within (now-h, now+h]:
// what the DNS watch checks. next_change(now): the next instant keys_for()
// may answer differently. gaps(now): streams with no key now or a hole ahead.
// row(i) / loaded(i): every row of the set, for reports (the metrics).
//
// Thread safety: immutable after load; share it through std::shared_ptr and
// an atomic pointer (milter/runtime.h); concurrent calls are safe.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "keystore/key_row.h"
#include "keystore/sealed.h"
#include "signer/key.h"
#include "signer/signer.h"

namespace signet::keystore {

struct LoadOptions {
  bool allow_group_readable = false;  // key files may be mode 0640
  std::int64_t overlap_signing = 0;   // seconds after a cutover the outgoing key also signs
  // key-protection (keystore/sealed.h): which form a key file must have, and
  // the master key that opens sealed ones (null under Plain).
  Protection protection = Protection::Plain;
  std::shared_ptr<const MasterKey> master_key;
  // When set, every row that is not retired gets its key from here instead of
  // its file or token (never reused from `previous`): privilege-separation =
  // on, where the milter's keys are the signer process's table
  // (privsep/client.h). Called from several threads at once.
  std::function<Result<PrivateKey>(const KeyRow& row)> open_key;
};

// Keys whose DNS record is not visible: "domain/selector".
using HiddenKeys = std::set<std::string>;

class KeySnapshot {
 public:
  static Result<std::shared_ptr<const KeySnapshot>> load(const std::string& dir, const std::vector<KeyRow>& rows,
                                                         const LoadOptions& options = {},
                                                         const KeySnapshot* previous = nullptr);

  std::vector<SigningKey> keys_for(std::string_view stream, std::int64_t now, const HiddenKeys& hidden = {}) const;

  struct Upcoming {
    SigningKey key;
    KeyRow row;
  };
  std::vector<Upcoming> upcoming(std::int64_t now, std::int64_t horizon) const;
  std::optional<std::int64_t> next_change(std::int64_t now) const;
  std::vector<std::string> gaps(std::int64_t now) const;
  std::size_t size() const { return keys_.size(); }
  // The i-th row (i < size()), sorted by stream, and whether its key is
  // loaded (false for retired rows): what the metrics scrape reports on.
  const KeyRow& row(std::size_t i) const { return keys_[i].row; }
  bool loaded(std::size_t i) const { return keys_[i].key != nullptr; }
  // The i-th row's key (null for retired rows): what the signer process
  // (privsep/signer_service.h) answers SIGN with.
  const std::shared_ptr<const PrivateKey>& key(std::size_t i) const { return keys_[i].key; }
  std::size_t parsed() const { return parsed_; }  // keys parsed by this load (not reused)

 private:
  struct Entry {
    KeyRow row;                             // algorithm and bits as the file holds them
    std::shared_ptr<const PrivateKey> key;  // null for retired rows
    Sha256Digest content{};                 // of the key file, to reuse the parse on reload
    bool signs_as(Algorithm a) const { return key && row.algorithm == a; }
  };
  template <typename Eligible>
  const Entry* newest(std::string_view stream, Algorithm a, Eligible eligible) const;
  const Entry* signing_key(std::string_view stream, Algorithm a, std::int64_t now, const HiddenKeys& hidden) const;
  const Entry* outgoing_key(std::string_view stream, Algorithm a, std::int64_t now, const Entry& current) const;
  const Entry* stand_in_key(std::string_view stream, Algorithm a, std::int64_t now, const HiddenKeys& hidden) const;
  static SigningKey signing(const Entry& e);

  std::vector<Entry> keys_;  // sorted by stream
  std::map<std::string, std::pair<std::size_t, std::size_t>, std::less<>> by_stream_;  // [begin, end)
  LoadOptions options_;
  std::size_t parsed_ = 0;
};

// A row whose key is in a PKCS#11 token (KeyRow::in_token()): its key,
// opened through the token (hsm/pkcs11.h: the object must be there), and
// how messages name it (the URI without a pin-value).
Result<PrivateKey> open_token_key(const KeyRow& row);
std::string token_key_name(const KeyRow& row);

// The key set in DIR alone (its manifest, checked, and every key file), as
// `signet keyset check` and the tools' validation load it.
Result<std::shared_ptr<const KeySnapshot>> load_key_directory(const std::string& dir, const LoadOptions& options);

}  // namespace signet::keystore
