#include "conf/ini.h"

#include "base/ascii.h"

namespace signet::conf {

Result<std::vector<IniLine>> parse_ini(std::string_view text, const std::string& file) {
  std::vector<IniLine> out;
  std::string section;
  for (ascii::LineReader lines(text); lines.next();) {
    const std::size_t line_no = lines.number();
    std::string_view line = lines.line();
    if (const std::size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = ascii::trim(line);
    if (line.empty()) continue;
    // Built on the error path only: most lines have none.
    const auto at = [&] { return file + ":" + std::to_string(line_no) + ": "; };
    if (line.front() == '[') {
      if (line.back() != ']' || line.size() < 3) {
        return permanent_error(at() + "bad section header " + std::string(line.substr(0, 60)) +
                               "; expected [stream.NAME] or [rule.NAME]");
      }
      section = std::string(ascii::trim(line.substr(1, line.size() - 2)));
      continue;
    }
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) {
      return permanent_error(at() + "expected \"name = value\", got " + std::string(line.substr(0, 60)));
    }
    const std::string_view name = ascii::trim(line.substr(0, eq));
    if (name.empty()) return permanent_error(at() + "an option without a name");
    out.push_back(IniLine{section, std::string(name), std::string(ascii::trim(line.substr(eq + 1))), file, line_no});
  }
  return out;
}

}  // namespace signet::conf
