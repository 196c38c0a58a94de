// milter/metrics.h — what signet-milter counts, and its Prometheus text.
//
// What it is: the message counters (by outcome and reason, both from the
// fixed enums below, so the label values are a closed set), the signing
// latency histogram and the body byte count, as relaxed atomics the signing
// path bumps; and render_metrics(), which a scrape calls (milter/metrics_server.h)
// to write every metric in the Prometheus text format 0.0.4 from those
// atomics, the per-key signature slots (ledger/counts.h) of the current
// Runtime, and what the scrape reads itself from the current Runtime (keys by
// state, cutover and rotation countdowns, the DNS watch's hidden set).
// docs/observability.md lists every metric and the bound on its series.
//
// Calls:
//   Metrics::message(outcome, reason)   one message finished so
//   Metrics::signed_message(seconds, body_bytes)  one signed message's
//                                        signing time (end of message) and body
//   render_metrics(inputs)               the exposition text
// Why no lock: the signing path only does relaxed fetch_add on atomics that
// exist for the life of the process (or of the slots, which never move), and
// a scrape only loads them; neither ever waits for the other.
// Fails: never.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "milter/runtime.h"

namespace signet::milter {

enum class Outcome { Signed, Skipped, Unsigned, Tempfailed, Abandoned, kCount };
enum class Reason {
  None,             // signed
  Untrusted,        // skipped: not our mail
  NoStream,         // skipped: trusted, no rule matched
  AlreadySigned,    // skipped: re-injected, carries our signature
  DryRun,           // skipped: every stream in dry-run (signed and dropped)
  HeaderLimit,      // unsigned/tempfailed: max-headers, max-header-bytes, max-total-header-bytes
  BodyLimit,        // max-body-bytes
  Malformed,        // NUL in a field, MTA events out of order
  NoKey,            // the stream has no key at that instant
  SigningFailed,    // the signer refused (no From, two From, max-signed-headers, ...)
  Aborted,          // abandoned: the MTA aborted, the connection closed or timed out mid-message
  kCount
};
std::string_view outcome_name(Outcome o);
std::string_view reason_name(Reason r);

class Metrics {
 public:
  // Upper bounds of the latency buckets, seconds (+Inf is implied).
  static constexpr std::array<double, 14> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                      0.1,    0.25,  0.5,    1,     2.5,  5,     10};

  void message(Outcome o, Reason r) {
    messages_[static_cast<int>(o)][static_cast<int>(r)].fetch_add(1, std::memory_order_relaxed);
  }
  void signed_message(double seconds, std::uint64_t body_bytes);
  void connection_refused() { connections_refused_.fetch_add(1, std::memory_order_relaxed); }

  std::uint64_t messages(Outcome o, Reason r) const {
    return messages_[static_cast<int>(o)][static_cast<int>(r)].load(std::memory_order_relaxed);
  }
  // Histogram: per-bucket counts (not cumulative; the last is +Inf), sum, count.
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  double duration_sum() const { return static_cast<double>(duration_ns_.load(std::memory_order_relaxed)) / 1e9; }
  std::uint64_t body_bytes() const { return body_bytes_.load(std::memory_order_relaxed); }
  std::uint64_t connections_refused() const { return connections_refused_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> messages_[static_cast<int>(Outcome::kCount)][static_cast<int>(Reason::kCount)] = {};
  std::atomic<std::uint64_t> buckets_[kBuckets.size() + 1] = {};
  std::atomic<std::uint64_t> duration_ns_{0}, body_bytes_{0}, connections_refused_{0};
};

// Everything a scrape reports that is not in Metrics: read by the caller at
// scrape time (milter/main.cc), values only, so render_metrics is a pure
// function of its input (unit-tested).
struct ScrapeInputs {
  const Metrics* metrics = nullptr;
  std::shared_ptr<const Runtime> runtime;             // the current one
  std::shared_ptr<const keystore::HiddenKeys> hidden;  // the DNS watch's, as of its last check
  std::int64_t now = 0;                                // Clock::now()
  int connections_open = 0;
  std::uint64_t reloads_ok = 0, reloads_refused = 0;
  std::int64_t last_good_load = 0;  // Unix time (real clock) of the last key set loaded, start included
  struct Ledger {
    bool up = true;
    std::uint64_t write_errors = 0, pending = 0;
    std::int64_t last_flush = 0;
  };
  std::optional<Ledger> ledger;  // nullopt: ledger-file is empty (off)
};

std::string render_metrics(const ScrapeInputs& in);

}  // namespace signet::milter
