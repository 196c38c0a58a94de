// doctor/milter_socket.h — one milter socket in one form, whether signet-milter
// names it (libmilter syntax, signet.conf `socket =`) or Postfix does
// (MILTER_README syntax, smtpd_milters / non_smtpd_milters), so the two can
// be compared and the one written in the other's syntax.
//
//   libmilter (smfi_setconn(3)): unix:/path, local:/path, a bare /path,
//             inet:PORT@HOST, inet:PORT (every address), inet6:PORT@HOST
//   Postfix (MILTER_README "unix:pathname", "inet:host:port"): unix:PATH,
//             local:PATH, inet:HOST:PORT, inet:[IPV6]:PORT. A relative
//             PATH is relative to queue_directory (Postfix daemons run
//             there); an absolute one is under queue_directory too when the
//             connecting smtpd(8)/cleanup(8) runs chrooted.
//
// parse_libmilter_socket / parse_postfix_socket: fail (permanent) with what
// is wrong and the right spelling; Postfix's parser recognises libmilter's
// inet:PORT@HOST and says how Postfix writes it. Ports are numeric only.
// reaches(to, on): would a client connecting to `to` reach a server
// listening on `on`? unix: the same path after lexical normalisation (no
// file system access); inet: the same port and host, `localhost` being
// 127.0.0.1, a server on every address (0.0.0.0, ::, none given) reached at
// any host. Host names other than localhost are compared as text.
// None of these touches the network or the file system.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"

namespace signet::doctor {

struct MilterSocket {
  enum class Family { Unix, Inet };
  Family family = Family::Unix;
  std::string path;  // Unix: as written
  std::string host;  // Inet: as written without [brackets]; "" = every address
  int port = 0;

  bool unix_domain() const { return family == Family::Unix; }
  std::string postfix_form() const;    // unix:/path, inet:127.0.0.1:8891, inet:[::1]:8891
  std::string libmilter_form() const;  // unix:/path, inet:8891@127.0.0.1, inet6:8891@[::1]
};

Result<MilterSocket> parse_libmilter_socket(std::string_view spec);
Result<MilterSocket> parse_postfix_socket(std::string_view spec);

bool reaches(const MilterSocket& to, const MilterSocket& on);

// 127.0.0.0/8, ::1, localhost.
bool is_loopback(std::string_view host);
// "" (libmilter inet:PORT), 0.0.0.0, ::, *: every address of the host.
bool is_wildcard(std::string_view host);

// "/a//b/./c/" -> "/a/b/c"; ".." is kept (no file system access).
std::string normalize_path(std::string_view path);

}  // namespace signet::doctor
