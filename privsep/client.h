// privsep/client.h — the network-facing milter's side of the signer process
// (privilege-separation = on): it starts the signer, asks it to sign, and
// turns its key table into PrivateKeys that hold no key material.
//
// SignerClient::start(options): fork + exec of `options.exe` (the daemon's
// own binary: /proc/self/exe) with `--signer-fds A,B,...` before the
// daemon's arguments, over `options.channels` SOCK_SEQPACKET socketpairs; the
// child holds nothing of the parent but those fds and the argument list (a
// bare fork of a threaded process would copy every thread's state and the
// parent's memory). Fails when a socketpair, fork or exec fails.
//   sign(epoch, key_id, digest)  thread-safe; takes a free channel (or waits
//     for one), sends SIGN, waits up to sign_timeout_ms. A signer that is gone
//     (EOF, a send that fails), silent past the timeout (it is killed), or a
//     key of an earlier signer process (epoch): a temporary_error, so the
//     message follows on-error; never another key's signature.
//   sign_many(epoch, [(key_id, digest)...])  the same for 2..kMaxBatch keys in
//     one SIGN_MANY round trip: every signature in order, or the first
//     refusal (the signer signs nothing after it) / the same errors as sign.
//     The keys key_source gives batch through it (signer/external_key.h), so a
//     message with an rsa and an ed25519 signature costs one round trip.
//   load(keep_generation, keep_epoch, token_keys)  LOAD through the signer
//     (keep: the generation the milter still signs with, sent only when it is
//     this signer process's): its table, or its refusal as the error.
//     token_keys: the key set names a pkcs11: key (KeyRow::in_token, the
//     predicate the signer uses to choose its filter). The first LOAD of a
//     signer process answers with the set it read at start, so token_keys
//     then says which filter it chose (privsep/sandbox.h); a later LOAD with
//     token_keys to a process that chose the one without file writes (the
//     token's module could not open its files) is not sent: the process is
//     killed, so the supervisor starts one that reads the new set and
//     chooses again, and this load fails temporary (the restart reloads).
//   key_source(table)  the keystore::LoadOptions::open_key hook that gives
//     each row the PrivateKey::external of its (domain, selector) in the
//     table, over a RemoteSigner bound to this client and that epoch; a row
//     missing from the table fails the load (the key set changed between the
//     signer's read and the milter's: the next reload agrees).
//   supervise(on_restart)  a thread that waits for the signer to exit, logs
//     one line, starts a new one (again after 1 s, 2 s, ... up to 30 s when
//     that fails), and calls on_restart (the daemon reloads through it); when
//     that returns false the new signer is killed and replaced after the backoff.
//   stop()  ends supervision, closes the channels (the signer exits on EOF),
//     and reaps it.
// Thread safety: every call may come from any thread.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/result.h"
#include "keystore/key_row.h"
#include "privsep/protocol.h"
#include "signer/key.h"

namespace signet::privsep {

struct KeyTable {
  std::uint64_t epoch = 0;       // which signer process answered
  std::uint32_t generation = 0;  // its generation of the key set
  std::map<std::string, TableEntry, std::less<>> by_name;  // "domain\0selector"
};

class SignerClient : public std::enable_shared_from_this<SignerClient> {
 public:
  struct Options {
    std::string exe = "/proc/self/exe";
    std::vector<std::string> args;  // the daemon's own, argv[0] first
    std::size_t channels = 4;
    int sign_timeout_ms = 10'000;
    int load_timeout_ms = 600'000;
    std::function<void(std::string_view)> log;  // warnings and errors, one line each
  };
  static Result<std::shared_ptr<SignerClient>> start(Options options);
  ~SignerClient();

  Result<std::string> sign(std::uint64_t epoch, std::uint64_t key_id, const Sha256Digest& digest);
  // REQUIRES: 2..kMaxBatch keys.
  Result<std::vector<std::string>> sign_many(std::uint64_t epoch,
                                             const std::vector<std::pair<std::uint64_t, Sha256Digest>>& keyed);
  Result<KeyTable> load(std::uint32_t keep_generation, std::uint64_t keep_epoch, bool token_keys);
  std::function<Result<PrivateKey>(const keystore::KeyRow&)> key_source(std::shared_ptr<const KeyTable> table);
  void supervise(std::function<bool()> on_restart);
  void stop();
  pid_t pid() const;

 private:
  struct Channel {
    int fd = -1;
    int timeout_ms = -1;  // SO_RCVTIMEO as last set (under mu)
    std::mutex mu;
  };
  struct Process {
    std::uint64_t epoch = 0;
    pid_t pid = -1;
    std::vector<std::unique_ptr<Channel>> channels;
    std::atomic<bool> gone{false};
    // Set by its first LOAD: whether the set it started with had a token
    // key, so its filter lets the token's module write (load()).
    std::mutex load_mu;
    bool loaded = false, token_writes = false;
    ~Process();
  };
  explicit SignerClient(Options options) : options_(std::move(options)) {}
  Result<std::shared_ptr<Process>> spawn();
  std::shared_ptr<Process> process() const;
  // The running signer process, if it is the one of that epoch (sign, sign_many).
  Result<std::shared_ptr<Process>> process_of(std::uint64_t epoch) const;
  // One request on one channel and every response frame to it.
  Result<std::vector<Response>> exchange(Process& p, const Request& q, int timeout_ms);
  // SIGN / SIGN_MANY: process_of + exchange + the answer checked to be `want`
  // (with `signatures` of them for SIGNED_MANY).
  Result<Response> signing_exchange(std::uint64_t epoch, Request q, ResponseType want, const char* what,
                                    std::size_t signatures);
  void lost(Process& p, std::string_view why);

  Options options_;
  mutable std::mutex mu_;
  std::shared_ptr<Process> process_;
  std::uint64_t next_epoch_ = 1;
  std::atomic<std::uint32_t> next_request_{1};
  std::atomic<std::size_t> next_channel_{0};
  std::atomic<bool> stopping_{false};
  std::thread supervisor_;
};

}  // namespace signet::privsep
