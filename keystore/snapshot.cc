#include "keystore/snapshot.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <limits>
#include <thread>
#include <unordered_map>

#include "base/locked_thread.h"
#include "base/time.h"
#include "hsm/pkcs11.h"
#include "keystore/key_file.h"
#include "keystore/manifest.h"
#include "signer/digest.h"

namespace signet::keystore {
namespace {

struct DigestHash {
  std::size_t operator()(const Sha256Digest& d) const {
    std::size_t h = 0;  // a SHA-256 digest is uniform already: its first bytes are a hash
    std::memcpy(&h, d.data(), sizeof h);
    return h;
  }
};

bool is_hidden(const HiddenKeys& hidden, const KeyRow& row) {
  return !hidden.empty() && hidden.count(row.domain + "/" + row.selector) > 0;
}

}  // namespace

Result<PrivateKey> open_token_key(const KeyRow& row) {
  auto uri = hsm::Pkcs11Uri::parse(row.file);
  if (!uri) return uri.error();
  return hsm::open_key(*uri);
}

std::string token_key_name(const KeyRow& row) {
  auto uri = hsm::Pkcs11Uri::parse(row.file);
  return uri ? uri->redacted() : std::string("a pkcs11: URI that does not parse");
}

Result<std::shared_ptr<const KeySnapshot>> KeySnapshot::load(const std::string& dir, const std::vector<KeyRow>& rows,
                                                             const LoadOptions& options,
                                                             const KeySnapshot* previous) {
  auto snap = std::make_shared<KeySnapshot>();
  snap->options_ = options;
  std::unordered_map<Sha256Digest, std::shared_ptr<const PrivateKey>, DigestHash> reusable;
  if (previous) {
    reusable.reserve(previous->keys_.size());
    for (const Entry& e : previous->keys_) {
      if (e.key) reusable.emplace(e.content, e.key);
    }
  }
  auto at = [&](const KeyRow& row) { return row.origin.empty() ? std::string() : row.origin + ": "; };
  // Each row's first problem; the load fails with the first one in key-set
  // order, so the message does not depend on which thread got there first.
  std::vector<std::optional<Error>> errors(rows.size());
  std::atomic<std::size_t> first_error{rows.size()};
  auto fail = [&](std::size_t i, Error e) {
    errors[i] = std::move(e);
    for (std::size_t seen = first_error.load(); i < seen && !first_error.compare_exchange_weak(seen, i);) {
    }
  };
  // 1. Each (domain, selector) once: a hash set, not a tree of string pairs
  //    (a 100 000-stream key set is 200 000 rows).
  std::unordered_map<std::string, std::size_t> selectors;  // "domain\0selector" -> row
  selectors.reserve(rows.size());
  snap->keys_.resize(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const KeyRow& row = rows[i];
    auto [it, fresh] = selectors.emplace(row.domain + '\0' + row.selector, i);
    if (!fresh) {
      fail(i, permanent_error(at(row) + "selector " + row.selector + " of " + row.domain + " is already used (" +
                              rows[it->second].origin + "); a selector is never reused: choose a new name"));
    }
    snap->keys_[i].row = row;
  }
  // 2. Read every file (checks, content hash), open it (sealed: with the
  //    master key, checked on every load even when the parse is reused) and
  //    parse what the previous snapshot does not hold, on every core. The
  //    reads are as many syscalls per key as read_key_file needs (open,
  //    fstat, read, close), spread over the cores with the parsing.
  std::atomic<std::size_t> next{0}, parsed{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < rows.size(); i = next++) {
      if (i > first_error.load(std::memory_order_relaxed)) continue;  // the load fails before this row anyway
      const KeyRow& row = rows[i];
      Entry& e = snap->keys_[i];
      if (row.retired_at || errors[i]) continue;
      if (options.open_key || row.in_token()) {
        // Opened again at every load (never reused): an object deleted from
        // the token, or a token that is gone, refuses the set as a bad file
        // would; with open_key (the signer process's table) the same.
        auto key = options.open_key ? options.open_key(row) : open_token_key(row);
        if (!key) {
          fail(i, permanent_error(at(row) + "stream " + row.stream + ": " + key.error().message));
          continue;
        }
        e.key = std::make_shared<const PrivateKey>(std::move(key.value()));
        ++parsed;
        continue;
      }
      const std::string path = dir + "/" + row.file;
      auto file = read_key_file(path, options.allow_group_readable);
      if (!file) {
        fail(i, permanent_error(at(row) + "stream " + row.stream + ": " + file.error().message));
        continue;
      }
      Sha256 sha;
      sha.write(file->bytes());
      e.content = sha.finish();
      auto b = open_stored_key(std::move(file.value()), path, row.domain, row.selector, options.master_key.get(),
                               options.protection);
      if (!b) {
        fail(i, permanent_error(at(row) + "stream " + row.stream + ": " + b.error().message));
        continue;
      }
      if (auto r = reusable.find(e.content); r != reusable.end()) {
        e.key = r->second;  // same bytes: parsed once, shared by both snapshots
        continue;
      }
      auto key = PrivateKey::parse(b->bytes());
      ++parsed;
      if (key) {
        e.key = std::make_shared<const PrivateKey>(std::move(key.value()));
      } else {
        fail(i, permanent_error(at(row) + "stream " + row.stream + ": key file " + path + ": " + key.error().message));
      }
    }
  };
  // The workers run at a lower CPU priority (nice 10, this thread only:
  // Linux threads have their own): at start nothing else runs and they get
  // every core, on a reload under load the signing threads go first, so
  // parsing 200 000 keys takes longer but does not hold up mail. In the
  // signer process each runs on a locked, never-dumped stack (parsing puts
  // key numbers there; base/locked_thread.h); one that cannot start fails
  // the load with why, never parses on an ordinary stack.
  const std::size_t threads =
      std::min<std::size_t>(std::max(1u, std::thread::hardware_concurrency()), 1 + rows.size() / 256);
  std::vector<LockedThread> pool;
  std::optional<Error> not_started;
  for (std::size_t t = 0; t < threads; ++t) {
    auto started = start_key_thread([&] {
      (void)::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), 10);  // best effort: a failure only costs latency
      worker();
    });
    if (!started) {
      not_started = started.error();
      next = rows.size();  // the workers started stop at their next row
      break;
    }
    pool.push_back(std::move(started.value()));
  }
  for (auto& t : pool) t.join();
  if (not_started) return permanent_error("key parsing: " + not_started->message);
  if (const std::size_t i = first_error.load(); i < rows.size()) return *errors[i];
  snap->parsed_ = parsed.load();
  // 3. Check each key against its entry, in key-set order.
  for (std::size_t i = 0; i < rows.size(); ++i) {
    const KeyRow& row = rows[i];
    Entry& e = snap->keys_[i];
    if (!e.key) continue;
    const std::string path = row.in_token() ? token_key_name(row) : dir + "/" + row.file;
    if (!row.algorithm_from_file && row.algorithm != e.key->algorithm()) {
      return permanent_error(at(row) + path + " holds an " + std::string(key_type_name(e.key->algorithm())) +
                             " key, the entry says " + std::string(key_type_name(row.algorithm)));
    }
    if (row.bits != 0 && row.bits != e.key->bits()) {
      return permanent_error(at(row) + path + " is a " + std::to_string(e.key->bits()) + "-bit key, the entry says " +
                             std::to_string(row.bits));
    }
    e.row.algorithm = e.key->algorithm();
    e.row.bits = e.key->bits();
  }
  snap->options_.master_key.reset();  // the keys are open: the snapshot has no use for it
  std::stable_sort(snap->keys_.begin(), snap->keys_.end(),
                   [](const Entry& a, const Entry& b) { return a.row.stream < b.row.stream; });
  for (std::size_t i = 0; i < snap->keys_.size();) {
    std::size_t j = i;
    while (j < snap->keys_.size() && snap->keys_[j].row.stream == snap->keys_[i].row.stream) ++j;
    snap->by_stream_[snap->keys_[i].row.stream] = {i, j};
    i = j;
  }
  return std::shared_ptr<const KeySnapshot>(std::move(snap));
}

template <typename Eligible>
const KeySnapshot::Entry* KeySnapshot::newest(std::string_view stream, Algorithm a, Eligible eligible) const {
  const auto it = by_stream_.find(stream);
  if (it == by_stream_.end()) return nullptr;
  const Entry* best = nullptr;
  for (std::size_t i = it->second.first; i < it->second.second; ++i) {
    const Entry& e = keys_[i];
    if (!e.signs_as(a) || !eligible(e)) continue;
    if (!best || e.row.window.starts_after(best->row.window)) best = &e;
  }
  return best;
}

const KeySnapshot::Entry* KeySnapshot::signing_key(std::string_view stream, Algorithm a, std::int64_t now,
                                                   const HiddenKeys& hidden) const {
  return newest(stream, a, [&](const Entry& e) { return e.row.state(now) == KeyState::Active && !is_hidden(hidden, e.row); });
}

// The key `current` took over from: it started before current's cutover,
// was still signing at it, and its record is still published.
const KeySnapshot::Entry* KeySnapshot::outgoing_key(std::string_view stream, Algorithm a, std::int64_t now,
                                                    const Entry& current) const {
  const std::int64_t cut = current.row.window.from;
  return newest(stream, a, [&](const Entry& e) {
    const Window& w = e.row.window;
    return &e != &current && w.started(cut) && !(w.is_scheduled() && w.from >= cut) && !(w.until && *w.until < cut) &&
           e.row.record_live(now);
  });
}

// The scheduled key is not in DNS yet: a key that has signed and whose record
// is still published goes on signing.
const KeySnapshot::Entry* KeySnapshot::stand_in_key(std::string_view stream, Algorithm a, std::int64_t now,
                                                    const HiddenKeys& hidden) const {
  return newest(stream, a, [&](const Entry& e) {
    return e.row.window.started(now) && e.row.record_live(now) && !is_hidden(hidden, e.row);
  });
}

SigningKey KeySnapshot::signing(const Entry& e) {
  return SigningKey{e.key.get(), e.row.domain, e.row.selector, std::nullopt};
}

std::vector<SigningKey> KeySnapshot::keys_for(std::string_view stream, std::int64_t now, const HiddenKeys& hidden) const {
  std::vector<SigningKey> out;
  for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
    const Entry* current = signing_key(stream, a, now, hidden);
    if (!current && !hidden.empty() && signing_key(stream, a, now, {})) current = stand_in_key(stream, a, now, hidden);
    if (!current) continue;
    out.push_back(signing(*current));
    const Window& w = current->row.window;
    if (options_.overlap_signing > 0 && w.is_scheduled() && now < w.from + options_.overlap_signing) {
      if (const Entry* outgoing = outgoing_key(stream, a, now, *current)) out.push_back(signing(*outgoing));
    }
  }
  return out;
}

std::vector<KeySnapshot::Upcoming> KeySnapshot::upcoming(std::int64_t now, std::int64_t horizon) const {
  std::vector<Upcoming> out;
  for (const Entry& e : keys_) {
    const auto from = e.row.window.start();
    if (e.key && from && *from > now - horizon && *from <= now + horizon) out.push_back({signing(e), e.row});
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
    if (const auto from = e.row.window.start()) {
      consider(*from);
      if (options_.overlap_signing > 0) consider(*from + options_.overlap_signing);
    }
    if (e.row.window.until) consider(*e.row.window.until);
    if (e.row.retire_at) consider(*e.row.retire_at);
  }
  return next;
}

std::vector<std::string> KeySnapshot::gaps(std::int64_t now) const {
  constexpr std::int64_t kForever = std::numeric_limits<std::int64_t>::max();
  std::vector<std::string> out;
  for (const auto& [stream, range] : by_stream_) {
    for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
      // Each signing window as [from, until): `always` covers from the start.
      std::vector<std::pair<std::int64_t, std::optional<std::int64_t>>> windows;
      for (std::size_t i = range.first; i < range.second; ++i) {
        const Entry& e = keys_[i];
        const Window& w = e.row.window;
        if (e.signs_as(a) && !w.is_standby() && (!w.until || *w.until > now)) {
          windows.emplace_back(w.start().value_or(std::numeric_limits<std::int64_t>::min()), w.until);
        }
      }
      if (windows.empty()) continue;
      std::sort(windows.begin(), windows.end());
      std::int64_t covered = now;  // everything before this instant is covered
      const std::string what = "stream " + stream + " (" + std::string(key_type_name(a)) + ")";
      for (const auto& [from, until] : windows) {
        if (from > covered) {
          out.push_back(what + " has no key to sign with from " + rfc3339::format(covered) + " to " + rfc3339::format(from));
        }
        if (!until) {
          covered = kForever;
          break;
        }
        covered = std::max(covered, *until);
      }
      if (covered != kForever) out.push_back(what + " has no key to sign with from " + rfc3339::format(covered) + " on");
    }
  }
  return out;
}

Result<std::shared_ptr<const KeySnapshot>> load_key_directory(const std::string& dir, const LoadOptions& options) {
  auto m = read_manifest(dir);
  if (!m) return m.error();
  if (Status s = check_manifest(m.value()); !s) return s.error();
  return KeySnapshot::load(dir, m->keys, options);
}

}  // namespace signet::keystore
