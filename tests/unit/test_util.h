// Shared by the unit tests: files from tests/vectors and tests/corpus, CRLF
// text, temporary directories, and DNS answers from a map.
#pragma once

#include <dirent.h>
#include <stdlib.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <map>
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

}  // namespace signet::testing
