// base/rate_limit.h on a clock the test moves: the first N lines of a kind
// are written, the rest counted and summed up in one line when the interval
// ends (flush) or before the next line of that kind, and a new interval
// writes again; each kind has its own budget.
#include "base/rate_limit.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace signet {
namespace {

struct Logged {
  std::int64_t now = 1000;
  std::vector<std::string> lines;
  RateLimitedLog log{[this](std::string_view l) { lines.emplace_back(l); }, "refusals", {3, 60},
                     [this] { return now; }};
  void event(std::string_view kind, int n) {
    for (int i = 0; i < n; ++i) {
      const std::string why = std::string(kind) + " " + std::to_string(i);
      log.write(kind, "refused: " + why, why);
    }
  }
};

TEST(RateLimitedLog, WritesTheFirstLinesOfAnIntervalAndCountsTheRest) {
  Logged l;
  l.event("malformed", 5);
  ASSERT_EQ(l.lines, (std::vector<std::string>{"refused: malformed 0", "refused: malformed 1", "refused: malformed 2"}));
  l.now += 59;
  l.log.flush();  // the interval has not ended
  EXPECT_EQ(l.lines.size(), 3u);
  l.now += 1;
  l.log.flush();
  ASSERT_EQ(l.lines.size(), 4u);
  EXPECT_EQ(l.lines[3], "2 more refusals in the last 60 s not logged (last: malformed 4)");
  l.log.flush();  // said once
  EXPECT_EQ(l.lines.size(), 4u);
  // A new interval writes again.
  l.event("malformed", 1);
  ASSERT_EQ(l.lines.size(), 5u);
  EXPECT_EQ(l.lines[4], "refused: malformed 0");
}

TEST(RateLimitedLog, TheSummaryComesBeforeTheNextLineWithoutAFlush) {
  Logged l;
  l.event("malformed", 4);
  l.now += 300;  // no timer ran
  l.event("malformed", 1);
  ASSERT_EQ(l.lines.size(), 5u);
  EXPECT_EQ(l.lines[3], "1 more refusals in the last 300 s not logged (last: malformed 3)");
  EXPECT_EQ(l.lines[4], "refused: malformed 0");
}

TEST(RateLimitedLog, EachKindHasItsOwnBudget) {
  Logged l;
  l.event("malformed", 10);
  l.event("unknown key", 2);
  EXPECT_EQ(l.lines.size(), 5u);
  EXPECT_EQ(l.lines[3], "refused: unknown key 0");
  l.now += 60;
  l.log.flush();
  ASSERT_EQ(l.lines.size(), 6u);  // one summary: unknown key wrote all of its
  EXPECT_EQ(l.lines[5], "7 more refusals in the last 60 s not logged (last: malformed 9)");
}

TEST(RateLimitedLog, AnIntervalStartsAtItsFirstEvent) {
  Logged l;
  l.event("malformed", 1);
  l.now += 50;
  l.event("malformed", 4);  // lines 2 and 3 of the interval begun 50 s ago, then 2 counted
  EXPECT_EQ(l.lines.size(), 3u);
  l.now += 10;  // 60 s after the first
  l.log.flush();
  ASSERT_EQ(l.lines.size(), 4u);
  EXPECT_EQ(l.lines[3], "2 more refusals in the last 60 s not logged (last: malformed 3)");
}

}  // namespace
}  // namespace signet
