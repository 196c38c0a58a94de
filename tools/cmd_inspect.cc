// signet inspect record|signature|message — the inspector an operator pastes
// things into. Reads, never changes anything; exit 0 when it could read the
// input (findings are output, not failure), 2 when it could not.
//   record '<TXT value>'       tags, key type, exact key size from the DER, findings
//   signature '<value>' [--message FILE]
//   message < msg              every DKIM-Signature, oversigning counted against the header
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "base/ascii.h"
#include "canon/header.h"
#include "signer/base64.h"
#include "signer/key.h"
#include "signer/message.h"
#include "signer/key_record.h"
#include "signer/signature.h"
#include "signer/tag_list.h"
#include "tools/common.h"

namespace po = boost::program_options;

namespace signet::tools {

std::string json_string(std::string_view s);

namespace {

struct Finding {
  std::string severity;  // error | warning | info
  std::string message;
};

struct Report {
  std::string kind;
  std::vector<std::pair<std::string, std::string>> facts;  // shown in order
  std::vector<Finding> findings;

  void print(bool json) const {
    if (json) {
      fmt::print("{{\"kind\": {}", json_string(kind));
      for (const auto& [k, v] : facts) fmt::print(", {}: {}", json_string(k), json_string(v));
      fmt::print(", \"findings\": [");
      for (std::size_t i = 0; i < findings.size(); ++i) {
        fmt::print("{}{{\"severity\": {}, \"message\": {}}}", i ? ", " : "", json_string(findings[i].severity),
                   json_string(findings[i].message));
      }
      fmt::print("]}}\n");
      return;
    }
    fmt::print("{}:\n", kind);
    for (const auto& [k, v] : facts) fmt::print("  {:<14} {}\n", k, v);
    for (const auto& f : findings) fmt::print("  {:<8} {}\n", f.severity, f.message);
    if (findings.empty()) fmt::print("  no findings\n");
  }
};

// The record rules are signer/key_record.h's; what is added here is advice.
Result<Report> inspect_record(std::string_view txt) {
  Report r{"record", {}, {}};
  auto parsed = read_key_record(txt);
  if (!parsed) return permanent_error("not a DKIM key record: " + parsed.error().message);
  const KeyRecord& rec = parsed.value();
  if (!rec.has_public_key) return permanent_error("no p= tag: not a key record");
  if (!rec.has_version) {
    r.findings.push_back({"info", "no v= tag: DKIM1 is assumed (RFC 6376 §3.6.1); publishing v=DKIM1 first is clearer"});
  }
  for (const std::string& e : rec.errors) r.findings.push_back({"error", e + ": verifiers ignore this record"});
  r.facts.emplace_back("key type", rec.key_type_text);
  const auto& hs = rec.hash_algorithms;
  if (!hs.empty()) {
    std::string listed;
    for (const auto& h : hs) listed += (listed.empty() ? "" : ":") + h;
    r.facts.emplace_back("hashes", listed);
    if (std::find(hs.begin(), hs.end(), "sha256") == hs.end()) {
      r.findings.push_back({"error", "h= does not allow sha256: every rsa-sha256/ed25519-sha256 signature fails"});
    } else if (std::find(hs.begin(), hs.end(), "sha1") != hs.end()) {
      r.findings.push_back({"warning", "h= still allows sha1 (RFC 8301 forbids rsa-sha1): list sha256 only"});
    }
  }
  if (rec.testing) r.findings.push_back({"warning", "t=y (testing) is on: receivers may treat failures as passes; remove it"});
  if (rec.revoked()) {
    r.facts.emplace_back("key", "none (p= empty)");
    r.findings.push_back({"info", "revoked: p= is empty, signatures with this selector fail (RFC 6376 §3.6.1)"});
    return r;
  }
  auto der = base64::decode(rec.public_key_base64);
  if (!der) return permanent_error("p= is not base64");
  auto key = PublicKey::from_der(rec.key_type, *der);
  if (!key) {
    r.findings.push_back({"error", key.error().message});
    return r;
  }
  const Algorithm a = rec.key_type;
  r.facts.emplace_back("key size", std::to_string(key->bits()) + " bits (from the DER)");
  if (a == Algorithm::RsaSha256 && key->bits() < kMinRsaBits) {
    r.findings.push_back({"error", "RSA key below 1024 bits: verifiers must refuse it (RFC 8301)"});
  } else if (a == Algorithm::RsaSha256 && key->bits() < kDefaultRsaBits) {
    r.findings.push_back({"warning", std::to_string(key->bits()) + "-bit RSA key: rotate to 2048 bits"});
  }
  return r;
}

// The signature is read by signer/signature.h's parser; the findings here are
// what an operator should know on top of it. h= oversigning: each of
// From/Subject/To/Date should be listed once more than it occurs, so an
// added or absent one breaks the signature.
Result<Report> inspect_signature(std::string_view value, const std::vector<std::string_view>* fields) {
  Report r{"signature", {}, {}};
  auto parsed = parse_signature(value);
  if (!parsed) return permanent_error("not a DKIM-Signature value: " + parsed.error().message);
  const ParsedSignature& sig = parsed.value();
  for (const char* n : {"d", "s", "a", "c"}) {
    if (const Tag* t = sig.tag(n)) r.facts.emplace_back(std::string(n) + "=", strip_fws(t->value));
  }
  if (sig.algorithm_text == "rsa-sha1") r.findings.push_back({"error", "a=rsa-sha1: forbidden by RFC 8301, verifiers fail it"});
  if (sig.tag("l")) r.findings.push_back({"error", "l= present: content appended after the signed length still verifies"});
  if (!sig.canon) {
    r.findings.push_back({"error", "unknown canonicalization c=" + sig.canon_text.substr(0, 30) + ": verifiers fail it"});
  } else if (sig.canon->first == canon::Canon::Simple) {
    r.findings.push_back({"info", "c=" + sig.canon_text + ": simple header canonicalization breaks on harmless refolding"});
  }
  std::map<std::string, int> listed;
  for (const auto& n : sig.headers) ++listed[ascii::to_lower(n)];
  for (const char* name : {"from", "subject", "to", "date"}) {
    const int in_h = listed[name];
    if (fields) {
      int occurs = 0;
      for (auto f : *fields) occurs += canon::header_name_equals(f, name);
      const bool over = in_h > occurs;
      r.facts.emplace_back(std::string(name), fmt::format("in h= {}x, in the message {}x{}", in_h, occurs, over ? ": oversigned" : ""));
      if (!over) r.findings.push_back({"warning", std::string(name) + " is not oversigned: another " + name + " header can be added without breaking the signature"});
    } else {
      r.facts.emplace_back(std::string(name), fmt::format("in h= {}x", in_h));
      if (in_h < 2) r.findings.push_back({"warning", std::string(name) + " is listed " + std::to_string(in_h) + "x in h=: not oversigned unless the message lacks it"});
    }
  }
  for (const char* name : {"t", "x"}) {
    const Tag* t = sig.tag(name);
    if (t && !(name[0] == 't' ? sig.timestamp : sig.expiration)) {
      r.findings.push_back({"error", std::string(name) + "=" + t->value.substr(0, 20) + " is not a timestamp: verifiers reject the signature"});
    }
  }
  if (!sig.tag("t")) r.findings.push_back({"warning", "no t=: the signing time is unknown (replays cannot be dated)"});
  if (!sig.tag("x")) {
    r.findings.push_back({"info", "no x=: the signature never expires (replay mitigation: a few days)"});
  } else if (sig.timestamp && sig.expiration && *sig.expiration - *sig.timestamp < 86400) {
    r.findings.push_back({"warning", "x= is less than a day after t=: queued or greylisted mail will fail"});
  }
  return r;
}

}  // namespace

int inspect_main(const std::vector<std::string>& args) {
  po::options_description desc("signet inspect record '<TXT>' | signature '<value>' [--message FILE] | message < msg");
  bool json = false;
  std::string message_file;
  std::vector<std::string> positional;
  desc.add_options()("help,h", "show this help")("json", po::bool_switch(&json), "one JSON object per finding set")(
      "message", po::value(&message_file), "signature: the message it signs, to count oversigning");
  Positional words{"args", -1, {}};
  words.hidden.add_options()("args", po::value(&positional)->composing(), "");
  po::variables_map vm;
  if (!parse_args(desc, words, args, vm, "")) return kExitOk;
  if (positional.empty()) {
    std::cout << desc;
    return kExitBadInput;
  }
  const std::string what = positional[0];
  auto read_message = [&](std::istream& in, std::string& storage) -> Result<ParsedMessage> {
    std::stringstream ss;
    ss << in.rdbuf();
    storage = normalize_line_endings(ss.str());
    return parse_message(storage);
  };
  if (what == "record" || what == "signature") {
    if (positional.size() != 2) return fail("inspect", what + " takes one quoted value");
    std::string storage;
    std::optional<ParsedMessage> msg;
    if (!message_file.empty()) {
      std::ifstream in(message_file, std::ios::binary);
      if (!in) return fail("inspect", "cannot read " + message_file);
      auto m = read_message(in, storage);
      if (!m) return fail("inspect", message_file + ": " + m.error().message);
      msg = std::move(m.value());
    }
    auto r = what == "record" ? inspect_record(positional[1]) : inspect_signature(positional[1], msg ? &msg->fields : nullptr);
    if (!r) return fail("inspect", r.error().message);
    r->print(json);
    return kExitOk;
  }
  if (what == "message") {
    std::string storage;
    auto m = read_message(std::cin, storage);
    if (!m) return fail("inspect", "input " + m.error().message);
    int n = 0;
    for (auto f : m->fields) {
      if (!canon::header_name_equals(f, "dkim-signature")) continue;
      auto r = inspect_signature(canon::header_value(f), &m->fields);
      if (!r) return fail("inspect", r.error().message);
      r->print(json);
      ++n;
    }
    if (n == 0) fmt::print("no DKIM-Signature header\n");
    return kExitOk;
  }
  return fail("inspect", "expected record, signature or message");
}

}  // namespace signet::tools
