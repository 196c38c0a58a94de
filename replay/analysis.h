// replay/analysis.h — replay detection: what receivers' DMARC aggregate
// reports say passed DKIM with our d=/s= pairs, per UTC day, against what the
// signing ledger says signet signed, and the findings that follow, each with
// its severity and the next step. `signet replay check`, `signet audit` and
// the retire gate (`signet key retire`) read it; docs/observability.md
// ("Replay detection") is the operator's side of the same rules.
//
// Pure: every input is a value (the register as OurSelector rows, ledger rows,
// report records, thresholds, the window); nothing here reads a file or the
// clock, so each rule is unit-tested over vectors (tests/unit/replay_*).
//
// analyze(input) promises:
//   - one SelectorDays per (domain, selector) we hold, or that a report shows
//     passing for a domain we sign, with one DayCount per day in the window
//     that has ledger or report volume; reports for domains we do not sign,
//     and records without a selector (RFC 7489 allowed omitting it), count
//     nowhere;
//   - findings, most severe first (then by stream, selector), of the kinds
//     below; a finding about a selector names the one stream that holds it;
//     replay findings carry the one command to run (Finding::command).
// Kinds (thresholds are conf/options.h's, defaults in parentheses):
//   replay            error: on some day, more than replay-floor (100) passing
//                     messages came from outside the stream's sending-networks
//                     (signal "foreign-sources": IPs, counts, reporting orgs),
//                     and/or receivers saw more than replay-ratio (1.5) times
//                     what the ledgers say was signed and more than
//                     replay-floor over it (signal "excess"). One finding per
//                     selector, listing the days.
//   retired-passing   error: a retired or revoked selector passes on a day
//                     after the day it was retired (its record should be p=
//                     empty, yet it still publishes the key).
//   unregistered-selector  error: a selector of a domain we sign passes but is
//                     in no register row (a key someone else holds, or a
//                     register gap: a vendor never added with
//                     `signet register add-delegated`).
//   signature-failures  warning: at one reporting org, more than failure-floor
//                     (50) of a stream's messages from its sending networks
//                     (all sources when it has none) failed DKIM, and more than
//                     failure-ratio (0.05) of them: a path breaks signatures
//                     after signing.
//   no-sending-networks  info: a stream with reported volume has no
//                     sending-networks (nor a global one): the source check is
//                     off for it.
// Fails: never; bad input is the callers' to refuse before building Input.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "conf/cidr.h"
#include "dmarc/report_store.h"
#include "ledger/ledger.h"

namespace signet::replay {

// Where a selector is in its life, as replay reads it: the register's
// keystore::KeyState, plus revoked (retired without draining: `signet key
// rotate --revoke-now`), always (a stream's `selector =` line) and delegated
// (a vendor signs with it: `signet register add-delegated`).
enum class SelectorState { Standby, Scheduled, Active, Always, Draining, RetireDue, Retired, Revoked, Delegated };
std::string_view state_name(SelectorState s);

// One register row: a selector we hold (or held, or delegated).
struct OurSelector {
  std::string stream;  // "" for delegated selectors
  std::string domain, selector;
  std::string algorithm;  // "rsa" | "ed25519" | "" (unknown: configuration lines, delegated)
  SelectorState state = SelectorState::Active;
  std::string retired_day;  // Retired/Revoked: the UTC day it was retired
};

struct Thresholds {
  std::int64_t replay_floor = 100;         // messages a selector may pass a day beyond what we account for
  std::int64_t replay_ratio_pct = 150;     // receivers' passes over signed, in hundredths (1.5)
  std::int64_t failure_floor = 50;         // failed messages at one org before it is a finding
  std::int64_t failure_ratio_pct = 5;      // failed share at one org, in hundredths (0.05)
};

struct Input {
  std::vector<OurSelector> selectors;
  std::vector<std::string> domains;  // every d= we sign (the configuration's streams'); the register's are added
  // The sending networks of a stream (its own, else the global); nullptr or
  // an empty set: none configured, the source check is off for the stream.
  std::function<const conf::CidrSet*(const std::string& stream)> sending_networks;
  std::vector<ledger::LedgerRow> ledger;        // every host's rows, summed
  std::vector<dmarc::ReportRecord> reports;
  Thresholds thresholds;
  std::string first_day, last_day;  // the window, "YYYY-MM-DD", inclusive; rows outside are ignored
  std::string command_suffix;       // appended to printed commands (" --config FILE"), or ""
};

struct DayCount {
  std::string day;
  std::int64_t signed_count = 0;    // the ledgers' signatures
  std::int64_t passed = 0;          // receivers' dkim=pass, all sources
  std::int64_t passed_foreign = 0;  // ... of which from outside the sending networks (0 when none configured)
  std::int64_t failed = 0;          // receivers' fail, neutral, permerror
};

struct SelectorDays {
  std::string domain, selector, stream;  // stream "" when not in the register
  std::string state;                     // state_name, or "unregistered"
  std::vector<DayCount> days;            // ascending
};

struct Source {
  std::string ip;
  std::int64_t count = 0;
  std::vector<std::string> orgs;  // sorted, unique
};

struct OrgFailures {
  std::string org;
  std::int64_t failed = 0, total = 0;
};

struct Finding {
  std::string kind;      // replay | retired-passing | unregistered-selector | signature-failures | no-sending-networks
  std::string severity;  // error | warning | info
  std::string stream, domain, selector;     // selector "" for stream-wide findings
  std::vector<std::string> signals;         // replay: "foreign-sources", "excess"
  std::vector<DayCount> days;               // the days that triggered it
  std::vector<Source> sources;              // replay (foreign-sources): busiest first
  std::vector<OrgFailures> orgs;            // signature-failures: worst first
  std::int64_t volume = 0;                  // the unexplained passes (replay), passes, or failures
  std::string message;                      // what, with the numbers
  std::string next_step;                    // what to do, in words
  std::string command;                      // the one command to run, or ""
};

struct Report {
  std::string first_day, last_day;
  Thresholds thresholds;
  std::vector<SelectorDays> selectors;  // by domain, selector
  std::vector<Finding> findings;
};

Report analyze(const Input& input);

// Severity rank for --fail-on: info 0, warning 1, error 2; -1 for anything else.
int severity_rank(std::string_view severity);

// Per (d=, s=) (lowercased), the last UTC day ("YYYY-MM-DD") a report shows
// it passing (count > 0): the register's last-passing column, from one read of
// the report store however many selectors it lists.
std::map<std::pair<std::string, std::string>, std::string> last_passing_days(
    const std::vector<dmarc::ReportRecord>& records);

}  // namespace signet::replay
