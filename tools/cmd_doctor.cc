// signet doctor postfix — what in Postfix's configuration breaks signatures
// after signing or lets mail bypass signing, with the line that fixes it,
// and whether signet-milter answers where Postfix connects. Findings one per
// line, as `signet audit` prints them, for cron and CI: exit 1 when any is
// at or above --fail-on (default error), 0 otherwise, 2 on bad input.
//
// Reads Postfix through postconf (-n, -x, -M, -P; -c DIR for another
// instance: doctor/postfix_config.h), signet.conf through conf::load_config,
// diagnoses both (doctor/postfix_checks.h), then probes each socket Postfix
// would connect to, as mail_owner when run as root (doctor/milter_probe.h).
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <pwd.h>
#include <unistd.h>

#include "conf/config.h"
#include "doctor/milter_probe.h"
#include "doctor/postfix_checks.h"
#include "doctor/postfix_config.h"
#include "tools/common.h"

namespace po = boost::program_options;

namespace signet::tools {
namespace {

constexpr const char* kFooter =
    "Checks Postfix's smtpd_milters / non_smtpd_milters against signet.conf's socket (syntax, queue_directory,\n"
    "chroot), milter_protocol, milter_default_action against on-error, smtp_line_length_limit,\n"
    "disable_mime_output_conversion, content_filter and re-injection, receive_override_options, and connects to\n"
    "signet-milter as Postfix would (as mail_owner when run as root).\n"
    "One finding per line: SEVERITY WHERE: what is wrong; fix: the line that fixes it.\n"
    "Exit 1 when a finding is at or above --fail-on, 0 otherwise, 2 on bad input. docs/troubleshooting.md\n"
    "explains every finding.\n";

doctor::SignetSettings signet_settings(const conf::Config& cfg) {
  doctor::SignetSettings s;
  s.config_file = cfg.config_file;
  s.socket = cfg.socket;
  s.on_error_tempfail = cfg.on_error == conf::OnError::Tempfail;
  s.trusted_services = cfg.trusted_services;
  s.trusts_loopback = cfg.internal_hosts.contains("127.0.0.1");
  for (const conf::Stream& st : cfg.streams) {
    if (st.signing.options().header_canon == canon::Canon::Simple) s.simple_header_streams.push_back(st.name);
  }
  return s;
}

}  // namespace

int doctor_main(const std::vector<std::string>& args) {
  po::options_description desc(
      "signet doctor postfix [--postfix-config DIR] [--config SIGNET_CONF] [--fail-on error|warning|info]\n"
      "                      [--timeout SECONDS] [--no-connect]");
  std::string postfix_dir, config_file = "/etc/signet/signet.conf", fail_on = "error", timeout;
  bool no_connect = false;
  desc.add_options()("help,h", "show this help")(
      "postfix-config", po::value(&postfix_dir), "Postfix's config_directory, as `postfix -c DIR` (default: postconf's own)")(
      "config", po::value(&config_file), "signet-milter configuration (default /etc/signet/signet.conf)")(
      "fail-on", po::value(&fail_on), "exit 1 at this severity or above (default error)")(
      "timeout", po::value(&timeout), "seconds to wait for signet-milter (default: Postfix's milter_connect_timeout)")(
      "no-connect", po::bool_switch(&no_connect), "check the configuration only; do not connect to signet-milter");
  po::variables_map vm;
  if (args.empty()) return fail("doctor", "name the MTA: `signet doctor postfix` (see `signet doctor --help`)");
  if (args[0] == "--help" || args[0] == "-h") {
    parse_args(desc, args, vm, kFooter);
    return kExitOk;
  }
  if (args[0] != "postfix") return fail("doctor", args[0] + ": unknown MTA; `signet doctor postfix` is the one there is");
  if (!parse_args(desc, std::vector<std::string>(args.begin() + 1, args.end()), vm, kFooter)) return kExitOk;
  const auto threshold = doctor::parse_severity(fail_on);
  if (!threshold) return fail("doctor", "--fail-on: error, warning or info");
  std::optional<std::int64_t> timeout_s;
  if (!timeout.empty() && !(timeout_s = parse_duration(timeout))) return fail("doctor", "--timeout " + timeout + ": seconds, e.g. 5 or 5s");

  const char* argv[] = {"signet", "--config", config_file.c_str()};
  auto cfg = conf::load_config(3, argv);
  if (!cfg) return fail("doctor", cfg.error().message);
  auto postfix = doctor::read_postfix(postfix_dir);
  if (!postfix) return fail("doctor", postfix.error().message);
  auto diagnosis = doctor::diagnose_postfix(*postfix, signet_settings(*cfg));
  if (!diagnosis) return fail("doctor", diagnosis.error().message);

  std::vector<doctor::Finding> findings = std::move(diagnosis->findings);
  if (!no_connect) {
    if (!timeout_s) timeout_s = parse_duration(postfix->param("milter_connect_timeout"));
    // Postfix connects as mail_owner; as root the probe does too (doctor/milter_probe.h).
    const std::string& owner = postfix->param("mail_owner");
    const std::string as_user = ::geteuid() == 0 && ::getpwnam(owner.c_str()) ? owner : "";
    for (const doctor::ProbeTarget& t : diagnosis->probes) {
      doctor::ProbeOptions o;
      o.version = doctor::postfix_events(t.version) ? t.version : 6;
      o.timeout_ms = static_cast<int>(timeout_s.value_or(30) * 1000);
      o.as_user = as_user;
      findings.push_back(doctor::probe_finding(t, doctor::probe_milter(t.socket, o), as_user));
    }
  }
  int worst = -1;
  for (const doctor::Finding& f : findings) {
    fmt::print("{:<8} {}: {}\n", doctor::severity_name(f.severity), f.where, f.text);
    worst = std::max(worst, static_cast<int>(f.severity));
  }
  if (findings.empty()) fmt::print("no findings\n");
  return worst >= static_cast<int>(*threshold) ? kExitFailed : kExitOk;
}

}  // namespace signet::tools
