// conf/options.h — every option of signet.conf, declared once.
//
// What it is: one table of OptionSpec (name, scope, kind, default, bounds,
// help, and the setter that stores a checked value). Everything else comes
// from it: the parser (conf/config.cc) looks options up here, checks values
// here and applies the defaults declared here; signet-milter --help lists
// it; docs/configuration.md's option tables and signet.conf(5) are generated
// from it (conf/options_doc.h) and a test compares them with the table.
//
// Calls:
//   option_table()              every option, in documentation order
//   find_option(scope, name)    the option, or nullptr
//   check_value(spec, text)     the value parsed for its kind and checked
//                               against its bounds; fails (permanent) with
//                               "why; allowed: RANGE" (callers add FILE:LINE
//                               and the option name)
//   allowed(spec)               the allowed values as the docs show them
//                               ("1..1000000", "0s..1h", "accept | tempfail")
// Kinds: Count/Bytes are integers in [min, max]; Duration is "30s", "5m",
// "12h", "7d" or plain seconds, in [min, max] seconds ("0" only when min is
// 0); Ratio is a decimal with at most two places ("1.5", "0.05"), kept as
// hundredths in Value::number and bounded by [min, max] hundredths, so a
// threshold compares exactly in integers; Bool is true/yes/on/1 or
// false/no/off/0; Choice is one of `choices`;
// Refused options exist only to be refused with their help as the reason
// (body-length: signet never emits l=).
// Fails: never throws.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "base/result.h"
#include "conf/config.h"

namespace signet::conf {

enum class Scope { Global, Stream, Rule };
enum class Kind { Text, Path, Bool, Count, Bytes, Duration, Ratio, Choice, List, Networks, Domain, Canonicalization, Refused };

struct Value {
  std::string text;         // as written, trimmed
  std::int64_t number = 0;  // Count, Bytes, Duration (seconds), Ratio (hundredths)
  bool flag = false;        // Bool
};

// A stream while its section is read: SignOptions become its SignProfile at the end.
struct StreamDraft {
  Stream stream;
  SignOptions sign;
  std::optional<bool> dry_run;  // unset: the global dry-run
};

struct OptionSpec {
  const char* name;
  Scope scope;
  Kind kind;
  const char* default_value;  // as an operator writes it; nullptr: none
  std::int64_t min = 0, max = 0;
  const char* choices = nullptr;  // Choice: "accept|tempfail"
  bool repeatable = false;        // may appear more than once; the values accumulate
  const char* help = "";          // one sentence: what it does
  Status (*set_global)(Config&, const Value&) = nullptr;
  Status (*set_stream)(StreamDraft&, const Value&) = nullptr;
  Status (*set_rule)(Rule&, const Value&) = nullptr;
};

std::span<const OptionSpec> option_table();
const OptionSpec* find_option(Scope scope, std::string_view name);
Result<Value> check_value(const OptionSpec& spec, std::string_view text);
std::string allowed(const OptionSpec& spec);
std::string_view scope_name(Scope s);  // "global" | "stream" | "rule"

}  // namespace signet::conf
