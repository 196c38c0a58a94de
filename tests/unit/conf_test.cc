// conf/: configuration loading, CIDR sets, value parsers, routing with tenant binding.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>

#include "conf/cidr.h"
#include "conf/config.h"
#include "conf/options.h"
#include "conf/router.h"
#include "conf/values.h"

using namespace signet;
using namespace signet::conf;

namespace {

std::string write_temp(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path) << text;
  return path;
}

std::string temp_dir() {
  char tmpl[] = "/tmp/signet-conf-XXXXXX";
  return mkdtemp(tmpl);
}

Result<Config> load(const std::string& path, std::vector<const char*> extra = {}) {
  std::vector<const char*> argv = {"signet-milter", "--config", path.c_str()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return load_config(static_cast<int>(argv.size()), argv.data());
}

const char* kConfig = R"(socket = inet:8891@127.0.0.1
internal-hosts = 10.0.0.0/8, 192.168.1.0/24
internal-hosts = fd00::/8
trusted-services = submission tx-out
on-error = tempfail
key-directory = /keys

[stream.tx]
domain = Example.COM
selector = tx-rsa
selector = tx-ed
expire = 7d
oversign-headers = cc

[stream.acme]
domain = acme.example
selector = acme-rsa
sasl-logins = acme acme-*

[stream.relay]
domain = relay.example
selector = relay-ed

[rule.acme]
from-domain = acme.example *.acme.example
stream = acme
also-stream = relay

[rule.tx-service]
daemon-name = tx-out
stream = tx

[rule.default]
stream = tx
)";

}  // namespace

TEST(Values, ParsesDurationsAndNames) {
  EXPECT_EQ(parse_duration("7d"), 7 * 86400);
  EXPECT_EQ(parse_duration("3600"), 3600);
  EXPECT_FALSE(parse_duration("0").has_value());
  EXPECT_FALSE(parse_duration("7w").has_value());
  EXPECT_TRUE(valid_dns_name("tx-202611-rsa2048"));
  EXPECT_FALSE(valid_dns_name("bad..name"));
  EXPECT_FALSE(valid_dns_name("-bad"));
}

TEST(Values, DomainPatternsMatchExactOrSubdomainsOnly) {
  EXPECT_TRUE(domain_matches("example.com", "EXAMPLE.com"));
  EXPECT_FALSE(domain_matches("example.com", "a.example.com"));
  EXPECT_TRUE(domain_matches("*.example.com", "a.b.example.com"));
  EXPECT_FALSE(domain_matches("*.example.com", "example.com"));
  EXPECT_FALSE(domain_matches("*.example.com", "badexample.com"));
}

TEST(Values, AddressDomainFromHeaderValues) {
  EXPECT_EQ(address_domain(" Joe <joe@Example.COM>"), "example.com");
  EXPECT_EQ(address_domain("joe@example.com"), "example.com");
  EXPECT_EQ(address_domain("\"a@b\" <x@real.example>"), "real.example");
  EXPECT_EQ(address_domain("joe@example.com (Joe)"), "example.com");
  EXPECT_EQ(address_domain("undisclosed"), "");
}

TEST(Cidr, MatchesIpv4Ipv6AndMappedAddresses) {
  auto set = CidrSet::parse("10.0.0.0/8 192.168.1.7 2001:db8::/32");
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_TRUE(set->contains("10.200.1.1"));
  EXPECT_TRUE(set->contains("::ffff:10.1.2.3"));
  EXPECT_TRUE(set->contains("192.168.1.7"));
  EXPECT_FALSE(set->contains("192.168.1.8"));
  EXPECT_TRUE(set->contains("2001:db8:1::5"));
  EXPECT_TRUE(set->contains("[2001:db8::1]"));
  EXPECT_FALSE(set->contains("2001:db9::1"));
  EXPECT_FALSE(set->contains("not-an-address"));
}

TEST(Cidr, RejectsBadNetworksWithTheEntry) {
  auto bad = CidrSet::parse("10.0.0.0/33");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("10.0.0.0/33"), std::string::npos);
  EXPECT_FALSE(CidrSet::parse("10.0.0.1/8").ok());  // host bits set
  EXPECT_FALSE(CidrSet::parse("example.com").ok());
}

TEST(Config, LoadsGlobalsStreamsAndRulesInFileOrder) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf", kConfig));
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->socket, "inet:8891@127.0.0.1");
  EXPECT_EQ(cfg->on_error, OnError::Tempfail);
  EXPECT_TRUE(cfg->internal_hosts.contains("fd00::1"));
  ASSERT_EQ(cfg->streams.size(), 3u);
  EXPECT_EQ(cfg->streams[0].domain, "example.com");
  EXPECT_EQ(cfg->streams[0].selectors, (std::vector<std::string>{"tx-rsa", "tx-ed"}));
  EXPECT_EQ(cfg->streams[0].signing.options().expire_after, 7 * 86400);
  ASSERT_EQ(cfg->rules.size(), 3u);
  EXPECT_EQ(cfg->rules[0].name, "acme");
  EXPECT_EQ(cfg->rules[2].name, "default");
  const auto rows = conf::key_rows(cfg.value()).value();
  ASSERT_EQ(rows.size(), 4u);
  // A `selector =` line is a key row that always signs, its file named by convention.
  EXPECT_EQ(rows[0].file, "example.com/tx-rsa.key");
  EXPECT_TRUE(rows[0].window.is_always());
  EXPECT_TRUE(rows[0].algorithm_from_file);
  EXPECT_EQ(rows[0].state(0), keystore::KeyState::Active);
}

TEST(Config, CommandLineWinsOverFile) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf", kConfig), {"--socket", "unix:/tmp/x.sock", "--on-error", "accept"});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->socket, "unix:/tmp/x.sock");
  EXPECT_EQ(cfg->on_error, OnError::Accept);
}

TEST(Config, IncludesAddTenantStreams) {
  const std::string dir = temp_dir();
  mkdir((dir + "/streams.d").c_str(), 0700);
  for (int i = 0; i < 50; ++i) {
    write_temp(dir + "/streams.d", "t" + std::to_string(100 + i) + ".conf",
               "[stream.t" + std::to_string(i) + "]\ndomain = t" + std::to_string(i) +
                   ".example\nselector = s1\nsasl-logins = t" + std::to_string(i) + "\n[rule.t" +
                   std::to_string(i) + "]\nsasl-login = t" + std::to_string(i) + "\nstream = t" +
                   std::to_string(i) + "\n");
  }
  auto cfg = load(write_temp(dir, "signet.conf", std::string("include = ") + dir + "/streams.d/*.conf\n" + kConfig));
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->streams.size(), 53u);
  EXPECT_EQ(cfg->rules.size(), 53u);
}

TEST(Config, RefusesWhatCannotWorkNamingFileAndOption) {
  const std::string dir = temp_dir();
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"bogus = 1\n", "unknown option 'bogus'"},
      {"on-error = maybe\n", "on-error = maybe"},
      {"internal-hosts = 10.0.0.0/99\n", "internal-hosts"},
      {"[stream.a]\nselector = s\n", "needs a domain"},
      {"[stream.a]\ndomain = a.example\nselector = a\nselector = b\nselector = c\n", "more than two selectors"},
      {"[stream.a]\ndomain = a.example\nselector = s\nbody-length = 100\n", "never emits l="},
      {"[stream.a]\ndomain = a.example\nselector = s\ncolour = red\n", "unknown option 'colour'"},
      {"[rule.r]\nstream = nope\n", "names stream nope"},
      {"[rule.r]\nfrom-domain = *.\nstream = nope\n", "not a domain"},
  };
  for (const Case& c : cases) {
    auto cfg = load(write_temp(dir, "bad.conf", c.text));
    ASSERT_FALSE(cfg.ok()) << c.text;
    EXPECT_NE(cfg.error().message.find(c.expect), std::string::npos) << cfg.error().message;
    EXPECT_NE(cfg.error().message.find("bad.conf"), std::string::npos) << cfg.error().message;
  }
  EXPECT_FALSE(load(dir + "/missing.conf").ok());
}

TEST(Config, IncludedFilesMayNotSetGlobals) {
  const std::string dir = temp_dir();
  write_temp(dir, "inc.conf", "socket = inet:1@127.0.0.1\n");
  auto cfg = load(write_temp(dir, "signet.conf", "include = " + dir + "/inc.conf\n"));
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().message.find("global option"), std::string::npos);
}

TEST(Router, TrustsSaslInternalHostsAndNamedServicesOnly) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf", kConfig)).value();
  EXPECT_EQ(trust_reason(cfg, MessageFacts{"carol", "", "203.0.113.5", "", ""}), "sasl");
  EXPECT_EQ(trust_reason(cfg, MessageFacts{"", "", "10.1.2.3", "", ""}), "internal-host");
  EXPECT_EQ(trust_reason(cfg, MessageFacts{"", "tx-out", "203.0.113.5", "", ""}), "service");
  EXPECT_EQ(trust_reason(cfg, MessageFacts{"", "inbound", "203.0.113.5", "", ""}), "");
}

TEST(Router, FirstMatchingRuleWinsWithAlsoStream) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf", kConfig)).value();
  auto r = route(cfg, MessageFacts{"acme", "", "", "", "acme.example"});
  ASSERT_EQ(r.streams.size(), 2u);
  EXPECT_EQ(r.streams[0]->name, "acme");
  EXPECT_EQ(r.streams[1]->name, "relay");
  EXPECT_EQ(route(cfg, MessageFacts{"acme-eu", "", "", "", "mail.acme.example"}).streams[0]->name, "acme");
  EXPECT_EQ(route(cfg, MessageFacts{"", "tx-out", "", "", "other.example"}).rule, "tx-service");
}

TEST(Router, TenantCannotSignWithAnotherTenantsStreamViaFromDomain) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf", kConfig)).value();
  // carol is authenticated but not bound to acme: the acme rule must not apply.
  auto r = route(cfg, MessageFacts{"carol", "", "", "", "acme.example"});
  ASSERT_EQ(r.streams.size(), 1u);
  EXPECT_EQ(r.streams[0]->name, "tx");
  EXPECT_EQ(r.rule, "default");
  // An unauthenticated internal host cannot use it either (no hosts= on acme).
  EXPECT_EQ(route(cfg, MessageFacts{"", "", "10.0.0.5", "", "acme.example"}).streams[0]->name, "tx");
}

TEST(Router, NoRuleMeansNoStream) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf",
                             "[stream.a]\ndomain = a.example\nselector = s\n[rule.a]\nsasl-login = alice\nstream = a\n"))
                 .value();
  EXPECT_TRUE(route(cfg, MessageFacts{"bob", "", "", "", "a.example"}).streams.empty());
}

// conf/options.h: one table declares every option; the parser, --help and
// the docs come from it.
TEST(OptionTable, EveryDefaultIsAValidValueOfItsOption) {
  std::set<std::string> seen;
  for (const OptionSpec& o : option_table()) {
    EXPECT_TRUE(seen.insert(std::string(scope_name(o.scope)) + "/" + o.name).second) << "twice: " << o.name;
    EXPECT_FALSE(std::string(o.help).empty()) << o.name;
    if (o.default_value) {
      EXPECT_TRUE(check_value(o, o.default_value).ok()) << o.name << " = " << o.default_value;
    }
    const bool settable = o.set_global || o.set_stream || o.set_rule;
    EXPECT_EQ(settable, o.kind != Kind::Refused) << o.name;
  }
}

TEST(OptionTable, DefaultsComeFromTheTable) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "empty.conf", "[stream.s]\ndomain = example.com\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->socket, find_option(Scope::Global, "socket")->default_value);
  EXPECT_EQ(cfg->key_directory, "/var/lib/signet/keys");
  EXPECT_EQ(cfg->timeout, 300);
  EXPECT_EQ(cfg->max_headers, 1000u);
  EXPECT_EQ(cfg->dns_check_interval, 60);
  EXPECT_TRUE(cfg->dns_check);
  EXPECT_FALSE(cfg->dry_run);
  const Stream& s = cfg->streams[0];
  EXPECT_EQ(s.rotation.rotate_every, 180 * 86400);
  EXPECT_EQ(s.rotation.overlap, 14 * 86400);
  EXPECT_EQ(s.rotation.propagation_delay, 3600);
  EXPECT_EQ(s.signing.options().header_canon, canon::Canon::Relaxed);
  EXPECT_FALSE(s.signing.options().expire_after.has_value());
}

TEST(OptionTable, ValueOutOfRangeIsRefusedWithFileLineAndRange) {
  const std::string dir = temp_dir();
  struct Case {
    const char* text;
    const char* expect;
  } cases[] = {
      {"# a comment\nmax-headers = 0\n", "bad.conf:2: max-headers = 0: out of range; allowed: 1..1000000"},
      {"timeout = 2d\n", "bad.conf:1: timeout = 2d: out of range; allowed: 1s..1d"},
      {"timeout = soon\n", "timeout = soon: not a duration"},
      {"dns-check = perhaps\n", "bad.conf:1: dns-check = perhaps: not a yes/no value; allowed: true | false"},
      {"log = file\n", "log = file: not one of the choices; allowed: syslog | stderr"},
      {"[stream.a]\ndomain = a.example\nexpire = 10m\n", "bad.conf:3: [stream.a] expire = 10m: out of range; allowed: 1h..366d"},
      {"[stream.a]\ndomain = a.example\ncanonicalization = relaxed/odd\n", "unknown canonicalization"},
      {"socket = inet:1@127.0.0.1\nsocket = inet:2@127.0.0.1\n", "bad.conf:2: socket is given twice (first at "},
      {"[stream.a]\ndomain = a.example\ndomain = b.example\n", "domain is given twice"},
      {"domain = a.example\n", "unknown option 'domain' outside a section: it belongs in [stream.NAME] or [rule.NAME]"},
      {"[streams.a]\ndomain = a.example\n", "bad.conf:2: unknown section [streams.a]"},
      {"[stream.a\n", "bad.conf:1: bad section header"},
      {"just words\n", "bad.conf:1: expected \"name = value\""},
  };
  for (const Case& c : cases) {
    auto cfg = load(write_temp(dir, "bad.conf", c.text));
    ASSERT_FALSE(cfg.ok()) << c.text;
    EXPECT_NE(cfg.error().message.find(c.expect), std::string::npos) << cfg.error().message;
  }
}

TEST(OptionTable, CommandLineValuesAreCheckedLikeTheFile) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf", kConfig), {"--max-headers", "5000000"});
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().message.find("command line: --max-headers = 5000000: out of range"), std::string::npos)
      << cfg.error().message;
  auto ok = load(write_temp(dir, "signet.conf", kConfig), {"--internal-hosts", "172.16.0.0/12"});
  ASSERT_TRUE(ok.ok()) << ok.error().message;
  EXPECT_TRUE(ok->internal_hosts.contains("10.1.2.3"));    // from the file
  EXPECT_TRUE(ok->internal_hosts.contains("172.16.9.9"));  // and the command line: lists accumulate
}

TEST(OptionTable, StreamDryRunFollowsTheGlobalUnlessSet) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf",
                             "dry-run = true\n[stream.a]\ndomain = a.example\n[stream.b]\ndomain = b.example\n"
                             "dry-run = no\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_TRUE(cfg->find_stream("a")->dry_run);
  EXPECT_FALSE(cfg->find_stream("b")->dry_run);
}

TEST(OptionTable, BooleanFlagOnTheCommandLineMeansTrue) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf", kConfig), {"--foreground", "--log", "stderr"});
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_TRUE(cfg->foreground);
  EXPECT_TRUE(cfg->log_to_stderr);
}

// The replay check's options: ratios in hundredths, sending networks per stream.
TEST(OptionTable, RatiosAreDecimalsKeptAsHundredths) {
  const OptionSpec* ratio = find_option(Scope::Global, "replay-ratio");
  ASSERT_NE(ratio, nullptr);
  EXPECT_EQ(allowed(*ratio), "1..1000");
  EXPECT_EQ(allowed(*find_option(Scope::Global, "failure-ratio")), "0.01..1");
  EXPECT_EQ(check_value(*ratio, "1.5")->number, 150);
  EXPECT_EQ(check_value(*ratio, "2")->number, 200);
  EXPECT_EQ(check_value(*ratio, "1.05")->number, 105);
  EXPECT_EQ(check_value(*find_option(Scope::Global, "failure-ratio"), "0.05")->number, 5);
  for (const char* bad : {"1.555", "1.", ".5", "1,5", "-2", "", "1e3"}) {
    auto v = check_value(*ratio, bad);
    ASSERT_FALSE(v.ok()) << bad;
    EXPECT_NE(v.error().message.find("not a decimal number"), std::string::npos) << v.error().message;
  }
  EXPECT_EQ(check_value(*ratio, "0.99").error().message, "out of range; allowed: 1..1000");
}

TEST(OptionTable, ReplayDefaultsAndStreamSendingNetworksReplaceTheGlobal) {
  const std::string dir = temp_dir();
  auto cfg = load(write_temp(dir, "signet.conf",
                             "sending-networks = 192.0.2.0/24\nreplay-ratio = 2.25\n[stream.a]\ndomain = a.example\n"
                             "[stream.b]\ndomain = b.example\nsending-networks = 198.51.100.0/24\n"));
  ASSERT_TRUE(cfg.ok()) << cfg.error().message;
  EXPECT_EQ(cfg->replay_ratio_pct, 225);
  EXPECT_EQ(cfg->replay_floor, 100);
  EXPECT_EQ(cfg->failure_floor, 50);
  EXPECT_EQ(cfg->failure_ratio_pct, 5);
  const CidrSet& a = cfg->sending_networks_of(*cfg->find_stream("a"));
  const CidrSet& b = cfg->sending_networks_of(*cfg->find_stream("b"));
  EXPECT_TRUE(a.contains("192.0.2.7"));
  EXPECT_FALSE(b.contains("192.0.2.7"));
  EXPECT_TRUE(b.contains("198.51.100.7"));
  auto bad = load(write_temp(dir, "bad.conf", "failure-ratio = 1.5\n"));
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message.find("bad.conf:1: failure-ratio = 1.5: out of range; allowed: 0.01..1"), std::string::npos)
      << bad.error().message;
}
