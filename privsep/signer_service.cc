#include "privsep/signer_service.h"

#include <sys/socket.h>

#include <cerrno>

namespace signet::privsep {

SignerService::SignerService(Loader load, LogLine log, RateLimitedLog::Limits limits, RateLimitedLog::Clock now)
    : load_(std::move(load)), refusals_(std::move(log), "refusals", limits, std::move(now)) {
  auto keys = load_(nullptr);
  if (keys) {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = make_generation(1, std::move(keys.value()));
  } else {
    first_error_ = keys.error();
  }
}

std::shared_ptr<const SignerService::Generation> SignerService::make_generation(
    std::uint32_t number, std::shared_ptr<const keystore::KeySnapshot> keys) {
  std::unordered_map<const PrivateKey*, std::uint64_t> held;
  for (const auto* g : {current_.get(), kept_.get()}) {
    if (!g) continue;
    for (std::size_t i = 0; i < g->ids.size(); ++i) {
      if (g->ids[i]) held.emplace(g->keys->key(i).get(), g->ids[i]);
    }
  }
  auto g = std::make_shared<Generation>();
  g->number = number;
  g->keys = std::move(keys);
  g->ids.assign(g->keys->size(), 0);
  for (std::size_t i = 0; i < g->keys->size(); ++i) {
    const auto& key = g->keys->key(i);
    if (!key) continue;
    const auto it = held.find(key.get());
    g->ids[i] = it != held.end() ? it->second : next_id_++;
    g->row_of.emplace(g->ids[i], i);
  }
  return g;
}

bool SignerService::holds_token_keys() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (!current_) return false;
  for (std::size_t i = 0; i < current_->keys->size(); ++i) {
    if (current_->keys->row(i).in_token()) return true;
  }
  return false;
}

std::vector<std::string> SignerService::handle(std::string_view frame) {
  auto q = parse_request(frame);
  if (!q) {
    // The request id is unknown when the header is bad: 0 in the answer.
    refusals_.write("malformed", "refused a request from the milter: " + q.error().message, q.error().message);
    return {encode_refused(0, false, q.error().message)};
  }
  if (q->type == RequestType::Load) return load(q.value());
  if (q->type == RequestType::SignMany) return {sign_many(q.value())};
  return {sign(q.value())};
}

bool SignerService::sign_item(std::uint32_t id, const std::string& what, std::uint64_t key_id, const Sha256Digest& digest,
                              std::string& out) {
  std::shared_ptr<const Generation> g;
  std::size_t index = 0;
  bool older = false;  // an id this signer gave out once and holds no longer
  {
    std::lock_guard<std::mutex> lock(mu_);
    older = key_id != 0 && key_id < next_id_;
    for (const auto& held : {current_, kept_}) {
      if (!held) continue;
      if (const auto it = held->row_of.find(key_id); it != held->row_of.end()) {
        g = held;
        index = it->second;
        break;
      }
    }
  }
  if (!g) {
    // Temporary: a message that began before a key it uses was changed twice
    // names a key the signer no longer holds; on-error applies and the next
    // message signs.
    const std::string why = what + ": key " + std::to_string(key_id) + " is not a key this signer holds";
    // Two budgets: stale ids are what a slow message meets, unknown ones
    // what a confused or hostile milter sends; one never hides the other.
    refusals_.write(older ? "stale key" : "unknown key", "refused a request from the milter: " + why, why);
    out = encode_refused(id, true, why);
    return false;
  }
  auto sig = g->keys->key(index)->sign_digest(digest);
  if (!sig) {
    const keystore::KeyRow& row = g->keys->row(index);
    const std::string why = "signing with " + row.domain + "/" + row.selector + " failed: " + sig.error().message;
    refusals_.write("signing", why, why);
    out = encode_refused(id, sig.error().temporary, why);
    return false;
  }
  if (sig->empty() || sig->size() > kMaxSignature) {
    out = encode_refused(id, false, "a signature of " + std::to_string(sig->size()) + " bytes is outside the protocol's bound");
    return false;
  }
  out = std::move(sig.value());
  return true;
}

std::string SignerService::sign(const Request& q) {
  std::string out;
  if (!sign_item(q.id, "SIGN request " + std::to_string(q.id), q.key_id, to_digest(q), out)) return out;
  return encode_signed(q.id, out);
}

std::string SignerService::sign_many(const Request& q) {
  // In order, stopping at the first refusal: the message fails on it (as it
  // did when each signature was its own SIGN), with one line logged, and
  // nothing after it is signed for a message that will not be sent signed.
  std::vector<std::string> signatures(q.items.size());
  for (std::size_t i = 0; i < q.items.size(); ++i) {
    const std::string what = "SIGN_MANY request " + std::to_string(q.id) + " item " + std::to_string(i);
    if (!sign_item(q.id, what, q.items[i].key_id, to_digest(q.items[i].digest), signatures[i])) return signatures[i];
  }
  return encode_signed_many(q.id, signatures);
}

std::vector<std::string> SignerService::load(const Request& q) {
  std::lock_guard<std::mutex> serial(load_mu_);
  std::shared_ptr<const Generation> now;
  {
    std::lock_guard<std::mutex> lock(mu_);
    now = current_;
  }
  if (!first_load_answered_) {
    first_load_answered_ = true;  // the set read at start, before privileges were dropped
    if (first_error_) return {encode_refused(q.id, false, first_error_->message)};
  } else {
    auto keys = load_(now ? now->keys : nullptr);
    if (!keys) {
      refusals_.write("load", "key set refused, the running one stays: " + keys.error().message, keys.error().message);
      return {encode_refused(q.id, keys.error().temporary, keys.error().message)};
    }
    std::lock_guard<std::mutex> lock(mu_);
    auto next = make_generation(now ? now->number + 1 : 1, std::move(keys.value()));
    // Kept: the generation the milter still signs with (named by the
    // request), so messages it began before this reload still sign.
    const auto keep = static_cast<std::uint32_t>(q.key_id);
    if (current_ && current_->number == keep) {
      kept_ = current_;
    } else if (!(kept_ && kept_->number == keep)) {
      kept_.reset();
    }
    current_ = next;
    now = next;
  }
  if (!now) return {encode_refused(q.id, false, "no key set is loaded")};
  std::vector<TableEntry> entries;
  for (std::size_t i = 0; i < now->keys->size(); ++i) {
    const auto& key = now->keys->key(i);
    if (!key) continue;
    const keystore::KeyRow& row = now->keys->row(i);
    entries.push_back(TableEntry{now->ids[i], key->algorithm(), key->bits(), row.domain,
                                 row.selector, key->public_key_base64()});
  }
  auto frames = encode_table(q.id, entries);
  if (!frames) return {encode_refused(q.id, false, frames.error().message)};
  frames->push_back(encode_table_end(q.id, now->number, static_cast<std::uint32_t>(entries.size())));
  return std::move(frames.value());
}

void SignerService::serve(int fd) {
  // One byte over the largest valid request: anything longer is seen as
  // longer (MSG_TRUNC gives its real length) and refused, never read in part
  // as if it were whole.
  char buf[kMaxRequest + 1];
  for (;;) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_TRUNC);
    if (n == 0) return;  // the milter closed its end
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    std::vector<std::string> out;
    if (static_cast<std::size_t>(n) > sizeof buf) {
      const std::string why = "signer protocol: request of " + std::to_string(n) + " bytes is longer than any valid request (" +
                              std::to_string(kMaxRequest) + ")";
      refusals_.write("malformed", "refused a request from the milter: " + why, why);
      out.push_back(encode_refused(0, false, why));
    } else {
      out = handle(std::string_view(buf, static_cast<std::size_t>(n)));
    }
    for (const std::string& f : out) {
      if (::send(fd, f.data(), f.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(f.size())) return;
    }
  }
}

}  // namespace signet::privsep
