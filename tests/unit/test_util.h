// Shared by the unit tests: files from tests/vectors and tests/corpus, CRLF text.
#pragma once

#include <dirent.h>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

namespace signet::testing {

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
