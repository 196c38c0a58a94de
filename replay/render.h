// replay/render.h — a replay Report (replay/analysis.h) as the operator reads
// it: a table, JSON for scripts, one self-contained HTML page, and the one
// line per finding `signet audit` prints.
//
// Calls (pure: text in, text out; none fails):
//   finding_where(f)   "STREAM SELECTOR", "d=DOMAIN s=SELECTOR" (not in the
//                      register) or "STREAM" (stream-wide findings)
//   finding_text(f)    "what; next: what to do: `command`" on one line
//   format_table(r)    per selector and day: signed, passed, of which foreign,
//                      failed; then one "SEVERITY WHERE: text" line per finding
//                      ("no findings" when there is none)
//   format_json(r)     {"first_day", "last_day", "thresholds", "selectors":
//                      [{domain, selector, stream, state, days: [{day, signed,
//                      passed, passed_foreign, failed}]}], "findings": [...]}:
//                      every field of Report, numbers as JSON numbers
//   format_html(r)     one page, no external asset, no script (a
//                      Content-Security-Policy of default-src 'none' says so to
//                      the browser): per selector an inline SVG with one bar
//                      pair per day that has volume, <rect data-domain
//                      data-selector data-day data-series="signed|passed"
//                      data-count=N>, a table of the same numbers
//                      (<td data-series=...>), and the findings as a list
//                      (<li data-kind data-severity data-stream data-selector>).
//                      The numbers are format_json's, which the headless
//                      Chromium check (tests/integration/test_replay.py) compares.
#pragma once

#include <string>

#include "replay/analysis.h"

namespace signet::replay {

std::string finding_where(const Finding& f);
std::string finding_text(const Finding& f);
std::string format_table(const Report& r);
std::string format_json(const Report& r);
std::string format_html(const Report& r);

}  // namespace signet::replay
