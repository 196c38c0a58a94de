// milter/negotiate.h — what signet asks the MTA for at option negotiation
// (SMFIC_OPTNEG, milter protocol 6), decided in one pure function so that a
// unit test can check it without an MTA.
//
// The aim (issue 12): the MTA sends, and waits for, as little as possible.
//   Actions: SMFIF_ADDHDRS only (smfi_insheader), plus SMFIF_SETSYMLIST when
//     offered, to choose the macros sent at each stage.
//   Steps skipped: HELO, RCPT, DATA, unknown commands (signet uses none of
//     them). Connect, MAIL, headers, end of header, body and end of message
//     are needed.
//   No-reply steps: headers (SMFIP_NR_HDR) and body chunks (SMFIP_NR_BODY):
//     signet's answer to each is "continue" — the one exception, a body over
//     max-body-bytes, is held and given at end of message (same outcome:
//     accepted unsigned or tempfailed, its one log line written when the
//     limit was passed). Connect, MAIL and end of header are not no-reply:
//     their answer can be "accept" (over max-connections, untrusted, no
//     stream), which spares the MTA the rest of the connection or message.
//   SMFIP_HDR_LEADSPC: header values keep their leading whitespace (see
//     milter/header_text.h).
// Every flag is asked only when the MTA offers it (Postfix >= 2.6 and
// Sendmail >= 8.14 offer all of these); an old MTA gets the subset it knows.
//
// Macro lists (SMFIF_SETSYMLIST): what signet reads at each stage: connect
// {daemon_name} {client_addr}; MAIL {auth_authen} {mail_addr} i; end of
// header i; end of message i.
// Fails: never.
#pragma once

#include <string_view>
#include <vector>

namespace signet::milter {

struct Negotiated {
  unsigned long actions = 0;  // SMFIF_* asked
  unsigned long steps = 0;    // SMFIP_* asked
  bool leading_space = false;  // SMFIP_HDR_LEADSPC in force
  bool body_no_reply = false;  // SMFIP_NR_BODY in force: body verdicts wait for end of message
  struct Macros {
    int stage;  // SMFIM_*
    std::string_view names;
  };
  std::vector<Macros> macros;  // empty unless SMFIF_SETSYMLIST is offered
};

// offered_actions / offered_steps: what the MTA's SMFIC_OPTNEG offers (f0, f1).
Negotiated negotiate(unsigned long offered_actions, unsigned long offered_steps);

}  // namespace signet::milter
