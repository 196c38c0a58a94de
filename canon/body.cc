// RFC 6376 §3.4.3 (simple) and §3.4.4 (relaxed) body canonicalization as a
// byte-driven state machine. The fast paths pass runs of ordinary bytes to the
// sink untouched; only CR, and for relaxed SP/HTAB runs, take the slow path.
#include "canon/body.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace signet::canon {
namespace {

constexpr char kCrlf[] = "\r\n";

// Bytes the relaxed fast path must stop at: whitespace (may need compressing
// or stripping) and CR (may end a line).
constexpr std::array<bool, 256> make_relaxed_special() {
  std::array<bool, 256> t{};
  t[static_cast<unsigned char>(' ')] = true;
  t[static_cast<unsigned char>('\t')] = true;
  t[static_cast<unsigned char>('\r')] = true;
  return t;
}
constexpr std::array<bool, 256> kRelaxedSpecial = make_relaxed_special();

// Emits larger than this skip the staging buffer.
constexpr std::size_t kDirect = 256;

}  // namespace

std::string_view to_string(Canon c) { return c == Canon::Simple ? "simple" : "relaxed"; }

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

void BodyCanonicalizer::update(std::string_view chunk) {
  in_bytes_ += chunk.size();
  const char* p = chunk.data();
  const char* end = p + chunk.size();
  if (canon_ == Canon::Simple) {
    update_simple(p, end);
  } else {
    update_relaxed(p, end);
  }
  flush_staging();
}

void BodyCanonicalizer::update_simple(const char* p, const char* end) {
  while (p < end) {
    if (cr_pending_) {
      slow_simple(*p++);
      continue;
    }
    const void* cr = std::memchr(p, '\r', static_cast<std::size_t>(end - p));
    const char* stop = cr ? static_cast<const char*>(cr) : end;
    if (stop > p) {
      before_content();
      emit(p, static_cast<std::size_t>(stop - p));
      line_has_content_ = true;
      p = stop;
    }
    if (p < end) {  // *p == '\r'
      cr_pending_ = true;
      ++p;
    }
  }
}

// REQUIRES: cr_pending_.
void BodyCanonicalizer::slow_simple(char c) {
  cr_pending_ = false;
  if (c == '\n') {
    end_line();
    return;
  }
  // The CR was bare: an ordinary byte.
  before_content();
  emit_small("\r", 1);
  line_has_content_ = true;
  if (c == '\r') {
    cr_pending_ = true;
  } else {
    emit_small(&c, 1);
  }
}

void BodyCanonicalizer::update_relaxed(const char* p, const char* end) {
  while (p < end) {
    if (cr_pending_ || wsp_pending_) {
      slow_relaxed(*p++);
      continue;
    }
    const char* run = p;
    while (p < end) {
      const auto c = static_cast<unsigned char>(*p);
      if (!kRelaxedSpecial[c]) {
        ++p;
        continue;
      }
      // A single SP between two ordinary bytes is already canonical.
      if (c == ' ' && p + 1 < end && !kRelaxedSpecial[static_cast<unsigned char>(p[1])]) {
        p += 2;
        continue;
      }
      break;
    }
    if (p > run) {
      before_content();
      emit(run, static_cast<std::size_t>(p - run));
      line_has_content_ = true;
    }
    if (p < end) slow_relaxed(*p++);
  }
}

void BodyCanonicalizer::slow_relaxed(char c) {
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
  if (c == ' ' || c == '\t') {
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
