#include "conf/rule_index.h"

#include <algorithm>

#include "base/ascii.h"

namespace signet::conf {
namespace {

// fnmatch(3) without flags treats only these specially; a pattern free of
// them matches exactly its own bytes.
bool literal_glob(std::string_view pattern) { return pattern.find_first_of("*?[\\") == std::string_view::npos; }

bool all_literal(const std::vector<std::string>& patterns) {
  return std::all_of(patterns.begin(), patterns.end(), [](const std::string& p) { return literal_glob(p); });
}

template <typename Map, typename Key>
void file_under(Map& map, Key&& key, std::uint32_t rule) {
  auto& bucket = map[std::forward<Key>(key)];
  if (bucket.empty() || bucket.back() != rule) bucket.push_back(rule);  // rules are filed in order: stays sorted
}

std::uint32_t position(const Config& cfg, const std::string& name) {
  if (name.empty()) return RuleIndex::kNone;
  const Stream* s = cfg.find_stream(name);
  return s ? static_cast<std::uint32_t>(s - cfg.streams.data()) : RuleIndex::kNone;
}

}  // namespace

RuleIndex::NetKey RuleIndex::masked(const CidrSet::Bytes& a, int prefix) {
  auto load = [&](std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | a[at + i];
    return v;
  };
  auto mask = [](int bits) { return bits <= 0 ? 0 : bits >= 64 ? ~0ull : ~0ull << (64 - bits); };
  return NetKey{load(0) & mask(prefix), load(8) & mask(prefix - 64)};
}

void RuleIndex::add_domains(DomainIndex& index, const std::vector<std::string>& patterns, std::uint32_t rule) {
  for (const std::string& p : patterns) {
    // domain_matches(): "*.x" is any domain ending in ".x" with something before it.
    if (p.substr(0, 2) == "*.") {
      file_under(index.wildcard, ascii::to_lower(std::string_view(p).substr(2)), rule);
    } else {
      file_under(index.exact, ascii::to_lower(p), rule);
    }
  }
}

void RuleIndex::find_domain(const DomainIndex& index, std::string_view domain, std::vector<const Bucket*>& hits) {
  if (domain.empty()) return;  // an absent domain matches no pattern
  std::string folded;
  if (std::any_of(domain.begin(), domain.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    folded = ascii::to_lower(domain);
    domain = folded;
  }
  if (auto it = index.exact.find(domain); it != index.exact.end()) hits.push_back(&it->second);
  if (index.wildcard.empty()) return;
  // Every suffix that follows a dot at position >= 1 (the pattern's ".x" must
  // not be the whole domain).
  for (std::size_t i = 1; i < domain.size(); ++i) {
    if (domain[i] != '.') continue;
    if (auto it = index.wildcard.find(domain.substr(i + 1)); it != index.wildcard.end()) hits.push_back(&it->second);
  }
}

RuleIndex::RuleIndex(const Config& cfg) {
  targets_.reserve(cfg.rules.size());
  for (std::size_t i = 0; i < cfg.rules.size(); ++i) {
    const Rule& r = cfg.rules[i];
    const auto n = static_cast<std::uint32_t>(i);
    Target& t = targets_.emplace_back();
    t.stream = position(cfg, r.stream);
    t.also = position(cfg, r.also_stream);
    t.open = t.stream != kNone && !cfg.streams[t.stream].bound();
    t.also_open = t.also != kNone && !cfg.streams[t.also].bound();
    const int criteria = !r.sasl_login.empty() + !r.daemon_name.empty() + r.client.has_value() +
                         !r.envelope_domain.empty() + !r.from_domain.empty();
    t.sure = criteria == 1;  // filed under its only criterion (below), unless that is a glob login
    if (!r.sasl_login.empty() && all_literal(r.sasl_login)) {
      for (const std::string& login : r.sasl_login) file_under(logins_, login, n);
    } else if (!r.from_domain.empty()) {
      add_domains(from_, r.from_domain, n);
    } else if (!r.envelope_domain.empty()) {
      add_domains(envelope_, r.envelope_domain, n);
    } else if (r.client) {
      // An empty network list matches no address: the rule is filed nowhere.
      for (const CidrSet::Net& net : r.client->networks()) {
        auto at = std::find_if(nets_.begin(), nets_.end(), [&](const auto& p) { return p.first == net.prefix; });
        if (at == nets_.end()) at = nets_.insert(nets_.end(), {net.prefix, {}});
        file_under(at->second, masked(net.addr, net.prefix), n);
      }
    } else if (!r.daemon_name.empty()) {
      for (const std::string& name : r.daemon_name) file_under(services_, name, n);
    } else {
      t.sure = criteria == 0;  // glob logins: tried on every message
      always_.push_back(n);
    }
  }
}

void RuleIndex::candidates(const MessageFacts& f, std::vector<std::uint32_t>& out) const {
  thread_local std::vector<const Bucket*> hits;  // no allocation per message
  hits.clear();
  if (!always_.empty()) hits.push_back(&always_);
  if (!f.sasl_login.empty()) {
    if (auto it = logins_.find(std::string_view(f.sasl_login)); it != logins_.end()) hits.push_back(&it->second);
  }
  if (auto it = services_.find(std::string_view(f.daemon_name)); it != services_.end()) hits.push_back(&it->second);
  find_domain(from_, f.from_domain, hits);
  find_domain(envelope_, f.envelope_domain, hits);
  if (!nets_.empty()) {
    if (const auto addr = CidrSet::address(f.client_addr)) {
      for (const auto& [prefix, map] : nets_) {
        if (auto it = map.find(masked(*addr, prefix)); it != map.end()) hits.push_back(&it->second);
      }
    }
  }
  out.clear();
  for (const Bucket* b : hits) out.insert(out.end(), b->begin(), b->end());
  if (hits.size() > 1) {
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
  }
}

}  // namespace signet::conf
