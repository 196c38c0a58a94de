// keystore/key_row.h — one key of the key set, whoever declared it: a
// manifest row (`signet key …` or a hand edit) or a stream's `selector =`
// line in the configuration. One type, one clock rule, used by the planner
// (keystore/lifecycle.h), the snapshot that signs (keystore/snapshot.h) and
// every CLI command.
//
// Window: when a key signs, as an explicit value, never a sentinel time:
//   standby          published, loaded, never signs (waits for a rotation)
//   always           signs at every instant (configuration selector lines)
//   scheduled        signs in [from, until); until absent = open-ended
// KeyRow::state(now): where the key is in its life (docs/dkim.md "Rotation"):
//   retired     retired-at is set: register row only, the key is destroyed
//   standby     published, waiting
//   scheduled   its window starts after now
//   active      its window contains now
//   draining    its window is over, its record stays published until retire-at
//   retire-due  retire-at has passed: `signet key retire` destroys it
// Fails: never; these are values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "hsm/pkcs11_uri.h"
#include "signer/key.h"

namespace signet::keystore {

struct Window {
  enum class Kind { Standby, Always, Scheduled };
  Kind kind = Kind::Standby;
  std::int64_t from = 0;              // Scheduled only: first instant it signs
  std::optional<std::int64_t> until;  // Scheduled only: first instant it no longer signs

  static Window standby() { return {}; }
  static Window always() { return {Kind::Always, 0, std::nullopt}; }
  static Window scheduled(std::int64_t from, std::optional<std::int64_t> until = std::nullopt) {
    return {Kind::Scheduled, from, until};
  }
  bool is_standby() const { return kind == Kind::Standby; }
  bool is_always() const { return kind == Kind::Always; }
  bool is_scheduled() const { return kind == Kind::Scheduled; }
  // The instant it starts signing, when it has one (scheduled).
  std::optional<std::int64_t> start() const { return is_scheduled() ? std::optional(from) : std::nullopt; }
  bool started(std::int64_t now) const { return is_always() || (is_scheduled() && from <= now); }
  bool contains(std::int64_t now) const { return started(now) && !(is_scheduled() && until && now >= *until); }
  // Which of two windows began later: the one that signs where both contain now.
  bool starts_after(const Window& o) const;
  bool operator==(const Window& o) const = default;
};

enum class KeyState { Standby, Scheduled, Active, Draining, RetireDue, Retired };
std::string_view state_name(KeyState s);

struct KeyRow {
  std::string stream, domain, selector;
  Algorithm algorithm = Algorithm::RsaSha256;
  int bits = 0;                      // 0: not declared (a configuration selector line)
  bool algorithm_from_file = false;  // configuration selector lines: the key file decides
  std::string owner;
  std::string file;                  // the private key, relative to the key directory, or a
                                     // pkcs11: URI (RFC 7512) naming it in a token (hsm/pkcs11.h)
  std::int64_t created = 0, published_at = 0;
  Window window;
  std::optional<std::int64_t> retire_at;   // its record becomes p= empty
  std::optional<std::int64_t> retired_at;  // set once retired; the row stays forever
  std::string origin;                // where it was declared, for messages ("…/manifest:12")

  KeyState state(std::int64_t now) const;
  // Its record is still published with the key (not yet revoked by retire-at).
  bool record_live(std::int64_t now) const { return !retire_at || now < *retire_at; }
  std::string dns_name() const { return selector + "._domainkey." + domain; }
  // Its private key is in a PKCS#11 token: `file` is a pkcs11: URI, no file.
  bool in_token() const { return hsm::is_pkcs11_uri(file); }
  // Every field but origin: what the key set says, not where it was read.
  bool operator==(const KeyRow& o) const;
};

// A stream's `selector = NAME` line: a key that always signs, whose file is
// DOMAIN/NAME.key in the key directory and whose algorithm is the file's.
KeyRow configured_selector(const std::string& stream, const std::string& domain, const std::string& selector,
                           const std::string& origin);

}  // namespace signet::keystore
