// milter/header_text.h: header text between the MTA and signet, with and
// without SMFIP_HDR_LEADSPC, in both directions.
#include <gtest/gtest.h>

#include "milter/header_text.h"

using namespace signet::milter;

TEST(HeaderTextFromMta, WithLeadingSpaceTheValueIsExact) {
  EXPECT_EQ(field_from_mta("Subject", " hello", true), "Subject: hello");
  EXPECT_EQ(field_from_mta("Subject", "\thello", true), "Subject:\thello");
  EXPECT_EQ(field_from_mta("Subject", "hello", true), "Subject:hello");
}

TEST(HeaderTextFromMta, FoldingWithLfBecomesCrlf) {
  EXPECT_EQ(field_from_mta("Subject", " a\n\tb\r\n c", true), "Subject: a\r\n\tb\r\n c");
}

TEST(HeaderTextFromMta, WithoutLeadingSpaceTheEatenSpaceIsPutBack) {
  // Postfix and Sendmail eat one SP after the colon unless LEADSPC is negotiated.
  EXPECT_EQ(field_from_mta("Subject", "hello", false), "Subject: hello");
  EXPECT_EQ(field_from_mta("To", "a@example.org,\n b@example.org", false), "To: a@example.org,\r\n b@example.org");
}

TEST(HeaderTextToMta, CrsGoAndTheLeadingSpaceFollowsTheNegotiation) {
  const std::string value = "v=1; a=rsa-sha256;\r\n b=abc";
  EXPECT_EQ(value_to_mta(value, true), " v=1; a=rsa-sha256;\n b=abc");
  EXPECT_EQ(value_to_mta(value, false), "v=1; a=rsa-sha256;\n b=abc");
}
