// conf/router.h — whether a message is signed, and with which stream(s).
//
// MessageFacts: what the MTA told us (macros) and what the header says.
// is_trusted(): only mail we originate is signed: a SASL-authenticated
// sender, a client in internal-hosts, or a {daemon_name} in trusted-services.
// route(): the first rule whose every criterion matches AND whose stream the
// sender may use (tenant binding: Stream::sasl_logins / hosts) picks the
// stream, plus also-stream when the sender may use that too. A rule matched on
// From domain alone therefore cannot make one tenant sign as another.
// route() looks the rules up in cfg.rule_index (conf/rule_index.h, built by
// load_config), so its cost does not grow with the number of rules;
// route_by_scan() is the same answer found by trying every rule in order
// (what route() does for a Config whose index is missing or stale).
// Pure functions of (Config, facts): no I/O, no locks; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "conf/config.h"

namespace signet::conf {

struct MessageFacts {
  std::string sasl_login;       // {auth_authen}; empty when not authenticated
  std::string daemon_name;      // {daemon_name}
  std::string client_addr;      // {client_addr} or the connect address
  std::string envelope_domain;  // MAIL FROM domain
  std::string from_domain;      // From header domain
};

// Why the message is trusted ("sasl", "internal-host", "service"), or "" when not.
std::string trust_reason(const Config& cfg, const MessageFacts& facts);

struct Route {
  std::vector<const Stream*> streams;  // empty: no stream
  std::string rule;                    // the rule that matched
};

Route route(const Config& cfg, const MessageFacts& facts);
Route route_by_scan(const Config& cfg, const MessageFacts& facts);

bool may_use(const Stream& stream, const MessageFacts& facts);

}  // namespace signet::conf
