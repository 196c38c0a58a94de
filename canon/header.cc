// RFC 6376 §3.4.1 (simple) and §3.4.2 (relaxed) header canonicalization.
#include "canon/header.h"

#include "base/ascii.h"

namespace signet::canon {

using ascii::is_wsp;
using ascii::lower;

std::string_view header_name(std::string_view raw) {
  std::string_view name = raw.substr(0, raw.find(':'));
  while (!name.empty() && is_wsp(name.back())) name.remove_suffix(1);
  return name;
}

bool header_name_equals(std::string_view raw, std::string_view lower_name) {
  return ascii::iequals(header_name(raw), lower_name);
}

std::string_view header_value(std::string_view raw) {
  const std::size_t colon = raw.find(':');
  return colon == std::string_view::npos ? std::string_view() : raw.substr(colon + 1);
}

void append_canonical_header(Canon canon, std::string_view raw, std::string& out) {
  if (canon == Canon::Simple) {  // §3.4.1: no changes at all
    out.append(raw);
    out.append("\r\n");
    return;
  }
  // §3.4.2: lowercase name, no WSP around the colon.
  const std::size_t colon = raw.find(':');
  for (char c : header_name(raw)) out.push_back(lower(c));
  out.push_back(':');
  if (colon != std::string_view::npos) {
    std::string_view value = raw.substr(colon + 1);
    bool pending_space = false;
    bool any = false;
    for (std::size_t i = 0; i < value.size(); ++i) {
      const char c = value[i];
      if (c == '\r' && i + 1 < value.size() && value[i + 1] == '\n') {
        ++i;  // unfold: a CRLF inside a field is always folding
        continue;
      }
      if (c == '\n') continue;  // bare-LF folding, as files and some MTAs give it
      if (is_wsp(c)) {
        pending_space = any;  // leading WSP is dropped, runs become one SP
        continue;
      }
      if (pending_space) {
        out.push_back(' ');
        pending_space = false;
      }
      out.push_back(c);
      any = true;
    }
  }
  out.append("\r\n");
}

std::string canonicalize_header(Canon canon, std::string_view raw) {
  std::string out;
  out.reserve(raw.size() + 2);
  append_canonical_header(canon, raw, out);
  return out;
}

}  // namespace signet::canon
