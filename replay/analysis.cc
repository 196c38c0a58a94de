// Replay detection over values: the counts per (d=, s=, day), then one pass
// per finding kind. Integer arithmetic throughout (ratios in hundredths), so a
// threshold is met or not exactly, as the boundary tests pin.
#include "replay/analysis.h"

#include <fmt/core.h>

#include <algorithm>
#include <map>
#include <set>
#include <utility>

#include "base/ascii.h"

namespace signet::replay {
namespace {

using Key = std::pair<std::string, std::string>;  // lower-case domain, selector

// What receivers report as a signature that did not verify. temperror (their
// DNS), policy and none are not a broken signature.
bool failing(std::string_view result) { return result == "fail" || result == "neutral" || result == "permerror"; }

struct SourceTally {
  std::int64_t count = 0;
  std::set<std::string> orgs;
};

struct Counts {
  const OurSelector* who = nullptr;  // nullptr: in no register row
  std::map<std::string, DayCount> days;
  std::map<std::string, std::map<std::string, SourceTally>> foreign;  // day -> ip -> tally
};

struct OrgTally {
  std::int64_t failed = 0, total = 0;
};

const conf::CidrSet* networks_of(const Input& in, const std::string& stream) {
  if (!in.sending_networks || stream.empty()) return nullptr;
  const conf::CidrSet* n = in.sending_networks(stream);
  return n && !n->empty() ? n : nullptr;
}

std::string ratio_text(std::int64_t pct) { return fmt::format("{}.{:02}", pct / 100, pct % 100); }

std::string days_text(const std::vector<DayCount>& days) {
  std::string out;
  for (const DayCount& d : days) out += (out.empty() ? "" : ", ") + d.day;
  return out;
}

bool retired(const OurSelector& s) { return s.state == SelectorState::Retired || s.state == SelectorState::Revoked; }

// What to do about a replayed selector depends on where it is now: rotating a
// stream away from its active key helps only when the replayed key is that
// key; a draining or standby key is retired instead (emergency rotation would
// even make a stolen standby the signing key).
void replay_next_step(const Input& in, const OurSelector& s, Finding& f) {
  const std::string& sfx = in.command_suffix;
  switch (s.state) {
    case SelectorState::Active:
      f.next_step = "rotate stream " + s.stream + " to its standby key now (7-day overlap); with confirmed compromise "
                    "revoke at once instead (--revoke-now --yes); then publish the records";
      f.command = "signet key rotate --stream " + s.stream + " --emergency" + sfx;
      return;
    case SelectorState::Draining:
    case SelectorState::RetireDue:
      f.next_step = "the key no longer signs: retire it now, so its record becomes p= empty, and publish the records";
      f.command = "signet key retire --selector " + s.selector + sfx;
      return;
    case SelectorState::Standby:
      f.next_step = "signet never signed with this standby key: someone holds a copy; retire it and make a new "
                    "standby (`signet key new --stream " + s.stream + "`) before any rotation";
      f.command = "signet key retire --selector " + s.selector + sfx;
      return;
    case SelectorState::Scheduled:
      f.next_step = "the key is scheduled and never signed yet: someone holds a copy; take it out of the schedule "
                    "(`signet keyset install` a manifest without its window) and make a new standby";
      return;
    case SelectorState::Always:
      f.next_step = "a `selector =` line signs with this key: replace it with managed keys (`signet key new --stream " +
                    s.stream + "`, `signet key rotate`) and remove the line";
      return;
    case SelectorState::Retired:
    case SelectorState::Revoked:
      f.next_step = "the key is retired since " + s.retired_day + " (record p= empty); nothing left to rotate";
      return;
    case SelectorState::Delegated: return;
  }
}

void replay_findings(const Input& in, const Counts& c, std::vector<Finding>& out) {
  const OurSelector& s = *c.who;
  const Thresholds& t = in.thresholds;
  Finding f;
  f.kind = "replay";
  f.severity = "error";
  f.stream = s.stream;
  f.domain = s.domain;
  f.selector = s.selector;
  bool foreign = false, excess = false;
  std::map<std::string, SourceTally> sources;
  std::string foreign_text, excess_text;
  for (const auto& [day, d] : c.days) {
    if (retired(s) && day > s.retired_day) continue;  // retired-passing speaks for those days
    const bool over_foreign = d.passed_foreign > t.replay_floor;
    const bool over_excess = d.passed - d.signed_count > t.replay_floor && d.passed * 100 > t.replay_ratio_pct * d.signed_count;
    if (!over_foreign && !over_excess) continue;
    f.days.push_back(d);
    f.volume += std::max(over_foreign ? d.passed_foreign : 0, over_excess ? d.passed - d.signed_count : 0);
    if (over_foreign) {
      foreign = true;
      foreign_text += fmt::format("{}{} on {}", foreign_text.empty() ? "" : ", ", d.passed_foreign, day);
      for (const auto& [ip, tally] : c.foreign.at(day)) {
        sources[ip].count += tally.count;
        sources[ip].orgs.insert(tally.orgs.begin(), tally.orgs.end());
      }
    }
    if (over_excess) {
      excess = true;
      excess_text += fmt::format("{}{} passed against {} signed on {}", excess_text.empty() ? "" : ", ", d.passed,
                                 d.signed_count, day);
    }
  }
  if (!foreign && !excess) return;
  for (auto& [ip, tally] : sources) f.sources.push_back({ip, tally.count, {tally.orgs.begin(), tally.orgs.end()}});
  std::stable_sort(f.sources.begin(), f.sources.end(), [](const Source& a, const Source& b) { return a.count > b.count; });
  std::string msg = "possible replay (the key is " + std::string(state_name(s.state)) + ")";
  if (foreign) {
    f.signals.push_back("foreign-sources");
    std::string ips;
    for (std::size_t i = 0; i < f.sources.size() && i < 5; ++i) {
      std::string orgs;
      for (const auto& o : f.sources[i].orgs) orgs += (orgs.empty() ? "" : " ") + o;
      ips += fmt::format("{}{} {} ({})", i ? ", " : "", f.sources[i].ip, f.sources[i].count, orgs);
    }
    if (f.sources.size() > 5) ips += fmt::format(", and {} more", f.sources.size() - 5);
    msg += fmt::format(": DKIM passed from outside sending-networks (floor {} a day): {}; from {}", t.replay_floor,
                       foreign_text, ips);
  }
  if (excess) {
    f.signals.push_back("excess");
    msg += fmt::format("{} receivers saw more passes than the ledgers signed (ratio {}, floor {}): {}",
                       foreign ? ";" : ":", ratio_text(t.replay_ratio_pct), t.replay_floor, excess_text);
  }
  f.message = msg;
  replay_next_step(in, s, f);
  if (excess && !foreign) {
    f.next_step = "first make sure every host's ledger is in the check (one --ledger per host): a missing ledger "
                  "looks like this; then " + f.next_step;
  }
  out.push_back(std::move(f));
}

// An error finding over the days `c` passed on after `after` ("": every day);
// no days when there are none.
Finding passes_after(const Counts& c, const std::string& after, std::string kind, std::string stream,
                     const Key& key) {
  Finding f;
  f.kind = std::move(kind);
  f.severity = "error";
  f.stream = std::move(stream);
  f.domain = c.who ? c.who->domain : key.first;
  f.selector = c.who ? c.who->selector : key.second;
  for (const auto& [day, d] : c.days) {
    if (day <= after || d.passed == 0) continue;
    f.days.push_back(d);
    f.volume += d.passed;
  }
  return f;
}

void retired_findings(const Key& key, const Counts& c, std::vector<Finding>& out) {
  const OurSelector& s = *c.who;
  Finding f = passes_after(c, s.retired_day, "retired-passing", s.stream, key);
  if (f.days.empty()) return;
  f.message = fmt::format("{} was {} on {}, yet {} messages passed DKIM with it on {}: its DNS record still publishes "
                          "the key, and someone holds the private key or replays mail signed before",
                          s.selector, s.state == SelectorState::Revoked ? "revoked" : "retired", s.retired_day,
                          f.volume, days_text(f.days));
  f.next_step = "publish its revocation (p= empty) and check it with `signet dns check`; a copy of the key existed "
                "before it was destroyed: look for who else could read the key directory";
  f.command = "signet dns records --format nsupdate";
  out.push_back(std::move(f));
}

void unregistered_findings(const Key& key, const Counts& c, std::vector<Finding>& out) {
  Finding f = passes_after(c, "", "unregistered-selector", "", key);
  if (f.days.empty()) return;
  f.message = fmt::format("{}._domainkey.{} is in no register row, yet {} messages passed DKIM with it on {}: a key "
                          "someone else holds, or a register gap",
                          key.second, key.first, f.volume, days_text(f.days));
  f.next_step = "find who publishes " + key.second + "._domainkey." + key.first +
                ": a vendor we use goes in the register (`signet register add-delegated --domain " + key.first +
                " --selector " + key.second + " --target HOST --owner WHO`); anyone else: remove the record";
  out.push_back(std::move(f));
}

}  // namespace

std::string_view state_name(SelectorState s) {
  switch (s) {
    case SelectorState::Standby: return "standby";
    case SelectorState::Scheduled: return "scheduled";
    case SelectorState::Active: return "active";
    case SelectorState::Always: return "always";
    case SelectorState::Draining: return "draining";
    case SelectorState::RetireDue: return "retire-due";
    case SelectorState::Retired: return "retired";
    case SelectorState::Revoked: return "revoked";
    case SelectorState::Delegated: return "delegated";
  }
  return "active";
}

int severity_rank(std::string_view severity) {
  if (severity == "info") return 0;
  if (severity == "warning") return 1;
  if (severity == "error") return 2;
  return -1;
}

std::map<std::pair<std::string, std::string>, std::string> last_passing_days(
    const std::vector<dmarc::ReportRecord>& records) {
  std::map<std::pair<std::string, std::string>, std::string> out;
  for (const auto& r : records) {
    if (r.dkim_result != "pass" || r.count <= 0 || r.dkim_selector.empty()) continue;
    std::string& last = out[{ascii::to_lower(r.dkim_domain), ascii::to_lower(r.dkim_selector)}];
    last = std::max(last, r.day);
  }
  return out;
}

Report analyze(const Input& in) {
  Report rep;
  rep.first_day = in.first_day;
  rep.last_day = in.last_day;
  rep.thresholds = in.thresholds;
  auto in_window = [&](const std::string& day) { return day >= in.first_day && day <= in.last_day; };

  std::set<std::string> ours;
  for (const auto& d : in.domains) ours.insert(ascii::to_lower(d));
  std::map<Key, Counts> counts;
  std::map<Key, const OurSelector*> known;
  for (const OurSelector& s : in.selectors) {
    const Key k{ascii::to_lower(s.domain), ascii::to_lower(s.selector)};
    ours.insert(k.first);
    known.emplace(k, &s);
  }
  auto counts_for = [&](const Key& k) -> Counts& {
    Counts& c = counts[k];
    if (auto it = known.find(k); it != known.end()) c.who = it->second;
    return c;
  };

  for (const auto& row : in.ledger) {
    if (!in_window(row.day)) continue;
    const Key k{ascii::to_lower(row.domain), ascii::to_lower(row.selector)};
    DayCount& d = counts_for(k).days[row.day];
    d.day = row.day;
    d.signed_count += row.count;
  }

  std::map<std::pair<std::string, std::string>, OrgTally> org_tally;  // (stream, org)
  for (const auto& r : in.reports) {
    if (!in_window(r.day) || r.dkim_selector.empty()) continue;
    const Key k{ascii::to_lower(r.dkim_domain), ascii::to_lower(r.dkim_selector)};  // the store lowercases; so do we
    if (!ours.count(k.first)) continue;
    Counts& c = counts_for(k);
    DayCount& d = c.days[r.day];
    d.day = r.day;
    const std::string stream = c.who ? c.who->stream : "";
    const conf::CidrSet* nets = networks_of(in, stream);
    const bool from_us = !nets || nets->contains(r.source_ip);
    if (r.dkim_result == "pass") {
      d.passed += r.count;
      if (nets && !from_us) {
        d.passed_foreign += r.count;
        SourceTally& t = c.foreign[r.day][r.source_ip];
        t.count += r.count;
        t.orgs.insert(r.org);
      }
    } else if (failing(r.dkim_result)) {
      d.failed += r.count;
    }
    if (c.who && c.who->state != SelectorState::Delegated && from_us) {
      OrgTally& o = org_tally[{stream, r.org}];
      o.total += r.count;
      if (failing(r.dkim_result)) o.failed += r.count;
    }
  }

  std::set<std::string> streams_with_passes;
  for (const auto& [key, c] : counts) {
    SelectorDays sd;
    sd.domain = key.first;
    sd.selector = key.second;
    sd.stream = c.who ? c.who->stream : "";
    sd.state = c.who ? std::string(state_name(c.who->state)) : "unregistered";
    for (const auto& [day, d] : c.days) sd.days.push_back(d);
    rep.selectors.push_back(std::move(sd));

    if (!c.who) {
      unregistered_findings(key, c, rep.findings);
      continue;
    }
    if (c.who->state == SelectorState::Delegated) continue;  // the vendor's IPs and volume are not ours to know
    for (const auto& [day, d] : c.days) {
      if (d.passed > 0) streams_with_passes.insert(c.who->stream);
    }
    replay_findings(in, c, rep.findings);
    if (retired(*c.who)) retired_findings(key, c, rep.findings);
  }

  std::map<std::string, std::vector<OrgFailures>> failing_orgs;  // stream -> orgs over the thresholds
  for (const auto& [who, o] : org_tally) {
    if (o.failed > in.thresholds.failure_floor && o.failed * 100 > in.thresholds.failure_ratio_pct * o.total) {
      failing_orgs[who.first].push_back({who.second, o.failed, o.total});
    }
  }
  for (auto& [stream, orgs] : failing_orgs) {
    std::stable_sort(orgs.begin(), orgs.end(), [](const OrgFailures& a, const OrgFailures& b) {
      return a.failed * b.total > b.failed * a.total;  // worst share first
    });
    Finding f;
    f.kind = "signature-failures";
    f.severity = "warning";
    f.stream = stream;
    std::string list;
    for (const auto& o : orgs) {
      f.volume += o.failed;
      list += fmt::format("{}{} {} of {} ({}%)", list.empty() ? "" : ", ", o.org, o.failed, o.total, o.failed * 100 / o.total);
    }
    f.orgs = std::move(orgs);
    f.message = fmt::format("stream {}: signatures fail at receivers{} (ratio {}, floor {}): {}", stream,
                            networks_of(in, stream) ? " for mail from its sending networks" : "",
                            ratio_text(in.thresholds.failure_ratio_pct), in.thresholds.failure_floor, list);
    f.next_step = "something on the way to these receivers changes messages after signing: run `signet doctor "
                  "postfix`, and compare a message as they received it with `signet inspect message`";
    f.command = "signet doctor postfix";
    rep.findings.push_back(std::move(f));
  }

  for (const std::string& stream : streams_with_passes) {
    if (networks_of(in, stream)) continue;
    Finding f;
    f.kind = "no-sending-networks";
    f.severity = "info";
    f.stream = stream;
    f.message = "stream " + stream + " has no sending-networks (nor a global one): passes from sources that are not "
                "ours cannot be told apart, only the ledger comparison runs";
    f.next_step = "set sending-networks to the public addresses your MTAs send from";
    rep.findings.push_back(std::move(f));
  }

  std::stable_sort(rep.findings.begin(), rep.findings.end(), [](const Finding& a, const Finding& b) {
    const int ra = severity_rank(a.severity), rb = severity_rank(b.severity);
    if (ra != rb) return ra > rb;
    return std::tie(a.stream, a.domain, a.selector, a.kind) < std::tie(b.stream, b.domain, b.selector, b.kind);
  });
  return rep;
}

}  // namespace signet::replay
