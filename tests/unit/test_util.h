// Shared by the unit tests: files from tests/vectors and tests/corpus, CRLF
// text, temporary directories, DNS answers from a map, and this process's
// mappings (/proc/self/smaps) with their VmFlags.
#pragma once

#include <dirent.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <initializer_list>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "keystore/lifecycle.h"
#include "signer/verifier.h"

namespace signet::testing {

// The stream the key-directory tests plan keys for: tx, example.com, owner ops.
inline keystore::StreamInfo tx_stream() {
  keystore::StreamInfo s;
  s.stream = "tx";
  s.domain = "example.com";
  s.owner = "ops";
  return s;
}

// A fresh directory under /tmp, named for the test's topic.
inline std::string temp_dir(const std::string& topic) {
  std::string tmpl = "/tmp/signet-" + topic + "-XXXXXX";
  return mkdtemp(tmpl.data());
}

// TXT records from a map (each record's strings already joined); `fail` makes
// every lookup a temporary error, as a DNS timeout is.
class MapLookup final : public KeyLookup {
 public:
  std::map<std::string, std::vector<std::string>> records;
  bool fail = false;
  Result<std::vector<std::string>> txt(std::string_view name) override {
    if (fail) return temporary_error("timeout");
    auto it = records.find(std::string(name));
    return it == records.end() ? std::vector<std::string>{} : it->second;
  }
};

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string vector_file(const std::string& rel) { return read_file(std::string(SIGNET_VECTORS_DIR) + "/" + rel); }

inline std::string crlf(std::initializer_list<const char*> lines) {
  std::string out;
  for (const char* l : lines) {
    out += l;
    out += "\r\n";
  }
  return out;
}

// Every *.eml under tests/corpus, sorted by name.
inline std::vector<std::string> corpus_files() {
  std::vector<std::string> out;
  if (DIR* d = opendir(SIGNET_CORPUS_DIR)) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.size() > 4 && n.substr(n.size() - 4) == ".eml") out.push_back(std::string(SIGNET_CORPUS_DIR) + "/" + n);
    }
    closedir(d);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// One mapping of /proc/self/smaps: [lo, hi), perms and name from its header
// line ("anonymous" when it has none), and its VmFlags followed by a space
// (" rd wr mr mw me lo dd "), so " lo " finds the flag.
struct Mapping {
  std::uintptr_t lo, hi;
  std::string perms, name, flags;
};

inline std::vector<Mapping> mappings() {
  std::vector<Mapping> out;
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  while (std::getline(smaps, line)) {
    unsigned long lo = 0, hi = 0;
    char perms[5] = {};
    if (std::sscanf(line.c_str(), "%lx-%lx %4s", &lo, &hi, perms) == 3) {
      const auto slash = line.find_first_of("/[");
      out.push_back({lo, hi, perms, slash == std::string::npos ? "anonymous" : line.substr(slash), ""});
    } else if (line.rfind("VmFlags:", 0) == 0 && !out.empty()) {
      out.back().flags = line.substr(8) + " ";
    }
  }
  return out;
}

// The mapping holding `address`, if any.
inline std::optional<Mapping> mapping_of(const void* address) {
  const auto at = reinterpret_cast<std::uintptr_t>(address);
  for (Mapping& m : mappings()) {
    if (m.lo <= at && at < m.hi) return m;
  }
  return std::nullopt;
}

}  // namespace signet::testing
