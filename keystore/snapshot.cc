#include "keystore/snapshot.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <set>
#include <unordered_map>

#include "base/time.h"
#include "keystore/key_file.h"
#include "keystore/manifest.h"
#include "signer/digest.h"

namespace signet::keystore {
namespace {

std::string when(std::int64_t t) {
  return t == std::numeric_limits<std::int64_t>::min() ? "always" : rfc3339::format(t);
}

}  // namespace

Result<std::shared_ptr<const KeySnapshot>> KeySnapshot::load(const std::vector<KeySpec>& specs,
                                                             const LoadOptions& options,
                                                             const KeySnapshot* previous) {
  auto snap = std::make_shared<KeySnapshot>();
  snap->options_ = options;
  std::map<Sha256Digest, std::shared_ptr<const PrivateKey>> reusable;
  if (previous) {
    for (const Entry& e : previous->keys_) {
      if (e.key) reusable.emplace(e.content, e.key);
    }
  }
  // 1. Read every file (checks, content hash), in order, so the first problem
  //    reported is the first in the key set.
  std::map<std::pair<std::string, std::string>, std::string> selectors;  // (domain, selector) -> origin
  std::vector<KeyBytes> bytes(specs.size());
  std::vector<std::size_t> to_parse;
  snap->keys_.resize(specs.size());
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const KeySpec& spec = specs[i];
    const std::string at = spec.origin.empty() ? "" : spec.origin + ": ";
    auto [it, fresh] = selectors.emplace(std::make_pair(spec.domain, spec.selector), spec.origin);
    if (!fresh) {
      return permanent_error(at + "selector " + spec.selector + " of " + spec.domain + " is already used (" +
                             it->second + "); a selector is never reused: choose a new name");
    }
    Entry& e = snap->keys_[i];
    e.spec = spec;
    e.algorithm = spec.algorithm.value_or(Algorithm::RsaSha256);
    if (spec.retired) continue;
    auto b = read_key_file(spec.path, options.allow_group_readable);
    if (!b) return permanent_error(at + "stream " + spec.stream + ": " + b.error().message);
    Sha256 sha;
    sha.write(b->bytes());
    e.content = sha.finish();
    if (auto r = reusable.find(e.content); r != reusable.end()) {
      e.key = r->second;  // same bytes: parsed once, shared by both snapshots
    } else {
      bytes[i] = std::move(b.value());
      to_parse.push_back(i);
    }
  }
  // 2. Parse what is new, on every core (a 10 000-stream key set is 20 000 keys).
  std::vector<std::optional<Error>> errors(specs.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t j = next++; j < to_parse.size(); j = next++) {
      const std::size_t i = to_parse[j];
      auto key = PrivateKey::parse(bytes[i].bytes());
      bytes[i] = KeyBytes();
      if (key) {
        snap->keys_[i].key = std::make_shared<const PrivateKey>(std::move(key.value()));
      } else {
        errors[i] = key.error();
      }
    }
  };
  const std::size_t threads =
      std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), 1 + to_parse.size() / 64);
  std::vector<std::thread> pool;
  for (std::size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (auto& t : pool) t.join();
  snap->parsed_ = to_parse.size();
  // 3. Check each parsed key against its entry, in key-set order.
  for (std::size_t i = 0; i < specs.size(); ++i) {
    const KeySpec& spec = specs[i];
    Entry& e = snap->keys_[i];
    const std::string at = spec.origin.empty() ? "" : spec.origin + ": ";
    if (errors[i]) return permanent_error(at + "stream " + spec.stream + ": key file " + spec.path + ": " + errors[i]->message);
    if (!e.key) continue;
    e.algorithm = e.key->algorithm();
    if (spec.algorithm && *spec.algorithm != e.algorithm) {
      return permanent_error(at + spec.path + " holds an " + std::string(key_type_name(e.algorithm)) +
                             " key, the entry says " + std::string(key_type_name(*spec.algorithm)));
    }
    if (spec.bits != 0 && spec.bits != e.key->bits()) {
      return permanent_error(at + spec.path + " is a " + std::to_string(e.key->bits()) + "-bit key, the entry says " +
                             std::to_string(spec.bits));
    }
  }
  std::stable_sort(snap->keys_.begin(), snap->keys_.end(),
                   [](const Entry& a, const Entry& b) { return a.spec.stream < b.spec.stream; });
  for (std::size_t i = 0; i < snap->keys_.size();) {
    std::size_t j = i;
    while (j < snap->keys_.size() && snap->keys_[j].spec.stream == snap->keys_[i].spec.stream) ++j;
    snap->by_stream_[snap->keys_[i].spec.stream] = {i, j};
    i = j;
  }
  return std::shared_ptr<const KeySnapshot>(std::move(snap));
}

// The key of `stream` and algorithm `a` that signs at `now`: its window
// contains now; among several, the newest. With newer_than set: the newest key
// older than it that was active at its cutover (the outgoing key).
const KeySnapshot::Entry* KeySnapshot::pick(std::string_view stream, Algorithm a, std::int64_t now,
                                            const Entry* newer_than, const std::set<std::string>* hidden,
                                            bool draining_ok) const {
  const auto it = by_stream_.find(stream);
  if (it == by_stream_.end()) return nullptr;
  const Entry* best = nullptr;
  for (std::size_t i = it->second.first; i < it->second.second; ++i) {
    const Entry& e = keys_[i];
    if (!e.key || e.algorithm != a) continue;
    if (hidden && hidden->count(e.spec.domain + "/" + e.spec.selector)) continue;
    if (draining_ok) {
      // Fallback when the scheduled key is hidden: a key that has signed and
      // whose record is still published may go on signing.
      if (now < e.spec.active_from || (e.spec.retire_at && now >= *e.spec.retire_at)) continue;
    } else if (newer_than) {
      const std::int64_t cut = newer_than->spec.active_from;
      if (&e == newer_than || e.spec.active_from >= cut) continue;
      if (e.spec.active_until && *e.spec.active_until < cut) continue;  // not active at the cutover
      if (e.spec.retire_at && now >= *e.spec.retire_at) continue;       // its record is gone
    } else {
      if (now < e.spec.active_from || (e.spec.active_until && now >= *e.spec.active_until)) continue;
    }
    if (!best || e.spec.active_from > best->spec.active_from) best = &e;
  }
  return best;
}

std::vector<SigningKey> KeySnapshot::keys_for(std::string_view stream, std::int64_t now,
                                              const std::set<std::string>* hidden) const {
  std::vector<SigningKey> out;
  for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
    const Entry* current = pick(stream, a, now, nullptr, hidden);
    if (!current && hidden && !hidden->empty() && pick(stream, a, now, nullptr)) {
      current = pick(stream, a, now, nullptr, hidden, true);  // the scheduled key is not in DNS yet
    }
    if (!current) continue;
    out.push_back(SigningKey{current->key.get(), current->spec.domain, current->spec.selector, std::nullopt});
    if (options_.overlap_signing > 0 && now < current->spec.active_from + options_.overlap_signing) {
      if (const Entry* outgoing = pick(stream, a, now, current)) {
        out.push_back(SigningKey{outgoing->key.get(), outgoing->spec.domain, outgoing->spec.selector, std::nullopt});
      }
    }
  }
  return out;
}

std::vector<std::pair<SigningKey, std::int64_t>> KeySnapshot::upcoming(std::int64_t now, std::int64_t horizon) const {
  std::vector<std::pair<SigningKey, std::int64_t>> out;
  for (const Entry& e : keys_) {
    if (!e.key || e.spec.active_from == std::numeric_limits<std::int64_t>::min() ||
        e.spec.active_from == std::numeric_limits<std::int64_t>::max())
      continue;
    if (e.spec.active_from > now - horizon && e.spec.active_from <= now + horizon) {
      out.emplace_back(SigningKey{e.key.get(), e.spec.domain, e.spec.selector, std::nullopt}, e.spec.active_from);
    }
  }
  return out;
}

std::optional<std::int64_t> KeySnapshot::next_change(std::int64_t now) const {
  std::optional<std::int64_t> next;
  auto consider = [&](std::int64_t t) {
    if (t > now && (!next || t < *next)) next = t;
  };
  for (const Entry& e : keys_) {
    if (!e.key) continue;
    if (e.spec.active_from != std::numeric_limits<std::int64_t>::min() &&
        e.spec.active_from != std::numeric_limits<std::int64_t>::max()) {
      consider(e.spec.active_from);
      if (options_.overlap_signing > 0) consider(e.spec.active_from + options_.overlap_signing);
    }
    if (e.spec.active_until) consider(*e.spec.active_until);
    if (e.spec.retire_at) consider(*e.spec.retire_at);
  }
  return next;
}

std::vector<std::string> KeySnapshot::gaps(std::int64_t now) const {
  std::vector<std::string> out;
  for (const auto& [stream, range] : by_stream_) {
    for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
      std::vector<std::pair<std::int64_t, std::optional<std::int64_t>>> windows;
      for (std::size_t i = range.first; i < range.second; ++i) {
        const Entry& e = keys_[i];
        const bool standby = e.spec.active_from == std::numeric_limits<std::int64_t>::max();
        if (e.key && !standby && e.algorithm == a && (!e.spec.active_until || *e.spec.active_until > now)) {
          windows.emplace_back(e.spec.active_from, e.spec.active_until);
        }
      }
      if (windows.empty()) continue;
      std::sort(windows.begin(), windows.end());
      std::int64_t covered = now;  // everything before this instant is covered
      const std::string what = "stream " + stream + " (" + std::string(key_type_name(a)) + ")";
      for (const auto& [from, until] : windows) {
        if (from > covered) {
          out.push_back(what + " has no key to sign with from " + when(covered) + " to " + when(from));
        }
        if (!until) {
          covered = std::numeric_limits<std::int64_t>::max();
          break;
        }
        covered = std::max(covered, *until);
      }
      if (covered != std::numeric_limits<std::int64_t>::max()) {
        out.push_back(what + " has no key to sign with from " + when(covered) + " on");
      }
    }
  }
  return out;
}

}  // namespace signet::keystore
