// canon/body.h — RFC 6376 §3.4.3 / §3.4.4 body canonicalization, streaming.
//
// What it is: BodyCanonicalizer turns raw body bytes into their canonical
// form and hands the result to a ByteSink (in practice a SHA-256 context), so
// the body is never buffered: memory is constant whatever the body size.
//
// Calls:
//   BodyCanonicalizer c(Canon::Relaxed, sink);
//   c.update(chunk) ... ;   // chunks may be split anywhere: inside CRLF,
//                           // inside whitespace runs, inside trailing blank
//                           // lines; the output is byte-identical to one
//                           // update() over the whole body.
//   c.finish();             // REQUIRES: called once, after the last update().
//
// Promises:
//   - Trailing empty lines are counted, never buffered, and dropped at finish()
//     (RFC 6376 §3.4.3 / §3.4.4 b).
//   - Empty body (RFC 6376 §3.4.3, errata 3192 for §3.4.4): simple yields a
//     single CRLF, relaxed yields nothing.
//   - A non-empty body whose last line lacks CRLF gets one (§3.4.4); relaxed
//     compresses but does not strip whitespace on such an unterminated line,
//     in the order the RFC lists the steps (the same result dkimpy gives).
//   - Only CRLF ends a line. A bare CR or bare LF is an ordinary body byte;
//     callers that accept bare-LF input convert it before (see signer/message.h).
//   - input_bytes()/output_bytes() count in 64 bits.
// Fails: never; every byte sequence has a canonical form.
// Thread safety: one instance per message; no shared state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace signet::canon {

// RFC 6376 §3.4: the two canonicalization algorithms.
enum class Canon { Simple, Relaxed };

std::string_view to_string(Canon c);

// The one parser of canonicalization names, for c= and for every option
// that takes one. parse_canon("simple" | "relaxed"); nullopt otherwise
// (case-sensitive, as the RFC's ABNF gives them).
// parse_canonicalization("header/body"): (header, body); a lone header
// algorithm means simple for the body (RFC 6376 §3.5, c=).
std::optional<Canon> parse_canon(std::string_view name);
std::optional<std::pair<Canon, Canon>> parse_canonicalization(std::string_view text);

// Where canonical bytes go. Implementations must accept any split.
class ByteSink {
 public:
  virtual ~ByteSink() = default;
  virtual void write(std::string_view bytes) = 0;
};

// Appends to a std::string; for tests and small uses.
class StringSink final : public ByteSink {
 public:
  void write(std::string_view bytes) override { out.append(bytes); }
  std::string out;
};

class BodyCanonicalizer {
 public:
  BodyCanonicalizer(Canon canon, ByteSink& sink) : canon_(canon), sink_(sink) {}
  BodyCanonicalizer(const BodyCanonicalizer&) = delete;
  BodyCanonicalizer& operator=(const BodyCanonicalizer&) = delete;

  void update(std::string_view chunk);
  void finish();

  std::uint64_t input_bytes() const { return in_bytes_; }
  std::uint64_t output_bytes() const { return out_bytes_; }

 private:
  void slow(char c);
  void end_line();
  void before_content();  // emits counted blank lines and a pending space
  void emit(const char* p, std::size_t n);
  void emit_small(const char* p, std::size_t n);
  void flush_staging();

  Canon canon_;
  ByteSink& sink_;
  std::uint64_t in_bytes_ = 0;
  std::uint64_t out_bytes_ = 0;
  std::uint64_t blank_lines_ = 0;  // empty lines seen, not yet known to be trailing
  bool cr_pending_ = false;        // last byte was CR; the next decides CRLF or bare CR
  bool wsp_pending_ = false;       // relaxed: a whitespace run not yet emitted
  bool line_has_content_ = false;  // the current line has emitted bytes
  bool finished_ = false;
  // Small emits (CRLFs, single spaces) are staged so the sink sees few calls.
  static constexpr std::size_t kStaging = 16384;
  std::size_t staged_ = 0;
  char staging_[kStaging];
};

// The first byte in [p, end) where relaxed body output may differ from the
// input (see body.cc); end if none. Exposed for tests.
const char* find_relaxed_special(const char* p, const char* end);

namespace detail {
// Every scanner this CPU can run (scalar, SSE2, AVX2), so tests cover them all.
using RelaxedScanner = const char* (*)(const char*, const char*);
std::vector<RelaxedScanner> relaxed_scanners_for_test();
}  // namespace detail

// One-shot convenience: canonical form of a whole body.
std::string canonicalize_body(Canon canon, std::string_view body);

}  // namespace signet::canon
