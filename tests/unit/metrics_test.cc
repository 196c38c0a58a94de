// milter/metrics.h: what the Session counts (outcomes and reasons, the
// signatures per key and their day) and the Prometheus text a scrape gets;
// milter/clock.h's test clock; the metrics-listen address check.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <regex>

#include "conf/values.h"
#include "keystore/key_file.h"
#include "milter/clock.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/session.h"

using namespace signet;
using namespace signet::milter;

namespace {

constexpr std::int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

// Two streams: tx (rsa + ed25519, always) and sched (a key cutting over in
// 10 minutes after an active one that started 30 days ago); internal host
// 192.0.2.0/24 is trusted.
struct Rig {
  std::string dir;
  Metrics metrics;
  ledger::SignatureCounts counts;
  std::shared_ptr<const Runtime> runtime;

  explicit Rig(const std::string& extra = "") {
    char tmpl[] = "/tmp/signet-metrics-XXXXXX";
    dir = mkdtemp(tmpl);
    mkdir((dir + "/example.com").c_str(), 0700);
    for (auto [sel, alg] : {std::pair{"tx-rsa", Algorithm::RsaSha256}, std::pair{"tx-ed", Algorithm::Ed25519Sha256},
                            std::pair{"s-old", Algorithm::Ed25519Sha256}, std::pair{"s-new", Algorithm::Ed25519Sha256}}) {
      auto k = PrivateKey::generate(alg, 2048).value();
      EXPECT_TRUE(keystore::write_private_key(dir + "/example.com/" + sel + ".key", k).ok());
    }
    auto row = [](const char* sel, const std::string& from, const std::string& until) {
      std::string r = std::string("[key]\nstream = sched\ndomain = example.com\nselector = ") + sel +
                      "\nalgorithm = ed25519\nbits = 256\nowner = t\nfile = example.com/" + sel +
                      ".key\ncreated = 2025-11-01T00:00:00Z\npublished-at = 2025-11-01T00:00:00Z\nactive-from = " +
                      from + "\n";
      if (!until.empty()) r += "active-until = " + until + "\n";
      return r;
    };
    std::ofstream(dir + "/manifest") << row("s-old", "2025-12-02T00:00:00Z", "2026-01-01T00:10:00Z")
                                     << row("s-new", "2026-01-01T00:10:00Z", "");
    std::ofstream(dir + "/signet.conf") << "key-directory = " << dir << "\ninternal-hosts = 192.0.2.0/24\n"
                                        << extra << "[stream.tx]\ndomain = example.com\nselector = tx-rsa\n"
                                        << "selector = tx-ed\n[stream.sched]\ndomain = example.com\n"
                                        << "rotate-every = 90d\n[rule.sched]\nfrom-domain = sched.example.com\n"
                                        << "stream = sched\n[rule.tx]\nfrom-domain = example.com\nstream = tx\n";
    const std::string path = dir + "/signet.conf";
    auto rt = load_runtime({"signet-milter", "--config", path}, nullptr, Instruments{&metrics, &counts});
    EXPECT_TRUE(rt.ok()) << rt.error().message;
    runtime = rt.value();
  }

  EndResult send(const std::string& client, const std::string& from, std::int64_t now = kNow) {
    Session s(client, "smtpd");
    if (s.begin(runtime, "", from, "Q") != Verdict::Continue) return {};
    s.header("From", " <" + from + ">");
    s.header("Subject", " hi");
    if (s.end_of_headers("Q", now, {}) != Verdict::Continue) return {};
    s.body("Hello.\r\n");
    return s.end_of_message("Q", now, {});
  }

  std::string scrape(const keystore::HiddenKeys& hidden = {}) {
    ScrapeInputs in;
    in.metrics = &metrics;
    in.runtime = runtime;
    in.hidden = std::make_shared<const keystore::HiddenKeys>(hidden);
    in.now = kNow;
    in.connections_open = 3;
    in.reloads_ok = 2;
    in.reloads_refused = 1;
    in.last_good_load = kNow - 5;
    in.ledger = ScrapeInputs::Ledger{false, 4, 7, kNow - 60};
    return render_metrics(in);
  }
};

// The value of the sample whose name and labels are exactly `series`.
std::optional<std::string> value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.compare(0, series.size(), series) == 0 && line[series.size()] == ' ') {
      return line.substr(series.size() + 1);
    }
  }
  return std::nullopt;
}

void quiet() {
  Log::capture([](std::string_view) {});
}

TEST(Metrics, SessionCountsEachOutcomeAndEverySignatureOfItsKey) {
  quiet();
  Rig rig;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rig.send("192.0.2.7", "a@example.com").headers.size(), 2u);
  EXPECT_TRUE(rig.send("203.0.113.1", "a@example.com").headers.empty());      // untrusted
  EXPECT_TRUE(rig.send("192.0.2.7", "a@elsewhere.example").headers.empty());  // no rule matches
  EXPECT_EQ(rig.send("192.0.2.7", "b@sched.example.com").headers.size(), 1u);
  const std::string m = rig.scrape();
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"signed\",reason=\"none\"}"), "4") << m;
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"skipped\",reason=\"untrusted\"}"), "1");
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"skipped\",reason=\"no_stream\"}"), "1");
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"unsigned\",reason=\"signing_failed\"}"), "0");
  EXPECT_EQ(value(m, "signet_signatures_total{stream=\"tx\",domain=\"example.com\",selector=\"tx-rsa\","
                     "algorithm=\"rsa-sha256\"}"),
            "3");
  EXPECT_EQ(value(m, "signet_signatures_total{stream=\"tx\",domain=\"example.com\",selector=\"tx-ed\","
                     "algorithm=\"ed25519-sha256\"}"),
            "3");
  EXPECT_EQ(value(m, "signet_signatures_total{stream=\"sched\",domain=\"example.com\",selector=\"s-old\","
                     "algorithm=\"ed25519-sha256\"}"),
            "1");
  EXPECT_EQ(value(m, "signet_signing_duration_seconds_count"), "4");
  EXPECT_EQ(value(m, "signet_signing_duration_seconds_bucket{le=\"+Inf\"}"), "4");
  EXPECT_EQ(value(m, "signet_body_bytes_total"), std::to_string(4 * 8));
  // The ledger's slots saw the same signatures, on the day of `now`.
  std::uint64_t jan1 = 0;
  rig.counts.drain_all([&](const ledger::KeyId&, std::int64_t day, std::uint64_t n) {
    EXPECT_EQ(ledger::day_text(day), "2026-01-01");
    jan1 += n;
  });
  EXPECT_EQ(jan1, 7u);
}

TEST(Metrics, FailuresCountByKindAndPolicy) {
  quiet();
  Rig accept("max-headers = 1\n");
  accept.send("192.0.2.7", "a@example.com");  // two fields: over max-headers
  EXPECT_EQ(value(accept.scrape(), "signet_messages_total{outcome=\"unsigned\",reason=\"header_limit\"}"), "1");
  Rig tempfail("on-error = tempfail\n");
  Session s("192.0.2.7", "smtpd");
  ASSERT_EQ(s.begin(tempfail.runtime, "", "a@example.com", "Q"), Verdict::Continue);
  s.header("From", " a@example.com");  // two From fields: the signer refuses
  s.header("From", " b@example.com");
  ASSERT_EQ(s.end_of_headers("Q", kNow, {}), Verdict::Continue);
  EXPECT_EQ(s.end_of_message("Q", kNow, {}).verdict, Verdict::Tempfail);
  Session aborted("192.0.2.7", "smtpd");
  ASSERT_EQ(aborted.begin(tempfail.runtime, "", "a@example.com", "Q"), Verdict::Continue);
  aborted.abandon("aborted");
  const std::string m = tempfail.scrape();
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"tempfailed\",reason=\"signing_failed\"}"), "1") << m;
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"abandoned\",reason=\"aborted\"}"), "1");
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"signed\",reason=\"none\"}"), "0");
}

TEST(Metrics, DryRunIsSkippedAndCountsNoSignature) {
  quiet();
  Rig rig("dry-run = true\n");
  EXPECT_TRUE(rig.send("192.0.2.7", "a@example.com").headers.empty());
  const std::string m = rig.scrape();
  EXPECT_EQ(value(m, "signet_messages_total{outcome=\"skipped\",reason=\"dry_run\"}"), "1");
  EXPECT_EQ(value(m, "signet_signatures_total{stream=\"tx\",domain=\"example.com\",selector=\"tx-rsa\","
                     "algorithm=\"rsa-sha256\"}"),
            "0");
}

TEST(Metrics, KeysScheduleDnsReloadsAndLedgerAreReported) {
  quiet();
  Rig rig;
  const std::string m = rig.scrape({"example.com/s-new"});
  EXPECT_EQ(value(m, "signet_keys{state=\"active\"}"), "3") << m;  // tx-rsa, tx-ed, s-old
  EXPECT_EQ(value(m, "signet_keys{state=\"scheduled\"}"), "1");
  EXPECT_EQ(value(m, "signet_stream_next_cutover_seconds{stream=\"sched\"}"), "600");
  EXPECT_EQ(value(m, "signet_stream_next_cutover_seconds{stream=\"tx\"}"), std::nullopt) << "tx has none ahead";
  // s-old is active with an end: no rotation due; the scheduled s-new is not active yet.
  EXPECT_EQ(value(m, "signet_stream_rotation_due_seconds{stream=\"sched\"}"), std::nullopt);
  EXPECT_EQ(value(m, "signet_dns_record_visible{stream=\"sched\",domain=\"example.com\",selector=\"s-new\"}"), "0");
  EXPECT_EQ(value(m, "signet_keyset_reloads_total{result=\"refused\"}"), "1");
  EXPECT_EQ(value(m, "signet_connections_open"), "3");
  EXPECT_EQ(value(m, "signet_ledger_up"), "0");
  EXPECT_EQ(value(m, "signet_ledger_write_errors_total"), "4");
  EXPECT_EQ(value(m, "signet_ledger_pending_signatures"), "7");
  // After the cutover s-new is active with no end: its rotation is 90 days out.
  ScrapeInputs later;
  later.runtime = rig.runtime;
  later.now = kNow + 3600;
  const std::string l = render_metrics(later);
  EXPECT_EQ(value(l, "signet_stream_rotation_due_seconds{stream=\"sched\"}"), std::to_string(90 * 86400 - 3000)) << l;
  EXPECT_EQ(value(l, "signet_keys{state=\"draining\"}"), "1");
}

TEST(Metrics, EveryFamilyHasHelpAndTypeAndOnlyValidNames) {
  quiet();
  Rig rig;
  rig.send("192.0.2.7", "a@example.com");
  const std::string m = rig.scrape();
  const std::regex sample(R"(^([a-z_]+)(\{[a-z_]+="[^"\\]*"(,[a-z_]+="[^"\\]*")*\})? -?[0-9.e+]+$)");
  std::set<std::string> typed;
  std::istringstream in(m);
  for (std::string line; std::getline(in, line);) {
    std::smatch g;
    if (line.rfind("# TYPE ", 0) == 0) {
      typed.insert(line.substr(7, line.find(' ', 7) - 7));
    } else if (line.rfind("# HELP ", 0) != 0) {
      ASSERT_TRUE(std::regex_match(line, g, sample)) << line;
      std::string family = g[1];
      for (const char* suffix : {"_bucket", "_sum", "_count"}) {
        const std::string s(suffix);
        if (!typed.count(family) && family.size() > s.size() && family.ends_with(s)) {
          family = family.substr(0, family.size() - s.size());
        }
      }
      EXPECT_TRUE(typed.count(family)) << "no # TYPE before " << line;
      EXPECT_EQ(family.rfind("signet_", 0), 0u) << line;
    }
  }
}

TEST(MetricsListen, LoopbackOnly) {
  EXPECT_EQ(conf::parse_loopback_listen("127.0.0.1:9465"), (std::pair<std::string, int>{"127.0.0.1", 9465}));
  EXPECT_EQ(conf::parse_loopback_listen("localhost:80"), (std::pair<std::string, int>{"127.0.0.1", 80}));
  EXPECT_EQ(conf::parse_loopback_listen("[::1]:9465"), (std::pair<std::string, int>{"::1", 9465}));
  EXPECT_TRUE(conf::parse_loopback_listen("127.1.2.3:1"));
  for (const char* bad : {"0.0.0.0:9465", "192.0.2.1:9465", "[::]:9465", "127.0.0.1", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1.evil.example:80", "example.com:9465", ":9465"}) {
    EXPECT_FALSE(conf::parse_loopback_listen(bad)) << bad;
  }
  const char* argv[] = {"signet-milter", "--metrics-listen", "0.0.0.0:9465", "--config", "/dev/null"};
  auto cfg = conf::load_config(5, argv);
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().message.find("not a loopback"), std::string::npos) << cfg.error().message;
}

TEST(TestClock, OffByDefaultAndReadFromItsFileWhenSet) {
  ASSERT_EQ(std::getenv("SIGNET_TEST_CLOCK_FILE"), nullptr);
  EXPECT_FALSE(Clock::injected());
  EXPECT_NEAR(static_cast<double>(Clock::now()), static_cast<double>(std::time(nullptr)), 2.0);
  char tmpl[] = "/tmp/signet-clock-XXXXXX";
  const std::string file = std::string(mkdtemp(tmpl)) + "/clock";
  std::ofstream(file) << kNow << "\n";
  ::setenv("INVOCATION_ID", "x", 1);
  ::setenv("SIGNET_TEST_CLOCK_FILE", file.c_str(), 1);
  EXPECT_TRUE(Clock::init().has_value()) << "refused under systemd";
  EXPECT_FALSE(Clock::injected());
  ::unsetenv("INVOCATION_ID");
  EXPECT_FALSE(Clock::init().has_value());
  EXPECT_TRUE(Clock::injected());
  EXPECT_EQ(Clock::now(), kNow);
  EXPECT_NE(Clock::warning().find("TEST CLOCK"), std::string::npos);
  std::ofstream(file) << kNow + 86400 * 3 << "\n";  // a different size or mtime: read again
  EXPECT_EQ(Clock::now(), kNow + 86400 * 3);
  ::unsetenv("SIGNET_TEST_CLOCK_FILE");
}

}  // namespace
