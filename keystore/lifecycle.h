// keystore/lifecycle.h — the key lifecycle as pure planning over a manifest:
// standby -> scheduled -> active -> draining -> retired (docs/dkim.md "Rotation
// without breaking mail"). The clock is an input; nothing here touches disk,
// so `signet key …` can validate a whole change before writing anything.
//
// A key's state at `now` is KeyRow::state (keystore/key_row.h), the same
// rule the daemon's snapshot signs by.
// next_selector(template, …): the selector a new key gets. Placeholders
// {stream} {yyyymm} {yyyy} {mm} {alg} {bits}; default "{stream}-{yyyymm}-{alg}{bits}"
// gives tx-202611-rsa2048 / tx-202611-ed25519 (M3AAWG style). A name already
// in the register (any row for that domain, retired included) is never
// reused: -2, -3, … is appended until the name is free.
// plan_new_key(): the manifest row for a new standby key (published now).
// plan_rotation(): the schedule change for a stream: per algorithm, its
// standby becomes active at the cutover and the active key (if any: the
// first rotation only activates) drains for the overlap then retires. Scheduled: the cutover is --at, or as
// soon as the standby has been published for the propagation delay.
// Emergency: within minutes if the standby is published long enough (at most
// 4 hours otherwise), 7-day overlap. Revoke now: the old key stops and is
// retired at once (empty p=). Fails, changing nothing, when a stream has no
// active key or no standby to rotate to, or --at is before the standby's
// record can have propagated.
// due_for_retirement(): keys whose drain is over (retire-at reached).
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "keystore/key_row.h"
#include "keystore/manifest.h"

namespace signet::keystore {

struct RotationPolicy {
  std::int64_t rotate_every = 180 * 86400;      // M3AAWG 2019: at least every 6 months
  std::int64_t overlap = 14 * 86400;            // drain after a scheduled rotation
  std::int64_t emergency_overlap = 7 * 86400;   // drain after an emergency rotation
  std::int64_t propagation_delay = 3600;        // published -> may sign
  std::string selector_template = "{stream}-{yyyymm}-{alg}{bits}";
};

struct StreamInfo {
  std::string stream, domain, owner;
  RotationPolicy policy;
};

std::string next_selector(const std::string& tmpl, const std::string& stream, Algorithm a, int bits,
                          std::int64_t now, const std::set<std::string>& taken);

// also_taken: names used outside the manifest (delegated selectors).
Result<KeyRow> plan_new_key(const Manifest& m, const StreamInfo& s, Algorithm a, int bits, std::int64_t now,
                              const std::set<std::string>& also_taken = {});

struct RotationRequest {
  std::optional<std::int64_t> at;
  bool emergency = false;
  bool revoke_now = false;
};

struct RotationPlan {
  Manifest manifest;                     // the key set after the change
  std::vector<std::string> changes;      // what changed, for the operator
  std::vector<Algorithm> need_standby;   // algorithms that rotated: generate the next standby
  std::vector<std::string> revoked_files;  // revoke-now: key files to destroy
  std::int64_t cutover = 0;
};

Result<RotationPlan> plan_rotation(const Manifest& m, const StreamInfo& s, const RotationRequest& r, std::int64_t now);

std::vector<std::size_t> due_for_retirement(const Manifest& m, std::int64_t now);

}  // namespace signet::keystore
