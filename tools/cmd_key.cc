// signet key new|list|rotate|retire — the key lifecycle on the key set the
// daemon reloads (keystore/lifecycle.h plans, this file writes). Every command
// validates its arguments and the resulting key set first; on any problem it
// changes nothing and exits 2 with one line.
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <iostream>

#include "base/time.h"
#include "keystore/key_file.h"
#include "keystore/lifecycle.h"
#include "keystore/txt_lookup.h"
#include "signer/key_record.h"
#include "tools/common.h"
#include "tools/keyset_context.h"

namespace po = boost::program_options;

namespace signet::tools {
namespace {

// Generates the key for a planned entry, writes its file (0600, never over an
// existing one) and returns the TXT value to publish.
Result<std::string> create_key_file(const KeySetContext& ctx, const keystore::KeyEntry& e) {
  auto key = PrivateKey::generate(e.algorithm, e.bits);
  if (!key) return key.error();
  const std::string path = ctx.key_path(e);
  ::mkdir(path.substr(0, path.rfind('/')).c_str(), 0700);
  if (Status s = keystore::write_private_key(path, *key); !s) return s.error();
  return format_key_record(*key);
}

void remove_files(const KeySetContext& ctx, const std::vector<keystore::KeyEntry>& made) {
  for (const auto& e : made) ::unlink(ctx.key_path(e).c_str());
}

int key_new(const std::vector<std::string>& args) {
  po::options_description desc("signet key new --stream S [--algorithm rsa|ed25519] [--bits N]");
  std::string stream, algorithm = "rsa";
  int bits = kDefaultRsaBits;
  bool allow_weak = false;
  desc.add_options()("help,h", "show this help")("stream", po::value(&stream), "the stream the key is for")(
      "algorithm", po::value(&algorithm), "rsa (default) or ed25519")("bits", po::value(&bits), "RSA size: 2048 (default), 3072, 4096")(
      "allow-weak", po::bool_switch(&allow_weak), "allow a 1024-bit RSA key (every audit flags it)");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "The key is added as standby: published, not signing, until `signet key rotate`.\n"))
    return kExitOk;
  if (stream.empty()) return fail("key new", "--stream is required");
  Algorithm a;
  if (algorithm == "rsa") {
    a = Algorithm::RsaSha256;
    if (bits < kMinRsaBits) return fail("key new", "--bits " + std::to_string(bits) + ": below 1024 is refused (RFC 8301)");
    if (bits < kDefaultRsaBits && !allow_weak) return fail("key new", "--bits " + std::to_string(bits) + " is weak: use 2048, or add --allow-weak");
    if (bits != 1024 && bits != 2048 && bits != 3072 && bits != 4096) return fail("key new", "--bits: use 2048, 3072 or 4096");
  } else if (algorithm == "ed25519") {
    a = Algorithm::Ed25519Sha256;
  } else {
    return fail("key new", "--algorithm " + algorithm + ": expected rsa or ed25519");
  }
  auto ctx = KeySetContext::open(vm, true);
  if (!ctx) return fail("key new", ctx.error().message);
  auto s = ctx->stream(stream);
  if (!s) return fail("key new", s.error().message);
  auto entry = keystore::plan_new_key(ctx->manifest, *s, a, bits, ctx->now, ctx->delegated_names(s->domain));
  if (!entry) return fail("key new", entry.error().message);
  auto record = create_key_file(*ctx, *entry);
  if (!record) return fail("key new", record.error().message);
  keystore::Manifest next = ctx->manifest;
  next.keys.push_back(*entry);
  if (Status st = ctx->commit(next); !st) {
    remove_files(*ctx, {*entry});
    return fail("key new", st.error().message + " (nothing changed)");
  }
  fmt::print("{}: new {} standby key for stream {}; publish before it signs:\n{}._domainkey.{}. IN TXT ( {} )\n",
             entry->selector, key_type_name(a), stream, entry->selector, entry->domain, quote_txt_strings(*record));
  return kExitOk;
}

int key_list(const std::vector<std::string>& args) {
  po::options_description desc("signet key list [--stream S]");
  std::string stream;
  desc.add_options()("help,h", "show this help")("stream", po::value(&stream), "only this stream");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "")) return kExitOk;
  auto ctx = KeySetContext::open(vm, false);
  if (!ctx) return fail("key list", ctx.error().message);
  auto t = [](const std::optional<std::int64_t>& v) { return v ? rfc3339::format(*v) : std::string("-"); };
  fmt::print("{:<12} {:<28} {:<8} {:>5} {:<10} {:<20} {:<20} {:<20}\n", "STREAM", "SELECTOR", "ALG", "BITS", "STATE",
             "ACTIVE-FROM", "ACTIVE-UNTIL", "RETIRE-AT");
  for (const auto& k : ctx->manifest.keys) {
    if (!stream.empty() && k.stream != stream) continue;
    fmt::print("{:<12} {:<28} {:<8} {:>5} {:<10} {:<20} {:<20} {:<20}\n", k.stream, k.selector, key_type_name(k.algorithm),
               k.bits, keystore::state_name(keystore::state_of(k, ctx->now)), t(k.active_from), t(k.active_until),
               t(k.retire_at));
  }
  return kExitOk;
}

int key_rotate(const std::vector<std::string>& args) {
  po::options_description desc("signet key rotate --stream S [--at TIME | --emergency | --revoke-now --yes]");
  std::string stream, at;
  keystore::RotationRequest req;
  bool yes = false, force = false;
  std::string server;
  desc.add_options()("help,h", "show this help")("stream", po::value(&stream), "the stream to rotate")(
      "at", po::value(&at), "cutover time (RFC 3339); default: as soon as the standby's record has propagated")(
      "emergency", po::bool_switch(&req.emergency), "cut over within minutes (at most 4 h), 7-day overlap")(
      "revoke-now", po::bool_switch(&req.revoke_now), "confirmed compromise: revoke the old key at once")(
      "yes", po::bool_switch(&yes), "confirm --revoke-now")(
      "server", po::value(&server), "check the new keys' records on this DNS server (ADDR[:PORT])")(
      "force", po::bool_switch(&force), "schedule even if the new keys' records are not visible in DNS");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "A new standby key is generated for every algorithm that rotated.\n"))
    return kExitOk;
  if (stream.empty()) return fail("key rotate", "--stream is required");
  if (!at.empty()) {
    req.at = rfc3339::parse(at);
    if (!req.at) return fail("key rotate", "--at " + at + ": expected a time like 2026-11-26T14:00:00Z");
  }
  if (req.revoke_now && !yes) {
    return fail("key rotate", "--revoke-now empties the old key's record now: mail in flight signed with it will fail "
                              "verification; add --yes to confirm");
  }
  auto ctx = KeySetContext::open(vm, true);
  if (!ctx) return fail("key rotate", ctx.error().message);
  auto s = ctx->stream(stream);
  if (!s) return fail("key rotate", s.error().message);
  auto plan = keystore::plan_rotation(ctx->manifest, *s, req, ctx->now);
  if (!plan) return fail("key rotate", plan.error().message);
  // Switching to a key whose record receivers cannot find breaks all mail
  // (DOMAIN.md): each key about to sign must be visible and match, unless forced.
  if (!force) {
    keystore::DnsTxtLookup dns(server);
    for (std::size_t i = 0; i < ctx->manifest.keys.size(); ++i) {
      if (ctx->manifest.keys[i].active_from || !plan->manifest.keys[i].active_from) continue;
      const DnsFinding f = check_one(*ctx, plan->manifest.keys[i], dns);
      if (f.severity == "error") {
        return fail("key rotate", f.name + ": " + f.message + "; publish it (signet dns records), wait, or use --force");
      }
    }
  }
  // Drained keys of this stream retire in the same change (DOMAIN.md step 4).
  std::vector<std::string> drained;
  for (std::size_t i : keystore::due_for_retirement(plan->manifest, ctx->now)) {
    keystore::KeyEntry& k = plan->manifest.keys[i];
    if (k.stream != stream) continue;
    k.retired_at = ctx->now;
    drained.push_back(k.file);
    plan->changes.push_back(k.selector + ": drained, retired (record now p= empty, private key destroyed)");
  }
  // The next standby for every algorithm that moved: emergency readiness.
  std::vector<keystore::KeyEntry> made;
  std::vector<std::string> records;
  for (Algorithm a : plan->need_standby) {
    int bits = kDefaultRsaBits;
    for (const auto& k : ctx->manifest.keys) {
      if (k.stream == stream && k.algorithm == a) bits = k.bits;  // keep the stream's size
    }
    auto e = keystore::plan_new_key(plan->manifest, *s, a, bits, ctx->now, ctx->delegated_names(s->domain));
    if (!e) return remove_files(*ctx, made), fail("key rotate", e.error().message);
    auto rec = create_key_file(*ctx, *e);
    if (!rec) return remove_files(*ctx, made), fail("key rotate", rec.error().message);
    made.push_back(*e);
    records.push_back(e->selector + "._domainkey." + e->domain + ". IN TXT ( " + quote_txt_strings(*rec) + " )");
    plan->manifest.keys.push_back(*e);
  }
  if (Status st = ctx->commit(plan->manifest); !st) {
    remove_files(*ctx, made);
    return fail("key rotate", st.error().message + " (nothing changed)");
  }
  for (const std::string& f : plan->revoked_files) {
    if (Status st = destroy_key_file(ctx->dir + "/" + f); !st) fmt::print(stderr, "warning: {}\n", st.error().message);
  }
  for (const std::string& f : drained) {
    if (Status st = destroy_key_file(ctx->dir + "/" + f); !st) fmt::print(stderr, "warning: {}\n", st.error().message);
  }
  for (const auto& c : plan->changes) fmt::print("{}\n", c);
  for (const auto& r : records) fmt::print("new standby, publish: {}\n", r);
  return kExitOk;
}

int key_retire(const std::vector<std::string>& args) {
  po::options_description desc("signet key retire [--selector S]");
  std::string selector;
  desc.add_options()("help,h", "show this help")(
      "selector", po::value(&selector), "retire this key now (not while it signs); default: every key whose drain is over");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "Retiring destroys the private key (overwritten, then removed) and keeps its register\n"
                                  "row: its record becomes p= empty and the selector is never used again.\n"))
    return kExitOk;
  auto ctx = KeySetContext::open(vm, true);
  if (!ctx) return fail("key retire", ctx.error().message);
  std::vector<std::size_t> which;
  if (selector.empty()) {
    which = keystore::due_for_retirement(ctx->manifest, ctx->now);
  } else {
    for (std::size_t i = 0; i < ctx->manifest.keys.size(); ++i) {
      if (ctx->manifest.keys[i].selector != selector) continue;
      const auto st = keystore::state_of(ctx->manifest.keys[i], ctx->now);
      if (st == keystore::KeyState::Active || st == keystore::KeyState::Scheduled) {
        return fail("key retire", selector + " is " + std::string(keystore::state_name(st)) +
                                      ": rotate away from it first (`signet key rotate`)");
      }
      if (st == keystore::KeyState::Retired) return fail("key retire", selector + " is already retired");
      which.push_back(i);
    }
    if (which.empty()) return fail("key retire", "no key " + selector + " in " + ctx->dir);
  }
  keystore::Manifest next = ctx->manifest;
  for (std::size_t i : which) {
    next.keys[i].retired_at = ctx->now;
    if (!next.keys[i].retire_at || *next.keys[i].retire_at > ctx->now) next.keys[i].retire_at = ctx->now;
  }
  if (Status st = ctx->commit(next); !st) return fail("key retire", st.error().message + " (nothing changed)");
  for (std::size_t i : which) {
    if (Status st = destroy_key_file(ctx->key_path(next.keys[i])); !st) fmt::print(stderr, "warning: {}\n", st.error().message);
    fmt::print("{}: retired (record now p= empty, private key destroyed)\n", next.keys[i].selector);
  }
  if (which.empty()) fmt::print("nothing to retire\n");
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
  return fail("key", "expected `signet key new|list|rotate|retire` (see `signet key new --help`)");
}

}  // namespace signet::tools
