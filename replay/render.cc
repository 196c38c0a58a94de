// The Report as table, JSON and HTML. The HTML page is built from the same
// DayCount values as the JSON, so what a reader sees on the page is what a
// script reads from --format json.
#include "replay/render.h"

#include <fmt/core.h>

#include <algorithm>
#include <optional>
#include <set>

#include "base/time.h"

namespace signet::replay {
namespace {

std::string json_str(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      out += fmt::format("\\u{:04x}", u);
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

// Text and attribute values alike: the page has no other way in for markup.
std::string html(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string ratio(std::int64_t pct) { return fmt::format("{}.{:02}", pct / 100, pct % 100); }

template <typename T, typename F>
std::string json_list(const std::vector<T>& items, F one) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? ", " : "") + one(items[i]);
  return out + "]";
}

std::string json_day(const DayCount& d) {
  return fmt::format(R"({{"day": {}, "signed": {}, "passed": {}, "passed_foreign": {}, "failed": {}}})", json_str(d.day),
                     d.signed_count, d.passed, d.passed_foreign, d.failed);
}

std::string json_finding(const Finding& f) {
  const auto str = [](const std::string& s) { return json_str(s); };
  return fmt::format(
      "{{\"kind\": {}, \"severity\": {}, \"stream\": {}, \"domain\": {}, \"selector\": {}, \"signals\": {}, "
      "\"days\": {}, \"sources\": {}, \"orgs\": {}, \"volume\": {}, \"message\": {}, \"next_step\": {}, \"command\": {}}}",
      json_str(f.kind), json_str(f.severity), json_str(f.stream), json_str(f.domain), json_str(f.selector),
      json_list(f.signals, str), json_list(f.days, json_day),
      json_list(f.sources,
                [&](const Source& s) {
                  return fmt::format(R"({{"ip": {}, "count": {}, "orgs": {}}})", json_str(s.ip), s.count,
                                     json_list(s.orgs, str));
                }),
      json_list(f.orgs,
                [](const OrgFailures& o) {
                  return fmt::format(R"({{"org": {}, "failed": {}, "total": {}}})", json_str(o.org), o.failed, o.total);
                }),
      f.volume, json_str(f.message), json_str(f.next_step), json_str(f.command));
}

// Every day of the window, for the chart's x axis.
std::vector<std::string> window_days(const std::string& first, const std::string& last) {
  std::vector<std::string> out;
  std::optional<std::int64_t> t = rfc3339::parse(first + "T00:00:00Z");
  const std::optional<std::int64_t> end = rfc3339::parse(last + "T00:00:00Z");
  for (; t && end && *t <= *end && out.size() < 3660; *t += 86400) out.push_back(rfc3339::format(*t).substr(0, 10));
  return out;
}

constexpr const char* kStyle =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:70em}"
    "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:2em}"
    ".finding{margin:.5em 0}.error b{color:#b00020}.warning b{color:#a15c00}.info b{color:#555}"
    "code{background:#f3f3f3;padding:0 .3em}"
    "table{border-collapse:collapse;margin-top:.5em}td,th{border:1px solid #ccc;padding:.1em .6em;text-align:right}"
    "th:first-child,td:first-child{text-align:left}"
    ".signed{fill:#3b6ea5}.passed{fill:#e08a1e}.flag{fill:#fbe3e3}.key{font-size:12px}svg text{font-size:11px;fill:#444}";

// One selector's bars: two per day with volume (signed, receiver-passed),
// scaled to the selector's busiest day (labelled, so two charts are not read
// on one scale); days without volume keep their slot; days a finding names
// get a red band behind them.
std::string selector_svg(const SelectorDays& s, const std::vector<std::string>& days, const std::set<std::string>& flagged) {
  constexpr int kSlot = 44, kBar = 16, kHeight = 160, kTop = 10, kLeft = 10, kLabel = 30;
  std::int64_t top = 1;
  for (const DayCount& d : s.days) top = std::max({top, d.signed_count, d.passed});
  const int width = kLeft * 2 + kSlot * static_cast<int>(days.size());
  std::string out = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\" "
      "aria-label=\"signed and receiver-passed messages per day for {2}\">\n",
      width, kTop + kHeight + kLabel, html(s.selector));
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#888\"/>\n", kLeft, kTop + kHeight,
                     width - kLeft);
  out += fmt::format("<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"#ddd\"/><text x=\"{2}\" y=\"{3}\" "
                     "text-anchor=\"end\">{4}</text>\n",
                     kLeft, kTop, width - kLeft, kTop + 10, top);
  for (std::size_t i = 0; i < days.size(); ++i) {
    const int x = kLeft + kSlot * static_cast<int>(i);
    if (flagged.count(days[i])) {
      out += fmt::format("<rect class=\"flag\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" data-flag-day=\"{}\"/>\n", x + 1,
                         kTop, kSlot - 2, kHeight, days[i]);
    }
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x + kSlot / 2,
                       kTop + kHeight + 16, days[i].substr(5));
    const auto d = std::find_if(s.days.begin(), s.days.end(), [&](const DayCount& c) { return c.day == days[i]; });
    if (d == s.days.end()) continue;
    const std::pair<const char*, std::int64_t> bars[] = {{"signed", d->signed_count}, {"passed", d->passed}};
    for (int b = 0; b < 2; ++b) {
      const auto h = static_cast<int>(bars[b].second * kHeight / top);
      out += fmt::format(
          "<rect class=\"{0}\" x=\"{1}\" y=\"{2}\" width=\"{3}\" height=\"{4}\" data-domain=\"{5}\" "
          "data-selector=\"{6}\" data-day=\"{7}\" data-series=\"{0}\" data-count=\"{8}\"><title>{7} {0} {8}</title></rect>\n",
          bars[b].first, x + 5 + b * (kBar + 2), kTop + kHeight - h, kBar, h, html(s.domain), html(s.selector), d->day,
          bars[b].second);
    }
  }
  return out + "</svg>\n";
}

std::string selector_table(const SelectorDays& s) {
  std::string out = "<table><tr><th>day</th><th>signed</th><th>passed</th><th>from outside</th><th>failed</th></tr>\n";
  for (const DayCount& d : s.days) {
    out += fmt::format(
        "<tr data-day=\"{0}\"><td>{0}</td><td data-series=\"signed\">{1}</td><td data-series=\"passed\">{2}</td>"
        "<td data-series=\"passed_foreign\">{3}</td><td data-series=\"failed\">{4}</td></tr>\n",
        d.day, d.signed_count, d.passed, d.passed_foreign, d.failed);
  }
  return out + "</table>\n";
}

}  // namespace

std::string finding_where(const Finding& f) {
  if (f.stream.empty()) return "d=" + f.domain + " s=" + f.selector;
  return f.selector.empty() ? f.stream : f.stream + " " + f.selector;
}

std::string finding_text(const Finding& f) {
  std::string out = f.message;
  if (!f.next_step.empty()) out += "; next: " + f.next_step;
  if (!f.command.empty()) out += ": `" + f.command + "`";
  return out;
}

std::string format_table(const Report& r) {
  const std::vector<std::string> cols = {"DOMAIN", "SELECTOR", "STREAM", "STATE", "DAY", "SIGNED", "PASSED", "FOREIGN", "FAILED"};
  std::vector<std::vector<std::string>> rows;
  for (const SelectorDays& s : r.selectors) {
    for (const DayCount& d : s.days) {
      rows.push_back({s.domain, s.selector, s.stream.empty() ? "-" : s.stream, s.state, d.day,
                      std::to_string(d.signed_count), std::to_string(d.passed), std::to_string(d.passed_foreign),
                      std::to_string(d.failed)});
    }
  }
  std::vector<std::size_t> w(cols.size());
  for (std::size_t i = 0; i < cols.size(); ++i) w[i] = cols[i].size();
  for (const auto& row : rows)
    for (std::size_t i = 0; i < row.size(); ++i) w[i] = std::max(w[i], row[i].size());
  std::string out = fmt::format("replay check {} to {}\n", r.first_day, r.last_day);
  auto line = [&](const std::vector<std::string>& row) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      // Names left-aligned, counts right-aligned.
      out += i ? "  " : "";
      out += i < 5 ? fmt::format("{:<{}}", row[i], w[i]) : fmt::format("{:>{}}", row[i], w[i]);
    }
    out += "\n";
  };
  if (rows.empty()) {
    out += "no signatures in the ledgers and no reports for our domains in this window\n";
  } else {
    line(cols);
    for (const auto& row : rows) line(row);
  }
  out += "\n";
  for (const Finding& f : r.findings) out += fmt::format("{:<8} {}: {}\n", f.severity, finding_where(f), finding_text(f));
  if (r.findings.empty()) out += "no findings\n";
  return out;
}

std::string format_json(const Report& r) {
  std::string out = fmt::format(
      "{{\n  \"first_day\": {}, \"last_day\": {},\n  \"thresholds\": {{\"replay_floor\": {}, \"replay_ratio\": {}, "
      "\"failure_floor\": {}, \"failure_ratio\": {}}},\n  \"selectors\": [",
      json_str(r.first_day), json_str(r.last_day), r.thresholds.replay_floor, ratio(r.thresholds.replay_ratio_pct),
      r.thresholds.failure_floor, ratio(r.thresholds.failure_ratio_pct));
  for (std::size_t i = 0; i < r.selectors.size(); ++i) {
    const SelectorDays& s = r.selectors[i];
    out += fmt::format("{}\n    {{\"domain\": {}, \"selector\": {}, \"stream\": {}, \"state\": {}, \"days\": {}}}",
                       i ? "," : "", json_str(s.domain), json_str(s.selector), json_str(s.stream), json_str(s.state),
                       json_list(s.days, json_day));
  }
  out += "\n  ],\n  \"findings\": [";
  for (std::size_t i = 0; i < r.findings.size(); ++i) out += (i ? ",\n    " : "\n    ") + json_finding(r.findings[i]);
  return out + "\n  ]\n}\n";
}

std::string format_html(const Report& r) {
  const std::vector<std::string> days = window_days(r.first_day, r.last_day);
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
      "<title>signet replay check {0} to {1}</title>\n<style>{2}</style>\n</head>\n<body>\n"
      "<h1>signet replay check: {0} to {1}</h1>\n"
      "<p>Per selector and UTC day: messages signet signed (the ledgers) and messages receivers reported as "
      "<code>dkim=pass</code> (DMARC aggregate reports). Thresholds: replay-floor {3}, replay-ratio {4}, "
      "failure-floor {5}, failure-ratio {6}.</p>\n"
      "<p class=\"key\"><svg width=\"12\" height=\"12\"><rect class=\"signed\" width=\"12\" height=\"12\"/></svg> signed "
      "&nbsp; <svg width=\"12\" height=\"12\"><rect class=\"passed\" width=\"12\" height=\"12\"/></svg> passed at "
      "receivers</p>\n",
      r.first_day, r.last_day, kStyle, r.thresholds.replay_floor, ratio(r.thresholds.replay_ratio_pct),
      r.thresholds.failure_floor, ratio(r.thresholds.failure_ratio_pct));
  out += fmt::format("<section id=\"findings\">\n<h2>Findings ({})</h2>\n", r.findings.size());
  if (r.findings.empty()) out += "<p>No findings.</p>\n";
  if (!r.findings.empty()) out += "<ol>\n";
  for (const Finding& f : r.findings) {
    out += fmt::format(
        "<li class=\"finding {0}\" data-kind=\"{1}\" data-severity=\"{0}\" data-stream=\"{2}\" data-domain=\"{3}\" "
        "data-selector=\"{4}\" data-volume=\"{5}\"><b>{0}</b> {6}: {7}",
        html(f.severity), html(f.kind), html(f.stream), html(f.domain), html(f.selector), f.volume,
        html(finding_where(f)), html(f.message));
    if (!f.next_step.empty()) out += "<br>next: " + html(f.next_step);
    if (!f.command.empty()) out += "<br><code class=\"command\">" + html(f.command) + "</code>";
    out += "</li>\n";
  }
  if (!r.findings.empty()) out += "</ol>\n";
  out += "</section>\n";
  for (const SelectorDays& s : r.selectors) {
    out += fmt::format(
        "<section class=\"selector\" data-domain=\"{0}\" data-selector=\"{1}\" data-stream=\"{2}\" data-state=\"{3}\">\n"
        "<h2>s={1} d={0} ({4}, {3})</h2>\n",
        html(s.domain), html(s.selector), html(s.stream), html(s.state),
        s.stream.empty() ? "in no register row" : "stream " + html(s.stream));
    std::set<std::string> flagged;
    for (const Finding& f : r.findings) {
      if (f.domain != s.domain || f.selector != s.selector) continue;
      for (const DayCount& d : f.days) flagged.insert(d.day);
    }
    out += selector_svg(s, days, flagged) + selector_table(s) + "</section>\n";
  }
  if (r.selectors.empty()) out += "<p>No signatures in the ledgers and no reports for our domains in this window.</p>\n";
  return out + "</body>\n</html>\n";
}

}  // namespace signet::replay
