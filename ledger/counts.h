// ledger/counts.h — signature counts gathered on the signing path without a
// lock, for the ledger's flush and the metrics' scrape to read.
//
// What it is: one Slot per (stream, d=, s=, algorithm) the daemon has loaded
// a key for, owned by one SignatureCounts for the life of the process (a
// reload adds slots for new keys, never moves or frees one, so a Runtime may
// hold plain pointers to them; unflushed counts of a key that left the key
// set are still flushed).
//
// Calls:
//   SignatureCounts::slot(key)  the slot for a key, created on first use.
//                               Takes a mutex: call it when a key set is
//                               loaded, never per message.
//   Slot::add(now)              one signature made at Unix time `now`:
//                               lock-free (a relaxed add for the total, one
//                               compare-and-swap for the day's count). The
//                               day is now's UTC day, so an injected clock
//                               moves it.
//   Slot::total()               signatures since start, monotonic (metrics).
//   Slot::drain()               the per-day counts added since the last
//                               drain, as (day number, count); only the
//                               flusher calls it (one thread).
//   SignatureCounts::drain_all(f)  drain() of every slot, f(key, day, count).
// How it works: the current day's count lives with its day number in one
// 64-bit word (day << 32 | count), so add() is one CAS. When a signature
// belongs to another day than the word holds (midnight, or a clock moved by a
// test), the adder swaps in the new day and hands the old (day, count) to a
// lock-free list the drain empties whole; nothing is lost or counted twice.
// Fails: never; a count of 2^32 - 1 in one day word between two drains
// (4 billion signatures in one flush interval) would need a second word and
// is handed off like a day change.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace signet::ledger {

struct KeyId {
  std::string stream, domain, selector, algorithm;  // algorithm: "rsa-sha256" | "ed25519-sha256"
  auto operator<=>(const KeyId&) const = default;
};

// The UTC day number of Unix time t (days since 1970-01-01), and its
// "YYYY-MM-DD" spelling.
std::int64_t day_number(std::int64_t t);
std::string day_text(std::int64_t day);

class Slot {
 public:
  explicit Slot(KeyId id) : id_(std::move(id)) {}
  Slot(const Slot&) = delete;
  Slot& operator=(const Slot&) = delete;
  ~Slot();

  void add(std::int64_t now);
  std::uint64_t total() const { return total_.load(std::memory_order_relaxed); }
  std::vector<std::pair<std::int64_t, std::uint64_t>> drain();
  const KeyId& id() const { return id_; }

 private:
  struct Handoff {
    std::int64_t day;
    std::uint64_t count;
    Handoff* next;
  };
  void hand_off(std::uint64_t word);

  KeyId id_;
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> word_{0};  // day << 32 | count; count 0 means nothing pending
  std::atomic<Handoff*> handoffs_{nullptr};
};

class SignatureCounts {
 public:
  Slot* slot(const KeyId& id);
  void drain_all(const std::function<void(const KeyId&, std::int64_t day, std::uint64_t count)>& f);
  std::size_t size() const;

 private:
  mutable std::mutex mu_;
  std::deque<Slot> slots_;  // a deque: addresses stay put as it grows
  std::map<KeyId, Slot*> index_;
};

}  // namespace signet::ledger
