// replay/analysis.h over vectors: the scenarios (a) our IPs only, (b) a foreign
// burst, (c) a retired selector passing, (d) a selector in no register row,
// (e) failures at one receiver, and every threshold at its bound and one over.
#include <gtest/gtest.h>

#include <algorithm>

#include "replay/analysis.h"

using namespace signet;
using namespace signet::replay;

namespace {

constexpr const char* kTx = "tx-202611-rsa2048";
constexpr const char* kBulk = "bulk-202611-rsa2048";
constexpr const char* kOld = "tx-202605-rsa2048";  // retired 2026-11-10

const std::vector<std::string> kWeek = {"2026-11-20", "2026-11-21", "2026-11-22", "2026-11-23",
                                        "2026-11-24", "2026-11-25", "2026-11-26"};

class ReplayAnalysis : public ::testing::Test {
 protected:
  ReplayAnalysis() {
    tx_nets = conf::CidrSet::parse("192.0.2.0/24, 2001:db8:1::/48").value();
    bulk_nets = conf::CidrSet::parse("198.51.100.0/24").value();
    in.selectors = {
        {"tx", "example.com", kTx, "rsa", SelectorState::Active, ""},
        {"tx", "example.com", kOld, "rsa", SelectorState::Retired, "2026-11-10"},
        {"bulk", "example.com", kBulk, "rsa", SelectorState::Active, ""},
        {"", "example.com", "esp1", "", SelectorState::Delegated, ""},
    };
    in.domains = {"example.com"};
    in.sending_networks = [this](const std::string& stream) -> const conf::CidrSet* {
      if (stream == "tx") return &tx_nets;
      if (stream == "bulk") return &bulk_nets;
      return nullptr;
    };
    in.first_day = kWeek.front();
    in.last_day = kWeek.back();
  }

  void sign(const std::string& day, const std::string& stream, const std::string& selector, std::int64_t n) {
    in.ledger.push_back({day, stream, "example.com", selector, "rsa-sha256", n});
  }
  void report(const std::string& day, const std::string& org, const std::string& ip, std::int64_t n,
              const std::string& selector, const std::string& result = "pass", const std::string& domain = "example.com") {
    in.reports.push_back({day, org, org + "-" + day, ip, n, domain, domain, selector, result});
  }
  // A normal week: every day tx signs 1000 and bulk 2000; receivers report
  // 900 and 1800 passing from our own networks.
  void normal_week() {
    for (const auto& d : kWeek) {
      sign(d, "tx", kTx, 1000);
      sign(d, "bulk", kBulk, 2000);
      report(d, "google.com", "192.0.2.10", 600, kTx);
      report(d, "yahoo.com", "2001:db8:1::25", 300, kTx);
      report(d, "google.com", "198.51.100.7", 1800, kBulk);
    }
  }
  std::vector<Finding> of_kind(const Report& r, const std::string& kind) {
    std::vector<Finding> out;
    std::copy_if(r.findings.begin(), r.findings.end(), std::back_inserter(out), [&](const Finding& f) { return f.kind == kind; });
    return out;
  }

  conf::CidrSet tx_nets, bulk_nets;
  Input in;
};

TEST_F(ReplayAnalysis, A_OnlyOurNetworksWithMatchingCountsHasNoFinding) {
  normal_week();
  const Report r = analyze(in);
  EXPECT_TRUE(r.findings.empty()) << r.findings.front().message;
  ASSERT_EQ(r.selectors.size(), 2u);
  const SelectorDays& tx = r.selectors[1];  // by domain, selector: bulk-… before tx-…
  EXPECT_EQ(tx.selector, kTx);
  EXPECT_EQ(tx.stream, "tx");
  EXPECT_EQ(tx.state, "active");
  ASSERT_EQ(tx.days.size(), 7u);
  EXPECT_EQ(tx.days[3].day, "2026-11-23");
  EXPECT_EQ(tx.days[3].signed_count, 1000);
  EXPECT_EQ(tx.days[3].passed, 900);
  EXPECT_EQ(tx.days[3].passed_foreign, 0);
}

TEST_F(ReplayAnalysis, B_ForeignBurstIsOneFindingForThatStreamWithTheRotateCommand) {
  normal_week();
  report("2026-11-24", "yahoo.com", "203.0.113.5", 5000, kTx);
  report("2026-11-24", "google.com", "203.0.113.6", 300, kTx);
  report("2026-11-24", "google.com", "203.0.113.5", 200, kTx);
  in.command_suffix = " --config /etc/signet/signet.conf";
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u) << r.findings.back().message;
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, "replay");
  EXPECT_EQ(f.severity, "error");
  EXPECT_EQ(f.stream, "tx");
  EXPECT_EQ(f.selector, kTx);
  EXPECT_EQ(f.command, "signet key rotate --stream tx --emergency --config /etc/signet/signet.conf");
  EXPECT_EQ(f.signals, (std::vector<std::string>{"foreign-sources", "excess"}));
  ASSERT_EQ(f.days.size(), 1u);
  EXPECT_EQ(f.days[0].day, "2026-11-24");
  EXPECT_EQ(f.days[0].passed, 6400);
  EXPECT_EQ(f.days[0].passed_foreign, 5500);
  EXPECT_EQ(f.volume, 5500);  // max(foreign, passed - signed = 5400)
  ASSERT_EQ(f.sources.size(), 2u);
  EXPECT_EQ(f.sources[0].ip, "203.0.113.5");
  EXPECT_EQ(f.sources[0].count, 5200);
  EXPECT_EQ(f.sources[0].orgs, (std::vector<std::string>{"google.com", "yahoo.com"}));
  EXPECT_EQ(f.sources[1].ip, "203.0.113.6");
  EXPECT_NE(f.message.find("203.0.113.5 5200 (google.com yahoo.com)"), std::string::npos) << f.message;
}

TEST_F(ReplayAnalysis, C_RetiredSelectorPassingAfterItsRetirementDay) {
  in.first_day = "2026-11-10";
  normal_week();
  report("2026-11-10", "google.com", "192.0.2.10", 40, kOld);  // the retirement day: mail signed before
  report("2026-11-21", "google.com", "192.0.2.10", 3, kOld);
  report("2026-11-22", "yahoo.com", "192.0.2.11", 2, kOld, "fail");  // failing: the record is p= empty there
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u) << r.findings.back().message;
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, "retired-passing");
  EXPECT_EQ(f.severity, "error");
  EXPECT_EQ(f.stream, "tx");
  EXPECT_EQ(f.selector, kOld);
  EXPECT_EQ(f.volume, 3);
  ASSERT_EQ(f.days.size(), 1u);
  EXPECT_EQ(f.days[0].day, "2026-11-21");
  EXPECT_NE(f.message.find("retired on 2026-11-10"), std::string::npos) << f.message;
}

TEST_F(ReplayAnalysis, C_RevokedSelectorIsNamedRevoked) {
  in.selectors[1].state = SelectorState::Revoked;
  report("2026-11-21", "google.com", "192.0.2.10", 1, kOld);
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_NE(r.findings[0].message.find("was revoked on 2026-11-10"), std::string::npos) << r.findings[0].message;
}

TEST_F(ReplayAnalysis, D_SelectorInNoRegisterRowOfOurDomain) {
  normal_week();
  report("2026-11-23", "google.com", "203.0.113.9", 10, "mystery");
  report("2026-11-23", "google.com", "203.0.113.9", 9000, "x", "pass", "other.example");  // not our domain
  report("2026-11-23", "google.com", "203.0.113.9", 9000, "");  // no selector reported (RFC 7489)
  report("2026-11-23", "google.com", "203.0.113.10", 9000, "esp1");  // delegated: the vendor's to send
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u) << r.findings.back().message;
  const Finding& f = r.findings[0];
  EXPECT_EQ(f.kind, "unregistered-selector");
  EXPECT_EQ(f.domain, "example.com");
  EXPECT_EQ(f.selector, "mystery");
  EXPECT_EQ(f.stream, "");
  EXPECT_EQ(f.volume, 10);
  EXPECT_TRUE(std::none_of(r.selectors.begin(), r.selectors.end(), [](const SelectorDays& s) { return s.domain == "other.example"; }));
}

TEST_F(ReplayAnalysis, E_FailuresClusteredAtOneReceiver) {
  normal_week();
  report("2026-11-22", "outlook.com", "192.0.2.10", 300, kTx);  // 1200 passed of 1000 signed: no replay
  report("2026-11-22", "outlook.com", "192.0.2.10", 200, kTx, "fail");
  report("2026-11-22", "google.com", "192.0.2.10", 5, kTx, "fail");
  report("2026-11-22", "gmx.net", "203.0.113.77", 900, kTx, "fail");  // a forwarder changing mail: not our path
  const Report r = analyze(in);
  const auto f = of_kind(r, "signature-failures");
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].severity, "warning");
  EXPECT_EQ(f[0].stream, "tx");
  ASSERT_EQ(f[0].orgs.size(), 1u);
  EXPECT_EQ(f[0].orgs[0].org, "outlook.com");
  EXPECT_EQ(f[0].orgs[0].failed, 200);
  EXPECT_EQ(f[0].orgs[0].total, 500);
  EXPECT_EQ(f[0].command, "signet doctor postfix");
  EXPECT_EQ(r.findings.size(), 1u);
}

TEST_F(ReplayAnalysis, ForeignVolumeAtTheFloorIsQuietOneOverIsAFinding) {
  normal_week();
  report("2026-11-25", "google.com", "203.0.113.5", 100, kTx);
  EXPECT_TRUE(analyze(in).findings.empty());
  in.reports.back().count = 101;
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].signals, std::vector<std::string>{"foreign-sources"});  // 1001 of 1000 signed: no excess
}

TEST_F(ReplayAnalysis, ExcessAtTheRatioIsQuietOneOverIsAFinding) {
  normal_week();
  report("2026-11-25", "google.com", "192.0.2.10", 600, kTx);  // 1500 passed, 1000 signed: exactly 1.5
  EXPECT_TRUE(analyze(in).findings.empty());
  in.reports.back().count = 601;
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].signals, std::vector<std::string>{"excess"});
  EXPECT_EQ(r.findings[0].volume, 501);
  EXPECT_NE(r.findings[0].next_step.find("one --ledger per host"), std::string::npos);
}

TEST_F(ReplayAnalysis, ExcessAtTheFloorIsQuietOneOverIsAFinding) {
  report("2026-11-25", "google.com", "192.0.2.10", 100, kTx);  // nothing signed: 100 unexplained
  EXPECT_TRUE(of_kind(analyze(in), "replay").empty());
  in.reports.back().count = 101;
  EXPECT_EQ(of_kind(analyze(in), "replay").size(), 1u);
}

TEST_F(ReplayAnalysis, EveryHostsLedgerCounts) {
  for (const auto& d : kWeek) {
    sign(d, "tx", kTx, 600);  // host 1
    report(d, "google.com", "192.0.2.10", 1000, kTx);
  }
  EXPECT_EQ(of_kind(analyze(in), "replay").size(), 1u);  // one host's ledger only: 1000 against 600
  for (const auto& d : kWeek) sign(d, "tx", kTx, 400);  // host 2
  const Report r = analyze(in);
  EXPECT_TRUE(r.findings.empty());
  EXPECT_EQ(r.selectors[0].days[0].signed_count, 1000);
}

TEST_F(ReplayAnalysis, FailuresAtTheFloorAndRatioAreQuietOneOverIsAFinding) {
  report("2026-11-22", "outlook.com", "192.0.2.10", 950, kTx);
  report("2026-11-22", "outlook.com", "192.0.2.10", 50, kTx, "fail");  // 50 > floor? no
  EXPECT_TRUE(of_kind(analyze(in), "signature-failures").empty());
  in.reports.back().count = 51;
  EXPECT_EQ(of_kind(analyze(in), "signature-failures").size(), 1u);
  in.reports.front().count = 1140;  // 60 of 1200: exactly 5%
  in.reports.back().count = 60;
  EXPECT_TRUE(of_kind(analyze(in), "signature-failures").empty());
  in.reports.back().count = 61;  // 61 of 1201
  EXPECT_EQ(of_kind(analyze(in), "signature-failures").size(), 1u);
}

TEST_F(ReplayAnalysis, NextStepFollowsTheReplayedKeysState) {
  in.selectors[0].state = SelectorState::Draining;
  report("2026-11-25", "google.com", "203.0.113.5", 500, kTx);
  Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 1u);
  EXPECT_EQ(r.findings[0].command, "signet key retire --selector tx-202611-rsa2048");
  in.selectors[0].state = SelectorState::Standby;  // never signed: rotating to it would sign with a stolen key
  r = analyze(in);
  EXPECT_EQ(r.findings[0].command, "signet key retire --selector tx-202611-rsa2048");
  EXPECT_NE(r.findings[0].next_step.find("someone holds a copy"), std::string::npos);
}

TEST_F(ReplayAnalysis, WithoutSendingNetworksOnlyTheLedgerComparisonRuns) {
  in.sending_networks = nullptr;
  normal_week();
  report("2026-11-25", "google.com", "203.0.113.5", 400, kTx);  // 1300 of 1000: under the ratio
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].kind, "no-sending-networks");
  EXPECT_EQ(r.findings[0].severity, "info");
  EXPECT_EQ(r.findings[0].stream, "bulk");
  EXPECT_EQ(r.findings[1].stream, "tx");
}

TEST_F(ReplayAnalysis, RowsOutsideTheWindowCountNowhere) {
  sign("2026-11-19", "tx", kTx, 5);
  report("2026-11-27", "google.com", "203.0.113.5", 5000, kTx);
  const Report r = analyze(in);
  EXPECT_TRUE(r.selectors.empty());
  EXPECT_TRUE(r.findings.empty());
}

TEST_F(ReplayAnalysis, FindingsAreMostSevereFirst) {
  normal_week();
  report("2026-11-22", "outlook.com", "198.51.100.7", 300, kBulk, "fail");  // warning, stream bulk
  report("2026-11-23", "google.com", "203.0.113.9", 10, "mystery");      // error
  const Report r = analyze(in);
  ASSERT_EQ(r.findings.size(), 2u);
  EXPECT_EQ(r.findings[0].severity, "error");
  EXPECT_EQ(r.findings[1].severity, "warning");
}

TEST(ReplayLastPassing, LatestPassingDayPerSelector) {
  std::vector<dmarc::ReportRecord> recs = {
      {"2026-11-20", "g", "1", "192.0.2.1", 5, "example.com", "example.com", "sel", "pass"},
      {"2026-11-22", "g", "2", "192.0.2.1", 5, "example.com", "example.com", "sel", "fail"},
      {"2026-11-23", "g", "3", "192.0.2.1", 0, "example.com", "example.com", "sel", "pass"},
      {"2026-11-24", "g", "4", "192.0.2.1", 5, "example.com", "example.com", "other", "pass"},
      {"2026-11-21", "y", "5", "192.0.2.1", 5, "example.com", "example.com", "sel", "pass"},
  };
  EXPECT_EQ(last_passing_days(recs).at({"example.com", "sel"}), "2026-11-21");  // fails and count 0 do not count
  recs.push_back({"2026-11-25", "g", "6", "192.0.2.1", 5, "Example.COM", "example.com", "Sel", "pass"});
  recs.push_back({"2026-11-26", "g", "7", "192.0.2.1", 5, "example.com", "example.com", "", "pass"});
  const auto last = last_passing_days(recs);
  EXPECT_EQ(last.size(), 2u);
  EXPECT_EQ(last.at({"example.com", "sel"}), "2026-11-25");
  EXPECT_EQ(last.at({"example.com", "other"}), "2026-11-24");
}

}  // namespace
