#include "ledger/counts.h"

#include <ctime>
#include <new>

#include <fmt/format.h>

namespace signet::ledger {
namespace {

constexpr std::uint64_t kCountMask = 0xffffffffu;

std::uint64_t pack(std::int64_t day, std::uint64_t count) {
  return (static_cast<std::uint64_t>(day) << 32) | count;
}
std::int64_t day_of(std::uint64_t word) { return static_cast<std::int64_t>(word >> 32); }

}  // namespace

std::int64_t day_number(std::int64_t t) {
  // Floor division: a time before the epoch belongs to the day before.
  return t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
}

std::string day_text(std::int64_t day) {
  const std::time_t t = static_cast<std::time_t>(day * 86400);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02}", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

Slot::~Slot() {
  for (Handoff* h = handoffs_.load(); h;) delete std::exchange(h, h->next);
}

void Slot::hand_off(std::uint64_t word) {
  // Only the adder whose CAS replaced `word` gets here, so this (day, count)
  // is handed off exactly once.
  auto* h = new (std::nothrow) Handoff{day_of(word), word & kCountMask, nullptr};
  if (!h) return;  // out of memory: these counts are lost rather than the signature
  h->next = handoffs_.load(std::memory_order_relaxed);
  while (!handoffs_.compare_exchange_weak(h->next, h, std::memory_order_release, std::memory_order_relaxed)) {
  }
}

void Slot::add(std::int64_t now) {
  total_.fetch_add(1, std::memory_order_relaxed);
  // Days before 1970 or after 2^32 days do not occur; clamp rather than wrap.
  const std::int64_t day = std::max<std::int64_t>(0, day_number(now)) & 0xffffffff;
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  for (;;) {
    const std::uint64_t count = w & kCountMask;
    if (count == 0 || (day_of(w) == day && count < kCountMask)) {
      const std::uint64_t next = pack(day, day_of(w) == day ? count + 1 : 1);
      if (word_.compare_exchange_weak(w, next, std::memory_order_relaxed)) return;
      continue;
    }
    // Another day's count (or a full word) is pending: start this day's and
    // hand the old one to the drain.
    if (word_.compare_exchange_weak(w, pack(day, 1), std::memory_order_relaxed)) {
      hand_off(w);
      return;
    }
  }
}

std::vector<std::pair<std::int64_t, std::uint64_t>> Slot::drain() {
  std::vector<std::pair<std::int64_t, std::uint64_t>> out;
  std::uint64_t w = word_.load(std::memory_order_relaxed);
  while ((w & kCountMask) != 0) {
    if (word_.compare_exchange_weak(w, pack(day_of(w), 0), std::memory_order_relaxed)) {
      out.emplace_back(day_of(w), w & kCountMask);
      break;
    }
  }
  for (Handoff* h = handoffs_.exchange(nullptr, std::memory_order_acquire); h;) {
    out.emplace_back(h->day, h->count);
    delete std::exchange(h, h->next);
  }
  return out;
}

Slot* SignatureCounts::slot(const KeyId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = index_.find(id); it != index_.end()) return it->second;
  Slot* s = &slots_.emplace_back(id);
  index_.emplace(id, s);
  return s;
}

void SignatureCounts::drain_all(const std::function<void(const KeyId&, std::int64_t, std::uint64_t)>& f) {
  std::vector<Slot*> all;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (Slot& s : slots_) all.push_back(&s);
  }
  for (Slot* s : all) {
    for (const auto& [day, count] : s->drain()) f(s->id(), day, count);
  }
}

std::size_t SignatureCounts::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return slots_.size();
}

}  // namespace signet::ledger
