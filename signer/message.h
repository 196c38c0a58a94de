// signer/message.h — splitting an RFC 5322 message into header fields and body.
//
// What it is: the parser `signet sign` and `signet verify` use on a whole
// message (the milter gets fields one by one from the MTA instead).
//
// normalize_line_endings(bytes): every bare LF becomes CRLF; CRLF and bare CR
// are kept. This is what bare-LF input gets: MTAs hand milters CRLF, and a
// file written on Unix has LF, so both sign and verify see the CRLF form
// (and `signet sign` outputs it).
//
// with_final_crlf(crlf_bytes): the message as SMTP carries it. DATA ends
// with CRLF "." CRLF (RFC 5321 §4.1.1.4), so the last line of a message on
// the wire always ends with CRLF, whether or not the file it came from had a
// final line break. `signet sign` signs and writes this form: a last line
// "abc  " signed without it would hash its trailing whitespace as kept
// ("abc \r\n", §3.4.4) and fail once it travels ("abc  \r\n" -> "abc\r\n").
//
// parse_message(crlf_bytes, limits): the header fields (each raw, from its
// name to the end of its last continuation line, without the final CRLF) and
// the body (everything after the empty line; empty when there is none).
// Fails (permanent, message names the line) on: a line in the header that is
// neither a field ("name:") nor a continuation, a continuation before any
// field, a NUL byte in the header, more fields than limits.max_fields, a field
// longer than limits.max_field_bytes. Never fails on body content.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet {

struct MessageLimits {
  std::size_t max_fields = 10'000;           // header fields per message
  std::size_t max_field_bytes = 1024 * 1024;  // one field, continuation lines included
};

struct ParsedMessage {
  std::vector<std::string_view> fields;  // views into the parsed buffer
  std::string_view body;
  bool has_separator = false;  // an empty line ended the header
};

std::string normalize_line_endings(std::string_view bytes);
std::string with_final_crlf(std::string crlf_bytes);

Result<ParsedMessage> parse_message(std::string_view crlf_bytes, const MessageLimits& limits = {});

}  // namespace signet
