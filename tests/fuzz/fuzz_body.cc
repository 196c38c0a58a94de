// Body canonicalization (canon/body.h, RFC 6376 §3.4.3 / §3.4.4), differential.
//
// Input: one byte n (cuts, n % 16), n little-endian 16-bit cut positions, then
// the body. Checks, for simple and for relaxed:
//   - chunking: one update() over the body, the body split at the
//     fuzzer-chosen cuts, and the body fed one byte at a time (short bodies)
//     give byte-identical output, and input_bytes()/output_bytes() count it;
//   - relaxed agrees with reference_relaxed() below, written from RFC 6376
//     §3.4.4 as plainly as possible (lines split on CRLF, no state machine);
//     simple agrees with reference_simple() (§3.4.3);
//   - every SIMD scanner this CPU runs finds the same first special byte as
//     the scalar one, over the whole body and from every cut;
//   - canonicalizing the canonical form again changes nothing (idempotence;
//     for relaxed, from the second pass on when the last line had no CRLF).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "canon/body.h"
#include "fuzz_util.h"

using signet::canon::BodyCanonicalizer;
using signet::canon::Canon;
using signet::canon::StringSink;

namespace {

// §3.4.4 a: runs of WSP within a line become one SP; `strip` also drops the
// whitespace at the end of the line (a line is what a CRLF ends).
std::string reduce_whitespace(std::string_view line, bool strip) {
  std::string out = signet::fuzz::reduce_wsp(line);
  if (strip && !out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

// RFC 6376 §3.4.4, step by step. Only CRLF ends a line (a bare CR or LF is an
// ordinary byte). The last line, when no CRLF ends it, is compressed but not
// stripped (its whitespace is not "at the end of a line": the CRLF that b.
// adds comes after step a., as dkimpy reads it too).
std::string reference_relaxed(std::string_view body) {
  std::vector<std::string> lines;
  std::size_t pos = 0;
  for (std::size_t crlf; (crlf = body.find("\r\n", pos)) != std::string_view::npos; pos = crlf + 2) {
    lines.push_back(reduce_whitespace(body.substr(pos, crlf - pos), true));
  }
  const std::string last = reduce_whitespace(body.substr(pos), false);
  if (!last.empty()) {
    lines.push_back(last);  // b.: "If the body is non-empty but does not end with a CRLF, a CRLF is added."
  } else {
    while (!lines.empty() && lines.back().empty()) lines.pop_back();  // b.: trailing empty lines ignored
  }
  std::string out;
  for (const std::string& l : lines) out += l + "\r\n";
  return out;  // an empty body stays empty (errata 3192)
}

// RFC 6376 §3.4.3: trailing empty lines go; an empty body, or one whose last
// line has no CRLF, gets one.
std::string reference_simple(std::string_view body) {
  std::string out(body);
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  while (out.size() >= 4 && out.compare(out.size() - 4, 4, "\r\n\r\n") == 0) out.resize(out.size() - 2);
  return out;
}

std::string run(Canon c, std::string_view body, const std::vector<std::size_t>& cuts, bool bytewise) {
  StringSink sink;
  BodyCanonicalizer can(c, sink);
  if (bytewise) {
    for (char ch : body) can.update(std::string_view(&ch, 1));
  } else {
    std::size_t prev = 0;
    for (std::size_t cut : cuts) {
      can.update(body.substr(prev, cut - prev));
      can.update({});  // an empty chunk changes nothing
      prev = cut;
    }
    can.update(body.substr(prev));
  }
  can.finish();
  can.finish();  // a second finish() is a no-op
  FUZZ_CHECK(can.input_bytes() == body.size(), "input_bytes");
  FUZZ_CHECK(can.output_bytes() == sink.out.size(), "output_bytes");
  return std::move(sink.out);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  signet::fuzz::Reader in(data, size);
  const std::size_t ncuts = in.byte() % 16;
  std::vector<std::size_t> raw;
  for (std::size_t i = 0; i < ncuts; ++i) raw.push_back(in.u16());
  const std::string body(in.rest());
  std::vector<std::size_t> cuts;
  for (std::size_t r : raw) cuts.push_back(body.empty() ? 0 : r % (body.size() + 1));
  std::sort(cuts.begin(), cuts.end());

  for (Canon c : {Canon::Simple, Canon::Relaxed}) {
    const std::string whole = run(c, body, {}, false);
    FUZZ_CHECK(run(c, body, cuts, false) == whole, "chunked output differs from one update()");
    if (body.size() <= 4096) FUZZ_CHECK(run(c, body, {}, true) == whole, "byte-at-a-time output differs");
    const std::string ref = c == Canon::Relaxed ? reference_relaxed(body) : reference_simple(body);
    FUZZ_CHECK(whole == ref, c == Canon::Relaxed ? "relaxed differs from the RFC 6376 §3.4.4 reference"
                                                 : "simple differs from the RFC 6376 §3.4.3 reference");
    // Canonical text canonicalizes to itself, except where relaxed kept the
    // whitespace of an unterminated last line (it is stripped once a CRLF ends it).
    const std::string again = signet::canon::canonicalize_body(c, whole);
    const bool terminated = body.empty() || body.ends_with("\r\n");
    if (c == Canon::Simple || terminated) FUZZ_CHECK(again == whole, "canonical form is not a fixed point");
    FUZZ_CHECK(signet::canon::canonicalize_body(c, again) == again, "canonicalization is not idempotent");
  }

  const char* b = body.data();
  const char* e = b + body.size();
  const auto scanners = signet::canon::detail::relaxed_scanners_for_test();
  std::vector<std::size_t> starts = cuts;
  starts.push_back(0);
  for (std::size_t s : starts) {
    const char* expect = scanners.front()(b + s, e);
    for (auto scan : scanners) FUZZ_CHECK(scan(b + s, e) == expect, "a SIMD scanner disagrees with the scalar one");
    FUZZ_CHECK(signet::canon::find_relaxed_special(b + s, e) == expect, "find_relaxed_special");
  }
  return 0;
}
