// keystore/dns_check.h — does DNS publish what the key set says? The one
// check behind the daemon's watch of upcoming keys (milter/dns_watch.h),
// `signet dns check`, `signet key rotate`'s gate and `signet audit`.
//
// check_record(dns, row, now, public_key): looks up row.dns_name() and
// compares the DKIM record there with the row at `now` (KeyRow::state):
//   error    the lookup failed; no DKIM record; a long value published as
//            several TXT records instead of one record of several strings;
//            the record does not parse; a retired key still publishing its
//            key; a live key published revoked (p= empty) or with a p= that
//            is not its public key (public_key() gives the expected p=, and
//            is only called for keys that are not retired; its error, such
//            as an unreadable key file, becomes the finding)
//   warning  t=y (testing) published on a live key's otherwise right record
//   ok       the record is what it should be
// One finding per row: the first error, else the first warning, else ok.
// visible(finding): the record lets receivers verify the key (not an error).
// check_published(dns, dir, now): check_record for every row of the key
// directory whose record is published by now (published-at <= now), in
// manifest order, the expected p= read from each key file.
// Fails: never; DNS trouble is a finding.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "keystore/key_row.h"
#include "signer/verifier.h"

namespace signet::keystore {

enum class Severity { Ok, Info, Warning, Error };
std::string_view severity_name(Severity s);  // "ok" | "info" | "warning" | "error"

struct DnsFinding {
  Severity severity = Severity::Ok;
  std::string name;     // selector._domainkey.domain
  std::string stream;
  std::string message;  // what is wrong and what to do, or what is right
};

DnsFinding check_record(KeyLookup& dns, const KeyRow& row, std::int64_t now,
                        const std::function<Result<std::string>()>& public_key);

inline bool visible(const DnsFinding& f) { return f.severity != Severity::Error; }

class KeyDirectory;
std::vector<DnsFinding> check_published(KeyLookup& dns, const KeyDirectory& dir, std::int64_t now);

}  // namespace signet::keystore
