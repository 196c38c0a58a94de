// signet replay check — receivers' DMARC aggregate reports against the
// signing ledgers, per selector and day: possible replay, retired or unknown
// selectors passing, signatures that break on the way (replay/analysis.h has
// the rules; docs/observability.md "Replay detection" what to do about each).
// Changes nothing: each finding prints the one command to run.
// Exit: 0; 1 when a finding is at or above --fail-on; 2 on bad input.
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include "base/time.h"
#include "keystore/atomic_file.h"
#include "replay/inputs.h"
#include "replay/render.h"
#include "tools/common.h"
#include "tools/keyset_context.h"
#include "tools/replay_files.h"

namespace po = boost::program_options;

namespace signet::tools {
namespace {

// --since: a duration back from --now ("7d") or a first day ("2026-11-20").
Result<std::string> first_day(const std::string& since, std::int64_t now) {
  if (since.size() == 10 && rfc3339::parse(since + "T00:00:00Z")) return since;
  const auto d = parse_duration(since);
  if (!d) return permanent_error("--since " + since + ": expected a duration (7d, 48h) or a day (2026-11-20)");
  if (*d > 3660 * 86400) return permanent_error("--since " + since + ": at most 3660d (ten years); or give a first day");
  return replay::utc_day(now - *d);
}

Status write_page(const std::string& path, const std::string& page) {
  const std::size_t slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  return keystore::write_file_atomic(dir, path.substr(slash == std::string::npos ? 0 : slash + 1), page);
}

int check(const std::vector<std::string>& args) {
  po::options_description desc(
      "signet replay check [--since 7d] [--format table|json] [--fail-on warning|error] [--ledger FILE]... "
      "[--reports FILE] [--html FILE]");
  std::string since = "7d", format = "table", fail_on = "error", html;
  desc.add_options()("help,h", "show this help")("since", po::value(&since),
                                                 "the window: a duration back from now (default 7d) or a first day")(
      "format", po::value(&format), "table (default) or json")(
      "fail-on", po::value(&fail_on), "exit 1 at this severity or above: error (default), warning or info")(
      "html", po::value(&html), "also write the page (signed vs passed per selector and day, and the findings) here");
  ReplayFiles::add_options(desc, true);
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm,
                  "Per selector and UTC day: what the ledgers say signet signed against what receivers' DMARC\n"
                  "reports say passed DKIM; then the findings, each with the one command to run. Thresholds\n"
                  "(sending-networks, replay-floor, replay-ratio, failure-floor, failure-ratio): signet.conf(5).\n"))
    return kExitOk;
  if (format != "table" && format != "json") return fail("replay check", "--format: table or json");
  if (replay::severity_rank(fail_on) < 0) return fail("replay check", "--fail-on: error, warning or info");
  auto ctx = KeySetContext::open(vm, keystore::KeyDirectory::Mode::Read);
  if (!ctx) return fail("replay check", ctx.error().message);
  auto first = first_day(since, ctx->now);
  if (!first) return fail("replay check", first.error().message);
  const ReplayFiles files = ReplayFiles::from(vm, ctx->config);
  if (files.ledgers.empty()) {
    return fail("replay check", "no ledger: give --ledger FILE (one per host), or set ledger-file in " + ctx->config.config_file);
  }
  if (files.reports.empty()) {
    return fail("replay check", "no report store: give --reports FILE, or set reports-file in " + ctx->config.config_file);
  }
  // The commands a finding prints must act on the same key set.
  std::string suffix;
  if (vm.count("config")) suffix += " --config " + vm["config"].as<std::string>();
  if (vm.count("dir")) suffix += " --dir " + vm["dir"].as<std::string>();
  auto report = files.analyze(*ctx, *first, suffix);
  if (!report) return fail("replay check", report.error().message);
  if (!html.empty()) {
    if (Status st = write_page(html, replay::format_html(*report)); !st) return fail("replay check", st.error().message);
  }
  fmt::print("{}", format == "json" ? replay::format_json(*report) : replay::format_table(*report));
  int worst = -1;
  for (const auto& f : report->findings) worst = std::max(worst, replay::severity_rank(f.severity));
  return worst >= replay::severity_rank(fail_on) ? kExitFailed : kExitOk;
}

}  // namespace

int replay_main(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "check") return check(std::vector<std::string>(args.begin() + 1, args.end()));
  return fail("replay", "expected `signet replay check` (see `signet replay check --help`)");
}

}  // namespace signet::tools
