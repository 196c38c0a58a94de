// RFC 6376 §3.4.3 / §3.4.4 body canonicalization, and the streaming property:
// chunks split anywhere give exactly what one update() over the body gives.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "canon/body.h"
#include "signer/message.h"
#include "test_util.h"

using signet::canon::Canon;
using signet::canon::canonicalize_body;

namespace {

std::string chunked(Canon c, const std::string& body, const std::vector<std::size_t>& cuts) {
  signet::canon::StringSink sink;
  signet::canon::BodyCanonicalizer can(c, sink);
  std::size_t prev = 0;
  for (std::size_t cut : cuts) {
    can.update(std::string_view(body).substr(prev, cut - prev));
    prev = cut;
  }
  can.update(std::string_view(body).substr(prev));
  can.finish();
  return sink.out;
}

}  // namespace

TEST(SimpleBody, EmptyBodyIsOneCrlf) { EXPECT_EQ(canonicalize_body(Canon::Simple, ""), "\r\n"); }

TEST(RelaxedBody, EmptyBodyIsNothing) { EXPECT_EQ(canonicalize_body(Canon::Relaxed, ""), ""); }

TEST(SimpleBody, OnlyBlankLinesBecomeOneCrlf) {
  EXPECT_EQ(canonicalize_body(Canon::Simple, "\r\n\r\n\r\n"), "\r\n");
}

TEST(RelaxedBody, OnlyBlankLinesBecomeNothing) {
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "\r\n\r\n\r\n"), "");
}

TEST(RelaxedBody, WhitespaceOnlyLinesAtEndAreBlank) {
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "a\r\n \t \r\n\t\r\n"), "a\r\n");
}

TEST(SimpleBody, WhitespaceOnlyLinesAreKept) {
  EXPECT_EQ(canonicalize_body(Canon::Simple, "a\r\n \t \r\n\r\n"), "a\r\n \t \r\n");
}

TEST(SimpleBody, DropsTrailingEmptyLinesOnly) {
  EXPECT_EQ(canonicalize_body(Canon::Simple, "a\r\n\r\nb\r\n\r\n\r\n"), "a\r\n\r\nb\r\n");
}

TEST(SimpleBody, AddsCrlfToUnterminatedLastLine) {
  EXPECT_EQ(canonicalize_body(Canon::Simple, "a\r\nb"), "a\r\nb\r\n");
}

TEST(RelaxedBody, CollapsesWhitespaceRuns) {
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "a  \t b\tc\r\n"), "a b c\r\n");
}

TEST(RelaxedBody, StripsWhitespaceAtEndOfLines) {
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "a \t\r\nb \r\n"), "a\r\nb\r\n");
}

TEST(RelaxedBody, KeepsLeadingWhitespaceAsOneSpace) {
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "  \ta\r\n"), " a\r\n");
}

TEST(RelaxedBody, RfcSection3_4_5Example) {
  // RFC 6376 §3.4.5: " C \r\nD \t E\r\n\r\n\r\n" -> " C\r\nD E\r\n"
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, " C \r\nD \t E\r\n\r\n\r\n"), " C\r\nD E\r\n");
  EXPECT_EQ(canonicalize_body(Canon::Simple, " C \r\nD \t E\r\n\r\n\r\n"), " C \r\nD \t E\r\n");
}

TEST(RelaxedBody, UnterminatedLastLineKeepsCompressedWhitespace) {
  // §3.4.4 step order (and dkimpy): only WSP before a CRLF is stripped.
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "a  "), "a \r\n");
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "a\r\n\r\n  "), "a\r\n\r\n \r\n");
}

TEST(SimpleBody, BareCrAndBareLfAreOrdinaryBytes) {
  EXPECT_EQ(canonicalize_body(Canon::Simple, "a\rb\nc\r\n"), "a\rb\nc\r\n");
  EXPECT_EQ(canonicalize_body(Canon::Simple, "a\r\r\n"), "a\r\r\n");
  EXPECT_EQ(canonicalize_body(Canon::Simple, "a\r"), "a\r\r\n");
}

TEST(RelaxedBody, BareCrIsContentAndKeepsWhitespaceBeforeIt) {
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "a \rb\r\n"), "a \rb\r\n");
  EXPECT_EQ(canonicalize_body(Canon::Relaxed, "a \r \r\n"), "a \r\r\n");
}

TEST(BodyCanonicalizer, CountsBytesIn64Bits) {
  signet::canon::StringSink sink;
  signet::canon::BodyCanonicalizer c(Canon::Relaxed, sink);
  c.update("a  b\r\n\r\n");
  c.finish();
  EXPECT_EQ(c.input_bytes(), 8u);
  EXPECT_EQ(c.output_bytes(), sink.out.size());
}

TEST(BodyCanonicalizer, TrailingBlankLinesAreCountedNotBuffered) {
  // Ten million blank lines: output stays empty until content arrives, and the
  // sink never sees them when none does.
  signet::canon::StringSink sink;
  signet::canon::BodyCanonicalizer c(Canon::Relaxed, sink);
  std::string lines;
  for (int i = 0; i < 100000; ++i) lines += "\r\n";
  for (int i = 0; i < 100; ++i) c.update(lines);
  EXPECT_EQ(sink.out.size(), 0u);
  c.finish();
  EXPECT_EQ(sink.out, "");
}

// The tricky bodies the splitting property runs over, beyond the corpus.
const std::vector<std::string>& tricky_bodies() {
  static const std::vector<std::string> bodies = {
      "",
      "\r\n",
      "\r\n\r\n\r\n",
      "a",
      "a ",
      " \t ",
      "a\r\nb\r\n",
      "a \t \r\n \r\n\t\r\nb  c \r\n\r\n\r\n",
      "line with trailing spaces   \r\n\r\n   \r\n",
      "\r\r\n\r\r\r\n \r \r\n",
      "x\r",
      "x \r",
      "\n\n a\n\r\n",
      "tab\there\t\t\tand  spaces  \r\nend",
      std::string(300, ' ') + "\r\n" + std::string(300, 'x') + std::string(300, '\t') + "\r\n\r\n",
  };
  return bodies;
}

TEST(BodyCanonicalizer, SplitAtEveryOffsetMatchesOneShot) {
  for (Canon c : {Canon::Simple, Canon::Relaxed}) {
    for (const std::string& body : tricky_bodies()) {
      const std::string whole = canonicalize_body(c, body);
      for (std::size_t i = 0; i <= body.size(); ++i) {
        ASSERT_EQ(chunked(c, body, {i}), whole) << "canon " << to_string(c) << " split at " << i;
      }
    }
  }
}

TEST(BodyCanonicalizer, ByteAtATimeMatchesOneShot) {
  for (Canon c : {Canon::Simple, Canon::Relaxed}) {
    for (const std::string& body : tricky_bodies()) {
      std::vector<std::size_t> cuts;
      for (std::size_t i = 1; i < body.size(); ++i) cuts.push_back(i);
      ASSERT_EQ(chunked(c, body, cuts), canonicalize_body(c, body));
    }
  }
}

// Every corpus body, split at every offset (small bodies) or at a stride plus
// random multi-splits (large ones), yields the same canonical bytes, hence bh=.
TEST(BodyCanonicalizer, CorpusBodiesSplitAnywhereGiveSameResult) {
  const auto files = signet::testing::corpus_files();
  ASSERT_GE(files.size(), 30u) << "tests/corpus should hold the tricky-message corpus";
  std::mt19937 rng(20261126);
  for (const std::string& path : files) {
    const std::string msg = signet::normalize_line_endings(signet::testing::read_file(path));
    auto parsed = signet::parse_message(msg);
    ASSERT_TRUE(parsed.ok()) << path << ": " << parsed.error().message;
    const std::string body(parsed->body);
    for (Canon c : {Canon::Simple, Canon::Relaxed}) {
      const std::string whole = canonicalize_body(c, body);
      const std::size_t stride = body.size() > 20000 ? body.size() / 997 + 1 : 1;
      for (std::size_t i = 0; i <= body.size(); i += stride) {
        ASSERT_EQ(chunked(c, body, {i}), whole) << path << " split at " << i;
      }
      for (int round = 0; round < 50; ++round) {
        std::vector<std::size_t> cuts;
        const int n = std::uniform_int_distribution<int>(1, 64)(rng);
        for (int k = 0; k < n && !body.empty(); ++k) {
          cuts.push_back(std::uniform_int_distribution<std::size_t>(0, body.size())(rng));
        }
        std::sort(cuts.begin(), cuts.end());
        ASSERT_EQ(chunked(c, body, cuts), whole) << path << " random split round " << round;
      }
    }
  }
}

// A reference implementation written straight from the RFC's steps, the way
// dkimpy does it (regular expressions over the whole body), for differential
// testing of the streaming, SIMD-scanned one.
namespace {

std::string reference_body(Canon c, std::string body) {
  auto strip_trailing_crlfs = [](std::string& b) {
    while (b.size() >= 2 && b.compare(b.size() - 2, 2, "\r\n") == 0) b.resize(b.size() - 2);
  };
  if (c == Canon::Relaxed) {
    // §3.4.4 a: WSP before CRLF removed, then WSP runs to one SP.
    std::string out;
    for (std::size_t i = 0; i < body.size();) {
      if (body[i] == ' ' || body[i] == '\t') {
        std::size_t j = i;
        while (j < body.size() && (body[j] == ' ' || body[j] == '\t')) ++j;
        if (!(j + 1 < body.size() + 1 && body.compare(j, 2, "\r\n") == 0)) out.push_back(' ');
        i = j;
      } else {
        out.push_back(body[i++]);
      }
    }
    body = out;
    strip_trailing_crlfs(body);  // §3.4.4 b
    return body.empty() ? body : body + "\r\n";
  }
  strip_trailing_crlfs(body);  // §3.4.3
  return body + "\r\n";
}

}  // namespace

TEST(BodyCanonicalizer, MatchesReferenceOnRandomLongBodies) {
  std::mt19937 rng(6376);
  const char alphabet[] = {'a', 'b', ' ', ' ', '\t', '\r', '\n', '\r', '\n', 'x', '\x01', ' '};
  for (int round = 0; round < 3000; ++round) {
    const std::size_t len = std::uniform_int_distribution<std::size_t>(0, 200)(rng);
    std::string body;
    // Mostly text with rare specials, so SIMD steps run both clean and dirty.
    const int density = std::uniform_int_distribution<int>(1, 40)(rng);
    for (std::size_t i = 0; i < len; ++i) {
      body.push_back(std::uniform_int_distribution<int>(0, density)(rng) == 0
                         ? alphabet[std::uniform_int_distribution<std::size_t>(0, sizeof alphabet - 1)(rng)]
                         : static_cast<char>('c' + i % 20));
    }
    for (Canon c : {Canon::Simple, Canon::Relaxed}) {
      const std::string want = reference_body(c, body);
      ASSERT_EQ(canonicalize_body(c, body), want) << "round " << round << " canon " << to_string(c);
      const std::size_t cut = body.empty() ? 0 : std::uniform_int_distribution<std::size_t>(0, body.size())(rng);
      ASSERT_EQ(chunked(c, body, {cut}), want) << "round " << round << " cut " << cut;
    }
  }
}

TEST(RelaxedScanner, EverySimdVariantAgreesWithScalarAtEveryAlignment) {
  const auto scanners = signet::canon::detail::relaxed_scanners_for_test();
  ASSERT_GE(scanners.size(), 1u);
  for (const char* special : {"\t", "  ", " \t", " \r", " \n", " \x01"}) {
    for (std::size_t pos = 0; pos < 80; ++pos) {
      for (std::size_t len = pos + 2; len < pos + 40; len += 7) {
        std::string s(len, 'a');
        for (std::size_t i = 3; i < len; i += 5) s[i] = ' ';  // single spaces: not special
        s.replace(pos, std::strlen(special), special);
        const char* b = s.data();
        const char* want = scanners[0](b, b + s.size());
        for (auto scan : scanners) ASSERT_EQ(scan(b, b + s.size()), want) << "pos " << pos << " len " << len;
        ASSERT_LE(want - b, static_cast<std::ptrdiff_t>(pos));
      }
    }
  }
}

TEST(RelaxedScanner, SpaceAsLastByteIsSpecial) {
  const std::string s = std::string(100, 'a') + " ";
  for (auto scan : signet::canon::detail::relaxed_scanners_for_test()) {
    EXPECT_EQ(scan(s.data(), s.data() + s.size()), s.data() + 100);
  }
}
