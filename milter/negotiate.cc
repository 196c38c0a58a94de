#include "milter/negotiate.h"

#include <libmilter/mfapi.h>

namespace signet::milter {

Negotiated negotiate(unsigned long offered_actions, unsigned long offered_steps) {
  Negotiated n;
  n.actions = SMFIF_ADDHDRS & offered_actions;
  const unsigned long want = SMFIP_NOHELO | SMFIP_NORCPT | SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_HDR_LEADSPC |
                             SMFIP_NR_CONN | SMFIP_NR_HDR | SMFIP_NR_BODY;
  n.steps = want & offered_steps;
  n.leading_space = (n.steps & SMFIP_HDR_LEADSPC) != 0;
  n.body_no_reply = (n.steps & SMFIP_NR_BODY) != 0;
  n.connect_no_reply = (n.steps & SMFIP_NR_CONN) != 0;
  if (offered_actions & SMFIF_SETSYMLIST) {
    n.actions |= SMFIF_SETSYMLIST;
    n.macros = {
        {SMFIM_CONNECT, "{daemon_name} {client_addr}"},
        {SMFIM_HELO, kNoMacro},
        {SMFIM_ENVFROM, "{auth_authen} {mail_addr} i"},
        {SMFIM_ENVRCPT, kNoMacro},
        {SMFIM_DATA, kNoMacro},
        {SMFIM_EOH, "i"},
        {SMFIM_EOM, kNoMacro},
    };
  }
  return n;
}

}  // namespace signet::milter
