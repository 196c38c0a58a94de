// conf/rule_index.h: the routing index answers exactly as trying every rule
// in order does (conf/router.h route_by_scan), and it narrows the search.
#include <gtest/gtest.h>

#include <fstream>
#include <random>

#include "conf/config.h"
#include "conf/router.h"
#include "conf/rule_index.h"
#include "test_util.h"

using namespace signet;
using namespace signet::conf;

namespace {

// Small vocabularies, so that random rules and random messages collide often,
// with the corners of each criterion: globs next to literal logins, apex and
// wildcard domains in both cases, nested networks of both families, and
// addresses written the ways libmilter and Postfix write them.
const std::vector<std::string> kLogins = {"alice", "bob", "acme-1", "acme-2", "Alice", "acme-*", "b?b", "[ab]*", "*"};
const std::vector<std::string> kLoginFacts = {"", "alice", "bob", "acme-1", "acme-2", "Alice", "bxb", "acme-9", "zed"};
const std::vector<std::string> kServices = {"smtpd", "submission", "tx-out"};
const std::vector<std::string> kServiceFacts = {"", "smtpd", "submission", "tx-out", "pickup"};
const std::vector<std::string> kNets = {"10.0.0.0/8", "10.1.0.0/16", "10.1.2.3", "192.168.0.0/24", "0.0.0.0/0",
                                        "fd00::/8",   "::1",         "2001:db8::/32", "::/0"};
const std::vector<std::string> kAddrFacts = {"",         "10.1.2.3", "10.1.9.9",        "10.200.0.1", "192.168.0.7",
                                             "8.8.8.8",  "::1",      "[::1]",           "fd12::5",    "2001:db8::1",
                                             "garbage",  "::ffff:10.1.2.3", "IPv6:fd00::1"};
const std::vector<std::string> kDomains = {"a.example",   "*.a.example", "b.example", "*.example",
                                           "x.b.example", "B.Example",   "*.B.EXAMPLE", "c.example"};
const std::vector<std::string> kDomainFacts = {"",           "a.example", "mail.a.example", "x.y.a.example",
                                               "b.example",  "B.example", "x.b.example",    "X.B.Example",
                                               "example",    "c.example", ".a.example",     "other.test"};

template <typename T>
const T& pick(std::mt19937& rng, const std::vector<T>& v) {
  return v[std::uniform_int_distribution<std::size_t>(0, v.size() - 1)(rng)];
}

bool coin(std::mt19937& rng, int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; }

std::vector<std::string> some(std::mt19937& rng, const std::vector<std::string>& v) {
  std::vector<std::string> out;
  const int n = std::uniform_int_distribution<int>(1, 3)(rng);
  for (int i = 0; i < n; ++i) out.push_back(pick(rng, v));
  return out;
}

CidrSet networks(std::mt19937& rng) {
  CidrSet set;
  if (coin(rng, 5)) return set;  // `client =` with no network: matches nothing
  for (const std::string& n : some(rng, kNets)) EXPECT_TRUE(set.add(n).ok()) << n;
  return set;
}

Config random_config(std::mt19937& rng, int streams, int rules) {
  Config cfg;
  for (int i = 0; i < streams; ++i) {
    Stream s;
    s.name = "s" + std::to_string(i);
    s.domain = s.name + ".example";
    if (coin(rng, 30)) s.sasl_logins = some(rng, kLogins);  // tenant binding
    if (coin(rng, 20)) s.hosts = networks(rng);
    cfg.stream_index.emplace(s.name, cfg.streams.size());
    cfg.streams.push_back(std::move(s));
  }
  for (int i = 0; i < rules; ++i) {
    Rule r;
    r.name = "r" + std::to_string(i);
    if (coin(rng, 40)) r.sasl_login = some(rng, kLogins);
    if (coin(rng, 25)) r.daemon_name = some(rng, kServices);
    if (coin(rng, 30)) r.client = networks(rng);
    if (coin(rng, 30)) r.envelope_domain = some(rng, kDomains);
    if (coin(rng, 40)) r.from_domain = some(rng, kDomains);
    r.stream = "s" + std::to_string(std::uniform_int_distribution<int>(0, streams - 1)(rng));
    if (coin(rng, 20)) r.also_stream = "s" + std::to_string(std::uniform_int_distribution<int>(0, streams - 1)(rng));
    cfg.rules.push_back(std::move(r));
  }
  cfg.rule_index = std::make_shared<const RuleIndex>(cfg);
  return cfg;
}

MessageFacts random_facts(std::mt19937& rng) {
  return MessageFacts{pick(rng, kLoginFacts), pick(rng, kServiceFacts), pick(rng, kAddrFacts), pick(rng, kDomainFacts),
                      pick(rng, kDomainFacts)};
}

std::string describe(const Route& r) {
  std::string out = r.rule + ":";
  for (const Stream* s : r.streams) out += " " + s->name;
  return out;
}

}  // namespace

TEST(RuleIndex, AnswersAsTheLinearScanOverRandomRuleSets) {
  std::mt19937 rng(20261202);
  int routed = 0, compared = 0;
  for (int set = 0; set < 400; ++set) {
    const Config cfg = random_config(rng, 1 + set % 7, 1 + set % 40);
    for (int m = 0; m < 200; ++m) {
      const MessageFacts f = random_facts(rng);
      const Route by_index = route(cfg, f), by_scan = route_by_scan(cfg, f);
      ASSERT_EQ(describe(by_index), describe(by_scan))
          << "rule set " << set << ", facts login=" << f.sasl_login << " service=" << f.daemon_name
          << " client=" << f.client_addr << " envelope=" << f.envelope_domain << " from=" << f.from_domain;
      routed += !by_scan.streams.empty();
      ++compared;
    }
  }
  // The vocabularies make most messages match some rule, but not all: both
  // outcomes were compared.
  EXPECT_GT(routed, compared / 10);
  EXPECT_LT(routed, compared);
}

TEST(RuleIndex, CandidatesAreOnlyTheRulesFiledUnderTheMessagesKeys) {
  Config cfg;
  Stream s;
  s.name = "t";
  s.domain = "t.example";
  cfg.stream_index.emplace(s.name, 0);
  cfg.streams.push_back(s);
  auto rule = [&](auto&& fill) {
    Rule r;
    r.name = "r" + std::to_string(cfg.rules.size());
    r.stream = "t";
    fill(r);
    cfg.rules.push_back(std::move(r));
  };
  for (int i = 0; i < 1000; ++i) rule([&](Rule& r) { r.sasl_login = {"user" + std::to_string(i)}; });       // 0..999
  for (int i = 0; i < 1000; ++i) rule([&](Rule& r) { r.from_domain = {"*.d" + std::to_string(i) + ".example"}; });
  for (int i = 0; i < 1000; ++i) {
    rule([&](Rule& r) { r.client = CidrSet::parse("10.0." + std::to_string(i / 4) + "." + std::to_string(i % 4 * 64) + "/26").value(); });
  }
  rule([](Rule& r) { r.sasl_login = {"acme-*"}; });  // 3000: a glob is considered for every message
  const RuleIndex index(cfg);
  std::vector<std::uint32_t> c;
  index.candidates(MessageFacts{"user7", "", "", "", ""}, c);
  EXPECT_EQ(c, (std::vector<std::uint32_t>{7, 3000}));
  index.candidates(MessageFacts{"", "", "10.0.2.70", "", "Mail.D5.example"}, c);
  EXPECT_EQ(c, (std::vector<std::uint32_t>{1005, 2009, 3000}));
  index.candidates(MessageFacts{"", "", "10.9.0.1", "", "d5.example"}, c);  // the apex is not *.d5.example
  EXPECT_EQ(c, (std::vector<std::uint32_t>{3000}));
}

TEST(RuleIndex, LoadConfigBuildsTheIndexThatRouteUses) {
  const std::string dir = signet::testing::temp_dir("rule-index");
  std::string text = "internal-hosts = 10.0.0.0/8\n";
  for (int i = 0; i < 50; ++i) {
    text += "[stream.t" + std::to_string(i) + "]\ndomain = t" + std::to_string(i) + ".example\n";
  }
  for (int i = 0; i < 50; ++i) {
    text += "[rule.t" + std::to_string(i) + "]\nfrom-domain = t" + std::to_string(i) + ".example\nstream = t" +
            std::to_string(i) + "\n";
  }
  text += "[rule.default]\nstream = t0\n";
  const std::string path = dir + "/signet.conf";
  std::ofstream(path) << text;
  std::vector<const char*> argv = {"signet-milter", "--config", path.c_str()};
  auto cfg = load_config(static_cast<int>(argv.size()), argv.data());
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  ASSERT_NE(cfg->rule_index, nullptr);
  EXPECT_EQ(cfg->rule_index->size(), cfg->rules.size());
  EXPECT_EQ(route(cfg.value(), MessageFacts{"", "", "10.1.1.1", "", "t42.example"}).rule, "t42");
  EXPECT_EQ(route(cfg.value(), MessageFacts{"", "", "10.1.1.1", "", "nobody.example"}).rule, "default");
}
