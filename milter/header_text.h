// milter/header_text.h — header text between the MTA and signet, both
// directions, in one place (OpenDKIM checks this quirk in eight places).
//
// The MTA hands a header as (name, value) and stores folded values with LF
// line breaks (Postfix, Sendmail's internal form); on the wire the field is
// "Name: value" with CRLF folding, and that is what is signed.
// SMFIP_HDR_LEADSPC (negotiated by signet, granted by Postfix >= 2.6 and
// Sendmail >= 8.14): the value arrives with its exact leading whitespace
// and must be given back with it. Without it the MTA eats one SP after the
// colon on the way in ("Sendmail by default eats one space (not tab) after
// the colon", Postfix src/milter/milter8.c) and adds one on the way out.
//
// field_from_mta(name, value, leading_space): the field as it travels,
//   "Name:" + value with every bare LF made CRLF; without leading_space the
//   eaten SP is put back (a field written without one cannot be told apart;
//   the SP is by far the common form, and relaxed canonicalization ignores it).
// value_to_mta(value, leading_space): a value signet adds ("v=1; …" folded
//   with CRLF SP) as smfi_insheader takes it: CRs removed (the MTA stores LF
//   and writes CRLF), a leading SP when leading_space.
// Fails: never.
#pragma once

#include <string>
#include <string_view>

namespace signet::milter {

std::string field_from_mta(std::string_view name, std::string_view value, bool leading_space);
std::string value_to_mta(std::string_view value, bool leading_space);

}  // namespace signet::milter
