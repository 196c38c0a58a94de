// signer/base64.h — RFC 4648 base64, as DKIM uses it for bh=, b= and p=.
//
// encode(): standard alphabet with '=' padding, no line breaks.
// decode(): ignores FWS (SP, HTAB, CR, LF) anywhere, since DKIM tag values may
// be folded (RFC 6376 §3.5 b=/bh=, §3.6.1 p=); returns nullopt on any other
// non-alphabet byte, misplaced padding or a truncated final quantum.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace signet::base64 {

std::string encode(std::string_view bytes);
std::optional<std::string> decode(std::string_view text);

}  // namespace signet::base64
