// The OpenDKIM importer (migrate/opendkim_conf.h, migrate/opendkim_import.h):
// pure functions of the files' text, reached through the ReadFile callback.
//
// Input: opendkim.conf's text (read as /etc/opendkim.conf), then any number
// of files, each after a line "%%": its first line is its path, the rest its
// text (KeyTable, SigningTable, Include files, ...). The callback serves only
// those; nothing touches the disk but the check below. Checks:
//   - parse_opendkim_conf: every setting a known parameter with a non-empty
//     value free of comments and CRs, its origin "PATH:LINE"; find() is the
//     last one given; an error names PATH:LINE too;
//   - translate_opendkim never crashes; a translation has unique stream names,
//     valid domains and selectors, absolute key paths, and rules that name its
//     streams;
//   - format_signet_conf's text is what signet-milter loads: parse_ini takes
//     it, and load_config accepts it with the streams and rules it lists.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>

#include "conf/config.h"
#include "conf/ini.h"
#include "conf/values.h"
#include "fuzz_util.h"
#include "migrate/opendkim_conf.h"
#include "migrate/opendkim_import.h"

using namespace signet;
using namespace signet::migrate;

namespace {

bool origin_ok(const std::string& origin) {
  const std::size_t colon = origin.rfind(':');
  return colon != std::string::npos && colon > 0 && colon + 1 < origin.size() &&
         origin.find_first_not_of("0123456789", colon + 1) == std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static signet::fuzz::TempDir dir("opendkim");
  std::string_view in = signet::fuzz::as_text(data, size);
  std::map<std::string, std::string, std::less<>> files;
  const std::size_t first = in.find("\n%%\n");
  const std::string_view conf_text = in.substr(0, first);
  if (first != std::string_view::npos) {
    for (std::string_view rest = in.substr(first + 4); files.size() < 16;) {
      const std::size_t end = rest.find("\n%%\n");
      const std::string_view part = rest.substr(0, end);
      const std::size_t nl = part.find('\n');
      files[std::string(part.substr(0, nl))] = nl == std::string_view::npos ? "" : std::string(part.substr(nl + 1));
      if (end == std::string_view::npos) break;
      rest.remove_prefix(end + 4);
    }
  }
  const ReadFile read = [&](const std::string& path) -> Result<std::string> {
    auto it = files.find(path);
    if (it == files.end()) return permanent_error(path + ": No such file or directory");
    return it->second;
  };

  auto conf = parse_opendkim_conf(conf_text, "/etc/opendkim.conf", read);
  if (!conf) {
    FUZZ_CHECK(conf.error().message.find(':') != std::string::npos, "an error without PATH:LINE");
    return 0;
  }
  for (const OdSetting& s : conf->settings) {
    FUZZ_CHECK(!s.value.empty() && s.value.find_first_of("#\r") == std::string::npos, "a value with a comment or CR");
    FUZZ_CHECK(origin_ok(s.origin), "origin is not PATH:LINE: " + s.origin);
    const OdSetting* last = conf->find(s.name);
    FUZZ_CHECK(last != nullptr && last >= &s, "find() is not the last setting of its name");
  }

  auto t = translate_opendkim(conf.value(), read);
  if (!t) return 0;
  std::set<std::string> names;
  for (const ImportStream& s : t->streams) {
    FUZZ_CHECK(names.insert(s.name).second, "two streams named " + s.name);
    FUZZ_CHECK(conf::valid_dns_name(s.domain) && conf::valid_dns_name(s.selector), "stream d=/s= " + s.domain);
    FUZZ_CHECK(!s.key_source.empty() && s.key_source[0] == '/', "a relative key path " + s.key_source);
  }
  for (const ImportRule& r : t->rules) FUZZ_CHECK(names.count(r.stream), "a rule naming no stream: " + r.stream);

  const std::string text = format_signet_conf(t.value(), dir.path() + "/keys", "fuzz\nheader");
  auto lines = conf::parse_ini(text, "signet.conf");
  FUZZ_CHECK(lines.ok(), (lines ? "" : lines.error().message) + "\n" + text);
  const std::string path = dir.path() + "/signet.conf";
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
  const char* argv[] = {"signet-milter", "--config", path.c_str()};
  auto cfg = conf::load_config(3, argv);
  FUZZ_CHECK(cfg.ok(), (cfg ? "" : cfg.error().message) + "\n" + text);
  FUZZ_CHECK(cfg->streams.size() == t->streams.size() && cfg->rules.size() == t->rules.size(),
             "the loaded configuration has other streams or rules");
  return 0;
}
