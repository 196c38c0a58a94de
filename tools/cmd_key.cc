// signet key new|list|rotate|retire|master-key|seal|unseal — the key lifecycle on the key set the
// daemon reloads (keystore/lifecycle.h plans, this file writes). Every command
// validates its arguments and the resulting key set first; on any problem it
// changes nothing and exits 2 with one line.
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "base/time.h"
#include "dmarc/report_store.h"
#include "keystore/dns_check.h"
#include "keystore/lifecycle.h"
#include "keystore/txt_lookup.h"
#include "signer/secure_memory.h"
#include "replay/inputs.h"
#include "signer/key_record.h"
#include "tools/common.h"
#include "tools/keyset_context.h"
#include "tools/replay_files.h"

namespace po = boost::program_options;

namespace signet::tools {
namespace {

using keystore::KeyDirectory;

// Prints the warnings a committed change left (key files that could not be destroyed).
void print_warnings(const std::vector<std::string>& warnings) {
  for (const std::string& w : warnings) fmt::print(stderr, "warning: {}\n", w);
}

// The retire gate. Retiring empties a key's record, and from then on every
// message signed with it that is still on its way fails DKIM; DMARC reports
// showing the selector passing in the last days say such mail is still
// arriving (or being replayed: docs/observability.md).
struct RetireGate {
  ReplayFiles files;
  int days = 7;
  bool require_clear = false;

  static void add_options(po::options_description& desc, RetireGate& g) {
    desc.add_options()("reports-days", po::value(&g.days),
                       "the retire gate looks at DMARC reports of this many days back (default 7)")(
        "require-reports-clear", po::bool_switch(&g.require_clear),
        "refuse to retire a key the reports show passing in that window (and with no report store)");
    ReplayFiles::add_options(desc, false);
  }

  // Why `k` should not retire yet ("" when the reports show it clear, or
  // there are none and they were not required).
  Result<std::string> still_passing(const keystore::KeyRow& k, std::int64_t now) const {
    if (!files.reports_exist() && !files.reports_named) {
      if (!require_clear) return std::string();
      return permanent_error("no DMARC report store at " + (files.reports.empty() ? std::string("(none configured)") : files.reports) +
                             " to show " + k.selector + " clear: import reports (`signet dmarc import`), or leave out "
                             "--require-reports-clear");
    }
    auto last = dmarc::last_seen_passing(files.reports, k.domain, k.selector);
    if (!last) return last.error();
    const std::string since = replay::utc_day(now - std::int64_t{days} * 86400);
    if (!*last || **last < since) return std::string();
    return k.selector + " still passes DKIM at receivers (DMARC reports, last on " + **last + ", within the last " +
           std::to_string(days) + " days): mail signed with it is still arriving, and fails once its record is empty";
  }
};

std::string txt_line(const keystore::KeyRow& k, const std::string& record) {
  return k.dns_name() + ". IN TXT ( " + quote_txt_strings(record) + " )";
}

int key_new(const std::vector<std::string>& args) {
  po::options_description desc("signet key new --stream S [--algorithm rsa|ed25519] [--bits N] [--pkcs11 URI]");
  std::string stream, algorithm = "rsa", pkcs11;
  int bits = kDefaultRsaBits;
  bool allow_weak = false;
  desc.add_options()("help,h", "show this help")("stream", po::value(&stream), "the stream the key is for")(
      "algorithm", po::value(&algorithm), "rsa (default) or ed25519")("bits", po::value(&bits), "RSA size: 2048 (default), 3072, 4096")(
      "allow-weak", po::bool_switch(&allow_weak), "allow a 1024-bit RSA key (every audit flags it)")(
      "pkcs11", po::value(&pkcs11),
      "generate the key pair inside this PKCS#11 token (RFC 7512 URI: token=, module-path=, pin-source=; "
      "object= defaults to SELECTOR._domainkey.DOMAIN)");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm,
                  "The key is added to the key directory as standby: published, not signing, until\n"
                  "`signet key rotate`. (`signet keygen` makes a standalone key file instead.)\n"
                  "With --pkcs11 the private key is made in the token and never leaves it; the manifest\n"
                  "row names it by its URI, and rotations make the stream's next keys in the same token.\n"))
    return kExitOk;
  if (stream.empty()) return fail("key new", "--stream is required");
  const auto parsed = parse_key_type(algorithm);
  if (!parsed) return fail("key new", "--algorithm " + algorithm + ": expected rsa or ed25519");
  const Algorithm a = *parsed;
  if (a == Algorithm::RsaSha256) {
    if (bits < kMinRsaBits) return fail("key new", "--bits " + std::to_string(bits) + ": below 1024 is refused (RFC 8301)");
    if (bits < kDefaultRsaBits && !allow_weak) return fail("key new", "--bits " + std::to_string(bits) + " is weak: use 2048, or add --allow-weak");
    if (bits != 1024 && bits != 2048 && bits != 3072 && bits != 4096) return fail("key new", "--bits: use 2048, 3072 or 4096");
  }
  auto ctx = KeySetContext::open(vm, KeyDirectory::Mode::Write);
  if (!ctx) return fail("key new", ctx.error().message);
  auto s = ctx->stream(stream);
  if (!s) return fail("key new", s.error().message);
  auto row = keystore::plan_new_key(ctx->manifest(), *s, a, bits, ctx->now, ctx->dir.used_selectors(s->domain));
  if (!row) return fail("key new", row.error().message);
  if (pkcs11.empty()) {
    row->file = ctx->dir.stored_file(row->file);
  } else {
    auto uri = KeyDirectory::token_key_uri(pkcs11, *row);
    if (!uri) return fail("key new", uri.error().message);
    row->file = *uri;
  }
  keystore::KeyChange change(ctx->manifest());
  auto record = ctx->dir.create_key(change, *row);
  if (!record) return fail("key new", record.error().message + " (nothing changed)");
  change.manifest.keys.push_back(*row);
  auto done = ctx->dir.apply(change);
  if (!done) return fail("key new", done.error().message + " (nothing changed)");
  fmt::print("{}: new {} standby key for stream {}; publish before it signs:\n{}\n", row->selector, key_type_name(a),
             stream, txt_line(*row, *record));
  return kExitOk;
}

int key_list(const std::vector<std::string>& args) {
  po::options_description desc("signet key list [--stream S]");
  std::string stream;
  desc.add_options()("help,h", "show this help")("stream", po::value(&stream), "only this stream");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "")) return kExitOk;
  auto ctx = KeySetContext::open(vm, KeyDirectory::Mode::Read);
  if (!ctx) return fail("key list", ctx.error().message);
  auto t = [](const std::optional<std::int64_t>& v) { return v ? rfc3339::format(*v) : std::string("-"); };
  fmt::print("{:<12} {:<28} {:<8} {:>5} {:<10} {:<20} {:<20} {:<20}\n", "STREAM", "SELECTOR", "ALG", "BITS", "STATE",
             "ACTIVE-FROM", "ACTIVE-UNTIL", "RETIRE-AT");
  for (const auto& k : ctx->manifest().keys) {
    if (!stream.empty() && k.stream != stream) continue;
    fmt::print("{:<12} {:<28} {:<8} {:>5} {:<10} {:<20} {:<20} {:<20}\n", k.stream, k.selector, key_type_name(k.algorithm),
               k.bits, keystore::state_name(k.state(ctx->now)), t(k.window.start()), t(k.window.until), t(k.retire_at));
  }
  return kExitOk;
}

int key_rotate(const std::vector<std::string>& args) {
  po::options_description desc("signet key rotate --stream S [--at TIME | --emergency | --revoke-now --yes]");
  std::string stream, at;
  keystore::RotationRequest req;
  bool yes = false, force = false;
  std::string server;
  RetireGate gate;
  desc.add_options()("help,h", "show this help")("stream", po::value(&stream), "the stream to rotate")(
      "at", po::value(&at), "cutover time (RFC 3339); default: as soon as the standby's record has propagated")(
      "emergency", po::bool_switch(&req.emergency), "cut over within minutes (at most 4 h), 7-day overlap")(
      "revoke-now", po::bool_switch(&req.revoke_now), "confirmed compromise: revoke the old key at once")(
      "yes", po::bool_switch(&yes), "confirm --revoke-now")(
      "server", po::value(&server), "check the new keys' records on this DNS server (ADDR[:PORT])")(
      "force", po::bool_switch(&force), "schedule even if the new keys' records are not visible in DNS");
  RetireGate::add_options(desc, gate);
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "A new standby key is generated for every algorithm that rotated.\n"))
    return kExitOk;
  if (stream.empty()) return fail("key rotate", "--stream is required");
  if (!at.empty()) {
    req.at = rfc3339::parse(at);
    if (!req.at) return fail("key rotate", "--at " + at + ": expected a time like 2026-11-26T14:00:00Z");
  }
  if (gate.days < 1) return fail("key rotate", "--reports-days: 1 or more");
  if (req.revoke_now && !yes) {
    return fail("key rotate", "--revoke-now empties the old key's record now: mail in flight signed with it will fail "
                              "verification; add --yes to confirm");
  }
  auto ctx = KeySetContext::open(vm, KeyDirectory::Mode::Write);
  if (!ctx) return fail("key rotate", ctx.error().message);
  auto s = ctx->stream(stream);
  if (!s) return fail("key rotate", s.error().message);
  auto plan = keystore::plan_rotation(ctx->manifest(), *s, req, ctx->now);
  if (!plan) return fail("key rotate", plan.error().message);
  gate.files = ReplayFiles::from(vm, ctx->config);
  // Switching to a key whose record receivers cannot find breaks all mail
  // (docs/dkim.md): each key about to sign must be visible and match, unless forced.
  const auto& before = ctx->manifest().keys;
  if (!force) {
    keystore::DnsTxtLookup dns(server);
    for (std::size_t i = 0; i < before.size(); ++i) {
      const keystore::KeyRow& next = plan->manifest.keys[i];
      if (!before[i].window.is_standby() || next.window.is_standby()) continue;
      const keystore::DnsFinding f = keystore::check_record(dns, next, ctx->now, [&]() -> Result<std::string> {
        auto key = ctx->dir.load_key(next);
        if (!key) return key.error();
        return key->public_key_base64();
      });
      if (!keystore::visible(f)) {
        return fail("key rotate", f.name + ": " + f.message + "; publish it (signet dns records), wait, or use --force");
      }
    }
  }
  keystore::KeyChange change(plan->manifest);
  for (const std::string& f : plan->revoked_files) change.destroy.push_back(ctx->dir.key_path(f));
  // Drained keys of this stream retire in the same change (docs/dkim.md step
  // 4), through the retire gate; a key the gate holds back stays retire-due
  // and the rotation goes on (an emergency is never held up by it).
  std::vector<std::string> gate_notes;
  for (std::size_t i : keystore::due_for_retirement(change.manifest, ctx->now)) {
    keystore::KeyRow& k = change.manifest.keys[i];
    if (k.stream != stream) continue;
    auto why = gate.still_passing(k, ctx->now);
    if (!why && gate.require_clear) {
      gate_notes.push_back(k.selector + ": kept, not retired: " + why.error().message);
      continue;
    }
    if (!why) return fail("key rotate", why.error().message + " (nothing changed)");
    if (!why->empty() && gate.require_clear) {
      gate_notes.push_back(k.selector + ": kept, not retired (--require-reports-clear): " + *why);
      continue;
    }
    if (!why->empty()) gate_notes.push_back(*why + "; retiring it anyway");
    k.retired_at = ctx->now;
    change.destroy.push_back(ctx->dir.key_path(k));
    plan->changes.push_back(k.selector + ": drained, retired (record now p= empty, private key destroyed)");
  }
  // The next standby for every algorithm that moved: emergency readiness.
  std::vector<std::string> records;
  for (Algorithm a : plan->need_standby) {
    int bits = kDefaultRsaBits;
    const keystore::KeyRow* last = nullptr;
    for (const auto& k : before) {
      if (k.stream == stream && k.algorithm == a) {
        bits = k.bits;  // keep the stream's size
        last = &k;
      }
    }
    auto row = keystore::plan_new_key(change.manifest, *s, a, bits, ctx->now, ctx->dir.used_selectors(s->domain));
    if (!row) return fail("key rotate", row.error().message);
    row->file = ctx->dir.stored_file(row->file);
    if (last && last->in_token()) {
      // The stream's keys are in a token: its next one is made there too, named for itself.
      auto token = hsm::Pkcs11Uri::parse(last->file);
      if (!token) return fail("key rotate", token.error().message);
      token->object.clear();
      token->id.clear();
      auto uri = KeyDirectory::token_key_uri(token->format(), *row);
      if (!uri) return fail("key rotate", uri.error().message);
      row->file = *uri;
    }
    auto rec = ctx->dir.create_key(change, *row);
    if (!rec) return fail("key rotate", rec.error().message);
    records.push_back(txt_line(*row, *rec));
    change.manifest.keys.push_back(*row);
  }
  auto done = ctx->dir.apply(change);
  if (!done) return fail("key rotate", done.error().message + " (nothing changed)");
  print_warnings(*done);
  print_warnings(gate_notes);
  for (const auto& c : plan->changes) fmt::print("{}\n", c);
  for (const auto& r : records) fmt::print("new standby, publish: {}\n", r);
  return kExitOk;
}

int key_retire(const std::vector<std::string>& args) {
  po::options_description desc("signet key retire [--selector S] [--reports FILE] [--reports-days N] [--require-reports-clear]");
  std::string selector;
  RetireGate gate;
  desc.add_options()("help,h", "show this help")(
      "selector", po::value(&selector), "retire this key now (not while it signs); default: every key whose drain is over");
  RetireGate::add_options(desc, gate);
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "Retiring destroys the private key (overwritten, then removed) and keeps its register\n"
                                  "row: its record becomes p= empty and the selector is never used again. A selector DMARC\n"
                                  "reports still show passing is warned about, or with --require-reports-clear refused.\n"))
    return kExitOk;
  if (gate.days < 1) return fail("key retire", "--reports-days: 1 or more");
  auto ctx = KeySetContext::open(vm, KeyDirectory::Mode::Write);
  if (!ctx) return fail("key retire", ctx.error().message);
  const auto& keys = ctx->manifest().keys;
  std::vector<std::size_t> which;
  if (selector.empty()) {
    which = keystore::due_for_retirement(ctx->manifest(), ctx->now);
  } else {
    for (std::size_t i = 0; i < keys.size(); ++i) {
      if (keys[i].selector != selector) continue;
      const auto st = keys[i].state(ctx->now);
      if (st == keystore::KeyState::Active || st == keystore::KeyState::Scheduled) {
        return fail("key retire", selector + " is " + std::string(keystore::state_name(st)) +
                                      ": rotate away from it first (`signet key rotate`)");
      }
      if (st == keystore::KeyState::Retired) return fail("key retire", selector + " is already retired");
      which.push_back(i);
    }
    if (which.empty()) return fail("key retire", "no key " + selector + " in " + ctx->dir.path());
  }
  gate.files = ReplayFiles::from(vm, ctx->config);
  std::vector<std::string> passing;
  for (std::size_t i : which) {
    auto why = gate.still_passing(keys[i], ctx->now);
    if (!why) return fail("key retire", why.error().message + " (nothing changed)");
    if (!why->empty()) passing.push_back(*why);
  }
  if (!passing.empty() && gate.require_clear) {
    return fail("key retire", passing.front() + "; --require-reports-clear: nothing changed, retry once the reports are clear");
  }
  for (const std::string& w : passing) fmt::print(stderr, "warning: {}; retiring it anyway\n", w);
  keystore::KeyChange change(ctx->manifest());
  std::vector<std::string> retired;
  for (std::size_t i : which) {
    keystore::KeyRow& k = change.manifest.keys[i];
    k.retired_at = ctx->now;
    if (!k.retire_at || *k.retire_at > ctx->now) k.retire_at = ctx->now;
    change.destroy.push_back(ctx->dir.key_path(k));
    retired.push_back(k.selector);
  }
  auto done = ctx->dir.apply(change);
  if (!done) return fail("key retire", done.error().message + " (nothing changed)");
  print_warnings(*done);
  for (const std::string& sel : retired) fmt::print("{}: retired (record now p= empty, private key destroyed)\n", sel);
  if (which.empty()) fmt::print("nothing to retire\n");
  return kExitOk;
}

int key_master_key(const std::vector<std::string>& args) {
  po::options_description desc("signet key master-key --out FILE");
  std::string out;
  desc.add_options()("help,h", "show this help")("out,o", po::value(&out),
                                                 "where to write it (created mode 0600; never overwritten)");
  po::variables_map vm;
  if (!parse_args(desc, args, vm,
                  "A new 32-byte master key for key-protection = sealed (docs/key-custody.md). Give it to the\n"
                  "service as the systemd credential signet-master-key (`systemd-creds encrypt`), or name it\n"
                  "in master-key-file. Losing it loses every sealed key: keep a copy offline.\n"))
    return kExitOk;
  if (out.empty()) return fail("key master-key", "--out FILE is required");
  auto key = keystore::MasterKey::generate();
  if (!key) return fail("key master-key", key.error().message);
  if (Status s = keystore::write_master_key(out, *key); !s) return fail("key master-key", s.error().message);
  fmt::print("{}: new master key (32 bytes, mode 0600)\n", out);
  return kExitOk;
}

// seal and unseal: every key of the manifest rewritten in the other form,
// as one transaction (all new files written and the set validated in its new
// form, then the manifest switches, then the old files are destroyed).
int key_convert(const std::vector<std::string>& args, keystore::Protection to) {
  const bool seal = to == keystore::Protection::Sealed;
  const std::string cmd = seal ? "key seal" : "key unseal";
  po::options_description desc(seal ? "signet key seal" : "signet key unseal --yes");
  bool yes = false;
  desc.add_options()("help,h", "show this help");
  if (!seal) desc.add_options()("yes", po::bool_switch(&yes), "confirm: the keys are stored in plaintext again");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm,
                  seal ? "Seals every plaintext key of the key set under the master key (key-protection = sealed\n"
                         "must be set, with the master key available). All or nothing; the plaintext files are\n"
                         "destroyed only once the sealed set is committed.\n"
                       : "Stores every sealed key of the key set in plaintext again (needs the master key). All or\n"
                         "nothing. Then set key-protection = plain and reload the daemon: until then it refuses\n"
                         "the plaintext keys and keeps signing with the keys it has.\n"))
    return kExitOk;
  if (!seal && !yes) return fail(cmd, "unsealing writes every private key in plaintext: add --yes to confirm");
  const std::string config_file = vm.count("config") ? vm["config"].as<std::string>() : "/etc/signet/signet.conf";
  const char* argv[] = {"signet", "--config", config_file.c_str()};
  auto cfg = conf::load_config(3, argv);
  if (!cfg) return fail(cmd, cfg.error().message);
  if (Status s = init_secure_heap(cfg->secure_heap_size); !s && !secure_heap().ready) {
    return fail(cmd, s.error().message);
  }
  if (seal && !cfg->sealed_keys) {
    return fail(cmd, "key-protection is plain in " + cfg->config_file + ": set key-protection = sealed first");
  }
  auto now = clock_from(vm);
  if (!now) return fail(cmd, now.error().message);
  keystore::LoadOptions options = cfg->key_options();
  options.overlap_signing = 0;
  auto master = keystore::load_master_key(cfg->master_key_file);
  if (!master) return fail(cmd, master.error().message);
  options.master_key = std::move(master.value());
  options.protection = to;  // what apply() validates the converted set as
  const std::string dir = vm.count("dir") ? vm["dir"].as<std::string>() : cfg->key_directory;
  auto kd = KeyDirectory::open(dir, KeyDirectory::Mode::Write, options);
  if (!kd) return fail(cmd, kd.error().message);
  keystore::KeyChange change(kd->manifest());
  std::size_t converted = 0;
  for (keystore::KeyRow& row : change.manifest.keys) {
    auto done = kd->convert_key(change, row, to);
    if (!done) return fail(cmd, done.error().message + " (nothing changed)");
    if (*done) ++converted;
  }
  // Streams' `selector =` keys (DOMAIN/NAME.key <-> .sealed), outside the
  // manifest: converted in the same change and loaded in their new form
  // before it is committed.
  std::vector<keystore::KeyRow> configured;
  for (const conf::Stream& s : cfg->streams) {
    for (const std::string& sel : s.selectors) {
      keystore::KeyRow row = keystore::configured_selector(s.name, s.domain, sel, cfg->config_file + " [stream." + s.name + "]");
      if (!seal) row.file = keystore::sealed_file_name(row.file);
      auto done = kd->convert_key(change, row, to);
      if (!done) return fail(cmd, done.error().message + " (nothing changed)");
      if (*done) ++converted;
      configured.push_back(row);
    }
  }
  if (!configured.empty()) {
    if (auto loaded = keystore::KeySnapshot::load(kd->path(), configured, options); !loaded) {
      return fail(cmd, loaded.error().message + " (nothing changed)");
    }
  }
  if (converted == 0) {
    fmt::print("{}: every key is already {}\n", dir, seal ? "sealed" : "plaintext");
    return kExitOk;
  }
  auto done = kd->apply(change);
  if (!done) return fail(cmd, done.error().message + " (nothing changed)");
  print_warnings(*done);
  fmt::print("{}: {} keys {}\n", dir, converted, seal ? "sealed (plaintext files destroyed)" : "stored in plaintext");
  if (!seal && cfg->sealed_keys) {
    fmt::print("now set key-protection = plain in {} and reload signet-milter\n", cfg->config_file);
  }
  return kExitOk;
}

}  // namespace

int key_main(const std::vector<std::string>& args) {
  const std::string verb = args.empty() ? "" : args[0];
  const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  if (verb == "new") return key_new(rest);
  if (verb == "list") return key_list(rest);
  if (verb == "rotate") return key_rotate(rest);
  if (verb == "retire") return key_retire(rest);
  if (verb == "master-key") return key_master_key(rest);
  if (verb == "seal") return key_convert(rest, keystore::Protection::Sealed);
  if (verb == "unseal") return key_convert(rest, keystore::Protection::Plain);
  return fail("key", "expected `signet key new|list|rotate|retire|master-key|seal|unseal` (see `signet key new --help`)");
}

}  // namespace signet::tools
