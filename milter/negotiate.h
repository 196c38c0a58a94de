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
//   No-reply steps: connect (SMFIP_NR_CONN), headers (SMFIP_NR_HDR) and body
//     chunks (SMFIP_NR_BODY): signet's answer to each is "continue" — the
//     exceptions are held and given at the next step the MTA waits on: a
//     connection over max-connections is answered at each MAIL (accepted
//     unsigned or tempfailed, its one log line written at connect), a body
//     over max-body-bytes at end of message (its line written when the limit
//     was passed). One round trip fewer per connection: Postfix opens a
//     milter connection per SMTP session, often one message each. MAIL and
//     end of header are not no-reply: their answer can be "accept"
//     (untrusted, no stream, already signed), which spares the MTA sending
//     the rest of the message (all of an inbound message, when the same
//     smtpd serves port 25 and submission).
//   SMFIP_HDR_LEADSPC: header values keep their leading whitespace (see
//     milter/header_text.h).
// Every flag is asked only when the MTA offers it (Postfix >= 2.6 and
// Sendmail >= 8.14 offer all of these); an old MTA gets the subset it knows.
//
// Macro lists (SMFIF_SETSYMLIST): Postfix sends each stage's macros even
// for a step it skips (src/milter/milter8.c, milter8_event: "Send the macros
// for this event, even when we're not reporting the event itself"), before
// every header (the end-of-header list) and before every body chunk (the
// end-of-message list); an empty list means "the MTA's default list". So
// every stage gets the smallest list: what signet reads there, or, where it
// reads nothing, kNoMacro, a name no MTA defines (the MTA then sends an
// empty macro packet). What signet reads: connect {daemon_name}
// {client_addr}; MAIL {auth_authen} {mail_addr} i (Sendmail knows i at MAIL);
// end of header i (Postfix knows i once the queue file is open, after the
// first valid RCPT); nothing at end of message (i is known by then).
// Fails: never.
#pragma once

#include <string_view>
#include <vector>

namespace signet::milter {

inline constexpr std::string_view kNoMacro = "{signet_no_macro}";

struct Negotiated {
  unsigned long actions = 0;  // SMFIF_* asked
  unsigned long steps = 0;    // SMFIP_* asked
  bool leading_space = false;  // SMFIP_HDR_LEADSPC in force
  bool body_no_reply = false;  // SMFIP_NR_BODY in force: body verdicts wait for end of message
  bool connect_no_reply = false;  // SMFIP_NR_CONN in force: a connect verdict waits for MAIL
  struct Macros {
    int stage;  // SMFIM_*
    std::string_view names;
  };
  std::vector<Macros> macros;  // empty unless SMFIF_SETSYMLIST is offered
};

// offered_actions / offered_steps: what the MTA's SMFIC_OPTNEG offers (f0, f1).
Negotiated negotiate(unsigned long offered_actions, unsigned long offered_steps);

}  // namespace signet::milter
