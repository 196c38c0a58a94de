#include "keystore/dns_check.h"

#include <vector>

#include "keystore/key_directory.h"
#include "signer/key_record.h"

namespace signet::keystore {

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::Ok: return "ok";
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "error";
}

DnsFinding check_record(KeyLookup& dns, const KeyRow& row, std::int64_t now,
                        const std::function<Result<std::string>()>& public_key) {
  const std::string name = row.dns_name();
  const std::string state(state_name(row.state(now)));
  auto finding = [&](Severity sev, std::string msg) { return DnsFinding{sev, name, row.stream, std::move(msg)}; };
  auto records = dns.txt(name);
  if (!records) return finding(Severity::Error, "lookup failed: " + records.error().message);
  std::vector<std::string> dkim;
  for (const auto& r : records.value()) {
    if (r.rfind("v=DKIM1", 0) == 0 || r.find("p=") != std::string::npos) dkim.push_back(r);
  }
  if (records->size() > 1 && dkim.size() < records->size()) {
    return finding(Severity::Error,
                   "several TXT records at the name: a long value was split into separate records instead of "
                   "one record of several strings");
  }
  if (dkim.empty()) return finding(Severity::Error, "missing: no DKIM record published (" + state + " key)");
  auto rec = parse_key_record(dkim.front());
  if (!rec) return finding(Severity::Error, "record does not parse (" + rec.error().message + "): damaged or badly split");
  // A live key's otherwise-right record with t=y gets the warning; any error wins over it.
  auto unless_testing = [&](DnsFinding ok) {
    return rec->testing ? finding(Severity::Warning, "t=y (testing) is published: remove it") : ok;
  };
  if (row.retired_at) {
    if (!rec->revoked()) return finding(Severity::Error, "retired selector still publishes a key: set it to \"v=DKIM1; p=\"");
    return finding(Severity::Ok, "retired, p= empty");
  }
  auto expected = public_key();
  if (!expected) return finding(Severity::Error, expected.error().message);
  if (rec->revoked()) return finding(Severity::Error, "published with p= empty but the key is " + state);
  if (rec->public_key_base64 != *expected) {
    return finding(Severity::Error, "p= does not match the key (" + state + "): publish the record from `signet dns records`");
  }
  return unless_testing(finding(Severity::Ok, "matches (" + state + ")"));
}

std::vector<DnsFinding> check_published(KeyLookup& dns, const KeyDirectory& dir, std::int64_t now) {
  std::vector<DnsFinding> out;
  for (const KeyRow& k : dir.manifest().keys) {
    if (k.published_at > now) continue;
    out.push_back(check_record(dns, k, now, [&]() -> Result<std::string> {
      auto key = dir.load_key(k);
      if (!key) return key.error();
      return key->public_key_base64();
    }));
  }
  return out;
}

}  // namespace signet::keystore
