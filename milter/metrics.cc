#include "milter/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "signer/key.h"

namespace signet::milter {
namespace {

// The (outcome, reason) pairs that occur: every series exists from the
// start (at 0), and no other ever does.
struct Pair {
  Outcome outcome;
  Reason reason;
};
constexpr Reason kTroubles[] = {Reason::HeaderLimit, Reason::BodyLimit, Reason::Malformed, Reason::NoKey,
                                Reason::SigningFailed};
std::vector<Pair> outcome_pairs() {
  std::vector<Pair> out = {{Outcome::Signed, Reason::None},
                           {Outcome::Skipped, Reason::Untrusted},
                           {Outcome::Skipped, Reason::NoStream},
                           {Outcome::Skipped, Reason::AlreadySigned},
                           {Outcome::Skipped, Reason::DryRun}};
  for (Outcome o : {Outcome::Unsigned, Outcome::Tempfailed}) {
    for (Reason r : kTroubles) out.push_back({o, r});
  }
  out.push_back({Outcome::Abandoned, Reason::Aborted});
  return out;
}

// Label values are stream names, domains and selectors from the
// configuration: escaped as the text format requires.
std::string esc(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

class Text {
 public:
  void family(std::string_view name, std::string_view type, std::string_view help) {
    out_ += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  void sample(std::string_view name, std::string_view labels, double v) {
    out_ += name;
    if (!labels.empty()) out_ += fmt::format("{{{}}}", labels);
    out_ += fmt::format(" {}\n", v);
  }
  void sample(std::string_view name, std::string_view labels, std::uint64_t v) {
    out_ += name;
    if (!labels.empty()) out_ += fmt::format("{{{}}}", labels);
    out_ += fmt::format(" {}\n", v);
  }
  void sample(std::string_view name, std::string_view labels, std::int64_t v) {
    sample(name, labels, static_cast<double>(v));
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string key_labels(std::string_view stream, std::string_view domain, std::string_view selector) {
  return fmt::format("stream=\"{}\",domain=\"{}\",selector=\"{}\"", esc(stream), esc(domain), esc(selector));
}

void messages(Text& t, const Metrics& m) {
  t.family("signet_messages_total", "counter",
           "Messages by outcome (signed, skipped, unsigned, tempfailed, abandoned) and reason.");
  for (const Pair& p : outcome_pairs()) {
    t.sample("signet_messages_total",
             fmt::format("outcome=\"{}\",reason=\"{}\"", outcome_name(p.outcome), reason_name(p.reason)),
             m.messages(p.outcome, p.reason));
  }
  t.family("signet_connections_refused_total", "counter",
           "MTA connections not served because max-connections were open (their mail follows on-error).");
  t.sample("signet_connections_refused_total", "", m.connections_refused());
  t.family("signet_signing_duration_seconds", "histogram",
           "Time end of message spends signing a message: the digests and private-key operations of every key.");
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= Metrics::kBuckets.size(); ++i) {
    cumulative += m.bucket(i);
    const std::string le = i < Metrics::kBuckets.size() ? fmt::format("{}", Metrics::kBuckets[i]) : "+Inf";
    t.sample("signet_signing_duration_seconds_bucket", fmt::format("le=\"{}\"", le), cumulative);
  }
  t.sample("signet_signing_duration_seconds_sum", "", m.duration_sum());
  t.sample("signet_signing_duration_seconds_count", "", cumulative);
  t.family("signet_body_bytes_total", "counter", "Body bytes of the messages signed.");
  t.sample("signet_body_bytes_total", "", m.body_bytes());
}

void keys(Text& t, const Runtime& rt, const keystore::HiddenKeys& hidden, std::int64_t now) {
  const keystore::KeySnapshot& ks = *rt.keys;
  t.family("signet_signatures_total", "counter",
           "Signatures inserted, per key of the current key set that is not retired (a key's series goes when it "
           "leaves the set or retires).");
  std::map<std::string, const ledger::Slot*> ordered;  // a stable order for readers of the text
  for (const auto& [k, slot] : rt.slots) ordered.emplace(k, slot);
  for (const auto& [k, slot] : ordered) {
    const ledger::KeyId& id = slot->id();
    t.sample("signet_signatures_total",
             key_labels(id.stream, id.domain, id.selector) + fmt::format(",algorithm=\"{}\"", esc(id.algorithm)),
             slot->total());
  }

  std::map<keystore::KeyState, std::uint64_t> by_state;
  for (keystore::KeyState s : {keystore::KeyState::Standby, keystore::KeyState::Scheduled, keystore::KeyState::Active,
                               keystore::KeyState::Draining, keystore::KeyState::RetireDue,
                               keystore::KeyState::Retired}) {
    by_state[s] = 0;
  }
  // Per stream: the next instant its keys change, and when its active key is due for rotation.
  std::map<std::string, std::int64_t> cutover, rotation_due;
  for (std::size_t i = 0; i < ks.size(); ++i) {
    const keystore::KeyRow& r = ks.row(i);
    const keystore::KeyState state = r.state(now);
    ++by_state[state];
    if (state == keystore::KeyState::Retired || !ks.loaded(i)) continue;
    auto earliest = [&](std::map<std::string, std::int64_t>& m, std::int64_t at) {
      auto [it, fresh] = m.emplace(r.stream, at);
      if (!fresh) it->second = std::min(it->second, at);
    };
    if (r.window.is_scheduled() && r.window.from > now) earliest(cutover, r.window.from);
    if (r.window.is_scheduled() && r.window.until && *r.window.until > now) earliest(cutover, *r.window.until);
    if (state == keystore::KeyState::Active && r.window.is_scheduled() && !r.window.until) {
      const conf::Stream* s = rt.config.find_stream(r.stream);
      earliest(rotation_due, r.window.from + (s ? s->rotation.rotate_every : keystore::RotationPolicy{}.rotate_every));
    }
  }
  t.family("signet_keys", "gauge", "Keys of the current key set by state at the daemon's clock.");
  for (const auto& [state, n] : by_state) {
    t.sample("signet_keys", fmt::format("state=\"{}\"", keystore::state_name(state)), n);
  }
  t.family("signet_stream_next_cutover_seconds", "gauge",
           "Seconds until the stream's keys next change (a scheduled key starts or ends); only streams with one "
           "ahead.");
  for (const auto& [stream, at] : cutover) {
    t.sample("signet_stream_next_cutover_seconds", fmt::format("stream=\"{}\"", esc(stream)), at - now);
  }
  t.family("signet_stream_rotation_due_seconds", "gauge",
           "Seconds until the stream's active scheduled key is rotate-every old (negative: overdue); only streams "
           "whose keys `signet key` manages.");
  for (const auto& [stream, at] : rotation_due) {
    t.sample("signet_stream_rotation_due_seconds", fmt::format("stream=\"{}\"", esc(stream)), at - now);
  }
  t.family("signet_dns_record_visible", "gauge",
           "Per key cutting over within the hour (before or after): 1 when the DNS watch found its record, 0 when "
           "not (the key it replaces goes on signing); only with dns-check on.");
  if (rt.config.dns_check) {
    for (const auto& up : ks.upcoming(now, 3600)) {
      const bool hid = hidden.count(up.row.domain + "/" + up.row.selector) > 0;
      t.sample("signet_dns_record_visible", key_labels(up.row.stream, up.row.domain, up.row.selector),
               std::uint64_t{hid ? 0u : 1u});
    }
  }
}

}  // namespace

std::string_view outcome_name(Outcome o) {
  switch (o) {
    case Outcome::Signed: return "signed";
    case Outcome::Skipped: return "skipped";
    case Outcome::Unsigned: return "unsigned";
    case Outcome::Tempfailed: return "tempfailed";
    case Outcome::Abandoned: return "abandoned";
    case Outcome::kCount: break;
  }
  return "unknown";
}

std::string_view reason_name(Reason r) {
  switch (r) {
    case Reason::None: return "none";
    case Reason::Untrusted: return "untrusted";
    case Reason::NoStream: return "no_stream";
    case Reason::AlreadySigned: return "already_signed";
    case Reason::DryRun: return "dry_run";
    case Reason::HeaderLimit: return "header_limit";
    case Reason::BodyLimit: return "body_limit";
    case Reason::Malformed: return "malformed";
    case Reason::NoKey: return "no_key";
    case Reason::SigningFailed: return "signing_failed";
    case Reason::Aborted: return "aborted";
    case Reason::kCount: break;
  }
  return "unknown";
}

void Metrics::signed_message(double seconds, std::uint64_t body_bytes) {
  std::size_t i = 0;
  while (i < kBuckets.size() && seconds > kBuckets[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  duration_ns_.fetch_add(static_cast<std::uint64_t>(std::max(0.0, seconds) * 1e9), std::memory_order_relaxed);
  body_bytes_.fetch_add(body_bytes, std::memory_order_relaxed);
}

std::string render_metrics(const ScrapeInputs& in) {
  Text t;
  if (in.metrics) messages(t, *in.metrics);
  if (in.runtime) {
    static const keystore::HiddenKeys none;
    keys(t, *in.runtime, in.hidden ? *in.hidden : none, in.now);
  }
  t.family("signet_keyset_reloads_total", "counter", "Key set and configuration reloads, loaded or refused.");
  t.sample("signet_keyset_reloads_total", "result=\"ok\"", in.reloads_ok);
  t.sample("signet_keyset_reloads_total", "result=\"refused\"", in.reloads_refused);
  t.family("signet_keyset_last_load_timestamp_seconds", "gauge",
           "Unix time of the last key set loaded (at start or by a reload that was not refused).");
  t.sample("signet_keyset_last_load_timestamp_seconds", "", in.last_good_load);
  t.family("signet_connections_open", "gauge", "MTA connections open now.");
  t.sample("signet_connections_open", "", static_cast<std::uint64_t>(std::max(0, in.connections_open)));
  t.family("signet_clock_seconds", "gauge",
           "The daemon's clock, Unix time: the real time unless the test clock (SIGNET_TEST_CLOCK_FILE) is on.");
  t.sample("signet_clock_seconds", "", in.now);
  if (in.ledger) {
    t.family("signet_ledger_up", "gauge", "1 when the last ledger flush was written, 0 while the ledger fails.");
    t.sample("signet_ledger_up", "", std::uint64_t{in.ledger->up ? 1u : 0u});
    t.family("signet_ledger_write_errors_total", "counter", "Ledger flushes that failed (the counts wait in memory).");
    t.sample("signet_ledger_write_errors_total", "", in.ledger->write_errors);
    t.family("signet_ledger_pending_signatures", "gauge", "Signatures counted but not yet written to the ledger.");
    t.sample("signet_ledger_pending_signatures", "", in.ledger->pending);
    t.family("signet_ledger_last_flush_timestamp_seconds", "gauge",
             "Unix time of the last good ledger write (0: none yet).");
    t.sample("signet_ledger_last_flush_timestamp_seconds", "", in.ledger->last_flush);
  }
  return t.take();
}

}  // namespace signet::milter
