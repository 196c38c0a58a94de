// config_load_bench: the cost of conf::load_config and conf::key_rows for an
// ESP-sized key set (issue 12 part 5: a reload with unchanged keys under 2 s),
// through the real loader and a real file.
//
// Each of N tenants is a [stream.tN] (domain tN.example, selectors rN and eN)
// and a [rule.tN] (from-domain = tN.example, stream = tN), the shape
// bench/keyset_scale.py generates. Reported per N: seconds to load the
// configuration and to list its key rows, the best of 3 rounds (the machine
// is shared). Prints one JSON object.
//
// usage: config_load_bench [STREAMS...]   (default: 20000 100000)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "conf/config.h"

using namespace signet::conf;
using Clock = std::chrono::steady_clock;

namespace {

std::string config_text(int streams, const std::string& key_dir) {
  std::string t = "key-directory = " + key_dir + "\n";
  for (int i = 0; i < streams; ++i) {
    const std::string n = std::to_string(i);
    t += "[stream.t" + n + "]\ndomain = t" + n + ".example\nselector = r" + n + "\nselector = e" + n + "\n";
  }
  for (int i = 0; i < streams; ++i) {
    const std::string n = std::to_string(i);
    t += "[rule.t" + n + "]\nfrom-domain = t" + n + ".example\nstream = t" + n + "\n";
  }
  return t;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> counts;
  for (int i = 1; i < argc; ++i) counts.push_back(std::atoi(argv[i]));
  if (counts.empty()) counts = {20000, 100000};
  char dir[] = "/tmp/signet-config-bench-XXXXXX";
  if (!mkdtemp(dir)) return 1;
  const std::string path = std::string(dir) + "/signet.conf";
  std::printf("{\"key_sets\": [");
  for (std::size_t c = 0; c < counts.size(); ++c) {
    const int streams = counts[c];
    std::ofstream(path) << config_text(streams, dir);
    const char* args[] = {"config_load_bench", "--config", path.c_str()};
    double load_best = 1e18, rows_best = 1e18;
    for (int round = 0; round < 3; ++round) {
      const auto t0 = Clock::now();
      auto cfg = load_config(3, args);
      const double load_s = seconds_since(t0);
      if (!cfg) {
        std::fprintf(stderr, "%s\n", cfg.error().message.c_str());
        return 1;
      }
      // Check the bench loads what it claims.
      if (cfg->streams.size() != static_cast<std::size_t>(streams) || cfg->rules.size() != cfg->streams.size() ||
          cfg->streams.back().selectors.size() != 2) {
        std::fprintf(stderr, "loaded %zu streams, %zu rules\n", cfg->streams.size(), cfg->rules.size());
        return 1;
      }
      const auto t1 = Clock::now();
      auto rows = key_rows(cfg.value());
      const double rows_s = seconds_since(t1);
      if (!rows || rows->size() != 2 * static_cast<std::size_t>(streams)) {
        std::fprintf(stderr, "key rows: %s\n", rows ? "wrong count" : rows.error().message.c_str());
        return 1;
      }
      load_best = std::min(load_best, load_s);
      rows_best = std::min(rows_best, rows_s);
    }
    std::printf("%s{\"streams\": %d, \"load_config_s\": %.3f, \"key_rows_s\": %.3f}", c ? ", " : "", streams,
                load_best, rows_best);
    std::fflush(stdout);
  }
  std::printf("]}\n");
  unlink(path.c_str());
  rmdir(dir);
  return 0;
}
