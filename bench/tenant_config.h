// bench/tenant_config.h — the ESP-shaped configuration the configuration
// benches load (config_load_bench, route_bench): N tenants, each a
// [stream.tN] (domain tN.example) and a [rule.tN] that sends its mail there,
// the shape bench/keyset_scale.py generates, written to a real file and
// loaded through the real loader (conf::load_config).
//
//   tenant_config_text(shape)  the signet.conf text: shape.head first, the
//                              streams, the rules, then a catch-all rule
//                              when asked
//   client_of(i)               tenant i's client address under Match::Mixed
//   ConfigFile                 a temporary directory and its signet.conf;
//                              load() writes the text and loads it, the
//                              directory goes when the object does
//   counts_from_args           the sizes to run: the arguments, else defaults
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "conf/config.h"

namespace signet::bench {

inline std::string client_of(int i) {
  return "10." + std::to_string((i >> 16) & 255) + "." + std::to_string((i >> 8) & 255) + "." + std::to_string(i & 255);
}

struct TenantShape {
  // FromDomain: every rule by From domain. Mixed: a third by SASL login
  // (userN), a third by From domain, a third by client address (client_of /32).
  enum class Match { FromDomain, Mixed };
  int tenants = 0;
  std::string head;           // top-level options, each line ending in \n
  bool two_selectors = false;  // selector = rN and eN in each stream
  Match match = Match::FromDomain;
  bool catch_all = false;  // [rule.default] stream = t0, last
};

inline std::string tenant_config_text(const TenantShape& shape) {
  std::string t = shape.head;
  for (int i = 0; i < shape.tenants; ++i) {
    const std::string n = std::to_string(i);
    t += "[stream.t" + n + "]\ndomain = t" + n + ".example\n";
    if (shape.two_selectors) t += "selector = r" + n + "\nselector = e" + n + "\n";
  }
  for (int i = 0; i < shape.tenants; ++i) {
    const std::string n = std::to_string(i);
    t += "[rule.t" + n + "]\n";
    switch (shape.match == TenantShape::Match::Mixed ? i % 3 : 1) {
      case 0: t += "sasl-login = user" + n + "\n"; break;
      case 1: t += "from-domain = t" + n + ".example\n"; break;
      case 2: t += "client = " + client_of(i) + "/32\n"; break;
    }
    t += "stream = t" + n + "\n";
  }
  if (shape.catch_all) t += "[rule.default]\nstream = t0\n";
  return t;
}

class ConfigFile {
 public:
  // The directory is /tmp/signet-TOPIC-XXXXXX; ok() false when it could not be made.
  explicit ConfigFile(const std::string& topic) : dir_("/tmp/signet-" + topic + "-XXXXXX") {
    if (!::mkdtemp(dir_.data())) dir_.clear();
    path_ = dir_ + "/signet.conf";
  }
  ~ConfigFile() {
    if (dir_.empty()) return;
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  ConfigFile(const ConfigFile&) = delete;
  ConfigFile& operator=(const ConfigFile&) = delete;

  bool ok() const { return !dir_.empty(); }
  const std::string& dir() const { return dir_; }
  void write(const std::string& text) const { std::ofstream(path_) << text; }
  // What signet-milter --config PATH loads; `program` stands as argv[0].
  Result<conf::Config> load(const char* program) const {
    const char* args[] = {program, "--config", path_.c_str()};
    return conf::load_config(3, args);
  }

 private:
  std::string dir_;
  std::string path_;
};

inline std::vector<int> counts_from_args(int argc, char** argv, std::vector<int> defaults) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  return counts.empty() ? defaults : counts;
}

}  // namespace signet::bench
