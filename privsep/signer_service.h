// privsep/signer_service.h — the signer process's side of the protocol
// (privsep/protocol.h): it alone holds the private keys, and answers the
// network-facing milter with signatures and a table of public facts.
//
// SignerService(load, log, limits, now): `load(previous)` reads the key set
// (the signer's own configuration: the same files and arguments as the
// daemon) and is called at construction and on every LOAD after the first;
// `log` gets one line per refused request or load, never key bytes — at most
// limits.lines (10) per kind of refusal (malformed frame, key never held,
// key of a generation no longer held, signing failure, refused load) in
// limits.seconds (60), then one line "N more refusals in the last S s not
// logged (last: REASON)" (base/rate_limit.h; `now` is its clock, for tests).
// The limit is on the log only: every refused request is still answered
// REFUSED, exactly as without it.
//   handle(frame)  one request -> the response frames to send back:
//     SIGN  for a key id of a generation it holds (the newest, and the one
//           the milter's last LOAD said it still signs with): SIGNED with
//           the signature of exactly that 32-byte digest; anything else
//           (malformed, unknown key, a key that fails to sign) is REFUSED
//           with the reason, and logged
//     SIGN_MANY  the same for each item, in order, answered by one
//           SIGNED_MANY with every signature; the first item refused makes
//           the whole answer that item's REFUSED (logged once) and the items
//           after it are not signed — the message fails as a lone SIGN would
//     LOAD  the first answers with the set loaded at construction (read
//           before privileges were dropped), later ones load anew; on
//           success TABLE frames (key id, domain, selector, algorithm, bits,
//           public key) then TABLE_END; on failure REFUSED with the load's
//           error and the generations held stay as they were
//   serve(fd)      reads frames from one SOCK_SEQPACKET socket and answers
//                  each, until the peer closes it (returns) — one thread per
//                  channel; handle() is safe from many threads at once
//   holds_token_keys()  whether a row of the current set is a pkcs11: key
//                  (the seccomp filter then allows the module's file writes)
//   flush_log()    the summary lines of intervals that have ended (the
//                  signer process calls it every second)
// Key ids name a loaded key, not a row of one generation: a key that a
// reload carries over unchanged (the same PrivateKey: KeySnapshot::load
// reuses what it parsed when the file's bytes are the same) keeps its id, so
// a message begun before any number of reloads still signs with it; a new or
// changed key gets the next id. An id is never reused for another key within
// one signer process (the client also refuses ids of an earlier signer
// process: privsep/client.h). The keys of the newest generation and of the
// one the milter's last LOAD named are held; a key only an older generation
// had is refused (temporary).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/rate_limit.h"
#include "base/result.h"
#include "keystore/snapshot.h"
#include "privsep/protocol.h"

namespace signet::privsep {

class SignerService {
 public:
  using Loader =
      std::function<Result<std::shared_ptr<const keystore::KeySnapshot>>(std::shared_ptr<const keystore::KeySnapshot> previous)>;
  using LogLine = std::function<void(std::string_view line)>;

  SignerService(Loader load, LogLine log, RateLimitedLog::Limits limits = {}, RateLimitedLog::Clock now = {});
  std::vector<std::string> handle(std::string_view frame);
  void serve(int fd);
  bool holds_token_keys() const;
  void flush_log() { refusals_.flush(); }

 private:
  struct Generation {
    std::uint32_t number = 0;
    std::shared_ptr<const keystore::KeySnapshot> keys;
    std::vector<std::uint64_t> ids;                    // per row; 0: the row has no key
    std::unordered_map<std::uint64_t, std::size_t> row_of;  // id -> row
  };
  // REQUIRES: mu_ held (the ids of current_ and kept_ are carried over).
  std::shared_ptr<const Generation> make_generation(std::uint32_t number,
                                                    std::shared_ptr<const keystore::KeySnapshot> keys);
  std::string sign(const Request& q);
  std::string sign_many(const Request& q);
  // true: out is the signature; false: out is the REFUSED frame (logged).
  bool sign_item(std::uint32_t id, const std::string& what, std::uint64_t key_id, const Sha256Digest& digest, std::string& out);
  std::vector<std::string> load(const Request& q);

  Loader load_;
  RateLimitedLog refusals_;  // every refusal's line goes through it
  mutable std::mutex mu_;                      // guards the generations (copied out, never held while signing)
  std::shared_ptr<const Generation> current_;  // null until a load succeeds
  std::shared_ptr<const Generation> kept_;     // the one the milter still signs with, if another
  std::optional<Error> first_error_;           // the load at construction, if it failed
  bool first_load_answered_ = false;
  std::uint64_t next_id_ = 1;  // under mu_
  std::mutex load_mu_;  // one LOAD at a time
};

}  // namespace signet::privsep
