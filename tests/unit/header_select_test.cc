// signer/header_select.h: h= with oversigning, bottom-up selection (RFC 6376 §5.4.2).
#include <gtest/gtest.h>

#include "signer/header_select.h"

using namespace signet;

namespace {
std::vector<std::string> h_for(const std::vector<std::string_view>& fields, HeaderPolicy p) {
  auto h = build_h_list(fields, normalize_policy(std::move(p)));
  EXPECT_TRUE(h.ok()) << (h.ok() ? "" : h.error().message);
  return h.ok() ? h.value() : std::vector<std::string>{};
}
}  // namespace

TEST(HeaderSelect, AlwaysOversignsFromSubjectToDateEvenIfPolicyOmitsThem) {
  const std::vector<std::string_view> fields = {"From: a@example.com", "Subject: s", "X-Other: 1"};
  const auto h = h_for(fields, HeaderPolicy{{"x-other"}, {}});
  const std::vector<std::string> want = {"from", "from", "subject", "subject", "to", "date", "x-other"};
  EXPECT_EQ(h, want);
}

TEST(HeaderSelect, OversignedNamesListedOneMoreThanTheyOccur) {
  const std::vector<std::string_view> fields = {"From: a@example.com", "Subject: 1", "Subject: 2",
                                                "To: x", "Cc: y", "Cc: z"};
  const auto h = h_for(fields, HeaderPolicy{{"cc"}, {"cc"}});
  EXPECT_EQ(std::count(h.begin(), h.end(), "subject"), 3);
  EXPECT_EQ(std::count(h.begin(), h.end(), "cc"), 3);
  EXPECT_EQ(std::count(h.begin(), h.end(), "to"), 2);
  EXPECT_EQ(std::count(h.begin(), h.end(), "date"), 1);  // absent: signed as absent
}

TEST(HeaderSelect, SignedButNotOversignedNamesListedOncePerOccurrence) {
  const std::vector<std::string_view> fields = {"From: a@example.com", "Received: 1", "Received: 2"};
  const auto h = h_for(fields, HeaderPolicy{{"received", "message-id"}, {}});
  EXPECT_EQ(std::count(h.begin(), h.end(), "received"), 2);
  EXPECT_EQ(std::count(h.begin(), h.end(), "message-id"), 0);
}

TEST(HeaderSelect, NamesMatchCaseInsensitively) {
  const std::vector<std::string_view> fields = {"fRoM: a@example.com", "SUBJECT: s"};
  const auto h = h_for(fields, HeaderPolicy{{"Subject"}, {"SUBJECT"}});
  EXPECT_EQ(std::count(h.begin(), h.end(), "subject"), 2);
}

TEST(HeaderSelect, RefusesMessageWithoutFrom) {
  const std::vector<std::string_view> fields = {"To: x", "Subject: s"};
  auto h = build_h_list(fields, normalize_policy(default_header_policy()));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("no From"), std::string::npos);
}

TEST(HeaderSelect, RefusesMessageWithTwoFroms) {
  const std::vector<std::string_view> fields = {"From: a@example.com", "From: b@example.com"};
  auto h = build_h_list(fields, normalize_policy(default_header_policy()));
  ASSERT_FALSE(h.ok());
  EXPECT_NE(h.error().message.find("2 From"), std::string::npos);
}

TEST(PickFields, SelectsBottomUpAndNothingForExtraInstances) {
  const std::vector<std::string_view> fields = {"Subject: first", "From: a", "subject: second"};
  const auto picked = pick_fields(fields, {"subject", "subject", "subject", "from"});
  ASSERT_EQ(picked.size(), 4u);
  EXPECT_EQ(*picked[0], "subject: second");
  EXPECT_EQ(*picked[1], "Subject: first");
  EXPECT_EQ(picked[2], nullptr);
  EXPECT_EQ(*picked[3], "From: a");
}

TEST(PickFields, HandlesOneHundredThousandFields) {
  std::vector<std::string> storage;
  for (int i = 0; i < 100000; ++i) storage.push_back("X-N: " + std::to_string(i));
  storage.push_back("From: a");
  const std::vector<std::string_view> fields(storage.begin(), storage.end());
  auto h = build_h_list(fields, normalize_policy(HeaderPolicy{{"x-n"}, {}}));
  ASSERT_TRUE(h.ok());
  const auto picked = pick_fields(fields, h.value());
  EXPECT_EQ(picked.size(), 100000u + 2 + 1 + 1 + 1);  // x-n, from x2, subject, to, date
}
