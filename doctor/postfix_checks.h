// doctor/postfix_checks.h — what in a Postfix configuration breaks
// signet's signatures after signing, or lets mail bypass signing, each
// finding with the main.cf/master.cf (or signet.conf) line that fixes it.
// The pure half of `signet doctor postfix`: it takes PostfixConfig
// (doctor/postfix_config.h) and the few signet.conf settings that matter.
//
// diagnose_postfix(postfix, signet): the findings, in the order they are
// checked, and where to probe signet-milter as Postfix would connect:
//   - which smtpd(8) services and which cleanup(8) (non_smtpd_milters, for
//     sendmail(1)/pickup mail) reach signet's socket, taking Postfix syntax
//     (inet:HOST:PORT) vs libmilter's (inet:PORT@HOST), queue_directory and
//     chroot into account; services named in trusted-services that do not
//     run signet; names in trusted-services no service uses
//   - milter_protocol below 6; milter_default_action against on-error
//   - smtp_line_length_limit and disable_mime_output_conversion on the
//     smtp(8) services (each changes messages after signing)
//   - content_filter: signing before the filter, re-injection through
//     signet again; receive_override_options = no_milters in main.cf
//   - signet's socket on a non-loopback address; milters listed after
//     signet; smtpd_milter_maps (not read)
// Fails (permanent) only when signet's socket does not parse.
// probe_finding(target, result, as_user): the finding for one probe
// (doctor/milter_probe.h): info when signet-milter answers as Postfix needs,
// error otherwise, with the errno's usual cause and fix.
// Both are pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "doctor/milter_probe.h"
#include "doctor/milter_socket.h"
#include "doctor/postfix_config.h"

namespace signet::doctor {

enum class Severity { Info, Warning, Error };
std::string_view severity_name(Severity s);                  // "info", "warning", "error"
std::optional<Severity> parse_severity(std::string_view name);

struct Finding {
  Severity severity;
  std::string where;  // "main.cf smtpd_milters", "master.cf submission/inet", "signet.conf socket"
  std::string text;   // what is wrong, why it matters; fix: the line that fixes it
};

// What doctor needs from signet.conf (conf::Config).
struct SignetSettings {
  std::string config_file;
  std::string socket;  // `socket =`, libmilter syntax
  bool on_error_tempfail = false;
  std::vector<std::string> trusted_services;
  bool trusts_loopback = false;  // internal-hosts holds 127.0.0.1
  std::vector<std::string> simple_header_streams;  // streams with c=simple/...
};

// One place Postfix connects to signet, as the connecting process sees it.
struct ProbeTarget {
  MilterSocket socket;         // a unix path already under queue_directory / the chroot
  std::string named;           // as Postfix's list (or signet.conf) names it
  std::vector<std::string> via;  // the services that connect there: "submission/inet"
  int version = 6;             // their milter_protocol
  std::string default_action;  // their milter_default_action
};

struct Diagnosis {
  std::vector<Finding> findings;
  std::vector<ProbeTarget> probes;
};

Result<Diagnosis> diagnose_postfix(const PostfixConfig& postfix, const SignetSettings& signet);
Finding probe_finding(const ProbeTarget& target, const ProbeResult& result, const std::string& as_user);

}  // namespace signet::doctor
