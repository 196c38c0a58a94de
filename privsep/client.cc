#include "privsep/client.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <chrono>
#include <cstring>

#include "signer/external_key.h"

namespace signet::privsep {
namespace {

// A key whose private half is in the signer process: sign_digest is one
// round trip over a channel (privsep/protocol.h), bound to the signer
// process (epoch) that gave out the key id; sign_batch is one SIGN_MANY
// round trip for up to kMaxBatch keys of this client.
class RemoteSigner final : public ExternalSigner {
 public:
  RemoteSigner(std::shared_ptr<SignerClient> client, std::uint64_t epoch, std::uint64_t key_id)
      : client_(std::move(client)), epoch_(epoch), key_id_(key_id) {}
  Result<std::string> sign_digest(const Sha256Digest& digest) const override {
    return client_->sign(epoch_, key_id_, digest);
  }
  const void* batch_backend() const override { return client_.get(); }
  Result<std::vector<std::string>> sign_batch(const std::vector<BatchItem>& items) const override {
    std::vector<std::pair<std::uint64_t, Sha256Digest>> keyed;
    for (const BatchItem& it : items) {
      const auto* r = dynamic_cast<const RemoteSigner*>(it.signer);
      // Keys of two signer processes (epochs) never share a key set; if
      // they did, signature by signature refuses the stale one as before.
      if (!r || r->client_ != client_ || r->epoch_ != epoch_) return ExternalSigner::sign_batch(items);
      keyed.emplace_back(r->key_id_, it.digest);
    }
    std::vector<std::string> out;
    for (std::size_t at = 0; at < keyed.size(); at += kMaxBatch) {
      const std::size_t n = std::min(kMaxBatch, keyed.size() - at);
      if (n == 1) {
        auto sig = client_->sign(epoch_, keyed[at].first, keyed[at].second);
        if (!sig) return sig.error();
        out.push_back(std::move(sig.value()));
        continue;
      }
      auto sigs = client_->sign_many(epoch_, {keyed.begin() + at, keyed.begin() + at + n});
      if (!sigs) return sigs.error();
      for (std::string& sig : sigs.value()) out.push_back(std::move(sig));
    }
    return out;
  }

 private:
  std::shared_ptr<SignerClient> client_;
  std::uint64_t epoch_, key_id_;
};

std::string table_name(std::string_view domain, std::string_view selector) {
  std::string k(domain);
  k += '\0';
  return k += selector;
}

}  // namespace

SignerClient::Process::~Process() {
  for (auto& c : channels) {
    if (c->fd >= 0) ::close(c->fd);
  }
}

SignerClient::~SignerClient() { stop(); }

Result<std::shared_ptr<SignerClient>> SignerClient::start(Options options) {
  if (options.channels == 0) options.channels = 1;
  std::shared_ptr<SignerClient> c(new SignerClient(std::move(options)));
  auto p = c->spawn();
  if (!p) return p.error();
  c->process_ = std::move(p.value());
  return c;
}

Result<std::shared_ptr<SignerClient::Process>> SignerClient::spawn() {
  auto p = std::make_shared<Process>();
  std::vector<int> child_fds;
  auto close_child = [&] {
    for (int fd : child_fds) ::close(fd);
  };
  for (std::size_t i = 0; i < options_.channels; ++i) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
      close_child();
      return temporary_error(std::string("signer process: socketpair failed: ") + std::strerror(errno));
    }
    auto ch = std::make_unique<Channel>();
    ch->fd = sv[0];
    p->channels.push_back(std::move(ch));
    child_fds.push_back(sv[1]);
  }
  // Everything the child needs is built before fork: between fork and exec
  // a threaded process may only make async-signal-safe calls.
  std::string list;
  for (int fd : child_fds) list += (list.empty() ? "" : ",") + std::to_string(fd);
  std::vector<std::string> args;
  args.push_back(options_.args.empty() ? std::string("signet-milter") : options_.args[0]);
  args.push_back("--signer-fds");
  args.push_back(list);
  for (std::size_t i = 1; i < options_.args.size(); ++i) args.push_back(options_.args[i]);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const std::string exe = options_.exe;
  sigset_t none;
  sigemptyset(&none);
  const pid_t pid = ::fork();
  if (pid == 0) {
    for (int fd : child_fds) ::fcntl(fd, F_SETFD, 0);  // these, and only these, survive exec
    ::pthread_sigmask(SIG_SETMASK, &none, nullptr);    // the daemon's sigwait mask is not the signer's
    ::execv(exe.c_str(), argv.data());
    ::_exit(127);
  }
  const int fork_errno = errno;
  close_child();
  if (pid < 0) return temporary_error(std::string("signer process: fork failed: ") + std::strerror(fork_errno));
  p->pid = pid;
  std::lock_guard<std::mutex> lock(mu_);
  p->epoch = next_epoch_++;
  return p;
}

std::shared_ptr<SignerClient::Process> SignerClient::process() const {
  std::lock_guard<std::mutex> lock(mu_);
  return process_;
}

pid_t SignerClient::pid() const {
  const auto p = process();
  return p ? p->pid : -1;
}

void SignerClient::lost(Process& p, std::string_view why) {
  if (p.gone.exchange(true)) return;  // one line per signer process lost
  if (options_.log) {
    options_.log("signer process " + std::to_string(p.pid) + " " + std::string(why) +
                 ": killed and restarted; messages meanwhile follow on-error");
  }
  ::kill(p.pid, SIGKILL);  // the supervisor reaps it and starts another
}

Result<std::vector<Response>> SignerClient::exchange(Process& p, const Request& q, int timeout_ms) {
  const auto gone = [&p] {
    return temporary_error("the signer process " + std::to_string(p.pid) + " is gone; it is being restarted");
  };
  if (p.gone.load()) return gone();
  const std::size_t n = p.channels.size();
  const std::size_t start = next_channel_++ % n;
  std::unique_lock<std::mutex> held;
  for (std::size_t k = 0; k < n && !held.owns_lock(); ++k) {
    std::unique_lock<std::mutex> l(p.channels[(start + k) % n]->mu, std::try_to_lock);
    if (l.owns_lock()) {
      held = std::move(l);
      break;
    }
  }
  Channel* ch = nullptr;
  if (held.owns_lock()) {
    for (auto& c : p.channels) {
      if (held.mutex() == &c->mu) ch = c.get();
    }
  } else {
    ch = p.channels[start].get();
    held = std::unique_lock<std::mutex>(ch->mu);  // every channel busy: wait for one
  }
  const std::string frame = encode_request(q);
  if (::send(ch->fd, frame.data(), frame.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(frame.size())) {
    lost(p, std::string("cannot be written to (") + std::strerror(errno) + ")");
    return gone();
  }
  std::vector<Response> out;
  // A blocking recv bounded by SO_RCVTIMEO (set per call: SIGN and LOAD
  // differ), not poll + recv: one syscall less per signature.
  const timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  if (ch->timeout_ms != timeout_ms) {
    ::setsockopt(ch->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ch->timeout_ms = timeout_ms;
  }
  // One byte over what the answer may be, so a longer one shows as longer.
  std::string buf((q.type == RequestType::Load ? kMaxResponse : kMaxSignResponse) + 1, '\0');
  for (;;) {
    const ssize_t got = ::recv(ch->fd, buf.data(), buf.size(), MSG_TRUNC);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      lost(p, "did not answer within " + std::to_string(timeout_ms) + " ms");
      return temporary_error("the signer process did not answer in time; it is being restarted");
    }
    if (got <= 0) {
      lost(p, got == 0 ? std::string("closed its end") : std::string("cannot be read (") + std::strerror(errno) + ")");
      return gone();
    }
    if (static_cast<std::size_t>(got) > buf.size()) {
      lost(p, "sent a response over the protocol's bound");
      return gone();
    }
    auto resp = parse_response(std::string_view(buf.data(), static_cast<std::size_t>(got)));
    if (!resp) {
      lost(p, "sent a malformed response (" + resp.error().message + ")");
      return gone();
    }
    if (resp->id != q.id) continue;  // not possible on a channel used by one request at a time; never taken as ours
    const ResponseType t = resp->type;
    out.push_back(std::move(resp.value()));
    if (t != ResponseType::Table) return out;
    if (q.type != RequestType::Load) {
      lost(p, "answered a SIGN or SIGN_MANY with a TABLE");
      return gone();
    }
  }
}

Result<std::shared_ptr<SignerClient::Process>> SignerClient::process_of(std::uint64_t epoch) const {
  auto p = process();
  if (!p) return temporary_error("no signer process");
  if (p->epoch != epoch) {
    return temporary_error("the signer process was restarted since this key set was loaded; it is being reloaded");
  }
  return p;
}

// SIGN and SIGN_MANY alike: to the process that gave out the keys, one
// exchange, a refusal passed on as the signer gave it, and any answer but
// `want` taken as a signer out of protocol (restarted).
Result<Response> SignerClient::signing_exchange(std::uint64_t epoch, Request q, ResponseType want, const char* what,
                                                std::size_t signatures) {
  auto held = process_of(epoch);
  if (!held) return held.error();
  const auto p = std::move(held.value());
  q.id = next_request_++;
  auto r = exchange(*p, q, options_.sign_timeout_ms);
  if (!r) return r.error();
  Response& resp = r->back();
  if (resp.type == ResponseType::Refused) {
    return Error{"the signer process refused: " + resp.reason, resp.temporary};
  }
  if (resp.type != want || (want == ResponseType::SignedMany && resp.signatures.size() != signatures)) {
    lost(*p, std::string("answered a ") + what + " with something else");
    return temporary_error("the signer process answered out of protocol; it is being restarted");
  }
  return std::move(resp);
}

Result<std::string> SignerClient::sign(std::uint64_t epoch, std::uint64_t key_id, const Sha256Digest& digest) {
  Request q;
  q.type = RequestType::Sign;
  q.key_id = key_id;
  std::memcpy(q.digest.data(), digest.data(), kDigestSize);
  auto resp = signing_exchange(epoch, std::move(q), ResponseType::Signed, "SIGN", 1);
  if (!resp) return resp.error();
  return std::move(resp->signature);
}

Result<std::vector<std::string>> SignerClient::sign_many(std::uint64_t epoch,
                                                        const std::vector<std::pair<std::uint64_t, Sha256Digest>>& keyed) {
  Request q;
  q.type = RequestType::SignMany;
  for (const auto& [key_id, digest] : keyed) {
    SignItem it;
    it.key_id = key_id;
    std::memcpy(it.digest.data(), digest.data(), kDigestSize);
    q.items.push_back(it);
  }
  auto resp = signing_exchange(epoch, std::move(q), ResponseType::SignedMany, "SIGN_MANY", keyed.size());
  if (!resp) return resp.error();
  return std::move(resp->signatures);
}

Result<KeyTable> SignerClient::load(std::uint32_t keep_generation, std::uint64_t keep_epoch, bool token_keys) {
  const auto p = process();
  if (!p) return temporary_error("no signer process");
  std::lock_guard<std::mutex> serial(p->load_mu);
  if (p->loaded && token_keys && !p->token_writes) {
    lost(*p, "started without a PKCS#11 key, so its filter forbids the file writes a token's module makes; the key set "
             "now names one");
    return temporary_error("the key set now names a PKCS#11 key: the signer process is being restarted to open the "
                           "token, and the key set is reloaded through the new one");
  }
  Request q;
  q.type = RequestType::Load;
  q.id = next_request_++;
  q.key_id = keep_epoch == p->epoch ? keep_generation : 0;
  auto r = exchange(*p, q, options_.load_timeout_ms);
  if (!r) return r.error();
  if (r->back().type == ResponseType::Refused) return Error{r->back().reason, r->back().temporary};
  if (r->back().type != ResponseType::TableEnd) {
    lost(*p, "answered a LOAD with something else");
    return temporary_error("the signer process answered out of protocol; it is being restarted");
  }
  if (!p->loaded) {
    p->loaded = true;  // the set it read at start: the one its filter was chosen for
    p->token_writes = token_keys;
  }
  KeyTable t;
  t.epoch = p->epoch;
  t.generation = r->back().generation;
  std::size_t count = 0;
  for (Response& resp : r.value()) {
    for (TableEntry& e : resp.entries) {
      ++count;
      std::string name = table_name(e.domain, e.selector);
      t.by_name.emplace(std::move(name), std::move(e));
    }
  }
  if (count != r->back().count || t.by_name.size() != count) {
    lost(*p, "sent a key table whose count does not match");
    return temporary_error("the signer process sent an inconsistent key table; it is being restarted");
  }
  return t;
}

std::function<Result<PrivateKey>(const keystore::KeyRow&)> SignerClient::key_source(std::shared_ptr<const KeyTable> table) {
  return [self = shared_from_this(), table](const keystore::KeyRow& row) -> Result<PrivateKey> {
    const auto it = table->by_name.find(table_name(row.domain, row.selector));
    if (it == table->by_name.end()) {
      return permanent_error("the signer process holds no key for selector " + row.selector + " of " + row.domain +
                             " (the key set changed while it was read: the next reload agrees)");
    }
    const TableEntry& e = it->second;
    return PrivateKey::external(std::make_shared<RemoteSigner>(self, table->epoch, e.key_id), e.algorithm, e.bits,
                                e.public_key_base64);
  };
}

void SignerClient::supervise(std::function<bool()> on_restart) {
  supervisor_ = std::thread([this, on_restart = std::move(on_restart)] {
    int backoff = 1;
    for (;;) {
      const auto p = process();
      int st = 0;
      while (::waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
      }
      p->gone = true;
      if (stopping_) return;
      if (options_.log) {
        options_.log("signer process " + std::to_string(p->pid) + " " +
                     (WIFSIGNALED(st) ? "was killed by signal " + std::to_string(WTERMSIG(st))
                                      : "exited with status " + std::to_string(WEXITSTATUS(st))) +
                     ": starting a new one; messages meanwhile follow on-error");
      }
      for (;;) {
        auto next = spawn();
        if (next) {
          {
            std::lock_guard<std::mutex> lock(mu_);
            process_ = std::move(next.value());
          }
          if (!on_restart || on_restart()) {
            backoff = 1;
            break;
          }
          // It started but its key set did not load through it: try again
          // later with a fresh one (the reason was logged by the reload).
          if (options_.log) options_.log("reloading through the new signer process failed: trying again in " + std::to_string(backoff) + " s");
          for (int i = 0; i < backoff * 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
          backoff = std::min(backoff * 2, 30);
          ::kill(process()->pid, SIGKILL);
          break;
        }
        if (options_.log) options_.log(next.error().message + ": trying again in " + std::to_string(backoff) + " s");
        for (int i = 0; i < backoff * 10 && !stopping_; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (stopping_) return;
        backoff = std::min(backoff * 2, 30);
      }
    }
  });
}

void SignerClient::stop() {
  if (stopping_.exchange(true)) return;
  if (const auto p = process()) {
    for (auto& c : p->channels) ::shutdown(c->fd, SHUT_RDWR);  // the signer reads EOF and exits
    ::kill(p->pid, SIGTERM);
    if (!supervisor_.joinable()) {
      int st = 0;
      while (::waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {
      }
    }
  }
  if (supervisor_.joinable()) supervisor_.join();
}

}  // namespace signet::privsep
