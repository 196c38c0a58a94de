// conf/ini.h — reading signet.conf and its includes: INI lines, with where
// each came from, so every error can name FILE:LINE.
//
// The syntax (what signet has always read, Boost.Program_options' config
// file syntax):
//   # comment            a '#' starts a comment anywhere on a line
//   name = value         whitespace around name and value is dropped; the
//                        value may be empty
//   [stream.tx]          the lines that follow belong to this section
//                        (until the next one); before any, to none ("")
// parse_ini(text, file): every name = value line in order, or the first
// line that is neither, a comment nor blank, as "FILE:LINE: what; what to
// do". A section header without a name ("[]") is refused too.
// Fails: permanent errors only; never throws.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet::conf {

struct IniLine {
  std::string section;  // "" for lines before any [section]
  std::string name, value;
  std::string file;
  std::size_t line = 0;

  std::string where() const { return file + ":" + std::to_string(line); }
};

Result<std::vector<IniLine>> parse_ini(std::string_view text, const std::string& file);

}  // namespace signet::conf
