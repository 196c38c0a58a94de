// DNS key records from a map, for the targets that verify (fuzz_signature,
// fuzz_session): each name's TXT records, their strings already joined.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "signer/verifier.h"

namespace signet::fuzz {

class MapLookup final : public KeyLookup {
 public:
  std::map<std::string, std::vector<std::string>> records;
  Result<std::vector<std::string>> txt(std::string_view name) override {
    auto it = records.find(std::string(name));
    return it == records.end() ? std::vector<std::string>{} : it->second;
  }
};

}  // namespace signet::fuzz
