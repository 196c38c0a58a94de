#include "milter/header_text.h"

#include "signer/message.h"

namespace signet::milter {

std::string field_from_mta(std::string_view name, std::string_view value, bool leading_space) {
  std::string field(name);
  field.push_back(':');
  if (!leading_space) field.push_back(' ');
  field += normalize_line_endings(value);
  return field;
}

std::string value_to_mta(std::string_view value, bool leading_space) {
  std::string out = leading_space ? " " : "";
  for (char c : value) {
    if (c != '\r') out.push_back(c);
  }
  return out;
}

}  // namespace signet::milter
