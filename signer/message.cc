#include "signer/message.h"

#include <cstring>

namespace signet {
namespace {

// RFC 5322 §3.6.8: field-name = 1*ftext, ftext = %d33-57 / %d59-126.
bool is_ftext(unsigned char c) { return c >= 33 && c <= 126 && c != ':'; }

// A field line: 1*ftext, optional WSP (obsolete syntax, RFC 5322 §4.5.8), ':'.
bool starts_field(std::string_view line) {
  std::size_t i = 0;
  while (i < line.size() && is_ftext(static_cast<unsigned char>(line[i]))) ++i;
  if (i == 0) return false;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':';
}

std::string where(std::size_t line_no) { return "line " + std::to_string(line_no) + ": "; }

}  // namespace

std::string normalize_line_endings(std::string_view in) {
  std::string out;
  out.reserve(in.size() + in.size() / 32);
  std::size_t pos = 0;
  while (pos < in.size()) {
    const void* lf = std::memchr(in.data() + pos, '\n', in.size() - pos);
    if (!lf) {
      out.append(in.substr(pos));
      break;
    }
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(lf) - in.data());
    out.append(in.substr(pos, at - pos));
    if (at == 0 || in[at - 1] != '\r') out.push_back('\r');
    out.push_back('\n');
    pos = at + 1;
  }
  return out;
}

std::string with_final_crlf(std::string bytes) {
  if (!bytes.empty() && !bytes.ends_with("\r\n")) bytes += "\r\n";
  return bytes;
}

Result<ParsedMessage> parse_message(std::string_view in, const MessageLimits& limits) {
  ParsedMessage msg;
  std::size_t pos = 0;
  std::size_t line_no = 0;
  std::size_t field_begin = std::string_view::npos;
  auto close_field = [&](std::size_t end) -> Status {
    if (field_begin == std::string_view::npos) return Ok{};
    if (end - field_begin > limits.max_field_bytes) {
      return permanent_error(where(line_no) + "header field is longer than " +
                             std::to_string(limits.max_field_bytes) + " bytes: refused");
    }
    if (msg.fields.size() >= limits.max_fields) {
      return permanent_error(where(line_no) + "more than " + std::to_string(limits.max_fields) +
                             " header fields: refused");
    }
    msg.fields.push_back(in.substr(field_begin, end - field_begin));
    field_begin = std::string_view::npos;
    return Ok{};
  };

  while (pos < in.size()) {
    ++line_no;
    std::size_t eol = in.find("\r\n", pos);
    const bool last = eol == std::string_view::npos;
    if (last) eol = in.size();
    const std::string_view line = in.substr(pos, eol - pos);
    const std::size_t next = last ? in.size() : eol + 2;

    if (line.empty()) {  // RFC 5322 §2.1: the empty line ends the header
      if (Status s = close_field(pos >= 2 ? pos - 2 : 0); !s) return s.error();
      msg.has_separator = true;
      msg.body = in.substr(next);
      return msg;
    }
    if (std::memchr(line.data(), '\0', line.size())) {
      return permanent_error(where(line_no) + "NUL byte in the header: not a valid message");
    }
    if (line[0] == ' ' || line[0] == '\t') {  // continuation (folding, RFC 5322 §2.2.3)
      if (field_begin == std::string_view::npos) {
        return permanent_error(where(line_no) + "continuation line before any header field");
      }
      if (eol - field_begin > limits.max_field_bytes) {
        return permanent_error(where(line_no) + "header field is longer than " +
                               std::to_string(limits.max_field_bytes) + " bytes: refused");
      }
    } else {
      if (Status s = close_field(pos - 2); !s) return s.error();
      if (!starts_field(line)) {
        return permanent_error(where(line_no) +
                               "not a header field (expected \"Name: value\"); is the input one "
                               "RFC 5322 message, headers first?");
      }
      field_begin = pos;
    }
    pos = next;
  }
  // No empty line: the whole input is header, the body is empty.
  if (Status s = close_field(in.size() >= 2 && in.substr(in.size() - 2) == "\r\n" ? in.size() - 2 : in.size()); !s) {
    return s.error();
  }
  return msg;
}

}  // namespace signet
