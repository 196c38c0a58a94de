// base/result.h — the result type every fallible call in signet returns.
//
// What it is: Result<T> holds either a value or an Error. Error carries a
// human message (what, where, what to do) and whether the failure is
// temporary (retrying may help: DNS timeout) or permanent (bad input), which
// maps straight onto an MTA reply. Exceptions never cross module boundaries;
// this is what crosses them instead.
//
// Use: `if (!r) return r.error();` / `r.value()` (REQUIRES: ok()).
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace signet {

struct Error {
  std::string message;
  bool temporary = false;
};

inline Error permanent_error(std::string message) { return Error{std::move(message), false}; }
inline Error temporary_error(std::string message) { return Error{std::move(message), true}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error error) : v_(std::move(error)) {}  // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For calls that return nothing on success.
struct Ok {};
using Status = Result<Ok>;

}  // namespace signet
