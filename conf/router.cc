#include "conf/router.h"

#include <algorithm>

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

Route route(const Config& cfg, const MessageFacts& f) {
  for (const Rule& r : cfg.rules) {
    if (!matches(r, f)) continue;
    const Stream* primary = cfg.find_stream(r.stream);
    if (!primary || !may_use(*primary, f)) continue;  // tenant binding: not this sender's stream
    Route out{{primary}, r.name};
    if (!r.also_stream.empty()) {
      const Stream* also = cfg.find_stream(r.also_stream);
      if (also && also != primary && may_use(*also, f)) out.streams.push_back(also);
    }
    return out;
  }
  return {};
}

}  // namespace signet::conf
