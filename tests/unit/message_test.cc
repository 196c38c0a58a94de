// signer/message.h: splitting messages, line endings, limits.
#include <gtest/gtest.h>

#include "signer/message.h"

using namespace signet;

TEST(NormalizeLineEndings, BareLfBecomesCrlfAndCrlfAndBareCrStay) {
  EXPECT_EQ(normalize_line_endings("a\nb\r\nc\rd\n"), "a\r\nb\r\nc\rd\r\n");
  EXPECT_EQ(normalize_line_endings("\n\n"), "\r\n\r\n");
}

TEST(ParseMessage, SplitsFieldsWithFoldingAndBody) {
  const std::string m = "From: a\r\nSubject: x\r\n\ty\r\nTo : z\r\n\r\nbody\r\n";
  auto p = parse_message(m);
  ASSERT_TRUE(p.ok());
  ASSERT_EQ(p->fields.size(), 3u);
  EXPECT_EQ(p->fields[1], "Subject: x\r\n\ty");
  EXPECT_EQ(p->fields[2], "To : z");
  EXPECT_EQ(p->body, "body\r\n");
  EXPECT_TRUE(p->has_separator);
}

TEST(ParseMessage, HeadersOnlyMessageHasEmptyBody) {
  auto p = parse_message("From: a\r\nTo: b\r\n");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->fields.size(), 2u);
  EXPECT_EQ(p->fields[1], "To: b");
  EXPECT_TRUE(p->body.empty());
  EXPECT_FALSE(p->has_separator);
}

TEST(ParseMessage, EmptyBodyAfterSeparator) {
  auto p = parse_message("From: a\r\n\r\n");
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(p->has_separator);
  EXPECT_TRUE(p->body.empty());
}

TEST(ParseMessage, RejectsLineThatIsNotAField) {
  auto p = parse_message("From: a\r\nthis is not a header\r\n\r\n");
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.error().message.substr(0, 7), "line 2:");
}

TEST(ParseMessage, RejectsContinuationBeforeAnyField) {
  auto p = parse_message(" folded\r\nFrom: a\r\n\r\n");
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("continuation"), std::string::npos);
}

TEST(ParseMessage, RejectsNulInHeaderButNotInBody) {
  EXPECT_FALSE(parse_message(std::string("From: a\0b\r\n\r\n", 12)).ok());
  auto p = parse_message(std::string("From: a\r\n\r\nx\0y\r\n", 16));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->body.size(), 5u);
}

TEST(ParseMessage, EnforcesFieldCountAndSizeLimits) {
  std::string many;
  for (int i = 0; i < 11; ++i) many += "X-A: 1\r\n";
  EXPECT_FALSE(parse_message(many, MessageLimits{10, 1000}).ok());
  EXPECT_TRUE(parse_message(many, MessageLimits{11, 1000}).ok());
  const std::string big = "Subject: " + std::string(2000, 'x') + "\r\n\r\n";
  auto p = parse_message(big, MessageLimits{10, 1000});
  ASSERT_FALSE(p.ok());
  EXPECT_NE(p.error().message.find("longer than 1000"), std::string::npos);
  const std::string folded = "Subject: x\r\n" + std::string(600, ' ') + "\r\n" + std::string(600, ' ') + "y\r\n\r\n";
  EXPECT_FALSE(parse_message(folded, MessageLimits{10, 1000}).ok());
}

TEST(Message, FinalCrlfIsAddedOnlyWhereTheLastLineLacksOne) {
  EXPECT_EQ(with_final_crlf("From: a\r\n\r\nabc  "), "From: a\r\n\r\nabc  \r\n");
  EXPECT_EQ(with_final_crlf("From: a\r\n\r\nabc\r\n"), "From: a\r\n\r\nabc\r\n");
  EXPECT_EQ(with_final_crlf("From: a"), "From: a\r\n");
  EXPECT_EQ(with_final_crlf(""), "");
}
