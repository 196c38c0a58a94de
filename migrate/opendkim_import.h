// migrate/opendkim_import.h — what an OpenDKIM signing setup becomes in
// signet: streams (one per d=/s=/key file OpenDKIM signs with), rules (which
// From domains use which stream, in OpenDKIM's order of precedence), global
// options, and a report line for every setting, translated or not and why.
// `signet import-opendkim` (tools/cmd_import_opendkim.cc) is the thin CLI;
// docs/migrating-from-opendkim.md is the operator's page.
//
// translate_opendkim(conf, read): pure, given the files `read` returns.
// Signing setups (opendkim.conf(5) "Mode"):
//   Domain + Selector + KeyFile    one stream per Domain entry (d= that
//                                  domain, SubDomains adds *.domain, where
//                                  OpenDKIM signs as the listed parent)
//   KeyTable + SigningTable        one stream per KeyTable entry the table
//                                  uses; SigningTable entries become rules:
//                                  refile: "*@example.com" -> from-domain
//                                  example.com, "*@*.example.com" ->
//                                  *.example.com, "*" -> every sender, in
//                                  file order (OpenDKIM: first match);
//                                  file:/csl: "example.com", ".example.com",
//                                  "*" in OpenDKIM's lookup order (address,
//                                  domain, parent domains nearest first, *)
// Per-user entries ("alice@example.com", "user@*") are listed as not
// translated: signet selects by domain, SASL login and client, never by
// local part, and the rest of the table still imports.
// Fails ("FILE:LINE: what; what to do") on what OpenDKIM would refuse or
// what cannot be imported without changing who gets signed: Mode without s
// (nothing to sign), a contradictory or incomplete key setup (KeyTable
// without SigningTable, KeyTable together with KeyFile/Domain/Selector, a
// missing Selector), a SigningTable key name not in the KeyTable, a pattern
// whose meaning is not a domain, *.domain or everything ("*@*example.com"),
// "%" where the domain would vary per message, an inline key in the
// KeyTable, an InternalHosts exclusion ("!host": signet's internal-hosts has
// none, and dropping it would trust that host), an unknown option value, a
// SignatureTTL outside signet's expire range (1h..366d).
// Refused on purpose and listed (the rest imports): l= settings
// (BodyLengthDB, MaximumSignedBytes; signet never emits l=, docs/dkim.md),
// rsa-sha1 (RFC 8301). Verify-mode settings are listed as out of scope.
//
// format_signet_conf(t, key_directory, header): the signet.conf text
// (docs/configuration.md), each option under a comment naming the OpenDKIM
// line it came from. imported_key_row(stream, key, since): the manifest row
// of an adopted key: signing since `since` (the key file's date), created
// and published then, so the register starts with the key's history and no
// DNS record changes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "keystore/key_row.h"
#include "migrate/opendkim_conf.h"
#include "signer/key.h"

namespace signet::migrate {

inline constexpr const char* kImportedOwner = "imported from opendkim";

struct ImportStream {
  std::string name, domain, selector;
  std::string key_source;  // OpenDKIM's key file, absolute; copied, never moved
  std::string origin;      // the KeyTable line or KeyFile setting that names it
};

struct ImportRule {
  std::string name;
  std::vector<std::string> from_domain;  // empty: every trusted message
  std::string stream;
  std::string origin;  // the SigningTable line or Domain entry
  std::string source;  // that entry as written, for comments and the report
};

struct ImportOption {
  std::string name, value;
  std::string origin, source;  // "PATH:LINE", "Name value"; for a default carried over: no origin, "Name unset"
};

struct ImportNote {
  std::string origin;   // "PATH:LINE"
  std::string setting;  // "Name value" as written
  std::string text;     // what it became, or why it did not
};

struct Translation {
  std::vector<ImportOption> globals;
  std::vector<ImportOption> stream_options;  // every stream gets them (OpenDKIM's are global)
  std::vector<ImportStream> streams;
  std::vector<ImportRule> rules;
  std::vector<ImportNote> translated;
  std::vector<ImportNote> not_translated;
};

Result<Translation> translate_opendkim(const OdConf& conf, const ReadFile& read);

std::string format_signet_conf(const Translation& t, const std::string& key_directory, const std::string& header);

keystore::KeyRow imported_key_row(const ImportStream& s, const PrivateKey& key, std::int64_t since);

}  // namespace signet::migrate
