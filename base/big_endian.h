// base/big_endian.h — 32-bit integers in network byte order, as the milter
// protocol frames its packets (a 4-byte big-endian length, then the command;
// libmilter's mfdef.h) and carries its option words.
//
// append_u32_be(out, v): appends the 4 bytes of v, most significant first.
// read_u32_be(s, at): the value of the 4 bytes at s[at..at+4).
//   REQUIRES: at + 4 <= s.size() (callers check the length they read).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace signet {

inline void append_u32_be(std::string& out, std::uint32_t v) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
  out.append(b, 4);
}

inline std::uint32_t read_u32_be(std::string_view s, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(s[at + i])); };
  return byte(0) << 24 | byte(1) << 16 | byte(2) << 8 | byte(3);
}

}  // namespace signet
