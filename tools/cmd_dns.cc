// signet dns records — every published selector's TXT record, from the key
// set: standby, scheduled, active and draining keys with their public key,
// retired ones as "v=DKIM1; p=" (the revocation signal: the selector stays
// published with p= empty, RFC 6376 §3.6.1). 2048-bit keys are split into
// character-strings of at most 255 bytes.
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include "keystore/dns_check.h"
#include "keystore/lifecycle.h"
#include "keystore/txt_lookup.h"
#include "signer/key_record.h"
#include "tools/common.h"
#include "tools/keyset_context.h"

namespace po = boost::program_options;

namespace signet::tools {

std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      continue;
    }
    out.push_back(c);
  }
  return out + "\"";
}

namespace {

struct Record {
  std::string name, value, state;
  const keystore::KeyRow* key;
};

int dns_records(const std::vector<std::string>& args) {
  po::options_description desc("signet dns records [--format zone|nsupdate|json]");
  std::string format = "zone", server;
  int ttl = 3600;
  desc.add_options()("help,h", "show this help")("format", po::value(&format), "zone (default), nsupdate or json")(
      "ttl", po::value(&ttl), "TTL of the records (default 3600)")(
      "server", po::value(&server), "nsupdate: the server line to emit (HOST [PORT])");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "")) return kExitOk;
  if (format != "zone" && format != "nsupdate" && format != "json") return fail("dns records", "--format: zone, nsupdate or json");
  auto ctx = KeySetContext::open(vm, keystore::KeyDirectory::Mode::Read);
  if (!ctx) return fail("dns records", ctx.error().message);
  std::vector<Record> records;
  for (const auto& k : ctx->manifest().keys) {
    if (k.published_at > ctx->now) continue;  // not yet published
    const auto state = k.state(ctx->now);
    Record r{k.dns_name() + ".", "v=DKIM1; p=", std::string(keystore::state_name(state)), &k};
    if (state != keystore::KeyState::Retired) {
      auto key = ctx->dir.load_key(k);
      if (!key) return fail("dns records", key.error().message);
      r.value = format_key_record(*key);
    }
    records.push_back(std::move(r));
  }
  if (format == "zone") {
    for (const auto& r : records) fmt::print("{} {} IN TXT ( {} ) ; {}\n", r.name, ttl, quote_txt_strings(r.value), r.state);
  } else if (format == "nsupdate") {
    // RFC 2136 dynamic update through BIND's nsupdate: replace each record whole.
    if (!server.empty()) fmt::print("server {}\n", server);
    for (const auto& r : records) {
      fmt::print("update delete {} TXT\n", r.name);
      fmt::print("update add {} {} TXT {}\n", r.name, ttl, quote_txt_strings(r.value));
    }
    fmt::print("send\n");
  } else {
    fmt::print("[");
    for (std::size_t i = 0; i < records.size(); ++i) {
      const auto& r = records[i];
      fmt::print("{}\n  {{\"name\": {}, \"type\": \"TXT\", \"ttl\": {}, \"value\": {}, \"state\": {}, \"stream\": {}, \"selector\": {}}}",
                 i ? "," : "", json_string(r.name), ttl, json_string(r.value), json_string(r.state),
                 json_string(r.key->stream), json_string(r.key->selector));
    }
    fmt::print("\n]\n");
  }
  return kExitOk;
}

}  // namespace

namespace {

int dns_check(const std::vector<std::string>& args) {
  po::options_description desc("signet dns check [--server ADDR[:PORT]]");
  std::string server;
  desc.add_options()("help,h", "show this help")("server", po::value(&server), "query this DNS server instead of the system resolver");
  KeySetContext::add_options(desc);
  po::variables_map vm;
  if (!parse_args(desc, args, vm, "Exit 0 when every published selector's record is what the key set says, 1 otherwise.\n"))
    return kExitOk;
  auto ctx = KeySetContext::open(vm, keystore::KeyDirectory::Mode::Read);
  if (!ctx) return fail("dns check", ctx.error().message);
  keystore::DnsTxtLookup dns(server);
  bool bad = false;
  for (const auto& f : keystore::check_published(dns, ctx->dir, ctx->now)) {
    fmt::print("{:<8} {}: {}\n", keystore::severity_name(f.severity), f.name, f.message);
    bad |= !keystore::visible(f);
  }
  return bad ? kExitFailed : kExitOk;
}

}  // namespace

int dns_main(const std::vector<std::string>& args) {
  const std::vector<std::string> rest(args.begin() + (args.empty() ? 0 : 1), args.end());
  if (!args.empty() && args[0] == "records") return dns_records(rest);
  if (!args.empty() && args[0] == "check") return dns_check(rest);
  return fail("dns", "expected `signet dns records [--format zone|nsupdate|json]` or `signet dns check [--server ADDR]`");
}

}  // namespace signet::tools
