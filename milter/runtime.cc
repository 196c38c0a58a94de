#include "milter/runtime.h"

#include <algorithm>

#include "milter/retirer.h"
#include "signer/key.h"

namespace signet::milter {

std::string Runtime::slot_key(std::string_view stream, std::string_view domain, std::string_view selector,
                              std::string_view algorithm) {
  std::string k;
  k.reserve(stream.size() + domain.size() + selector.size() + algorithm.size() + 3);
  for (std::string_view part : {stream, domain, selector}) (k += part) += '\0';
  return k += algorithm;
}

ledger::Slot* Runtime::slot(std::string_view stream, std::string_view domain, std::string_view selector,
                            std::string_view algorithm) const {
  if (slots.empty()) return nullptr;
  const auto it = slots.find(slot_key(stream, domain, selector, algorithm));
  return it == slots.end() ? nullptr : it->second;
}

Result<std::shared_ptr<const Runtime>> load_runtime(const std::vector<std::string>& args, const Runtime* previous,
                                                    Instruments instruments, privsep::SignerClient* signer,
                                                    keystore::MasterKeyKeeper* master_key) {
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  auto cfg = conf::load_config(static_cast<int>(argv.size()), argv.data());
  if (!cfg) return cfg.error();
  auto rows = conf::key_rows(cfg.value());
  if (!rows) return rows.error();
  std::shared_ptr<const privsep::KeyTable> table;
  Result<keystore::LoadOptions> key_options = cfg->key_options();
  if (signer) {
    const privsep::KeyTable* kept = previous ? previous->signer_table.get() : nullptr;
    const bool token_keys = std::any_of(rows->begin(), rows->end(), [](const keystore::KeyRow& r) { return r.in_token(); });
    auto loaded = signer->load(kept ? kept->generation : 0, kept ? kept->epoch : 0, token_keys);
    if (!loaded) return loaded.error();
    table = std::make_shared<const privsep::KeyTable>(std::move(loaded.value()));
    key_options->open_key = signer->key_source(table);
  } else {
    key_options = conf::key_load_options(cfg.value(), master_key);
  }
  if (!key_options) return key_options.error();
  auto keys = keystore::KeySnapshot::load(cfg->key_directory, rows.value(), key_options.value(),
                                          previous && !signer ? previous->keys.get() : nullptr);
  if (!keys) return keys.error();
  // The master key that opened a good set is the one a reload falls back on
  // (keystore/sealed.h); a wrong one read and refused never is.
  if (master_key && !signer && key_options->master_key) master_key->keep(cfg->master_key_file, key_options->master_key);
  auto rt = std::make_unique<Runtime>();
  rt->config = std::move(cfg.value());
  rt->keys = std::move(keys.value());
  rt->metrics = instruments.metrics;
  rt->signer_table = std::move(table);
  if (instruments.counts) {
    // Here, at load, so the signing path finds every slot without a lock.
    for (std::size_t i = 0; i < rt->keys->size(); ++i) {
      if (!rt->keys->loaded(i)) continue;
      const keystore::KeyRow& r = rt->keys->row(i);
      const std::string alg(algorithm_name(r.algorithm));
      rt->slots.emplace(Runtime::slot_key(r.stream, r.domain, r.selector, alg),
                        instruments.counts->slot(ledger::KeyId{r.stream, r.domain, r.selector, alg}));
    }
  }
  // Freed off the signing path when a reload has replaced it and the last
  // message on it ends (milter/retirer.h).
  return retire_off_path(std::move(rt));
}

}  // namespace signet::milter
