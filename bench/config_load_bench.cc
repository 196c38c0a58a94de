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
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "bench/tenant_config.h"
#include "conf/config.h"

using namespace signet::conf;
using signet::bench::ConfigFile;
using signet::bench::TenantShape;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
  const std::vector<int> counts = signet::bench::counts_from_args(argc, argv, {20000, 100000});
  const ConfigFile file("config-bench");
  if (!file.ok()) return 1;
  std::printf("{\"key_sets\": [");
  for (std::size_t c = 0; c < counts.size(); ++c) {
    const int streams = counts[c];
    file.write(signet::bench::tenant_config_text(
        TenantShape{.tenants = streams, .head = "key-directory = " + file.dir() + "\n", .two_selectors = true}));
    double load_best = 1e18, rows_best = 1e18;
    for (int round = 0; round < 3; ++round) {
      const auto t0 = Clock::now();
      auto cfg = file.load("config_load_bench");
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
  return 0;
}
