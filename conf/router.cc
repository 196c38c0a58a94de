#include "conf/router.h"

#include <algorithm>

#include "conf/rule_index.h"
#include "conf/values.h"

namespace signet::conf {
namespace {

bool any_glob(const std::vector<std::string>& globs, const std::string& text) {
  return std::any_of(globs.begin(), globs.end(), [&](const std::string& g) { return glob_matches(g, text); });
}

bool any_domain(const std::vector<std::string>& patterns, const std::string& domain) {
  return !domain.empty() &&
         std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return domain_matches(p, domain); });
}

bool matches(const Rule& r, const MessageFacts& f) {
  if (!r.sasl_login.empty() && (f.sasl_login.empty() || !any_glob(r.sasl_login, f.sasl_login))) return false;
  if (!r.daemon_name.empty() &&
      std::find(r.daemon_name.begin(), r.daemon_name.end(), f.daemon_name) == r.daemon_name.end())
    return false;
  if (r.client && !r.client->contains(f.client_addr)) return false;
  if (!r.envelope_domain.empty() && !any_domain(r.envelope_domain, f.envelope_domain)) return false;
  if (!r.from_domain.empty() && !any_domain(r.from_domain, f.from_domain)) return false;
  return true;
}

}  // namespace

std::string trust_reason(const Config& cfg, const MessageFacts& f) {
  if (!f.sasl_login.empty()) return "sasl";
  if (!f.client_addr.empty() && cfg.internal_hosts.contains(f.client_addr)) return "internal-host";
  if (!f.daemon_name.empty() &&
      std::find(cfg.trusted_services.begin(), cfg.trusted_services.end(), f.daemon_name) != cfg.trusted_services.end())
    return "service";
  return {};
}

bool may_use(const Stream& s, const MessageFacts& f) {
  if (!s.bound()) return true;
  // A SASL login bound to the stream, or (for hosts without SASL) a client in
  // the stream's networks. An authenticated sender is judged by its login only,
  // so a tenant relaying through an internal host cannot borrow the host's rights.
  if (!f.sasl_login.empty()) return any_glob(s.sasl_logins, f.sasl_login);
  return !s.hosts.empty() && s.hosts.contains(f.client_addr);
}

namespace {

// Rule r picks its stream if it matches and the sender may use that stream.
// matched / open / also_open: what the caller already knows (conf/rule_index.h
// RuleIndex::Target), so the Rule and the Streams need not be read for it.
bool try_rule(const Rule& r, const Stream* primary, const Stream* also, const MessageFacts& f, Route& out,
              bool matched = false, bool open = false, bool also_open = false) {
  if (!matched && !matches(r, f)) return false;
  if (!primary || !(open || may_use(*primary, f))) return false;  // tenant binding: not this sender's stream
  out = Route{{primary}, r.name};
  if (also && also != primary && (also_open || may_use(*also, f))) out.streams.push_back(also);
  return true;
}

}  // namespace

Route route_by_scan(const Config& cfg, const MessageFacts& f) {
  Route out;
  for (const Rule& r : cfg.rules) {
    const Stream* also = r.also_stream.empty() ? nullptr : cfg.find_stream(r.also_stream);
    if (try_rule(r, cfg.find_stream(r.stream), also, f, out)) return out;
  }
  return {};
}

Route route(const Config& cfg, const MessageFacts& f) {
  const RuleIndex* index = cfg.rule_index.get();
  if (!index || index->size() != cfg.rules.size()) return route_by_scan(cfg, f);
  thread_local std::vector<std::uint32_t> candidates;  // one per libmilter thread: no allocation per message
  index->candidates(f, candidates);
  auto stream = [&](std::uint32_t at) { return at == RuleIndex::kNone ? nullptr : &cfg.streams[at]; };
  Route out;
  for (const std::uint32_t i : candidates) {
    const RuleIndex::Target& t = index->target(i);
    if (try_rule(cfg.rules[i], stream(t.stream), stream(t.also), f, out, t.sure, t.open, t.also_open)) return out;
  }
  return {};
}

}  // namespace signet::conf
