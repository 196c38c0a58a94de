// `signet doctor postfix`'s pure half (doctor/postfix_config.h,
// doctor/milter_socket.h, doctor/postfix_checks.h): postconf's output parsed
// and checked against signet's settings.
//
// Input: five parts separated by lines "%%": postconf -n, postconf -x (the
// effective parameters), postconf -M (master.cf), postconf -P -x (the -o
// overrides), and signet's side as "name = value" lines (socket, on-error,
// trusted-services, internal-hosts = 127.0.0.1, simple-streams). The seeds
// are a real Postfix's output (Debian 12's postfix, stock and with signet's
// milter lines). Checks:
//   - parse_parameters: names and values trimmed, names non-empty;
//   - parse_master: fails only on a line with fewer than 8 columns; every
//     service has its columns, and overrides only from "NAME/TYPE/param" keys
//     of a service listed;
//   - parse_milter_list / split_postfix_list: items non-empty, free of
//     separators (a bare entry), sockets non-empty;
//   - the socket parsers: a socket that parses writes itself in both
//     syntaxes, and those parse back to a socket that reaches it;
//   - diagnose_postfix never crashes; it fails only when signet's socket
//     does not parse; every finding says where and what.
#include <cstdint>
#include <string>
#include <string_view>

#include "base/ascii.h"
#include "doctor/milter_socket.h"
#include "doctor/postfix_checks.h"
#include "doctor/postfix_config.h"
#include "fuzz_util.h"

using namespace signet;
using namespace signet::doctor;

namespace {

bool separator(char c) { return c == ' ' || c == '\t' || c == ',' || c == '\r' || c == '\n'; }

void check_socket(std::string_view spec) {
  for (bool libmilter : {true, false}) {
    auto s = libmilter ? parse_libmilter_socket(spec) : parse_postfix_socket(spec);
    if (!s) continue;
    auto as_libmilter = parse_libmilter_socket(s->libmilter_form());
    FUZZ_CHECK(as_libmilter.ok(), "libmilter_form() does not parse: " + s->libmilter_form());
    auto as_postfix = parse_postfix_socket(s->postfix_form());
    FUZZ_CHECK(as_postfix.ok(), "postfix_form() does not parse: " + s->postfix_form());
    FUZZ_CHECK(reaches(*as_postfix, *s) && reaches(*as_libmilter, *s), "a socket written again does not reach itself");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto parts = signet::fuzz::split_parts(signet::fuzz::as_text(data, size), "\n%%\n", 5);

  PostfixConfig pf;
  pf.params = parse_parameters(parts[1]);
  for (const auto& [name, value] : parse_parameters(parts[0])) pf.in_main_cf.insert(name);
  for (const auto& [name, value] : pf.params) {
    FUZZ_CHECK(!name.empty() && ascii::trim(name) == name && ascii::trim(value) == value, "untrimmed parameter");
  }
  auto services = parse_master(parts[2], parts[3]);
  if (services) {
    for (const Service& s : services.value()) {
      FUZZ_CHECK(!s.name.empty() && !s.type.empty() && !s.chroot.empty() && !s.command.empty(), "empty column");
      for (const auto& [name, value] : s.overrides) {
        FUZZ_CHECK(parts[3].find(s.id() + "/" + name) != std::string_view::npos, "an override from nowhere");
      }
    }
    pf.services = services.value();
  } else {
    FUZZ_CHECK(services.error().message.find("fewer than 8 columns") != std::string::npos, "parse_master: why");
  }

  for (const std::string& list : {pf.param("smtpd_milters"), pf.param("non_smtpd_milters")}) {
    for (const MilterEntry& e : parse_milter_list(list)) {
      FUZZ_CHECK(!e.socket.empty(), "a milter entry without a socket");
      check_socket(e.socket);
    }
    for (std::string_view item : split_postfix_list(list)) {
      FUZZ_CHECK(!item.empty(), "an empty list item");
      for (char c : item) FUZZ_CHECK(!separator(c), "a separator inside a list item");
    }
    (void)has_no_milters(list);
  }

  SignetSettings signet;
  signet.config_file = "/etc/signet/signet.conf";
  signet.socket = "inet:8891@127.0.0.1";
  for (const auto& [name, value] : parse_parameters(parts[4])) {
    if (name == "socket") signet.socket = value;
    if (name == "on-error") signet.on_error_tempfail = value == "tempfail";
    if (name == "internal-hosts") signet.trusts_loopback = value.find("127.0.0.1") != std::string::npos;
    if (name == "trusted-services") {
      for (std::string_view s : split_postfix_list(value)) signet.trusted_services.emplace_back(s);
    }
    if (name == "simple-streams") {
      for (std::string_view s : split_postfix_list(value)) signet.simple_header_streams.emplace_back(s);
    }
  }
  check_socket(signet.socket);
  for (const PostfixConfig* c : {&pf}) {
    for (const Service& s : c->services) {
      (void)c->chrooted(s);
      (void)c->where(&s, "smtpd_milters");
    }
  }
  auto diagnosis = diagnose_postfix(pf, signet);
  FUZZ_CHECK(diagnosis.ok() == parse_libmilter_socket(signet.socket).ok(), "diagnose_postfix failed on a good socket");
  if (diagnosis) {
    for (const Finding& f : diagnosis->findings) FUZZ_CHECK(!f.where.empty() && !f.text.empty(), "an empty finding");
    for (const ProbeTarget& p : diagnosis->probes) FUZZ_CHECK(!p.named.empty(), "a probe target without a name");
  }
  return 0;
}
