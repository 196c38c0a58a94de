// keystore/snapshot.h — the keys the daemon signs with, as one immutable value.
//
// KeySnapshot::load(specs): reads and parses every key file once (0600 enforced,
// keystore/key_file.h) and validates the set whole: each stream has at most
// one key per algorithm, no (domain, selector) appears twice. All or nothing:
// the first problem fails the load with file and reason, and no partial
// snapshot exists. Key material is zeroized when the last holder drops it.
//
// keys_for(stream, now): the keys that sign that stream's messages at `now`,
// in stable order (rsa before ed25519). Today every loaded key is active; the
// key-set issue adds per-key windows and makes this a function of (snapshot,
// now) without changing callers.
//
// Thread safety: immutable after load; share it through std::shared_ptr and
// an atomic pointer (milter/runtime.h); concurrent keys_for() is safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "signer/key.h"
#include "signer/result.h"
#include "signer/signer.h"

namespace signet::keystore {

struct KeySpec {
  std::string stream;
  std::string domain;
  std::string selector;
  std::string path;
};

class KeySnapshot {
 public:
  static Result<std::shared_ptr<const KeySnapshot>> load(const std::vector<KeySpec>& specs);

  std::vector<SigningKey> keys_for(std::string_view stream, std::int64_t now) const;
  std::size_t size() const { return keys_.size(); }

 private:
  struct Entry {
    std::string stream, domain, selector;
    std::shared_ptr<const PrivateKey> key;
  };
  std::vector<Entry> keys_;                           // sorted by stream, then algorithm
  std::map<std::string, std::pair<std::size_t, std::size_t>, std::less<>> by_stream_;  // [begin, end)
};

}  // namespace signet::keystore
