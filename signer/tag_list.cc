#include "signer/tag_list.h"

namespace signet {
namespace {

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string_view trim_fws(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

bool valid_tag_name(std::string_view n) {
  if (n.empty() || !is_alpha(n[0])) return false;
  for (char c : n) {
    if (!is_alpha(c) && !is_digit(c) && c != '_') return false;
  }
  return true;
}

}  // namespace

const Tag* TagList::find(std::string_view name) const {
  for (const Tag& t : tags) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

Result<TagList> parse_tag_list(std::string_view text) {
  TagList list;
  std::size_t pos = 0;
  while (pos <= text.size()) {
    std::size_t semi = text.find(';', pos);
    if (semi == std::string_view::npos) semi = text.size();
    const std::string_view spec = text.substr(pos, semi - pos);
    if (trim_fws(spec).empty()) {
      // §3.2: a trailing ';' is allowed; an empty spec elsewhere is not.
      if (semi < text.size() && !trim_fws(text.substr(semi + 1)).empty()) {
        return permanent_error("empty tag-spec (\";;\") in tag list");
      }
      break;
    }
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos) {
      return permanent_error("tag-spec \"" + std::string(trim_fws(spec).substr(0, 40)) + "\" has no '='");
    }
    const std::string name(trim_fws(spec.substr(0, eq)));
    if (!valid_tag_name(name)) return permanent_error("invalid tag name \"" + name.substr(0, 40) + "\"");
    if (list.find(name)) return permanent_error("tag \"" + name + "\" occurs twice (RFC 6376 §3.2)");
    Tag tag;
    tag.name = name;
    tag.value = std::string(trim_fws(spec.substr(eq + 1)));
    tag.span_begin = pos + eq + 1;
    tag.span_end = semi;
    list.tags.push_back(std::move(tag));
    pos = semi + 1;
  }
  return list;
}

std::string strip_fws(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (!is_fws(c)) out.push_back(c);
  }
  return out;
}

std::vector<std::string> split_colon_list(std::string_view value) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (true) {
    const std::size_t colon = value.find(':', pos);
    out.emplace_back(trim_fws(value.substr(pos, colon == std::string_view::npos ? std::string_view::npos : colon - pos)));
    if (colon == std::string_view::npos) break;
    pos = colon + 1;
  }
  return out;
}

}  // namespace signet
