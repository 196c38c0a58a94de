// doctor/postfix_config.h — one Postfix instance's configuration as
// postconf(1) prints it: main.cf's effective parameters, master.cf's
// services with their chroot column and `-o name=value` overrides.
//
// read_postfix(config_dir): runs postconf (PATH, else /usr/sbin/postconf)
// with `-c config_dir` when config_dir is not empty, four times:
//   postconf -n           which parameters main.cf sets
//   postconf -x NAME...   the effective values (default where main.cf is
//                         silent), $name references expanded; kParameters
//   postconf -M           master.cf, one service per line
//   postconf -P -x        the services' -o overrides, expanded
// and parses the outputs with the pure functions below. Fails (permanent)
// with postconf's own message when it exits non-zero (no main.cf there) or
// cannot be run. Reads only; changes nothing.
//
// parse_parameters("name = value" lines) and parse_master(-M text, -P text)
// are pure: tests feed them canned postconf output. parse_master fails on a
// line with fewer than 8 master.cf columns.
// parse_milter_list: smtpd_milters syntax (postconf(5), MILTER_README):
// entries separated by spaces or commas, or `{ SOCKET, name=value, ... }`
// with per-milter settings (default_action, protocol, ...; Postfix >= 3.0).
#pragma once

#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet::doctor {

struct Service {
  std::string name, type;  // master.cf columns 1-2: "submission", "inet"
  std::string chroot;      // column 5 as written: y, n or - (the default)
  std::string command;     // the daemon: first word of column 8, "smtpd"
  std::map<std::string, std::string, std::less<>> overrides;  // -o name=value

  std::string id() const { return name + "/" + type; }  // as postconf -F/-P name it
};

struct PostfixConfig {
  std::string config_directory;  // as given to postconf -c; "" = the default
  std::map<std::string, std::string, std::less<>> params;  // effective values, expanded
  std::set<std::string, std::less<>> in_main_cf;           // names main.cf sets
  std::vector<Service> services;

  // The effective value of a main.cf parameter; "" when unknown.
  const std::string& param(std::string_view name) const;
  // What `name` is for processes of service s: its -o override, else main.cf's.
  const std::string& param(const Service& s, std::string_view name) const;
  bool overridden(const Service& s, std::string_view name) const { return s.overrides.count(name) > 0; }
  // master(5): "-" in the chroot column is n since Postfix 3.0, y with
  // compatibility_level < 1 (COMPATIBILITY_README: chroot=y). Debian's
  // master.cf writes y explicitly for smtpd and cleanup.
  bool chrooted(const Service& s) const;
  // The services whose daemon is `command` ("smtpd", "cleanup", "smtp").
  std::vector<const Service*> running(std::string_view command) const;
  // "main.cf NAME" or, where s overrides it, "master.cf SERVICE/TYPE -o NAME".
  std::string where(const Service* s, std::string_view name) const;
};

// The parameters read_postfix asks postconf for (postconf -x).
extern const std::vector<std::string> kParameters;

std::map<std::string, std::string, std::less<>> parse_parameters(std::string_view text);
Result<std::vector<Service>> parse_master(std::string_view postconf_M, std::string_view postconf_P);

struct MilterEntry {
  std::string socket;                                     // as written
  std::map<std::string, std::string, std::less<>> attrs;  // { ..., name=value }
};
std::vector<MilterEntry> parse_milter_list(std::string_view list);

// A list parameter's items: "Specify space or comma as separator" (postconf(5)).
std::vector<std::string_view> split_postfix_list(std::string_view list);

// receive_override_options names no_milters (postconf(5)).
bool has_no_milters(std::string_view receive_override_options);

Result<PostfixConfig> read_postfix(const std::string& config_dir);

}  // namespace signet::doctor
