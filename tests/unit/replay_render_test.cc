// replay/render.h: the page, the JSON and the table say the same numbers; the
// page has one bar pair per day with volume and no markup from report data.
#include <gtest/gtest.h>

#include <regex>

#include "replay/render.h"

using namespace signet::replay;

namespace {

Report sample() {
  Report r;
  r.first_day = "2026-11-24";
  r.last_day = "2026-11-26";
  SelectorDays s{"example.com", "tx-202611-rsa2048", "tx", "active", {}};
  s.days.push_back({"2026-11-24", 1000, 900, 0, 3});
  s.days.push_back({"2026-11-26", 1000, 6400, 5500, 0});
  r.selectors.push_back(s);
  r.selectors.push_back({"example.com", "mystery", "", "unregistered", {{"2026-11-25", 0, 10, 0, 0}}});
  Finding f;
  f.kind = "replay";
  f.severity = "error";
  f.stream = "tx";
  f.domain = "example.com";
  f.selector = "tx-202611-rsa2048";
  f.signals = {"foreign-sources"};
  f.days = {s.days[1]};
  f.sources = {{"203.0.113.5", 5500, {"<script>alert(1)</script>"}}};
  f.volume = 5500;
  f.message = "possible replay from <script>alert(1)</script> & co";
  f.next_step = "rotate";
  f.command = "signet key rotate --stream tx --emergency";
  r.findings.push_back(f);
  return r;
}

std::size_t count(const std::string& text, const std::regex& re) {
  return static_cast<std::size_t>(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

TEST(ReplayRender, HtmlHasABarPairPerDayWithVolumeCarryingItsCount) {
  const std::string page = format_html(sample());
  EXPECT_EQ(count(page, std::regex("<rect class=\"(signed|passed)\" [^>]*data-day=")), 6u);  // 3 days with volume x 2
  EXPECT_NE(page.find("data-selector=\"tx-202611-rsa2048\" data-day=\"2026-11-26\" data-series=\"passed\" data-count=\"6400\""),
            std::string::npos);
  EXPECT_NE(page.find("data-selector=\"mystery\" data-day=\"2026-11-25\" data-series=\"signed\" data-count=\"0\""),
            std::string::npos);
  // The x axis has every day of the window, with or without volume.
  EXPECT_EQ(count(page, std::regex(">11-25</text>")), 2u);
  EXPECT_NE(page.find("<td data-series=\"passed_foreign\">5500</td>"), std::string::npos);
  // The finding's day is marked in its selector's chart only.
  EXPECT_EQ(count(page, std::regex("<rect class=\"flag\"[^>]*data-flag-day=\"2026-11-26\"")), 1u);
  EXPECT_EQ(count(page, std::regex("class=\"flag\"")), 1u);
  EXPECT_NE(page.find("default-src 'none'"), std::string::npos);
  EXPECT_EQ(page.find("<script"), std::string::npos);
  EXPECT_EQ(page.find("src="), std::string::npos);
  EXPECT_NE(page.find("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"), std::string::npos);
  EXPECT_NE(page.find("<code class=\"command\">signet key rotate --stream tx --emergency</code>"), std::string::npos);
}

TEST(ReplayRender, BarsAreScaledToTheSelectorsBusiestDay) {
  const std::string page = format_html(sample());
  // 6400 is the busiest: the full 160 px; 900 of it: 22 px.
  EXPECT_NE(page.find("height=\"160\" data-domain=\"example.com\" data-selector=\"tx-202611-rsa2048\" data-day=\"2026-11-26\" "
                      "data-series=\"passed\""),
            std::string::npos);
  EXPECT_NE(page.find("height=\"22\" data-domain=\"example.com\" data-selector=\"tx-202611-rsa2048\" data-day=\"2026-11-24\" "
                      "data-series=\"passed\""),
            std::string::npos);
}

TEST(ReplayRender, JsonCarriesEveryNumberAndEscapesStrings) {
  const std::string json = format_json(sample());
  EXPECT_NE(json.find(R"({"day": "2026-11-26", "signed": 1000, "passed": 6400, "passed_foreign": 5500, "failed": 0})"),
            std::string::npos);
  EXPECT_NE(json.find(R"("sources": [{"ip": "203.0.113.5", "count": 5500, "orgs": ["<script>alert(1)</script>"]}])"),
            std::string::npos);
  EXPECT_NE(json.find(R"("thresholds": {"replay_floor": 100, "replay_ratio": 1.50, "failure_floor": 50, "failure_ratio": 0.05})"),
            std::string::npos);
  Report r = sample();
  r.findings[0].message = "a \"quoted\"\nline";
  EXPECT_NE(format_json(r).find(R"("message": "a \"quoted\"\u000aline")"), std::string::npos);
}

TEST(ReplayRender, TableHasOneRowPerSelectorDayAndOneLinePerFinding) {
  const std::string table = format_table(sample());
  EXPECT_NE(table.find("example.com  tx-202611-rsa2048  tx      active        2026-11-26    1000    6400     5500       0"),
            std::string::npos)
      << table;
  EXPECT_NE(table.find("error    tx tx-202611-rsa2048: possible replay"), std::string::npos);
  EXPECT_NE(table.find("; next: rotate: `signet key rotate --stream tx --emergency`\n"), std::string::npos);
  Report quiet = sample();
  quiet.findings.clear();
  EXPECT_NE(format_table(quiet).find("\nno findings\n"), std::string::npos);
}

TEST(ReplayRender, WhereNamesStreamSelectorOrDomain) {
  Finding f;
  f.domain = "example.com";
  f.selector = "mystery";
  EXPECT_EQ(finding_where(f), "d=example.com s=mystery");
  f.stream = "tx";
  EXPECT_EQ(finding_where(f), "tx mystery");
  f.selector.clear();
  EXPECT_EQ(finding_where(f), "tx");
}

}  // namespace
