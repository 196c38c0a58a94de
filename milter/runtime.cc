#include "milter/runtime.h"

namespace signet::milter {

Result<std::shared_ptr<const Runtime>> load_runtime(const std::vector<std::string>& args, const Runtime* previous) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto cfg = conf::load_config(static_cast<int>(argv.size()), argv.data());
  if (!cfg) return cfg.error();
  auto rows = conf::key_rows(cfg.value());
  if (!rows) return rows.error();
  auto keys = keystore::KeySnapshot::load(cfg->key_directory, rows.value(), cfg->key_options(),
                                          previous ? previous->keys.get() : nullptr);
  if (!keys) return keys.error();
  return std::make_shared<const Runtime>(Runtime{std::move(cfg.value()), std::move(keys.value())});
}

}  // namespace signet::milter
