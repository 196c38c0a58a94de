#include "tools/keyset_context.h"

#include <ctime>

#include "base/time.h"
#include "signer/secure_memory.h"

namespace po = boost::program_options;

namespace signet::tools {

void KeySetContext::add_options(po::options_description& desc) {
  desc.add_options()("config", po::value<std::string>(), "signet-milter configuration (default /etc/signet/signet.conf)")(
      "dir", po::value<std::string>(), "key directory (default: the configuration's key-directory)")(
      "now", po::value<std::string>(), "act as if it were this time (RFC 3339 or Unix time): tests, dry runs");
}

Result<std::int64_t> clock_from(const po::variables_map& vm) {
  if (!vm.count("now")) return static_cast<std::int64_t>(std::time(nullptr));
  const std::string v = vm["now"].as<std::string>();
  auto t = rfc3339::parse(v);
  if (!t && !v.empty() && v.size() <= 12 && v.find_first_not_of("0123456789") == std::string::npos) t = std::stoll(v);
  if (!t) return permanent_error("--now " + v + ": expected 2026-11-26T14:00:00Z or a Unix time");
  return *t;
}

Result<KeySetContext> KeySetContext::open(const po::variables_map& vm, keystore::KeyDirectory::Mode mode) {
  const std::string config_file = vm.count("config") ? vm["config"].as<std::string>() : "/etc/signet/signet.conf";
  const char* argv[] = {"signet", "--config", config_file.c_str()};
  auto cfg = conf::load_config(3, argv);
  if (!cfg) return cfg.error();
  // The key set is read into the secure heap the daemon would use; the tools
  // go on with it unlocked (RLIMIT_MEMLOCK as an ordinary user): they exit soon.
  // One set up already (a key generated first) is kept whatever its size.
  if (Status s = init_secure_heap(cfg->secure_heap_size); !s && !secure_heap().ready) return s.error();
  auto now = clock_from(vm);
  if (!now) return now.error();
  const std::string dir = vm.count("dir") ? vm["dir"].as<std::string>() : cfg->key_directory;
  auto options = conf::key_load_options(cfg.value());
  if (!options) return options.error();
  options->overlap_signing = 0;  // the tools ask what signs at `now` without the overlap
  auto kd = keystore::KeyDirectory::open(dir, mode, options.value());
  if (!kd) return kd.error();
  return KeySetContext(std::move(cfg.value()), std::move(kd.value()), now.value());
}

Result<keystore::StreamInfo> KeySetContext::stream(const std::string& name) const {
  const conf::Stream* s = config.find_stream(name);
  if (!s) return permanent_error("stream " + name + " is not defined in " + config.config_file);
  return keystore::StreamInfo{s->name, s->domain, s->owner, s->rotation};
}

}  // namespace signet::tools
