// replay/inputs.h: the register and the configuration as the analysis reads
// them: states (revoked told from retired), configuration selector lines,
// delegated selectors, each stream's sending networks.
#include <gtest/gtest.h>

#include "base/time.h"
#include "replay/inputs.h"

using namespace signet;
using namespace signet::replay;

namespace {

std::int64_t at(const char* t) { return rfc3339::parse(t).value(); }

keystore::KeyRow row(const char* selector, keystore::Window w) {
  keystore::KeyRow k;
  k.stream = "tx";
  k.domain = "example.com";
  k.selector = selector;
  k.algorithm = Algorithm::Ed25519Sha256;
  k.window = w;
  return k;
}

conf::Config config() {
  conf::Config cfg;
  cfg.sending_networks = conf::CidrSet::parse("192.0.2.0/24").value();
  conf::Stream tx;
  tx.name = "tx";
  tx.domain = "example.com";
  conf::Stream bulk;
  bulk.name = "bulk";
  bulk.domain = "example.net";
  bulk.selectors = {"bulk-static"};
  bulk.sending_networks = conf::CidrSet::parse("198.51.100.0/24").value();
  cfg.streams = {tx, bulk};
  cfg.stream_index = {{"tx", 0}, {"bulk", 1}};
  cfg.replay_floor = 7;
  cfg.replay_ratio_pct = 300;
  return cfg;
}

TEST(ReplayInputs, RegisterStatesAtNow) {
  const std::int64_t now = at("2026-11-27T10:00:00Z");
  keystore::Manifest m;
  m.keys.push_back(row("active", keystore::Window::scheduled(at("2026-11-01T00:00:00Z"))));
  m.keys.push_back(row("standby", keystore::Window::standby()));
  auto drained = row("retired", keystore::Window::scheduled(at("2026-09-01T00:00:00Z"), at("2026-10-01T00:00:00Z")));
  drained.retire_at = at("2026-10-15T00:00:00Z");
  drained.retired_at = at("2026-10-20T08:00:00Z");
  m.keys.push_back(drained);
  auto revoked = row("revoked", keystore::Window::scheduled(at("2026-10-01T00:00:00Z"), at("2026-11-01T00:00:00Z")));
  revoked.retire_at = revoked.retired_at = at("2026-11-01T00:00:00Z");  // rotate --revoke-now: no drain
  m.keys.push_back(revoked);
  const std::vector<keystore::Delegated> delegated = {{"example.com", "esp1", "esp1.vendor.example", "marketing", 0}};
  const auto sel = our_selectors(config(), m, delegated, now);
  ASSERT_EQ(sel.size(), 6u);
  EXPECT_EQ(sel[0].state, SelectorState::Active);
  EXPECT_EQ(sel[0].algorithm, "ed25519");
  EXPECT_EQ(sel[1].state, SelectorState::Standby);
  EXPECT_EQ(sel[2].state, SelectorState::Retired);
  EXPECT_EQ(sel[2].retired_day, "2026-10-20");
  EXPECT_EQ(sel[3].state, SelectorState::Revoked);
  EXPECT_EQ(sel[3].retired_day, "2026-11-01");
  EXPECT_EQ(sel[4].selector, "bulk-static");
  EXPECT_EQ(sel[4].stream, "bulk");
  EXPECT_EQ(sel[4].state, SelectorState::Always);
  EXPECT_EQ(sel[5].selector, "esp1");
  EXPECT_EQ(sel[5].state, SelectorState::Delegated);
  EXPECT_EQ(sel[5].stream, "");
}

TEST(ReplayInputs, WindowThresholdsDomainsAndNetworks) {
  const conf::Config cfg = config();
  const Input in = make_input(cfg, {}, {}, at("2026-11-27T10:00:00Z"), "2026-11-20");
  EXPECT_EQ(in.first_day, "2026-11-20");
  EXPECT_EQ(in.last_day, "2026-11-27");
  EXPECT_EQ(in.thresholds.replay_floor, 7);
  EXPECT_EQ(in.thresholds.replay_ratio_pct, 300);
  EXPECT_EQ(in.domains, (std::vector<std::string>{"example.com", "example.net"}));
  EXPECT_TRUE(in.sending_networks("tx")->contains("192.0.2.9"));     // the global
  EXPECT_FALSE(in.sending_networks("bulk")->contains("192.0.2.9"));  // its own replaces it
  EXPECT_TRUE(in.sending_networks("bulk")->contains("198.51.100.9"));
  EXPECT_EQ(utc_day(at("2026-11-27T23:59:59Z")), "2026-11-27");
}

}  // namespace
