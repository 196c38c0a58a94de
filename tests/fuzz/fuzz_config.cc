// signet-milter's configuration (conf/ini.h, conf/config.h, conf/options.h).
//
// Input: signet.conf text, optionally followed by a line "%%" and the text of
// one included file. The target writes them to a directory of its own and
// runs load_config as signet-milter does (--config FILE, and --key-directory
// pointing at an empty directory there, so no key file is read); every global
// `include =` line is pointed at that included file, so no other file is read.
// Checks:
//   - parse_ini: names non-empty, names and values trimmed, no comment left,
//     line numbers increasing; its errors name FILE:LINE;
//   - load_config never throws; a configuration it accepts is valid whole:
//     numbers within the option table's bounds, every stream with a valid
//     lowercase domain and at most two selectors, stream_index consistent,
//     every rule naming a defined stream (and also-stream);
//   - key_rows never crashes on it; conf::route on fixed facts picks only
//     streams of the configuration, whose tenant binding allows the sender;
//   - check_value, for every option of the table, on the first line: never
//     throws; a number it accepts is within [min, max].
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>

#include "base/ascii.h"
#include "conf/config.h"
#include "conf/ini.h"
#include "conf/options.h"
#include "conf/router.h"
#include "conf/values.h"
#include "fuzz_util.h"

using namespace signet;
using namespace signet::conf;

namespace {

struct Dir {
  signet::fuzz::TempDir tmp{"config"};
  std::string root = tmp.path();
  Dir() {
    mkdir((root + "/inc").c_str(), 0700);
    mkdir((root + "/keys").c_str(), 0700);
  }
};

void write(const std::string& path, std::string_view text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc).write(text.data(), static_cast<std::streamsize>(text.size()));
}

// The main file with each global include line replaced by one that names
// only the included file.
std::string pin_includes(std::string_view text, const std::string& pattern) {
  auto lines = parse_ini(text, "x");
  if (!lines) return std::string(text);
  std::vector<std::size_t> at;
  for (const IniLine& l : lines.value()) {
    if (l.section.empty() && l.name == "include") at.push_back(l.line);
  }
  std::string out;
  std::size_t n = 0;
  for (ascii::LineReader r(text); r.next();) {
    ++n;
    out += std::find(at.begin(), at.end(), n) != at.end() ? "include = " + pattern : std::string(r.line());
    out += "\n";
  }
  return out;
}

void check_ini(std::string_view text) {
  auto lines = parse_ini(text, "f.conf");
  if (!lines) {
    FUZZ_CHECK(lines.error().message.rfind("f.conf:", 0) == 0, "an INI error that does not name FILE:LINE");
    return;
  }
  std::size_t prev = 0;
  for (const IniLine& l : lines.value()) {
    FUZZ_CHECK(!l.name.empty() && ascii::trim(l.name) == l.name && ascii::trim(l.value) == l.value, "untrimmed");
    FUZZ_CHECK(l.name.find('#') == std::string::npos && l.value.find('#') == std::string::npos, "a comment left");
    FUZZ_CHECK(l.name.find('=') == std::string::npos, "'=' in a name");
    FUZZ_CHECK(l.line > prev, "line numbers not increasing");
    prev = l.line;
  }
}

void check_config(const Config& cfg) {
  for (const OptionSpec& o : option_table()) {
    if (o.scope != Scope::Global || (o.kind != Kind::Count && o.kind != Kind::Bytes && o.kind != Kind::Duration)) continue;
    std::int64_t v = -1;
    const std::string_view n = o.name;
    if (n == "timeout") v = cfg.timeout;
    if (n == "max-headers") v = static_cast<std::int64_t>(cfg.max_headers);
    if (n == "max-header-bytes") v = static_cast<std::int64_t>(cfg.max_header_bytes);
    if (n == "shutdown-timeout") v = cfg.shutdown_timeout;
    if (n == "dns-check-interval") v = cfg.dns_check_interval;
    if (n == "overlap-signing") v = cfg.overlap_signing;
    if (v != -1) FUZZ_CHECK(v >= o.min && v <= o.max, std::string(o.name) + " out of its bounds");
  }
  FUZZ_CHECK(cfg.stream_index.size() == cfg.streams.size(), "stream_index size");
  for (std::size_t i = 0; i < cfg.streams.size(); ++i) {
    const Stream& s = cfg.streams[i];
    FUZZ_CHECK(cfg.find_stream(s.name) == &s, "stream_index does not find " + s.name);
    FUZZ_CHECK(valid_dns_name(s.domain) && ascii::to_lower(s.domain) == s.domain, "stream domain " + s.domain);
    FUZZ_CHECK(s.selectors.size() <= 2, "more than two selectors");
    for (const std::string& sel : s.selectors) FUZZ_CHECK(valid_dns_name(sel), "selector " + sel);
  }
  for (const Rule& r : cfg.rules) {
    FUZZ_CHECK(cfg.find_stream(r.stream) != nullptr, "rule " + r.name + " names no defined stream");
    FUZZ_CHECK(r.also_stream.empty() || cfg.find_stream(r.also_stream), "also-stream not defined");
  }
  (void)key_rows(cfg);
  for (const char* login : {"", "alice", "acme-bob"}) {
    MessageFacts f{login, "submission", "127.0.0.1", "example.com", "example.com"};
    (void)trust_reason(cfg, f);
    const Route route = conf::route(cfg, f);
    for (const Stream* s : route.streams) {
      FUZZ_CHECK(s >= cfg.streams.data() && s < cfg.streams.data() + cfg.streams.size(), "a route outside the streams");
      FUZZ_CHECK(may_use(*s, f), "a route to a stream the sender may not use");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Dir dir;
  const auto parts = signet::fuzz::split_parts(signet::fuzz::as_text(data, size), "\n%%\n", 2);
  check_ini(parts[0]);
  check_ini(parts[1]);

  const std::string main = dir.root + "/signet.conf";
  write(main, pin_includes(parts[0], dir.root + "/inc/*.conf"));
  write(dir.root + "/inc/a.conf", parts[1]);
  const std::string keys = dir.root + "/keys";
  const char* argv[] = {"signet-milter", "--config", main.c_str(), "--key-directory", keys.c_str()};
  auto cfg = load_config(5, argv);
  if (cfg) {
    FUZZ_CHECK(cfg->key_directory == keys, "the command line's key-directory does not win");
    check_config(cfg.value());
  } else {
    FUZZ_CHECK(!cfg.error().message.empty(), "an error without a message");
  }

  const std::string_view first = parts[0].substr(0, parts[0].find('\n'));
  for (const OptionSpec& o : option_table()) {
    auto v = check_value(o, first);
    if (v && (o.kind == Kind::Count || o.kind == Kind::Bytes || o.kind == Kind::Duration)) {
      FUZZ_CHECK(v->number >= o.min && v->number <= o.max, std::string(o.name) + ": accepted out of bounds");
    }
  }
  return 0;
}
