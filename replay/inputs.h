// replay/inputs.h — what replay::analyze (replay/analysis.h) reads from the
// configuration and the key set: the register as OurSelector rows, the domains
// we sign, the thresholds and each stream's sending networks.
//
// Calls (pure; none fails):
//   utc_day(t)            "YYYY-MM-DD" of a Unix time, UTC
//   our_selectors(cfg, manifest, delegated, now)
//                         every manifest row (its KeyRow::state at now; a row
//                         retired before its window ended is "revoked"), every
//                         stream's `selector =` line ("always") and every
//                         delegated selector ("delegated")
//   make_input(cfg, manifest, delegated, now, first_day)
//                         an Input for the window first_day .. utc_day(now)
//                         with the above, cfg's thresholds and a
//                         sending_networks lookup that refers to cfg: cfg must
//                         outlive the Input. Ledger rows and report records are
//                         the caller's to add (ledger::read_ledger,
//                         dmarc::read_report_records).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "conf/config.h"
#include "keystore/delegated.h"
#include "keystore/manifest.h"
#include "replay/analysis.h"

namespace signet::replay {

std::string utc_day(std::int64_t t);
std::vector<OurSelector> our_selectors(const conf::Config& cfg, const keystore::Manifest& m,
                                       const std::vector<keystore::Delegated>& delegated, std::int64_t now);
Input make_input(const conf::Config& cfg, const keystore::Manifest& m, const std::vector<keystore::Delegated>& delegated,
                 std::int64_t now, const std::string& first_day);

}  // namespace signet::replay
