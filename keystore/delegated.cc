#include "keystore/delegated.h"

#include <fstream>

#include "base/ascii.h"
#include "base/time.h"
#include "keystore/atomic_file.h"

namespace signet::keystore {

Result<std::vector<Delegated>> read_delegated(const std::string& dir) {
  const std::string path = dir + "/" + kDelegatedName;
  std::ifstream in(path, std::ios::binary);
  std::vector<Delegated> out;
  if (!in) return out;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view l = ascii::trim(line);
    if (l.empty() || l.front() == '#') continue;
    if (l == "[delegated]") {
      out.emplace_back();
      continue;
    }
    const std::size_t eq = l.find('=');
    if (out.empty() || eq == std::string_view::npos) {
      return permanent_error(path + ":" + std::to_string(line_no) + ": expected [delegated] blocks of name = value");
    }
    const std::string k(ascii::trim(l.substr(0, eq))), v(ascii::trim(l.substr(eq + 1)));
    Delegated& d = out.back();
    if (k == "domain") d.domain = v;
    else if (k == "selector") d.selector = v;
    else if (k == "target") d.target = v;
    else if (k == "owner") d.owner = v;
    else if (k == "added" && rfc3339::parse(v)) d.added = *rfc3339::parse(v);
    else return permanent_error(path + ":" + std::to_string(line_no) + ": unknown option " + k);
  }
  return out;
}

Status write_delegated(const std::string& dir, const std::vector<Delegated>& list) {
  std::string text = "# signet: selectors a vendor signs for (CNAME to its record); register rows, no keys here.\n";
  for (const Delegated& d : list) {
    text += "\n[delegated]\ndomain = " + d.domain + "\nselector = " + d.selector + "\ntarget = " + d.target +
            "\nowner = " + d.owner + "\nadded = " + rfc3339::format(d.added) + "\n";
  }
  return write_file_atomic(dir, kDelegatedName, text);
}

}  // namespace signet::keystore
