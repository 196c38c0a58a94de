// Shared by the libFuzzer targets: reading a fuzz input as a few parts, and
// failing loudly when a property does not hold (libFuzzer then saves the
// input that broke it, as for a crash).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace signet::fuzz {

// A directory under /tmp for the files a target must write, removed at exit.
class TempDir {
 public:
  explicit TempDir(const std::string& topic) {
    std::string tmpl = "/tmp/signet-fuzz-" + topic + "-XXXXXX";
    path_ = ::mkdtemp(tmpl.data()) ? tmpl : std::string();
    if (path_.empty()) std::abort();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// RFC 6376 §3.4.2 / §3.4.4 a: every run of WSP (SP, HTAB) becomes one SP.
inline std::string reduce_wsp(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == ' ' || text[i] == '\t') {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      out.push_back(' ');
    } else {
      out.push_back(text[i++]);
    }
  }
  return out;
}

// A property the target checks beyond "no crash": prints what failed and aborts.
[[noreturn]] inline void fail(const char* file, int line, const char* what, std::string_view detail) {
  std::fprintf(stderr, "\n%s:%d: property failed: %s\n", file, line, what);
  if (!detail.empty()) std::fprintf(stderr, "  %.*s\n", static_cast<int>(detail.size()), detail.data());
  std::abort();
}

#define FUZZ_CHECK(cond, detail)                                           \
  do {                                                                     \
    if (!(cond)) ::signet::fuzz::fail(__FILE__, __LINE__, #cond, (detail)); \
  } while (0)

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input cut at each occurrence of `sep` into exactly n parts (the last
// takes the rest; missing parts are empty), so a seed is readable text:
// "main.cf part\n%%\nmaster.cf part".
inline std::vector<std::string_view> split_parts(std::string_view in, std::string_view sep, std::size_t n) {
  std::vector<std::string_view> parts;
  while (parts.size() + 1 < n) {
    const std::size_t at = in.find(sep);
    if (at == std::string_view::npos) break;
    parts.push_back(in.substr(0, at));
    in.remove_prefix(at + sep.size());
  }
  parts.push_back(in);
  parts.resize(n);
  return parts;
}

// Bytes taken from the front: a byte, or a length-prefixed string (one length
// byte; 255 means two more bytes, little-endian, follow). Past the end every
// read yields zero or empty, so any input decodes.
class Reader {
 public:
  Reader(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  std::uint8_t byte() { return p_ < end_ ? *p_++ : 0; }
  std::uint32_t u16() {
    const std::uint32_t lo = byte();
    return lo | (std::uint32_t{byte()} << 8);
  }
  std::string_view str() {
    std::size_t n = byte();
    if (n == 255) n = u16();
    n = std::min<std::size_t>(n, static_cast<std::size_t>(end_ - p_));
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }
  std::string_view rest() {
    std::string_view s(reinterpret_cast<const char*>(p_), static_cast<std::size_t>(end_ - p_));
    p_ = end_;
    return s;
  }

 private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

}  // namespace signet::fuzz
