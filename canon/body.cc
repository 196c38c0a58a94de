// RFC 6376 §3.4.3 (simple) and §3.4.4 (relaxed) body canonicalization as a
// byte-driven state machine. The fast paths pass runs of ordinary bytes to the
// sink untouched; only CR, and for relaxed SP/HTAB runs, take the slow path.
#include "canon/body.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace signet::canon {
namespace {

constexpr char kCrlf[] = "\r\n";

// The relaxed scanner: the first byte that is a HTAB, or a SP followed by a
// byte <= 0x20 (SP, HTAB, CR, and rarer controls: a superset is harmless, the
// state machine then copies those bytes itself), or a SP as the chunk's last
// byte (what follows is unknown). SSE2 (16 bytes a step) is x86-64 baseline;
// AVX2 (32) is used when the CPU has it.
inline bool relaxed_special_at(const char* p, const char* end) {
  if (*p == '\t') return true;
  if (*p != ' ') return false;
  return p + 1 == end || static_cast<unsigned char>(p[1]) <= 0x20;
}

const char* scan_scalar(const char* p, const char* end) {
  while (p < end && !relaxed_special_at(p, end)) ++p;
  return p;
}

#if defined(__x86_64__)
const char* scan_sse2(const char* p, const char* end) {
  const __m128i sp = _mm_set1_epi8(' ');
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i ctl = _mm_set1_epi8(0x20);
  while (end - p >= 17) {  // the next-byte load reads p[16]
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i n = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 1));
    const __m128i n_low = _mm_cmpeq_epi8(_mm_min_epu8(n, ctl), n);  // n <= 0x20
    const __m128i special =
        _mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_and_si128(_mm_cmpeq_epi8(v, sp), n_low));
    const int mask = _mm_movemask_epi8(special);
    if (mask != 0) return p + __builtin_ctz(static_cast<unsigned>(mask));
    p += 16;
  }
  return scan_scalar(p, end);
}

__attribute__((target("avx2"))) inline std::uint32_t special_mask_avx2(const char* p) {
  const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
  const __m256i n = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 1));
  const __m256i n_low = _mm256_cmpeq_epi8(_mm256_min_epu8(n, _mm256_set1_epi8(0x20)), n);
  const __m256i special = _mm256_or_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8('\t')),
                                          _mm256_and_si256(_mm256_cmpeq_epi8(v, _mm256_set1_epi8(' ')), n_low));
  return static_cast<std::uint32_t>(_mm256_movemask_epi8(special));
}

__attribute__((target("avx2"))) const char* scan_avx2(const char* p, const char* end) {
  while (end - p >= 65) {  // 64 bytes a step, one branch
    const std::uint64_t mask = special_mask_avx2(p) | (std::uint64_t{special_mask_avx2(p + 32)} << 32);
    if (mask != 0) return p + __builtin_ctzll(mask);
    p += 64;
  }
  while (end - p >= 33) {
    const std::uint32_t mask = special_mask_avx2(p);
    if (mask != 0) return p + __builtin_ctz(mask);
    p += 32;
  }
  return scan_sse2(p, end);
}

using Scanner = const char* (*)(const char*, const char*);
const Scanner kScan = __builtin_cpu_supports("avx2") ? scan_avx2 : scan_sse2;
#else
const auto kScan = scan_scalar;
#endif

// Emits larger than this skip the staging buffer.
constexpr std::size_t kDirect = 4096;

}  // namespace

const char* find_relaxed_special(const char* p, const char* end) { return kScan(p, end); }

std::vector<detail::RelaxedScanner> detail::relaxed_scanners_for_test() {
#if defined(__x86_64__)
  std::vector<RelaxedScanner> v = {scan_scalar, scan_sse2};
  if (__builtin_cpu_supports("avx2")) v.push_back(scan_avx2);
  return v;
#else
  return {scan_scalar};
#endif
}

std::string_view to_string(Canon c) { return c == Canon::Simple ? "simple" : "relaxed"; }

std::optional<Canon> parse_canon(std::string_view name) {
  if (name == "simple") return Canon::Simple;
  if (name == "relaxed") return Canon::Relaxed;
  return std::nullopt;
}

std::optional<std::pair<Canon, Canon>> parse_canonicalization(std::string_view text) {
  const std::size_t slash = text.find('/');
  const auto header = parse_canon(text.substr(0, slash));
  const auto body = slash == std::string_view::npos ? std::optional<Canon>(Canon::Simple) : parse_canon(text.substr(slash + 1));
  if (!header || !body) return std::nullopt;
  return std::make_pair(*header, *body);
}

void BodyCanonicalizer::flush_staging() {
  if (staged_ > 0) {
    sink_.write(std::string_view(staging_, staged_));
    staged_ = 0;
  }
}

void BodyCanonicalizer::emit_small(const char* p, std::size_t n) {
  if (staged_ + n > kStaging) flush_staging();
  std::memcpy(staging_ + staged_, p, n);
  staged_ += n;
  out_bytes_ += n;
}

void BodyCanonicalizer::emit(const char* p, std::size_t n) {
  if (n < kDirect) {
    emit_small(p, n);
    return;
  }
  flush_staging();
  sink_.write(std::string_view(p, n));
  out_bytes_ += n;
}

// Blank lines counted so far turn out not to be trailing: emit them now.
// Then a pending whitespace run, reduced to one SP (§3.4.4 a).
void BodyCanonicalizer::before_content() {
  for (; blank_lines_ > 0; --blank_lines_) emit_small(kCrlf, 2);
  if (wsp_pending_) {
    emit_small(" ", 1);
    wsp_pending_ = false;
  }
}

// A CRLF ends the line. Whitespace before it is dropped (§3.4.4 a: "ignore
// all whitespace at the end of lines"); an empty line is only counted, since
// it is dropped if nothing follows (§3.4.3, §3.4.4 b).
void BodyCanonicalizer::end_line() {
  wsp_pending_ = false;
  if (line_has_content_) {
    emit_small(kCrlf, 2);
    line_has_content_ = false;
  } else {
    ++blank_lines_;
  }
}

// The fast path. Canonical output equals the input except around a few
// bytes; the scanner finds the next such byte, everything before it goes to
// the sink as one span (no copy), and the state machine takes over only for
// the bytes that need it:
//   relaxed: a HTAB, or a SP followed by SP/HTAB/CR/other control byte or by
//            the end of the chunk (§3.4.4 a: runs compress, trailing WSP goes);
//   both:    the CR/LF run at the end of a span, whose meaning (line end,
//            blank line that may be trailing, bare CR) depends on what follows.
// Blank lines in the middle of a span are followed by content, so they stay.
void BodyCanonicalizer::update(std::string_view chunk) {
  in_bytes_ += chunk.size();
  const char* p = chunk.data();
  const char* const end = p + chunk.size();
  while (p < end) {
    if (cr_pending_ || wsp_pending_) {
      slow(*p++);
      continue;
    }
    const char* q = canon_ == Canon::Simple ? end : find_relaxed_special(p, end);
    const char* r = q;
    while (r > p && (r[-1] == '\r' || r[-1] == '\n')) --r;
    if (r > p) {
      before_content();
      emit(p, static_cast<std::size_t>(r - p));
      line_has_content_ = true;
    }
    for (; r < q; ++r) slow(*r);
    if (q == end) break;
    if (canon_ == Canon::Relaxed && !cr_pending_) {
      // The two common cases, without the state machine. q is a WSP run's start.
      const char* j = q + 1;
      while (j < end && (*j == ' ' || *j == '\t')) ++j;
      if (end - j >= 2 && j[0] == '\r' && j[1] == '\n') {
        p = j;  // §3.4.4 a: whitespace at the end of a line is ignored
        continue;
      }
      if (j < end && static_cast<unsigned char>(*j) > 0x20) {
        before_content();  // §3.4.4 a: the run becomes one SP
        emit_small(" ", 1);
        line_has_content_ = true;
        p = j;
        continue;
      }
    }
    slow(*q);
    p = q + 1;
  }
  flush_staging();
}

// The state machine, one byte at a time: whatever the state, it yields the
// canonical form; the fast path above only skips it where it would copy.
void BodyCanonicalizer::slow(char c) {
  if (cr_pending_) {
    cr_pending_ = false;
    if (c == '\n') {
      end_line();
      return;
    }
    before_content();  // the CR was bare: an ordinary byte
    emit_small("\r", 1);
    line_has_content_ = true;
  }
  if (canon_ == Canon::Relaxed && (c == ' ' || c == '\t')) {
    wsp_pending_ = true;  // §3.4.4 a: a run of WSP becomes one SP, if content follows
    return;
  }
  if (c == '\r') {
    cr_pending_ = true;
    return;
  }
  before_content();
  emit_small(&c, 1);
  line_has_content_ = true;
}

void BodyCanonicalizer::finish() {
  if (finished_) return;
  finished_ = true;
  if (cr_pending_) {  // a CR as the very last byte is bare
    cr_pending_ = false;
    before_content();
    emit_small("\r", 1);
    line_has_content_ = true;
  }
  if (wsp_pending_) {  // relaxed: whitespace on an unterminated last line
    before_content();
    line_has_content_ = true;
  }
  if (line_has_content_) {
    emit_small(kCrlf, 2);  // §3.4.4: a CRLF is added to a body not ending in one
  } else if (canon_ == Canon::Simple && out_bytes_ == 0) {
    emit_small(kCrlf, 2);  // §3.4.3: an empty body is one CRLF
  }
  blank_lines_ = 0;  // trailing empty lines are dropped
  flush_staging();
}

std::string canonicalize_body(Canon canon, std::string_view body) {
  StringSink sink;
  BodyCanonicalizer c(canon, sink);
  c.update(body);
  c.finish();
  return std::move(sink.out);
}

}  // namespace signet::canon
