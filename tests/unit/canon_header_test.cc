// RFC 6376 §3.4.1 / §3.4.2 header canonicalization.
#include <gtest/gtest.h>

#include "canon/header.h"

using signet::canon::Canon;
using signet::canon::canonicalize_header;

TEST(SimpleHeader, LeavesFieldUnchanged) {
  EXPECT_EQ(canonicalize_header(Canon::Simple, "SubJect : a  b\r\n\tc "), "SubJect : a  b\r\n\tc \r\n");
}

TEST(RelaxedHeader, LowercasesNameAndDropsWhitespaceAroundColon) {
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "SubJect \t:  hello"), "subject:hello\r\n");
}

TEST(RelaxedHeader, UnfoldsCrlfContinuations) {
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "Subject: a\r\n b\r\n\tc"), "subject:a b c\r\n");
}

TEST(RelaxedHeader, UnfoldsBareLfContinuations) {
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "Subject: a\n b\n\tc"), "subject:a b c\r\n");
}

TEST(RelaxedHeader, CompressesTabsAndSpacesAndTrimsEnds) {
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "X-A:\t a \t\t b \t"), "x-a:a b\r\n");
}

TEST(RelaxedHeader, EmptyAndWhitespaceOnlyValues) {
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "X-Empty:"), "x-empty:\r\n");
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "X-Blank: \t \r\n "), "x-blank:\r\n");
}

TEST(RelaxedHeader, RfcSection3_4_5Example) {
  // RFC 6376 §3.4.5: "A: X\r\nB : Y\t\r\n\tZ  \r\n" -> "a:X\r\nb:Y Z\r\n"
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "A: X"), "a:X\r\n");
  EXPECT_EQ(canonicalize_header(Canon::Relaxed, "B : Y\t\r\n\tZ  "), "b:Y Z\r\n");
}

TEST(HeaderName, IgnoresCaseAndWhitespaceBeforeColon) {
  EXPECT_EQ(signet::canon::header_name("Subject \t: x"), "Subject");
  EXPECT_TRUE(signet::canon::header_name_equals("fRoM: x", "from"));
  EXPECT_FALSE(signet::canon::header_name_equals("From-X: x", "from"));
}
