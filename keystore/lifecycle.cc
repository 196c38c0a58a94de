#include "keystore/lifecycle.h"

#include <ctime>

#include "base/time.h"

namespace signet::keystore {
namespace {

void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t pos = s.find(from); pos != std::string::npos; pos = s.find(from, pos + to.size())) {
    s.replace(pos, from.size(), to);
  }
}

// The key of `stream` and algorithm `a` active at `now` (the newest), or -1.
long active_index(const Manifest& m, const std::string& stream, Algorithm a, std::int64_t now) {
  long best = -1;
  for (std::size_t i = 0; i < m.keys.size(); ++i) {
    const KeyRow& k = m.keys[i];
    if (k.stream != stream || k.algorithm != a || k.state(now) != KeyState::Active) continue;
    if (best < 0 || k.window.starts_after(m.keys[static_cast<std::size_t>(best)].window)) best = static_cast<long>(i);
  }
  return best;
}

long standby_index(const Manifest& m, const std::string& stream, Algorithm a, std::int64_t now) {
  long best = -1;
  for (std::size_t i = 0; i < m.keys.size(); ++i) {
    const KeyRow& k = m.keys[i];
    if (k.stream != stream || k.algorithm != a || k.state(now) != KeyState::Standby) continue;
    if (best < 0 || k.published_at < m.keys[static_cast<std::size_t>(best)].published_at) best = static_cast<long>(i);
  }
  return best;  // the longest published standby: the one resolvers have seen
}

}  // namespace

std::string next_selector(const std::string& tmpl, const std::string& stream, Algorithm a, int bits,
                          std::int64_t now, const std::set<std::string>& taken) {
  const std::time_t t = static_cast<std::time_t>(now);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char yyyy[16], mm[16];
  std::snprintf(yyyy, sizeof yyyy, "%04d", tm.tm_year + 1900);
  std::snprintf(mm, sizeof mm, "%02d", tm.tm_mon + 1);
  std::string base = tmpl;
  replace_all(base, "{stream}", stream);
  replace_all(base, "{yyyymm}", std::string(yyyy) + mm);
  replace_all(base, "{yyyy}", yyyy);
  replace_all(base, "{mm}", mm);
  replace_all(base, "{alg}", std::string(key_type_name(a)));
  replace_all(base, "{bits}", a == Algorithm::RsaSha256 ? std::to_string(bits) : std::string());
  std::string name = base;
  for (int n = 2; taken.count(name); ++n) name = base + "-" + std::to_string(n);
  return name;
}

Result<KeyRow> plan_new_key(const Manifest& m, const StreamInfo& s, Algorithm a, int bits, std::int64_t now,
                              const std::set<std::string>& also_taken) {
  std::set<std::string> taken = also_taken;  // the register: every selector ever used for this domain
  for (const KeyRow& k : m.keys) {
    if (k.domain == s.domain) taken.insert(k.selector);
  }
  KeyRow e;
  e.stream = s.stream;
  e.domain = s.domain;
  e.algorithm = a;
  e.bits = a == Algorithm::RsaSha256 ? bits : 256;
  e.selector = next_selector(s.policy.selector_template, s.stream, a, bits, now, taken);
  if (e.selector.empty() || e.selector.find_first_of(" /") != std::string::npos) {
    return permanent_error("selector template " + s.policy.selector_template + " gives an unusable name");
  }
  e.owner = s.owner;
  e.file = s.domain + "/" + e.selector + ".key";
  e.created = now;
  e.published_at = now;  // its record is in `signet dns records` from now on
  return e;
}

Result<RotationPlan> plan_rotation(const Manifest& m, const StreamInfo& s, const RotationRequest& r, std::int64_t now) {
  RotationPlan plan;
  plan.manifest = m;
  const std::int64_t overlap = r.emergency || r.revoke_now ? s.policy.emergency_overlap : s.policy.overlap;
  std::optional<std::int64_t> cutover;
  for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
    const long cur = active_index(m, s.stream, a, now);
    const long next = standby_index(m, s.stream, a, now);
    if (cur < 0 && next < 0) continue;  // this algorithm is not used by the stream
    if (cur < 0 && r.revoke_now) continue;
    if (next < 0) {
      return permanent_error("stream " + s.stream + " has no " + std::string(key_type_name(a)) + " standby key for " +
                             m.keys[static_cast<std::size_t>(cur)].selector + ": run `signet key new --stream " + s.stream +
                             " --algorithm " + std::string(key_type_name(a)) + "` and publish its record first");
    }
    KeyRow& new_key = plan.manifest.keys[static_cast<std::size_t>(next)];
    const std::int64_t visible = new_key.published_at + s.policy.propagation_delay;
    std::int64_t at;
    if (r.revoke_now) {
      at = now;
    } else if (r.at) {
      if (*r.at < now) return permanent_error("--at " + rfc3339::format(*r.at) + " is in the past");
      if (*r.at < visible) {
        return permanent_error("--at " + rfc3339::format(*r.at) + " is before " + new_key.selector +
                               "'s record can have propagated (" + rfc3339::format(visible) +
                               "); switching to a key receivers cannot find breaks all mail");
      }
      at = *r.at;
    } else if (r.emergency) {
      // Within minutes when the standby's record has been out long enough,
      // otherwise as soon as it can have propagated, and never over 4 hours.
      at = std::max(now + 300, std::min(visible, now + 4 * 3600));
    } else {
      at = std::max(now, visible);
    }
    cutover = cutover ? std::max(*cutover, at) : at;
    plan.need_standby.push_back(a);
  }
  if (!cutover) return permanent_error("stream " + s.stream + " has no key to rotate to: `signet key new` first");
  plan.cutover = *cutover;
  // One instant for every algorithm of the stream, so both move together.
  for (Algorithm a : plan.need_standby) {
    KeyRow& new_key = plan.manifest.keys[static_cast<std::size_t>(standby_index(m, s.stream, a, now))];
    new_key.window = Window::scheduled(plan.cutover);
    const long cur = active_index(m, s.stream, a, now);
    if (cur < 0) {  // the stream's first key of this algorithm: nothing to drain
      plan.changes.push_back(new_key.selector + ": signs from " + rfc3339::format(plan.cutover) + " (first key)");
      continue;
    }
    KeyRow& old_key = plan.manifest.keys[static_cast<std::size_t>(cur)];
    old_key.window.until = plan.cutover;
    if (r.revoke_now) {
      // Confirmed compromise: the record goes to p= empty now, and mail in
      // flight signed with it fails; the operator confirmed that (--yes).
      old_key.retire_at = now;
      old_key.retired_at = now;
      plan.revoked_files.push_back(old_key.file);
      plan.changes.push_back(old_key.selector + ": revoked now (record p= empty, key destroyed)");
    } else {
      old_key.retire_at = plan.cutover + overlap;
      plan.changes.push_back(old_key.selector + ": signs until " + rfc3339::format(plan.cutover) + ", drains until " +
                             rfc3339::format(*old_key.retire_at) + ", then retires");
    }
    plan.changes.push_back(new_key.selector + ": signs from " + rfc3339::format(plan.cutover));
  }
  return plan;
}

std::vector<std::size_t> due_for_retirement(const Manifest& m, std::int64_t now) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < m.keys.size(); ++i) {
    if (m.keys[i].state(now) == KeyState::RetireDue) out.push_back(i);
  }
  return out;
}

}  // namespace signet::keystore
