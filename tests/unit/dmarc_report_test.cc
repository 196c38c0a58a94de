// dmarc/report.h: reports in the RFC 7489 and RFC 9990 schemas, in every
// container receivers use, what is tolerated and what is refused (with one
// line saying why), and the bounds that keep a bomb cheap.
#include <gtest/gtest.h>

#include <chrono>

#include "dmarc/report.h"
#include "dmarc_test_util.h"

using namespace signet;
using namespace signet::dmarc;
using signet::testing::DkimEntry;
using signet::testing::Row;
using signet::testing::report_xml;

namespace {

constexpr std::int64_t kBegin = 1764547200;  // 2025-12-01T00:00:00Z
constexpr std::int64_t kEnd = kBegin + 86399;

std::vector<Row> sample_rows() {
  return {{"192.0.2.1", 12, "example.com", {{"example.com", "s2026", "pass"}, {"esp.example", "k1", "fail"}}},
          {"2001:DB8:0:0::1", 3, "Example.COM", {}},
          {"198.51.100.7", 0, "example.com", {{"example.com", "s2026", "permerror"}}}};
}

void expect_sample(const Result<AggregateReport>& r, ReportFormat format, const std::string& container) {
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->format, format);
  EXPECT_EQ(r->container, container);
  EXPECT_EQ(r->org, "google.com");
  EXPECT_EQ(r->email, "noreply@google.com");
  EXPECT_EQ(r->report_id, "1234567890");
  EXPECT_EQ(r->begin, kBegin);
  EXPECT_EQ(r->end, kEnd);
  EXPECT_EQ(r->day(), "2025-12-01");
  EXPECT_EQ(r->policy_domain, "example.com");
  ASSERT_EQ(r->rows.size(), 3u);
  EXPECT_EQ(r->rows[0].source_ip, "192.0.2.1");
  EXPECT_EQ(r->rows[0].count, 12);
  EXPECT_EQ(r->rows[0].disposition, "none");
  EXPECT_EQ(r->rows[0].policy_dkim, "pass");
  EXPECT_EQ(r->rows[0].policy_spf, "fail");
  ASSERT_EQ(r->rows[0].dkim.size(), 2u);
  EXPECT_EQ(r->rows[0].dkim[1].domain, "esp.example");
  EXPECT_EQ(r->rows[0].dkim[1].selector, "k1");
  EXPECT_EQ(r->rows[0].dkim[1].result, "fail");
  EXPECT_EQ(r->rows[1].source_ip, "2001:db8::1");  // RFC 5952 form
  EXPECT_EQ(r->rows[1].header_from, "example.com");
  EXPECT_TRUE(r->rows[1].dkim.empty());
  EXPECT_EQ(r->rows[2].count, 0);
  EXPECT_EQ(r->rows[2].dkim[0].result, "permerror");
}

std::string sample(bool v2) { return report_xml("google.com", "1234567890", kBegin, kEnd, sample_rows(), v2); }

// The refusal for `bytes`, checked to be one line.
std::string refusal(const std::string& bytes) {
  auto r = read_report(bytes);
  if (r.ok()) return "(accepted)";
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos) << r.error().message;
  EXPECT_FALSE(r.error().message.empty());
  return r.error().message;
}

}  // namespace

TEST(DmarcReport, Rfc7489XmlGivesEveryField) { expect_sample(read_report(sample(false)), ReportFormat::Rfc7489, "xml"); }

TEST(DmarcReport, Rfc9990XmlIsToldByNamespaceAndVersion) {
  expect_sample(read_report(sample(true)), ReportFormat::Rfc9990, "xml");
  // <version>2.0</version> alone (no namespace) is RFC 9990 too; 1.0 is not.
  std::string no_ns = sample(true);
  no_ns.replace(no_ns.find(" xmlns="), std::string(" xmlns=\"urn:ietf:params:xml:ns:dmarc-2.0\"").size(), "");
  EXPECT_EQ(read_report(no_ns)->format, ReportFormat::Rfc9990);
  std::string v1 = no_ns;
  v1.replace(v1.find("2.0</version>"), 3, "1.0");
  EXPECT_EQ(read_report(v1)->format, ReportFormat::Rfc7489);
}

TEST(DmarcReport, EveryContainerGivesTheSameReport) {
  using namespace signet::testing;
  for (bool v2 : {false, true}) {
    const ReportFormat f = v2 ? ReportFormat::Rfc9990 : ReportFormat::Rfc7489;
    const std::string x = sample(v2);
    SCOPED_TRACE(v2 ? "RFC 9990" : "RFC 7489");
    expect_sample(read_report(gzip(x)), f, "gzip > xml");
    expect_sample(read_report(zip_of({{"google.com!example.com!1764547200!1764633599.xml", x}})), f, "zip > xml");
    expect_sample(read_report(report_email(gzip(x), "application/gzip", "r.xml.gz")), f, "e-mail > gzip > xml");
    expect_sample(read_report(report_email(zip_of({{"r.xml", x}}), "application/zip", "r.zip")), f,
                  "e-mail > zip > xml");
    expect_sample(read_report(report_email(x, "text/xml", "r.xml")), f, "e-mail > xml");
    expect_sample(read_report(report_email(x, "text/xml", "r.xml", false)), f, "e-mail > xml");
    // Types receivers use besides the registered ones; a name is enough.
    expect_sample(read_report(report_email(gzip(x), "application/x-gzip", "r.gz")), f, "e-mail > gzip > xml");
    expect_sample(read_report(report_email(zip_of({{"r.xml", x}}), "application/octet-stream", "r.zip")), f,
                  "e-mail > zip > xml");
    // Content decides, not the name: gzip data called .zip.
    expect_sample(read_report(report_email(gzip(x), "application/octet-stream", "report.zip")), f,
                  "e-mail > gzip > xml");
  }
}

TEST(DmarcReport, AReportForwardedAsAnAttachedMessageIsFound) {
  const std::string inner = signet::testing::report_email(signet::testing::gzip(sample(false)), "application/gzip",
                                                          "r.xml.gz");
  const std::string fwd =
      "From: postmaster@example.com\r\nTo: dmarc@example.com\r\nSubject: Fwd: Report domain: example.com\r\n"
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"f\"\r\n\r\n"
      "--f\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
      "--f\r\nContent-Type: message/rfc822\r\n\r\n" + inner + "\r\n--f--\r\n";
  expect_sample(read_report(fwd), ReportFormat::Rfc7489, "e-mail > gzip > xml");
  // Forwarded forwards are looked into only so deep.
  std::string deep = inner;
  for (int i = 0; i < 6; ++i) deep = "From: a@b.example\r\nContent-Type: message/rfc822\r\n\r\n" + deep;
  EXPECT_NE(refusal(deep).find("e-mail without a report attachment"), std::string::npos) << refusal(deep);
}

TEST(DmarcReport, GzipMembersOneAfterTheOtherAreOneStream) {
  const std::string x = sample(false);
  const std::size_t cut = x.size() / 2;
  expect_sample(read_report(signet::testing::gzip(x.substr(0, cut)) + signet::testing::gzip(x.substr(cut))), ReportFormat::Rfc7489,
                "gzip > xml");
}

TEST(DmarcReport, LargeReportOf5000RecordsIsReadWhole) {
  std::vector<Row> rows;
  for (int i = 0; i < 5000; ++i) {
    rows.push_back({"10." + std::to_string(i / 256 % 256) + "." + std::to_string(i % 256) + ".1", i, "example.com",
                    {{"example.com", "s" + std::to_string(i % 7), i % 3 ? "pass" : "fail"}}});
  }
  const std::string x = report_xml("big.example", "big-1", kBegin, kEnd, rows);
  const auto t0 = std::chrono::steady_clock::now();
  auto r = read_report(signet::testing::gzip(x));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(r.ok()) << r.error().message;
  ASSERT_EQ(r->rows.size(), 5000u);
  EXPECT_EQ(r->rows[4999].source_ip, "10.19.135.1");
  EXPECT_EQ(r->rows[4999].count, 4999);
  EXPECT_EQ(r->rows[4999].dkim[0].selector, "s1");
  EXPECT_EQ(r->rows[4997].dkim[0].result, "pass");
  EXPECT_EQ(r->rows[4998].dkim[0].result, "fail");
  RecordProperty("xml_bytes", static_cast<int>(x.size()));
  RecordProperty("parse_ms", static_cast<int>(ms));
  EXPECT_LT(ms, 5000) << "5 000 records took " << ms << " ms";
}

TEST(DmarcReport, ToleratesWhatReceiversGetSlightlyWrong) {
  // No email, no policy_published, no identifiers; an empty <reason>;
  // white space around values; results in capitals; an unknown extension;
  // a 7489 <dkim> without <selector>; a BOM; CDATA.
  const std::string x =
      "\xEF\xBB\xBF<?xml version=\"1.0\"?>\n<feedback>\n <report_metadata>\n"
      "  <org_name>\n   Mail.Example  \n  </org_name>\n  <report_id> <![CDATA[r-1]]> </report_id>\n"
      "  <date_range><begin> 1764547200 </begin><end>1764633600</end></date_range>\n </report_metadata>\n"
      " <record>\n  <row><source_ip> 192.0.2.9 </source_ip><count> 5 </count>\n"
      "   <policy_evaluated><disposition>NONE</disposition><dkim>PASS</dkim><spf>Fail</spf><reason/>"
      "<reason><type></type><comment></comment></reason></policy_evaluated></row>\n"
      "  <auth_results><dkim><domain> EXAMPLE.com </domain><result> Pass </result><human_result/></dkim>"
      "<x-vendor><depth><more>1</more></depth></x-vendor></auth_results>\n"
      "  <extension_field>ignored</extension_field>\n </record>\n"
      " <extension><anything/></extension>\n</feedback>\n";
  auto r = read_report(x);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->org, "Mail.Example");
  EXPECT_EQ(r->report_id, "r-1");
  EXPECT_EQ(r->email, "");
  EXPECT_EQ(r->policy_domain, "");
  ASSERT_EQ(r->rows.size(), 1u);
  EXPECT_EQ(r->rows[0].source_ip, "192.0.2.9");
  EXPECT_EQ(r->rows[0].count, 5);
  EXPECT_EQ(r->rows[0].disposition, "none");
  EXPECT_EQ(r->rows[0].policy_dkim, "pass");
  EXPECT_EQ(r->rows[0].header_from, "");
  ASSERT_EQ(r->rows[0].dkim.size(), 1u);
  EXPECT_EQ(r->rows[0].dkim[0].domain, "example.com");
  EXPECT_EQ(r->rows[0].dkim[0].selector, "");
  EXPECT_EQ(r->rows[0].dkim[0].result, "pass");
  // 00:00 to the next 00:00 is still that day (its middle is noon).
  EXPECT_EQ(r->day(), "2025-12-01");
}

TEST(DmarcReport, DayIsTheOneHoldingTheMiddleOfTheRange) {
  AggregateReport r;
  r.begin = kBegin + 22 * 3600;  // 22:00 on the 1st
  r.end = r.begin + 6 * 3600;    // 04:00 on the 2nd: middle 01:00 on the 2nd
  EXPECT_EQ(r.day(), "2025-12-02");
  r.end = r.begin + 3 * 3600;  // middle 23:30 on the 1st
  EXPECT_EQ(r.day(), "2025-12-01");
}

TEST(DmarcReport, RefusesWhatIsNotAReport) {
  const std::string x = sample(false);
  EXPECT_NE(refusal(x.substr(0, x.size() / 2)).find("not well-formed XML"), std::string::npos);
  EXPECT_NE(refusal("<html><body>hello</body></html>").find("root element is <html>, not <feedback>"),
            std::string::npos);
  EXPECT_NE(refusal("\x89PNG\r\n\x1a\n\0\0\0").find("neither XML, gzip, zip nor an e-mail"), std::string::npos);
  EXPECT_NE(refusal("").find("empty"), std::string::npos);
  // Invalid UTF-8 in a document that says it is UTF-8.
  std::string bad = x;
  bad.replace(bad.find("google.com</org_name>"), 6, "goo\xC3\x28le");
  EXPECT_NE(refusal(bad).find("not well-formed XML"), std::string::npos) << refusal(bad);
}

TEST(DmarcReport, RefusesAReportMissingWhatItMustHave) {
  auto without = [](const std::string& from, const std::string& open, const std::string& close) {
    std::string s = from;
    const std::size_t a = s.find(open), b = s.find(close, a);
    return s.erase(a, b + close.size() - a);
  };
  const std::string x = sample(false);
  EXPECT_NE(refusal(without(x, "<report_metadata>", "</report_metadata>")).find("no <report_metadata>"),
            std::string::npos);
  EXPECT_NE(refusal(without(x, "<report_id>", "</report_id>")).find("no <report_id>"), std::string::npos);
  EXPECT_NE(refusal(without(x, "<org_name>", "</org_name>")).find("no <org_name>"), std::string::npos);
  EXPECT_NE(refusal(without(x, "<date_range>", "</date_range>")).find("no <date_range>"), std::string::npos);
  std::string no_records = x;
  no_records.erase(no_records.find("  <record>"), no_records.rfind("</record>") + 10 - no_records.find("  <record>"));
  EXPECT_NE(refusal(no_records).find("no <record>"), std::string::npos) << refusal(no_records);
  EXPECT_NE(refusal(without(x, "<row>", "</row>")).find("record 1 (line 10): no <row>"), std::string::npos)
      << refusal(without(x, "<row>", "</row>"));
  const auto bad_value = [&](const std::string& from, const std::string& to) {
    std::string s = x;
    return refusal(s.replace(s.find(from), from.size(), to));
  };
  EXPECT_NE(bad_value("<count>12</count>", "<count>-1</count>").find("record 1 (line 11): count \"-1\""),
            std::string::npos);
  EXPECT_NE(bad_value("<count>12</count>", "<count>many</count>").find("not a non-negative integer"),
            std::string::npos);
  EXPECT_NE(bad_value("192.0.2.1", "192.0.2.300").find("source_ip \"192.0.2.300\" is not an IP address"),
            std::string::npos);
  EXPECT_NE(bad_value("<begin>1764547200", "<begin>1864547200").find("begin 1864547200 is after end"),
            std::string::npos);
  EXPECT_NE(bad_value("<begin>1764547200", "<begin>yesterday").find("<date_range><begin> \"yesterday\""),
            std::string::npos);
  EXPECT_NE(bad_value("<result>pass</result>", "<result>ok</result>").find("DKIM result \"ok\" is not one of"),
            std::string::npos);
}

// Found by fuzz_dmarc: a line break inside a bad value made a two-line refusal.
TEST(DmarcReport, ARefusalQuotingABadValueStaysOneLine) {
  const std::string x = sample(false);
  for (const auto& [from, to] : std::vector<std::pair<std::string, std::string>>{
           {"192.0.2.1", "192.0\n.2.1"}, {"<count>12", "<count>1\r\n2"}, {"<result>pass", "<result>pa\nss"},
           {"<begin>1764547200", "<begin>17645\n47200"}}) {
    std::string s = x;
    const std::string why = refusal(s.replace(s.find(from), from.size(), to));
    EXPECT_NE(why, "(accepted)") << to;
    EXPECT_EQ(why.find_first_of("\r\n"), std::string::npos) << why;
  }
}

TEST(DmarcReport, Rfc9990RefusesADkimResultWithoutSelector) {
  const std::string x = report_xml("o", "i", kBegin, kEnd, {{"192.0.2.1", 1, "e.com", {{"e.com", "", "pass"}}}}, true);
  EXPECT_NE(refusal(x).find("record 1: a <dkim> result without <selector>, which RFC 9990 makes mandatory"),
            std::string::npos);
  // The same in a 7489 report is tolerated.
  const std::string y = report_xml("o", "i", kBegin, kEnd, {{"192.0.2.1", 1, "e.com", {{"e.com", "", "pass"}}}});
  EXPECT_TRUE(read_report(y).ok());
}

TEST(DmarcReport, NoDtdIsReadAndNoEntityExpanded) {
  // XXE: an external entity naming a local file.
  const std::string xxe =
      "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>"
      "<feedback><report_metadata><org_name>&x;</org_name></report_metadata></feedback>";
  EXPECT_NE(refusal(xxe).find("DOCTYPE"), std::string::npos) << refusal(xxe);
  // Billion laughs: refused at the DOCTYPE, at once.
  std::string lol = "<?xml version=\"1.0\"?><!DOCTYPE feedback [<!ENTITY l0 \"lol\">";
  for (int i = 1; i < 10; ++i) {
    lol += "<!ENTITY l" + std::to_string(i) + " \"";
    for (int j = 0; j < 10; ++j) lol += "&l" + std::to_string(i - 1) + ";";
    lol += "\">";
  }
  lol += "]><feedback><report_metadata><org_name>&l9;</org_name></report_metadata></feedback>";
  // (refused by the DOCTYPE rule, so no entity is ever expanded: no timing
  // assertion, which a shared machine would make flaky)
  EXPECT_NE(refusal(lol).find("DOCTYPE"), std::string::npos) << refusal(lol);
}

TEST(DmarcReport, GzipBombIsRefusedWithinTheBound) {
  // 100 MiB of zeros: about 100 KiB of gzip, stopped at 64 MiB.
  const std::string bomb = signet::testing::gzip(std::string(100u << 20, '\0'));
  ASSERT_LT(bomb.size(), 1u << 20);
  // The refusal names the bound it stopped at: that, not a wall-clock limit, is the check.
  EXPECT_NE(refusal(bomb).find("gzip decompresses to more than 64 MiB"), std::string::npos) << refusal(bomb);
  const std::string x = signet::testing::gzip(sample(false));
  EXPECT_NE(refusal(x.substr(0, x.size() - 20)).find("gzip: truncated"), std::string::npos)
      << refusal(x.substr(0, x.size() - 20));
}

TEST(DmarcReport, ZipBombIsRefusedWithinTheBound) {
  using signet::testing::zip_of;
  // An entry declaring 4 GB: refused before a byte is inflated.
  const std::string declared = zip_of({{"r.xml", sample(false), 0xFFFFFFF0u}});
  EXPECT_NE(refusal(declared).find("declares 4294967280 bytes, more than 64 MiB"), std::string::npos)
      << refusal(declared);
  // An entry that lies small (1 KiB) and inflates to 100 MiB of zeros.
  const std::string liar = zip_of({{"r.xml", std::string(100u << 20, '\0'), 1024}});
  ASSERT_LT(liar.size(), 1u << 20);
  const std::string why = refusal(liar);
  EXPECT_TRUE(why.find("zip") == 0) << why;
  // An honest 100 MiB entry is refused by its declared size.
  EXPECT_NE(refusal(zip_of({{"r.xml", std::string(100u << 20, ' ')}})).find("more than 64 MiB"), std::string::npos);
}

TEST(DmarcReport, ZipMustHoldOneReport) {
  using signet::testing::zip_of;
  const std::string x = sample(false);
  EXPECT_NE(refusal(zip_of({{"a.xml", x}, {"b.xml", x}})).find("zip: 2 XML files"), std::string::npos);
  std::vector<signet::testing::ZipEntry> many;
  for (int i = 0; i < 65; ++i) many.push_back({"f" + std::to_string(i) + ".txt", "x"});
  EXPECT_NE(refusal(zip_of(many)).find("zip: 65 entries"), std::string::npos);
  // A readme beside the report is fine; the .xml is taken.
  expect_sample(read_report(zip_of({{"README", "hello"}, {"r.xml", x}})), ReportFormat::Rfc7489, "zip > xml");
  std::string cut = zip_of({{"r.xml", x}});
  EXPECT_EQ(refusal(cut.substr(0, cut.size() - 30)).rfind("zip: ", 0), 0u) << refusal(cut.substr(0, cut.size() - 30));
}

TEST(DmarcReport, EmailWithoutReportIsRefused) {
  const std::string m = "From: a@b.example\r\nSubject: hi\r\nContent-Type: text/plain\r\n\r\njust text\r\n";
  EXPECT_NE(refusal(m).find("e-mail without a report attachment"), std::string::npos) << refusal(m);
  // An attachment that is not a report says what it is not, and where.
  const std::string png = signet::testing::report_email("\x89PNG\r\n\x1a\n", "application/octet-stream", "r.gz");
  EXPECT_NE(refusal(png).find("neither XML, gzip, zip nor an e-mail"), std::string::npos) << refusal(png);
  const std::string not_feedback = signet::testing::report_email("<a/>", "text/xml", "r.xml");
  EXPECT_NE(refusal(not_feedback).find("e-mail > xml: not a DMARC aggregate report"), std::string::npos)
      << refusal(not_feedback);
}

TEST(DmarcReport, NestingIsBounded) {
  std::string x = sample(false);
  for (int i = 0; i < 6; ++i) x = signet::testing::gzip(x);
  EXPECT_NE(refusal(x).find("nested deeper than 4"), std::string::npos) << refusal(x);
  std::string deep = "<feedback>";
  for (int i = 0; i < 100; ++i) deep += "<x>";
  EXPECT_NE(refusal(deep).find("nested deeper than 64"), std::string::npos) << refusal(deep);
}
