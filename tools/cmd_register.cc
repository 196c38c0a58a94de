// signet register — the inventory auditors ask for (SOC 2 CC6.7, ISO 27001
// A.8.24): every selector the key set has ever held, retired ones included,
// with its stream, owner, state, dates, the next rotation due and the last day
// DMARC reports show it passing (the retire gate's evidence).
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <map>

#include "base/ascii.h"
#include "base/time.h"
#include "keystore/lifecycle.h"
#include "replay/analysis.h"
#include "tools/common.h"
#include "tools/keyset_context.h"
#include "tools/replay_files.h"
#include "tools/table.h"

namespace po = boost::program_options;

namespace signet::tools {

std::string json_string(std::string_view s);

namespace {

int add_delegated(const std::vector<std::string>& args) {
  po::options_description desc("signet register add-delegated --domain D --selector S --target HOST --owner O");
  keystore::Delegated d;
  desc.add_options()("help,h", "show this help")("domain", po::value(&d.domain), "our domain")(
      "selector", po::value(&d.selector), "the selector the vendor signs with")(
      "target", po::value(&d.target), "where our CNAME points (the vendor's record)")("owner", po::value(&d.owner), "who answers for it");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "")) return kExitOk;
  if (!valid_dns_name(d.domain) || !valid_dns_name(d.selector) || !valid_dns_name(d.target)) {
    return fail("register add-delegated", "--domain, --selector and --target must be DNS names");
  }
  if (d.owner.empty()) return fail("register add-delegated", "--owner is required: every selector has an owner");
  auto ctx = KeySetContext::open(vm, keystore::KeyDirectory::Mode::Write);
  if (!ctx) return fail("register add-delegated", ctx.error().message);
  if (ctx->dir.used_selectors(d.domain).count(d.selector)) {
    return fail("register add-delegated", d.selector + " of " + d.domain + " is already in the register: selectors are never reused");
  }
  d.added = ctx->now;
  auto next = ctx->dir.delegated();
  next.push_back(d);
  if (Status st = ctx->dir.replace_delegated(next); !st) return fail("register add-delegated", st.error().message);
  fmt::print("{}._domainkey.{}: delegated to {} (owner {})\n", d.selector, d.domain, d.target, d.owner);
  return kExitOk;
}

}  // namespace

int register_main(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "add-delegated") return add_delegated(std::vector<std::string>(args.begin() + 1, args.end()));
  po::options_description desc("signet register [--format table|csv|json] [--reports FILE]");
  std::string format = "table";
  desc.add_options()("help,h", "show this help")("format", po::value(&format), "table (default), csv or json");
  ReplayFiles::add_options(desc, false);
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "")) return kExitOk;
  if (format != "table" && format != "csv" && format != "json") return fail("register", "--format: table, csv or json");
  auto ctx = KeySetContext::open(vm, keystore::KeyDirectory::Mode::Read);
  if (!ctx) return fail("register", ctx.error().message);
  // The last day DMARC reports show each selector passing: one read of the
  // report store for the whole register (empty without one).
  const ReplayFiles files = ReplayFiles::from(vm, ctx->config);
  std::map<std::pair<std::string, std::string>, std::string> last_passing;
  if (files.reports_named || files.reports_exist()) {
    auto records = files.read_reports("");
    if (!records) return fail("register", records.error().message);
    last_passing = replay::last_passing_days(*records);
  }
  auto seen = [&](const std::string& domain, const std::string& selector) {
    const auto it = last_passing.find({ascii::to_lower(domain), ascii::to_lower(selector)});
    return it == last_passing.end() ? std::string() : it->second;
  };
  const std::vector<std::string> cols = {"stream", "domain", "selector", "algorithm", "bits", "owner", "state", "created",
                                         "active-from", "drain-until", "retired", "next-rotation-due", "last-passing"};
  std::vector<std::vector<std::string>> rows;
  auto t = [](const std::optional<std::int64_t>& v) { return v ? rfc3339::format(*v) : std::string(); };
  for (const auto& k : ctx->manifest().keys) {
    const auto state = k.state(ctx->now);
    std::string due;
    if (state == keystore::KeyState::Active && !k.window.until) {
      const conf::Stream* s = ctx->config.find_stream(k.stream);
      due = rfc3339::format(k.window.from + (s ? s->rotation.rotate_every : keystore::RotationPolicy{}.rotate_every));
    }
    rows.push_back({k.stream, k.domain, k.selector, std::string(key_type_name(k.algorithm)), std::to_string(k.bits),
                    k.owner, std::string(keystore::state_name(state)), rfc3339::format(k.created), t(k.window.start()),
                    t(k.retire_at), t(k.retired_at), due, seen(k.domain, k.selector)});
  }
  for (const auto& d : ctx->dir.delegated()) {
    rows.push_back({"(delegated: " + d.target + ")", d.domain, d.selector, "-", "-", d.owner, "delegated",
                    rfc3339::format(d.added), "", "", "", "", seen(d.domain, d.selector)});
  }
  print_rows(format, cols, rows);
  return kExitOk;
}

}  // namespace signet::tools
