// signet audit — findings with a severity, one per line, for cron and CI:
// exit 1 when any finding is at or above --fail-on (default error).
// Checks: rotation overdue; RSA shorter than 2048 bits; no standby key (no
// emergency readiness); owner missing; a stream without a key now; draining
// keys past their window; DNS (unless --no-dns): records missing or not
// matching, t=y published, retired selectors still publishing a key, and
// delegated selectors whose CNAME target no longer resolves; under
// key-protection = sealed, key files stored in plaintext; and, when the
// signing ledger and the DMARC report store exist, `signet replay check`'s
// findings over the last 7 days (replay/analysis.h).
//
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <map>

#include "base/time.h"
#include "keystore/dns_check.h"
#include "keystore/key_file.h"
#include "keystore/lifecycle.h"
#include "keystore/sealed.h"
#include "keystore/txt_lookup.h"
#include "replay/inputs.h"
#include "replay/render.h"
#include "tools/common.h"
#include "tools/keyset_context.h"
#include "tools/replay_files.h"

namespace po = boost::program_options;

namespace signet::tools {

int audit_main(const std::vector<std::string>& args) {
  po::options_description desc("signet audit [--fail-on error|warning|info] [--server ADDR[:PORT] | --no-dns]");
  std::string fail_on = "error", server;
  bool no_dns = false;
  desc.add_options()("help,h", "show this help")("fail-on", po::value(&fail_on), "exit 1 at this severity or above (default error)")(
      "server", po::value(&server), "DNS server for the record checks (default: the system resolver)")(
      "no-dns", po::bool_switch(&no_dns), "skip the DNS checks");
  ReplayFiles::add_options(desc, true);
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "One finding per line: SEVERITY WHERE: what, and what to do.\n")) return kExitOk;
  const std::map<std::string, int> rank = {{"info", 0}, {"warning", 1}, {"error", 2}};
  if (!rank.count(fail_on)) return fail("audit", "--fail-on: error, warning or info");
  auto ctx = KeySetContext::open(vm, keystore::KeyDirectory::Mode::Read);
  if (!ctx) return fail("audit", ctx.error().message);
  std::vector<std::pair<std::string, std::string>> findings;  // severity, line
  auto add = [&](const std::string& sev, const std::string& where, const std::string& what) {
    findings.emplace_back(sev, where + ": " + what);
  };

  std::map<std::string, std::map<Algorithm, std::pair<int, int>>> per_stream;  // active, standby counts
  for (const auto& k : ctx->manifest().keys) {
    const auto state = k.state(ctx->now);
    const std::string where = k.stream + " " + k.selector;
    if (state == keystore::KeyState::Retired) continue;
    if (k.algorithm == Algorithm::RsaSha256 && k.bits < 2048) add("warning", where, std::to_string(k.bits) + "-bit RSA key: shorter than 2048 bits");
    if (k.owner.empty()) add("warning", where, "no owner: every key needs someone who answers for it");
    if (state == keystore::KeyState::RetireDue) add("warning", where, "draining past its window (retire-at " + rfc3339::format(*k.retire_at) + "): run `signet key retire`");
    if (state == keystore::KeyState::Active) {
      ++per_stream[k.stream][k.algorithm].first;
      const conf::Stream* s = ctx->config.find_stream(k.stream);
      const std::int64_t every = s ? s->rotation.rotate_every : keystore::RotationPolicy{}.rotate_every;
      const std::int64_t from = k.window.from;  // active manifest keys are scheduled
      if (!k.window.until && ctx->now > from + every) {
        const std::int64_t late = (ctx->now - from - every) / 86400;
        add(late > 30 ? "error" : "warning", where, "rotation overdue by " + std::to_string(late) + " days (rotate-every " + std::to_string(every / 86400) + "d)");
      }
    }
    if (state == keystore::KeyState::Standby) ++per_stream[k.stream][k.algorithm].second;
    if (ctx->dir.protection() == keystore::Protection::Sealed) {
      // The daemon refuses such a key set whole; say which files, and the fix.
      auto bytes = keystore::read_key_file(ctx->dir.key_path(k), ctx->config.allow_group_readable_keys);
      if (bytes && !keystore::is_sealed(bytes->bytes())) {
        add("error", where, ctx->dir.key_path(k) + " is stored in plaintext while key-protection = sealed "
                            "(signet-milter refuses the key set): run `signet key seal`");
      }
    }
  }
  for (const auto& [stream, algs] : per_stream) {
    for (const auto& [a, counts] : algs) {
      if (counts.first > 0 && counts.second == 0) {
        add("warning", stream, std::string("no ") + std::string(key_type_name(a)) + " standby key: no emergency readiness (`signet key new`)");
      }
    }
  }
  for (const conf::Stream& s : ctx->config.streams) {
    if (!per_stream.count(s.name) && s.selectors.empty()) add("error", s.name, "no key signs this stream now: its mail goes out unsigned");
  }
  if (!no_dns) {
    keystore::DnsTxtLookup dns(server);
    for (const auto& f : keystore::check_published(dns, ctx->dir, ctx->now)) {
      if (f.severity != keystore::Severity::Ok) add(std::string(keystore::severity_name(f.severity)), f.stream + " " + f.name, f.message);
    }
    for (const auto& d : ctx->dir.delegated()) {
      auto r = dns.txt(d.selector + "._domainkey." + d.domain);
      if (!r || r->empty()) {
        add("error", "delegated " + d.selector + "._domainkey." + d.domain,
            "no record resolves (CNAME target " + d.target + " gone?): the vendor's mail fails DKIM");
      }
    }
  }
  // The replay check, when there is something to compare: files named on the
  // command line must be there; the configured defaults may not exist yet (a
  // fresh install, no reports imported), and audit works without them.
  const ReplayFiles files = ReplayFiles::from(vm, ctx->config);
  if (files.ledgers_named || files.reports_named || (files.ledgers_exist() && files.reports_exist())) {
    auto report = files.analyze(*ctx, replay::utc_day(ctx->now - 7 * 86400), "");
    if (!report) return fail("audit", report.error().message);
    for (const auto& f : report->findings) add(f.severity, replay::finding_where(f), replay::finding_text(f));
  }
  int worst = -1;
  for (const auto& [sev, line] : findings) {
    fmt::print("{:<8} {}\n", sev, line);
    worst = std::max(worst, rank.at(sev));
  }
  if (findings.empty()) fmt::print("no findings\n");
  return worst >= rank.at(fail_on) ? kExitFailed : kExitOk;
}

}  // namespace signet::tools
