// doctor/milter_probe.h — connect to a milter the way Postfix's smtpd(8) or
// cleanup(8) does, negotiate options, and hang up: does signet-milter
// answer where Postfix will look for it?
//
// probe_milter(socket, options): connects to socket (a unix path exactly as
// given: the caller resolves Postfix's chroot and queue_directory; an inet
// host through getaddrinfo, "" meaning 127.0.0.1), sends SMFIC_OPTNEG as
// Postfix's milter8.c does (the protocol version, the actions Postfix offers
// and the events defined for that version), reads the SMFIC_OPTNEG reply,
// sends SMFIC_QUIT and closes. Connect and reply share one deadline,
// options.timeout_ms (Postfix: milter_connect_timeout covers both). As root
// with options.as_user set, the probe runs in a child process with that
// user's uid, gid and groups (Postfix connects as mail_owner), so a unix
// socket's permissions are checked as Postfix meets them.
// Fails: never; not answering is the result (answered false, the errno of
// the failing step: ETIMEDOUT past the deadline, EPROTO for a reply that is
// not an option negotiation, and what failed in words).
//
// Postfix's own acceptance rules (milter8.c) are for the caller to apply to
// the reply: version <= the one offered, actions a subset of kPostfixActions.
#pragma once

#include <cstdint>
#include <string>

#include "doctor/milter_socket.h"

namespace signet::doctor {

// libmilter's mfdef.h values, as Postfix's milter8.c repeats them.
inline constexpr std::uint32_t kAddHeaders = 0x01;     // SMFIF_ADDHDRS
inline constexpr std::uint32_t kPostfixActions = 0x1FF;  // every SMFIF_* up to SETSYMLIST

// The events Postfix offers for a protocol version (milter8.c
// MILTER8_V{2,3,4,6}_PROTO_MASK); 0 for a version Postfix does not speak.
std::uint32_t postfix_events(int version);
// "ADDHDRS|SETSYMLIST" for SMFIF_* bits; "NOHELO|NR_HDR|..." for SMFIP_* bits.
std::string action_names(std::uint32_t actions);
std::string step_names(std::uint32_t steps);

struct ProbeOptions {
  int version = 6;          // milter_protocol
  int timeout_ms = 10000;   // milter_connect_timeout
  std::string as_user;      // when running as root: connect as this user
};

struct ProbeResult {
  bool answered = false;
  std::uint32_t version = 0, actions = 0, steps = 0;  // the reply, when answered
  int error_number = 0;
  std::string error;  // "connect(/run/signet/signet.sock) as postfix: Permission denied"
};

ProbeResult probe_milter(const MilterSocket& socket, const ProbeOptions& options);

}  // namespace signet::doctor
