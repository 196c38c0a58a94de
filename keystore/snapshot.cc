#include "keystore/snapshot.h"

#include <algorithm>
#include <set>

#include "keystore/key_file.h"

namespace signet::keystore {

Result<std::shared_ptr<const KeySnapshot>> KeySnapshot::load(const std::vector<KeySpec>& specs) {
  auto snap = std::make_shared<KeySnapshot>();
  std::set<std::pair<std::string, std::string>> selectors;
  for (const KeySpec& spec : specs) {
    if (!selectors.emplace(spec.domain, spec.selector).second) {
      return permanent_error("selector " + spec.selector + " is used twice for " + spec.domain +
                             ": a selector names exactly one key");
    }
    auto key = load_private_key(spec.path);
    if (!key) return permanent_error("stream " + spec.stream + ": " + key.error().message);
    snap->keys_.push_back(Entry{spec.stream, spec.domain, spec.selector,
                                std::make_shared<const PrivateKey>(std::move(key.value()))});
  }
  std::stable_sort(snap->keys_.begin(), snap->keys_.end(), [](const Entry& a, const Entry& b) {
    if (a.stream != b.stream) return a.stream < b.stream;
    return a.key->algorithm() < b.key->algorithm();
  });
  for (std::size_t i = 0; i < snap->keys_.size();) {
    std::size_t j = i + 1;
    while (j < snap->keys_.size() && snap->keys_[j].stream == snap->keys_[i].stream) {
      if (snap->keys_[j].key->algorithm() == snap->keys_[j - 1].key->algorithm()) {
        return permanent_error("stream " + snap->keys_[i].stream + " has two " +
                               std::string(key_type_name(snap->keys_[j].key->algorithm())) + " keys (" +
                               snap->keys_[j - 1].selector + ", " + snap->keys_[j].selector +
                               "): at most one per algorithm signs at a time");
      }
      ++j;
    }
    snap->by_stream_[snap->keys_[i].stream] = {i, j};
    i = j;
  }
  return std::shared_ptr<const KeySnapshot>(std::move(snap));
}

std::vector<SigningKey> KeySnapshot::keys_for(std::string_view stream, std::int64_t /*now*/) const {
  std::vector<SigningKey> out;
  const auto it = by_stream_.find(stream);
  if (it == by_stream_.end()) return out;
  for (std::size_t i = it->second.first; i < it->second.second; ++i) {
    out.push_back(SigningKey{keys_[i].key.get(), keys_[i].domain, keys_[i].selector, std::nullopt});
  }
  return out;
}

}  // namespace signet::keystore
