// keystore/key_row.h: the one key model, whose windows and states the
// planner, the snapshot and the CLI all read.
#include <gtest/gtest.h>

#include "keystore/key_row.h"

using namespace signet;
using namespace signet::keystore;

namespace {

KeyRow row(Window w) {
  KeyRow r;
  r.window = w;
  return r;
}

}  // namespace

TEST(Window, StandbyNeverSignsAlwaysAlwaysDoes) {
  for (std::int64_t t : {std::int64_t{0}, std::int64_t{1'000'000}, std::int64_t{9'000'000'000}}) {
    EXPECT_FALSE(Window::standby().contains(t));
    EXPECT_FALSE(Window::standby().started(t));
    EXPECT_TRUE(Window::always().contains(t));
    EXPECT_TRUE(Window::always().started(t));
  }
  EXPECT_FALSE(Window::standby().start().has_value());
  EXPECT_FALSE(Window::always().start().has_value());
}

TEST(Window, ScheduledIsHalfOpenFromUntil) {
  const Window w = Window::scheduled(1000, 2000);
  EXPECT_FALSE(w.contains(999));
  EXPECT_TRUE(w.contains(1000));
  EXPECT_TRUE(w.contains(1999));
  EXPECT_FALSE(w.contains(2000));
  EXPECT_TRUE(w.started(2500));  // started, over: draining or retire-due
  EXPECT_TRUE(Window::scheduled(1000).contains(9'000'000'000));  // open-ended
  EXPECT_EQ(w.start(), 1000);
}

TEST(Window, LaterStartWinsAndAlwaysIsOlderThanAnySchedule) {
  EXPECT_TRUE(Window::scheduled(2000).starts_after(Window::scheduled(1000)));
  EXPECT_FALSE(Window::scheduled(1000).starts_after(Window::scheduled(1000)));
  EXPECT_TRUE(Window::scheduled(0).starts_after(Window::always()));
  EXPECT_FALSE(Window::always().starts_after(Window::scheduled(0)));
  EXPECT_FALSE(Window::always().starts_after(Window::always()));
  EXPECT_FALSE(Window::standby().starts_after(Window::always()));
}

TEST(KeyRowState, FollowsTheLifecycleThroughItsWindowAndRetireAt) {
  KeyRow r = row(Window::scheduled(1000, 2000));
  r.retire_at = 3000;
  EXPECT_EQ(r.state(999), KeyState::Scheduled);
  EXPECT_EQ(r.state(1000), KeyState::Active);
  EXPECT_EQ(r.state(2000), KeyState::Draining);
  EXPECT_EQ(r.state(2999), KeyState::Draining);
  EXPECT_EQ(r.state(3000), KeyState::RetireDue);
  EXPECT_TRUE(r.record_live(2999));
  EXPECT_FALSE(r.record_live(3000));
  r.retired_at = 3100;
  EXPECT_EQ(r.state(1500), KeyState::Retired);  // retired is final, whatever the window says
  EXPECT_EQ(row(Window::standby()).state(5), KeyState::Standby);
  EXPECT_EQ(row(Window::always()).state(5), KeyState::Active);
  EXPECT_EQ(state_name(KeyState::RetireDue), "retire-due");
}

TEST(KeyRowState, DrainingWithoutRetireAtStaysDraining) {
  const KeyRow r = row(Window::scheduled(1000, 2000));
  EXPECT_EQ(r.state(9'000'000'000), KeyState::Draining);
}

TEST(ConfiguredSelector, IsAnAlwaysRowWhoseFileDecidesTheAlgorithm) {
  const KeyRow r = configured_selector("tx", "example.com", "sel1", "signet.conf [stream.tx]");
  EXPECT_TRUE(r.window.is_always());
  EXPECT_TRUE(r.algorithm_from_file);
  EXPECT_EQ(r.bits, 0);
  EXPECT_EQ(r.file, "example.com/sel1.key");
  EXPECT_EQ(r.dns_name(), "sel1._domainkey.example.com");
  EXPECT_EQ(r.state(0), KeyState::Active);
  EXPECT_EQ(r.origin, "signet.conf [stream.tx]");
}

TEST(KeyRowEquality, IgnoresWhereTheRowWasRead) {
  KeyRow a = row(Window::scheduled(10, 20));
  KeyRow b = a;
  b.origin = "elsewhere:3";
  EXPECT_TRUE(a == b);
  b.window.until = 21;
  EXPECT_FALSE(a == b);
}
