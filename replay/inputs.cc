#include "replay/inputs.h"

#include <set>

#include "base/time.h"

namespace signet::replay {
namespace {

SelectorState state_of(const keystore::KeyRow& k, std::int64_t now) {
  switch (k.state(now)) {
    case keystore::KeyState::Standby: return SelectorState::Standby;
    case keystore::KeyState::Scheduled: return SelectorState::Scheduled;
    case keystore::KeyState::Active: return k.window.is_always() ? SelectorState::Always : SelectorState::Active;
    case keystore::KeyState::Draining: return SelectorState::Draining;
    case keystore::KeyState::RetireDue: return SelectorState::RetireDue;
    case keystore::KeyState::Retired:
      // Revoked: retired without draining (`key rotate --revoke-now` retires
      // at the cutover it makes), so mail signed with it fails at once.
      return k.window.until && k.retired_at && *k.retired_at <= *k.window.until ? SelectorState::Revoked
                                                                               : SelectorState::Retired;
  }
  return SelectorState::Active;
}

}  // namespace

std::string utc_day(std::int64_t t) { return rfc3339::format(t).substr(0, 10); }

std::vector<OurSelector> our_selectors(const conf::Config& cfg, const keystore::Manifest& m,
                                       const std::vector<keystore::Delegated>& delegated, std::int64_t now) {
  std::vector<OurSelector> out;
  for (const keystore::KeyRow& k : m.keys) {
    OurSelector s{k.stream, k.domain, k.selector, std::string(key_type_name(k.algorithm)), state_of(k, now), ""};
    if (k.retired_at) s.retired_day = utc_day(*k.retired_at);
    out.push_back(std::move(s));
  }
  for (const conf::Stream& st : cfg.streams) {
    for (const std::string& sel : st.selectors) out.push_back({st.name, st.domain, sel, "", SelectorState::Always, ""});
  }
  for (const keystore::Delegated& d : delegated) out.push_back({"", d.domain, d.selector, "", SelectorState::Delegated, ""});
  return out;
}

Input make_input(const conf::Config& cfg, const keystore::Manifest& m, const std::vector<keystore::Delegated>& delegated,
                 std::int64_t now, const std::string& first_day) {
  Input in;
  in.selectors = our_selectors(cfg, m, delegated, now);
  for (const conf::Stream& s : cfg.streams) in.domains.push_back(s.domain);
  in.sending_networks = [&cfg](const std::string& stream) -> const conf::CidrSet* {
    const conf::Stream* s = cfg.find_stream(stream);
    return s ? &cfg.sending_networks_of(*s) : &cfg.sending_networks;
  };
  in.thresholds = {cfg.replay_floor, cfg.replay_ratio_pct, cfg.failure_floor, cfg.failure_ratio_pct};
  in.first_day = first_day;
  in.last_day = utc_day(now);
  return in;
}

}  // namespace signet::replay
