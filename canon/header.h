// canon/header.h — RFC 6376 §3.4.1 / §3.4.2 header field canonicalization.
//
// What it is: pure functions from one raw header field to its canonical form.
// A raw field is the bytes from the start of its name to the end of its last
// continuation line, WITHOUT the CRLF that ends the field: "Subject: a\r\n b".
//
// Calls:
//   canonicalize_header(Canon::Simple, raw)  -> raw + "\r\n"  (§3.4.1: no change)
//   canonicalize_header(Canon::Relaxed, raw) -> "name:value\r\n" (§3.4.2)
//   header_name(raw)       -> the name as written, whitespace before ':' removed
//   header_name_equals(raw, "from") -> case-insensitive name comparison
//   header_value(raw)      -> everything after the first ':' (empty if none)
//
// Relaxed, per §3.4.2: the name is lowercased and whitespace before the colon
// dropped; the value is unfolded (CRLF and also bare LF used as folding are
// removed, since MTAs and files hand us both), runs of SP/HTAB become one SP,
// and whitespace at the start and end of the value is removed.
//
// Fails: never. A field with no colon canonicalizes as if it were all name
// (callers reject such fields earlier; see signer/message.h).
#pragma once

#include <string>
#include <string_view>

#include "canon/body.h"

namespace signet::canon {

std::string canonicalize_header(Canon canon, std::string_view raw_field);

// Appends the canonical form to out (no allocation beyond out's growth).
void append_canonical_header(Canon canon, std::string_view raw_field, std::string& out);

std::string_view header_name(std::string_view raw_field);
bool header_name_equals(std::string_view raw_field, std::string_view lower_name);
std::string_view header_value(std::string_view raw_field);

}  // namespace signet::canon
