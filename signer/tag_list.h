// signer/tag_list.h — RFC 6376 §3.2 tag=value lists (DKIM-Signature values,
// DNS key records).
//
// parse_tag_list(text): the tags in order. Each Tag keeps its value with the
// surrounding FWS removed, and the byte range [span_begin, span_end) of the
// text between its '=' and the next ';' (or the end): that range, whitespace
// included, is what §3.5 deletes from b= when a signature is verified.
// Fails (permanent) on: a tag-spec without '=', a bad tag name (ALPHA
// *(ALPHA / DIGIT / "_")), a duplicate tag name (§3.2: the whole list is
// then invalid). Tag names are case-sensitive (§3.2).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet {

struct Tag {
  std::string name;
  std::string value;
  std::size_t span_begin = 0;
  std::size_t span_end = 0;
};

class TagList {
 public:
  std::vector<Tag> tags;
  const Tag* find(std::string_view name) const;
};

Result<TagList> parse_tag_list(std::string_view text);

// Removes every FWS byte (SP, HTAB, CR, LF): for values such as h= and b=.
std::string strip_fws(std::string_view value);

// Splits on ':' and strips FWS around each element (h= in §3.5, h=/s= in §3.6.1).
std::vector<std::string> split_colon_list(std::string_view value);

}  // namespace signet
