// signer/tag_list.h and signer/base64.h.
#include <gtest/gtest.h>

#include "signer/base64.h"
#include "signer/tag_list.h"

using namespace signet;

TEST(TagList, ParsesWithFoldingWhitespaceAndTrailingSemicolon) {
  auto t = parse_tag_list(" v=1;\r\n a = rsa-sha256 ;\tb=AB\r\n CD ;");
  ASSERT_TRUE(t.ok());
  ASSERT_EQ(t->tags.size(), 3u);
  EXPECT_EQ(t->find("a")->value, "rsa-sha256");
  EXPECT_EQ(strip_fws(t->find("b")->value), "ABCD");
}

TEST(TagList, SpanCoversValueAndSurroundingWhitespace) {
  const std::string text = "a=1; b= XY\r\n Z ; c=2";
  auto t = parse_tag_list(text).value();
  const Tag* b = t.find("b");
  EXPECT_EQ(text.substr(b->span_begin, b->span_end - b->span_begin), " XY\r\n Z ");
}

TEST(TagList, RejectsDuplicatesMissingEqualsAndBadNames) {
  EXPECT_FALSE(parse_tag_list("a=1; a=2").ok());
  EXPECT_FALSE(parse_tag_list("a=1; junk").ok());
  EXPECT_FALSE(parse_tag_list("1a=1").ok());
  EXPECT_FALSE(parse_tag_list("a=1;;b=2").ok());
}

TEST(TagList, SplitsColonListsTrimmingFws) {
  const std::vector<std::string> want = {"from", "to", "subject"};
  EXPECT_EQ(split_colon_list("from : to :\r\n subject"), want);
}

TEST(Base64, RoundTripsAllLengths) {
  std::string bytes;
  for (int n = 0; n < 70; ++n) {
    EXPECT_EQ(base64::decode(base64::encode(bytes)).value(), bytes);
    bytes.push_back(static_cast<char>(n * 37));
  }
}

TEST(Base64, IgnoresFoldingWhitespaceAndRejectsJunk) {
  EXPECT_EQ(base64::decode("aGVs\r\n bG8=").value(), "hello");
  EXPECT_FALSE(base64::decode("aGVs!G8=").has_value());
  EXPECT_FALSE(base64::decode("aGVsbG8=x").has_value());
  EXPECT_FALSE(base64::decode("a").has_value());
}
