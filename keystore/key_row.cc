#include "keystore/key_row.h"

namespace signet::keystore {

bool Window::starts_after(const Window& o) const {
  // Standby never signs; always has signed since before any schedule.
  if (!is_scheduled()) return false;
  return !o.is_scheduled() || from > o.from;
}

std::string_view state_name(KeyState s) {
  switch (s) {
    case KeyState::Standby: return "standby";
    case KeyState::Scheduled: return "scheduled";
    case KeyState::Active: return "active";
    case KeyState::Draining: return "draining";
    case KeyState::RetireDue: return "retire-due";
    case KeyState::Retired: return "retired";
  }
  return "retired";
}

KeyState KeyRow::state(std::int64_t now) const {
  if (retired_at) return KeyState::Retired;
  if (window.is_standby()) return KeyState::Standby;
  if (!window.started(now)) return KeyState::Scheduled;
  if (window.contains(now)) return KeyState::Active;
  if (record_live(now)) return KeyState::Draining;
  return KeyState::RetireDue;
}

bool KeyRow::operator==(const KeyRow& o) const {
  return stream == o.stream && domain == o.domain && selector == o.selector && algorithm == o.algorithm &&
         bits == o.bits && algorithm_from_file == o.algorithm_from_file && owner == o.owner && file == o.file &&
         created == o.created && published_at == o.published_at && window == o.window && retire_at == o.retire_at &&
         retired_at == o.retired_at;
}

KeyRow configured_selector(const std::string& stream, const std::string& domain, const std::string& selector,
                           const std::string& origin) {
  KeyRow row;
  row.stream = stream;
  row.domain = domain;
  row.selector = selector;
  row.algorithm_from_file = true;
  row.file = domain + "/" + selector + ".key";
  row.window = Window::always();
  row.origin = origin;
  return row;
}

}  // namespace signet::keystore
