#include "migrate/opendkim_import.h"

#include <algorithm>
#include <cstdlib>
#include <map>
#include <set>
#include <tuple>

#include "base/ascii.h"
#include "canon/body.h"
#include "conf/cidr.h"
#include "conf/options.h"
#include "conf/values.h"
#include "signer/header_select.h"

namespace signet::migrate {
namespace {

using conf::valid_dns_name;

std::string setting_text(const OdSetting& s) { return s.name + " " + s.value; }

// Why a setting present in opendkim.conf has no signet counterpart. Settings
// handled by the translation below are not in this table.
const char* kVerifyOnly = "verify-mode setting: out of scope (signet signs outgoing mail; it does not verify)";
const char* kRuntime = "OpenDKIM runtime setting with no signet counterpart (docs/configuration.md lists signet's)";

const std::map<std::string, const char*, std::less<>>& reasons() {
  static const std::map<std::string, const char*, std::less<>> m = [] {
    std::map<std::string, const char*, std::less<>> r;
    for (const char* n :
         {"AllowSHA1Only", "AlwaysAddARHeader", "AuthservID", "AuthservIDWithJobID", "BogusKey", "ClockDrift",
          "DiagnosticDirectory", "DomainKeysCompat", "KeepAuthResults", "MaximumSignaturesToVerify", "Minimum",
          "MustBeSigned", "NoHeaderB", "On-BadSignature", "On-DNSError", "On-KeyNotFound", "On-NoSignature",
          "On-Security", "Quarantine", "RedirectFailuresTo", "RemoveARAll", "RemoveARFrom", "SendReports",
          "TrustSignaturesFrom", "UnprotectedKey", "TrustAnchorFile", "Nameservers", "DNSConnect", "DNSTimeout",
          "QueryCache", "ResolverConfiguration", "ResolverTracing", "TestDNSData", "TestPublicKeys", "VBR-Certifiers",
          "VBR-PurgeFields", "VBR-TrustedCertifiers", "VBR-TrustedCertifiersOnly", "VBR-Type", "WeakSyntaxChecks",
          "FinalPolicyScript", "ScreenPolicyScript", "ReportAddress", "ReportBccAddress", "MTACommand", "SMTPURI",
          "StrictTestMode"}) {
      r[n] = kVerifyOnly;
    }
    for (const char* n :
         {"AutoRestart", "AutoRestartCount", "AutoRestartRate", "ChangeRootDirectory", "DisableCryptoInit",
          "EnableCoredumps", "MilterDebug", "SoftStart", "LDAPAuthMechanism", "LDAPAuthName", "LDAPAuthRealm",
          "LDAPAuthUser", "LDAPBindPassword", "LDAPBindUser", "LDAPDisableCache", "LDAPKeepaliveIdle",
          "LDAPKeepaliveInterval", "LDAPKeepaliveProbes", "LDAPTimeout", "LDAPUseTLS", "TemporaryDirectory",
          "KeepTemporaryFiles", "Statistics", "StatisticsName", "StatisticsPolicyScript", "StatisticsPrefix",
          "SyslogName", "POPDBFile", "CaptureUnknownErrors"}) {
      r[n] = kRuntime;
    }
    const char* l_tag = "refused on purpose: it makes OpenDKIM add l= (a body length), so content appended to the "
                        "message still verifies; signet never emits l= and signs every body whole (docs/dkim.md)";
    r["BodyLengthDB"] = r["MaximumSignedBytes"] = r["BodyLengthLimit"] = l_tag;
    r["MinimumKeyBits"] = "verify-side (the smallest key OpenDKIM accepts on incoming signatures): out of scope; "
                          "signet refuses to sign with RSA keys below 1024 bits (RFC 8301 §3.2)";
    r["Diagnostics"] = "z= (copied header fields): signet never adds z=";
    r["RequestReports"] = "r=y (RFC 6651 report requests): signet does not request them";
    r["SoftwareHeader"] = "signet adds no DKIM-Filter header field";
    r["RemoveOldSignatures"] = "signet never removes signatures already on a message";
    r["MultipleSignatures"] = "signet signs with the first matching rule's stream (and its also-stream); further "
                              "SigningTable matches add no signature";
    r["SenderHeaders"] = "signet matches the From domain (from-domain) and MAIL FROM (envelope-domain) only";
    r["SenderMacro"] = "signet matches the From domain (from-domain) and MAIL FROM (envelope-domain) only";
    r["OmitHeaders"] = "signet's signed set is an explicit list (sign-headers, default: RFC 6376 §5.4.1's list "
                       "less fields that change in transit)";
    r["DontSignMailTo"] = "signet does not select by recipient";
    r["ExemptDomains"] = "signet signs only what a rule matches: with no catch-all rule these domains stay unsigned";
    r["MacroList"] = "signet trusts SASL logins, internal-hosts and trusted-services, not other MTA macros";
    r["FixCRLF"] = "the MTA hands the milter CRLF lines; signet signs them as they are";
    r["ReplaceHeaders"] = "signet signs header fields as they are (no replacement rules)";
    r["ReplaceRules"] = "signet signs header fields as they are (no replacement rules)";
    r["SelectCanonicalizationHeader"] = "signet's canonicalization is set per stream, not per message";
    r["SetupPolicyScript"] = "signet runs no Lua policy scripts";
    r["IdentityHeader"] = r["IdentityHeaderRemove"] = r["ResignAll"] = r["ResignMailTo"] =
        "experimental OpenDKIM feature with no signet counterpart";
    r["RequiredHeaders"] = r["StrictHeaders"] = r["IgnoreMalformedMail"] =
        "signet signs only messages with exactly one From; others pass unsigned with a log line";
    r["MaximumHeaders"] = "signet bounds header fields by count (max-headers) and size per field "
                          "(max-header-bytes), not the whole block: set them if you need a bound";
    r["RequireSafeKeys"] = "signet always refuses key files readable by others; the imported copies are mode 0600";
    r["UMask"] = "signet's unix socket is always mode 0660, owned by user:group";
    r["SyslogSuccess"] = r["LogWhy"] = r["LogResults"] =
        "signet logs one line per message (signed, or why not) always";
    r["Background"] = "";  // handled
    return r;
  }();
  return m;
}

struct Builder {
  const OdConf& conf;
  const ReadFile& read;
  Translation t;
  std::set<std::string> handled;  // names the translation consumed
  std::string base_dir;

  void done(const OdSetting& s, std::string text) {
    handled.insert(s.name);
    t.translated.push_back({s.origin, setting_text(s), std::move(text)});
  }
  void skip(const OdSetting& s, std::string why) {
    handled.insert(s.name);
    t.not_translated.push_back({s.origin, setting_text(s), std::move(why)});
  }
  // `unset` names the OpenDKIM settings whose default this carries over.
  void global(const std::string& name, const std::string& value, const OdSetting* from, const char* unset = "") {
    t.globals.push_back({name, value, from ? from->origin : "", from ? setting_text(*from) : unset});
  }
  void stream_option(const std::string& name, const std::string& value, const OdSetting* from, const char* unset = "") {
    t.stream_options.push_back({name, value, from ? from->origin : "", from ? setting_text(*from) : unset});
  }
  Result<Dataset> dataset(const OdSetting& s) { return load_dataset(s, read, base_dir); }
};

Error at(const std::string& origin, const std::string& what) { return permanent_error(origin + ": " + what); }

std::string name_part(std::string_view s) {
  std::string out;
  for (char c : s) {
    const char l = ascii::lower(c);
    out += ((l >= 'a' && l <= 'z') || (l >= '0' && l <= '9')) ? l : '-';
  }
  return out;
}

// --------------------------------------------------------------------------
// Streams and rules
// --------------------------------------------------------------------------

// What a SigningTable key (or Domain entry) selects, in signet's terms.
struct Match {
  enum class Kind { Domain, Subdomains, All, PerUser };
  Kind kind = Kind::All;
  std::string domain;
};

Result<Match> domain_match(const std::string& domain, const std::string& origin, const std::string& pattern) {
  const std::string d = ascii::to_lower(domain);
  if (!valid_dns_name(d)) {
    return at(origin, "'" + pattern + "': " + domain + " is not a domain name signet can match; fix the entry");
  }
  return Match{Match::Kind::Domain, d};
}

// refile: patterns are matched against the whole From address, '*' matching
// any text (opendkim(8) "DATA SETS" b); the first matching line wins.
Result<Match> refile_match(const std::string& pattern, const std::string& origin) {
  if (pattern == "*" || pattern == "*@*") return Match{};
  const std::size_t atsign = pattern.rfind('@');
  const auto inexpressible = [&](const std::string& why) {
    return at(origin, "SigningTable pattern '" + pattern + "' " + why +
                          ": signet matches a From domain exactly (example.com), any subdomain (*.example.com) "
                          "or everything (*); rewrite the entry as one of those");
  };
  if (atsign == std::string::npos) return inexpressible("has no @");
  const std::string local = pattern.substr(0, atsign), dom = pattern.substr(atsign + 1);
  if (local != "*") return Match{Match::Kind::PerUser, ""};
  if (dom.find('*') == std::string::npos) return domain_match(dom, origin, pattern);
  if (dom.rfind("*.", 0) == 0 && dom.find('*', 1) == std::string::npos) {
    auto m = domain_match(dom.substr(2), origin, pattern);
    if (m) m->kind = Match::Kind::Subdomains;
    return m;
  }
  return inexpressible("matches a domain by part of its name");
}

// file:/csl: tables are looked up exactly: user@host, host, user@.parent,
// .parent (nearest first), user@*, * (opendkim.conf(5) SigningTable).
Result<Match> exact_match(const std::string& key, const std::string& origin) {
  if (key == "*") return Match{};
  if (key.find('@') != std::string::npos) {
    if (key.rfind("*@", 0) == 0) {
      return at(origin, "SigningTable key '" + key +
                            "' is a wildcard pattern in a table OpenDKIM looks up exactly (file:/csl:), where it "
                            "matches no sender; make the SigningTable refile: or write the key as " + key.substr(2));
    }
    return Match{Match::Kind::PerUser, ""};
  }
  if (key.find('*') != std::string::npos) {
    return at(origin, "SigningTable key '" + key + "' has a '*' in a table OpenDKIM looks up exactly (file:/csl:); "
                      "make the SigningTable refile: or write the domain");
  }
  if (key[0] == '.') {
    auto m = domain_match(key.substr(1), origin, key);
    if (m) m->kind = Match::Kind::Subdomains;
    return m;
  }
  return domain_match(key, origin, key);
}

int labels(const std::string& d) { return static_cast<int>(std::count(d.begin(), d.end(), '.')) + 1; }

struct PendingRule {
  Match match;
  std::string stream, origin, source;
};

// OpenDKIM's precedence for exact lookups (and for Domain with SubDomains):
// the sender's own domain, then parent domains nearest first, then *.
void order_by_precedence(std::vector<PendingRule>& rules) {
  auto rank = [](const PendingRule& r) {
    switch (r.match.kind) {
      case Match::Kind::Domain: return 0;
      case Match::Kind::Subdomains: return 1;
      default: return 2;
    }
  };
  std::stable_sort(rules.begin(), rules.end(), [&](const PendingRule& a, const PendingRule& b) {
    if (rank(a) != rank(b)) return rank(a) < rank(b);
    if (rank(a) == 1) return labels(a.match.domain) > labels(b.match.domain);
    return false;
  });
}

class StreamSet {
 public:
  // The stream signing as d=domain s=selector with the key at path.
  Result<std::string> get(Translation& t, const std::string& domain, const std::string& selector,
                          const std::string& path, const std::string& origin) {
    for (const ImportStream& s : t.streams) {
      if (s.domain != domain || s.selector != selector) continue;
      if (s.key_source != path) {
        return at(origin, "d=" + domain + " s=" + selector + " uses key " + path + " here but " + s.key_source +
                              " at " + s.origin + ": one selector has one key; fix one of them");
      }
      return s.name;
    }
    std::string name = name_part(domain);
    if (taken_.count(name)) name += "-" + name_part(selector);
    for (int n = 2; taken_.count(name); ++n) name = name_part(domain) + "-" + std::to_string(n);
    taken_.insert(name);
    t.streams.push_back({name, domain, selector, path, origin});
    return name;
  }

 private:
  std::set<std::string> taken_;
};

void emit_rules(Translation& t, std::vector<PendingRule> rules) {
  std::map<std::string, int> used;
  for (PendingRule& r : rules) {
    ImportRule out;
    const int n = ++used[r.stream];
    out.name = n == 1 ? r.stream : r.stream + "-" + std::to_string(n);
    if (r.match.kind == Match::Kind::Domain) out.from_domain = {r.match.domain};
    if (r.match.kind == Match::Kind::Subdomains) out.from_domain = {"*." + r.match.domain};
    out.stream = r.stream;
    out.origin = r.origin;
    out.source = r.source;
    t.rules.push_back(std::move(out));
  }
}

std::string describe(const Match& m) {
  switch (m.kind) {
    case Match::Kind::Domain: return "from-domain " + m.domain;
    case Match::Kind::Subdomains: return "from-domain *." + m.domain;
    default: return "every trusted sender";
  }
}

// KeyTable: NAME DOMAIN:SELECTOR:KEYFILE (opendkim.conf(5) KeyTable).
struct KeyEntry {
  std::string domain, selector, path, origin;
};

Result<std::map<std::string, KeyEntry>> read_key_table(Builder& b, const OdSetting& s) {
  auto ds = b.dataset(s);
  if (!ds) return ds.error();
  if (ds->kind == Dataset::Kind::Refile) {
    return at(s.origin, "KeyTable refile:" + ds->path + ": key names are looked up exactly; use file:");
  }
  std::map<std::string, KeyEntry> out;
  for (const DataEntry& e : ds->entries) {
    const std::size_t c1 = e.value.find(':');
    const std::size_t c2 = c1 == std::string::npos ? c1 : e.value.find(':', c1 + 1);
    if (c2 == std::string::npos || c2 + 1 >= e.value.size()) {
      return at(e.origin, "KeyTable entry '" + e.key + "' needs DOMAIN:SELECTOR:KEYFILE after the key name");
    }
    KeyEntry k{ascii::to_lower(e.value.substr(0, c1)), e.value.substr(c1 + 1, c2 - c1 - 1), e.value.substr(c2 + 1),
               e.origin};
    if (k.domain != "%" && !valid_dns_name(k.domain)) {
      return at(e.origin, "KeyTable entry '" + e.key + "': " + k.domain + " is not a domain name");
    }
    if (!valid_dns_name(k.selector)) {
      return at(e.origin, "KeyTable entry '" + e.key + "': " + k.selector + " is not a valid selector");
    }
    // A third field that is not a path is the key itself (PEM or base64 DER).
    if (k.path[0] != '/' && k.path.rfind("./", 0) != 0 && k.path.rfind("../", 0) != 0) {
      return at(e.origin, "KeyTable entry '" + e.key +
                              "' holds the private key inline: the import copies key files only; write the key to "
                              "a file (mode 0600) and name its path");
    }
    const auto resolved = resolve_path(k.path, b.base_dir);
    if (!resolved) {
      return at(e.origin, "KeyTable entry '" + e.key + "': relative key path " + k.path +
                              " and no BaseDirectory: give an absolute path");
    }
    k.path = *resolved;
    const std::string name = ascii::to_lower(e.key);
    if (auto it = out.find(name); it != out.end()) {
      return at(e.origin, "KeyTable key name '" + e.key + "' is already defined at " + it->second.origin +
                              ": contradictory entries; keep one");
    }
    out.emplace(name, std::move(k));
  }
  return out;
}

Status translate_key_table(Builder& b, const OdSetting& kt, const OdSetting& st) {
  auto keys = read_key_table(b, kt);
  if (!keys) return keys.error();
  auto ds = b.dataset(st);
  if (!ds) return ds.error();
  const bool refile = ds->kind == Dataset::Kind::Refile;
  StreamSet streams;
  std::vector<PendingRule> rules;
  std::set<std::string> used_keys;
  for (const DataEntry& e : ds->entries) {
    const std::string entry = e.key + " " + e.value;
    auto m = refile ? refile_match(e.key, e.origin) : exact_match(e.key, e.origin);
    if (!m) return m.error();
    std::string keyname = e.value.substr(0, e.value.find_first_of(" \t"));
    const std::string signer = keyname.size() < e.value.size() ? std::string(ascii::trim(e.value.substr(keyname.size()))) : "";
    if (keyname.empty()) return at(e.origin, "SigningTable entry '" + e.key + "' names no key");
    if (m->kind == Match::Kind::PerUser) {
      b.t.not_translated.push_back({e.origin, entry, "per-user entry: signet selects a stream by domain, SASL login "
                                                     "or client, never by local part; these senders get the "
                                                     "domain's rule, if any"});
      continue;
    }
    const bool fixed = m->kind == Match::Kind::Domain;
    // "%" stands for the From domain (opendkim.conf(5) SigningTable, KeyTable).
    if (keyname == "%") {
      if (!fixed) return at(e.origin, "key name % with '" + e.key + "': the key would change per sender domain; list the domains one by one");
      keyname = m->domain;
    }
    const auto k = keys->find(ascii::to_lower(keyname));
    if (k == keys->end()) {
      return at(e.origin, "SigningTable names key '" + keyname + "', which the KeyTable (" + kt.origin +
                              ") does not define; add it there or fix the name");
    }
    used_keys.insert(k->first);
    KeyEntry key = k->second;
    if (key.domain == "%" || key.path.find('%') != std::string::npos) {
      if (!fixed) {
        return at(k->second.origin, "'%' (the sender's domain) in key '" + keyname + "', used by '" + e.key + "' at " +
                                        e.origin + ": the signing domain would change per message; list the domains "
                                                   "one by one");
      }
      if (key.domain == "%") key.domain = m->domain;
      for (std::size_t p; (p = key.path.find('%')) != std::string::npos;) key.path.replace(p, 1, m->domain);
    }
    auto name = streams.get(b.t, key.domain, key.selector, key.path, key.origin);
    if (!name) return name.error();
    rules.push_back({*m, *name, e.origin, entry});
    b.t.translated.push_back({e.origin, entry, describe(*m) + " -> stream " + *name + " (d=" + key.domain + " s=" +
                                                  key.selector + ")"});
    if (!signer.empty()) {
      b.t.not_translated.push_back({e.origin, entry, "signer " + signer + " (i=): signet signs without i=, which "
                                                     "means @d= (RFC 6376 §3.5)"});
    }
  }
  for (const auto& [name, k] : *keys) {
    if (!used_keys.count(name)) {
      b.t.not_translated.push_back({k.origin, name, "KeyTable entry no SigningTable entry uses: not imported"});
    }
  }
  if (!refile) order_by_precedence(rules);
  emit_rules(b.t, std::move(rules));
  b.done(kt, "streams from its entries (" + std::to_string(b.t.streams.size()) + " keys)");
  b.done(st, std::to_string(b.t.rules.size()) + " rules, in OpenDKIM's order (" +
                 (refile ? "file order: first match wins" : "exact address, domain, parent domains, *") + ")");
  return Ok{};
}

Status translate_single_key(Builder& b, const OdSetting& dom, const OdSetting& sel, const OdSetting& kf) {
  auto ds = b.dataset(dom);
  if (!ds) return ds.error();
  if (!valid_dns_name(sel.value)) return at(sel.origin, "Selector " + sel.value + " is not a valid selector");
  const auto path = resolve_path(kf.value, b.base_dir);
  if (!path) return at(kf.origin, "KeyFile " + kf.value + ": relative path and no BaseDirectory; give an absolute path");
  const OdSetting* sub = b.conf.find("SubDomains");
  const bool subdomains = sub && *od_bool(sub->value);
  StreamSet streams;
  std::vector<PendingRule> rules;
  for (const DataEntry& e : ds->entries) {
    if (e.key.find('*') != std::string::npos) {
      return at(e.origin, "Domain entry '" + e.key + "' is a pattern: the signing domain would change per message; "
                          "list the domains one by one (SubDomains yes covers their subdomains)");
    }
    auto m = domain_match(e.key, e.origin, e.key);
    if (!m) return m.error();
    auto name = streams.get(b.t, m->domain, sel.value, *path, kf.origin);
    if (!name) return name.error();
    rules.push_back({*m, *name, e.origin, "Domain " + e.key});
    // SubDomains: OpenDKIM signs a subdomain's mail as the listed parent.
    if (subdomains) rules.push_back({Match{Match::Kind::Subdomains, m->domain}, *name, sub->origin, "SubDomains " + sub->value});
  }
  if (rules.empty()) return at(dom.origin, "Domain lists no domain");
  order_by_precedence(rules);
  emit_rules(b.t, std::move(rules));
  b.done(dom, std::to_string(b.t.streams.size()) + " streams, one per domain, each with a from-domain rule");
  b.done(sel, "s=" + sel.value + " on every stream");
  b.done(kf, "the key of every stream (copied into the key directory)");
  if (sub) b.done(*sub, subdomains ? "every rule also matches *.domain, signed as the listed domain" : "exact domains only");
  return Ok{};
}

Status translate_keys(Builder& b) {
  const OdSetting* mode = b.conf.find("Mode");
  const std::string m = mode ? ascii::to_lower(mode->value) : "sv";
  if (m.empty() || m.find_first_not_of("sv") != std::string::npos) {
    return at(mode->origin, "Mode " + mode->value + ": OpenDKIM's modes are s (sign) and v (verify)");
  }
  if (m.find('s') == std::string::npos) {
    return at(mode->origin, "Mode " + mode->value + ": OpenDKIM only verifies here, so there is nothing to sign to "
                            "import (signet signs; verifying is out of scope)");
  }
  if (mode) b.done(*mode, m == "s" ? "signing" : "the signing half is imported; verifying is out of scope");
  const OdSetting* kt = b.conf.find("KeyTable");
  const OdSetting* st = b.conf.find("SigningTable");
  const OdSetting* kf = b.conf.find("KeyFile");
  const OdSetting* dom = b.conf.find("Domain");
  const OdSetting* sel = b.conf.find("Selector");
  const OdSetting* lua = b.conf.find("SetupPolicyScript");
  // opendkim.conf(5) Mode: signing needs (a) Domain, KeyFile, Selector and no
  // tables, (b) KeyTable and SigningTable and none of those, or (c) KeyTable
  // and a SetupPolicyScript.
  if (kt && !st && lua) {
    return at(lua->origin, "SetupPolicyScript chooses the keys (a Lua script): the import cannot tell which sender "
                           "gets which key; write a SigningTable");
  }
  if (kt || st) {
    if (!kt || !st) {
      const OdSetting* one = kt ? kt : st;
      return at(one->origin, std::string(kt ? "KeyTable without a SigningTable" : "SigningTable without a KeyTable") +
                                 ": OpenDKIM needs both to sign (opendkim.conf(5) Mode); add the other");
    }
    for (const OdSetting* single : {kf, dom, sel}) {
      if (single) {
        return at(single->origin, single->name + " together with a KeyTable (" + kt->origin +
                                      "): contradictory, OpenDKIM ignores it (opendkim.conf(5)); remove one setup");
      }
    }
    return translate_key_table(b, *kt, *st);
  }
  if (!kf || !dom || !sel) {
    std::string missing;
    for (auto [s, n] : {std::pair{dom, "Domain"}, std::pair{sel, "Selector"}, std::pair{kf, "KeyFile"}}) {
      if (!s) missing += std::string(missing.empty() ? "" : ", ") + n;
    }
    const std::string where = b.conf.settings.empty() ? std::string("opendkim.conf") : b.conf.settings.back().origin;
    return at(where, "signing needs Domain, Selector and KeyFile, or KeyTable and SigningTable; missing " + missing +
                         " (a truncated file?)");
  }
  return translate_single_key(b, *dom, *sel, *kf);
}

// --------------------------------------------------------------------------
// Who is trusted, the socket, the process
// --------------------------------------------------------------------------

// An IPv6 or IPv4 address or network, as opposed to a host or domain name.
bool address_like(const std::string& s) {
  const char* chars = s.find(':') != std::string::npos ? "0123456789abcdefABCDEF.:/" : "0123456789./";
  return !s.empty() && s.find_first_not_of(chars) == std::string::npos;
}

Status translate_trust(Builder& b) {
  std::vector<std::string> nets;
  if (const OdSetting* ih = b.conf.find("InternalHosts")) {
    auto ds = b.dataset(*ih);
    if (!ds) return ds.error();
    for (const DataEntry& e : ds->entries) {
      std::string a = e.key;
      if (a[0] == '!') {
        return at(e.origin, "InternalHosts exclusion " + a + ": signet's internal-hosts has no exclusions, and "
                            "dropping it would trust that host; list the trusted networks without it");
      }
      a.erase(std::remove(a.begin(), a.end(), '['), a.end());
      a.erase(std::remove(a.begin(), a.end(), ']'), a.end());
      if (!address_like(a)) {
        b.t.not_translated.push_back({e.origin, e.key, "host or domain name: OpenDKIM matches it against the MTA's "
                                                       "name for the client; signet matches addresses: add the "
                                                       "host's addresses to internal-hosts"});
        continue;
      }
      if (a.find('/') == std::string::npos) a += a.find(':') != std::string::npos ? "/128" : "/32";
      if (!conf::CidrSet::parse(a)) {
        b.t.not_translated.push_back({e.origin, e.key, "not an address or network signet reads the same way "
                                                       "(OpenDKIM uses inet_addr(3), which reads short forms such as "
                                                       "192.0.2/24 differently): write it out in full"});
        continue;
      }
      nets.push_back(a);
    }
    b.done(*ih, nets.empty() ? "no address entries: internal-hosts stays empty" : "internal-hosts");
  } else {
    nets.push_back("127.0.0.1/32");  // opendkim.conf(5) InternalHosts: the default
    b.t.translated.push_back({"", "InternalHosts (unset)", "internal-hosts = 127.0.0.1/32, OpenDKIM's default"});
  }
  std::string joined;
  for (const std::string& n : nets) joined += (joined.empty() ? "" : " ") + n;
  if (!joined.empty()) b.global("internal-hosts", joined, b.conf.find("InternalHosts"), "InternalHosts unset");
  b.t.translated.push_back({"", "(authenticated senders)", "OpenDKIM signs SMTP AUTH senders' mail; signet signs "
                                                          "SASL-authenticated mail always"});
  if (const OdSetting* mta = b.conf.find("MTA")) {
    auto ds = b.dataset(*mta);
    if (!ds) return ds.error();
    std::string names;
    for (const DataEntry& e : ds->entries) names += (names.empty() ? "" : " ") + e.key;
    b.global("trusted-services", names, mta);
    b.done(*mta, "trusted-services (the {daemon_name} of the MTA's listeners)");
  }
  for (const char* name : {"ExternalIgnoreList", "PeerList"}) {
    const OdSetting* s = b.conf.find(name);
    if (!s) continue;
    auto ds = b.dataset(*s);
    if (!ds) return ds.error();
    const std::string n = std::to_string(ds->entries.size()) + " entries: ";
    b.skip(*s, std::string(name) == "PeerList"
                   ? n + "OpenDKIM passes these clients' mail untouched; signet has no such list, so a peer that is "
                         "also internal or authenticated gets signed"
                   : n + "OpenDKIM only silences its \"external host tried to send mail as\" log line for them; "
                         "signet does not sign their mail either and has no such line");
  }
  return Ok{};
}

Status translate_process(Builder& b) {
  if (const OdSetting* s = b.conf.find("Socket")) {
    std::string v = s->value;
    if (v.rfind("local:", 0) == 0) v = "unix:" + v.substr(6);
    if (v[0] == '/') v = "unix:" + v;
    if (v.rfind("unix:", 0) != 0 && v.rfind("inet:", 0) != 0 && v.rfind("inet6:", 0) != 0) {
      return at(s->origin, "Socket " + s->value + ": expected local:/path, inet:PORT[@HOST] or inet6:PORT[@HOST]");
    }
    b.global("socket", v, s);
    b.done(*s, "socket = " + v + (v.find('@') == std::string::npos && v.rfind("unix:", 0) != 0
                                      ? " (all interfaces, as OpenDKIM; consider @127.0.0.1)"
                                      : " (the MTA's milter setting stays as it is)"));
  }
  if (const OdSetting* s = b.conf.find("UserID")) {
    const std::size_t colon = s->value.find(':');
    const std::string user = s->value.substr(0, colon);
    b.global("user", user, s);
    if (colon != std::string::npos) b.global("group", s->value.substr(colon + 1), s);
    b.done(*s, colon != std::string::npos ? "user and group" : "user (and its primary group, as OpenDKIM)");
  }
  if (const OdSetting* s = b.conf.find("PidFile")) {
    b.global("pidfile", s->value, s);
    b.done(*s, "pidfile");
  }
  if (const OdSetting* s = b.conf.find("Background")) {
    if (!*od_bool(s->value)) b.global("foreground", "true", s);
    b.done(*s, *od_bool(s->value) ? "signet-milter detaches too (foreground = false, the default)" : "foreground = true");
  }
  if (const OdSetting* s = b.conf.find("Syslog")) {
    if (*od_bool(s->value)) {
      b.done(*s, "signet logs to syslog (facility mail) by default");
    } else {
      b.skip(*s, "signet always logs (syslog, or log = stderr)");
    }
  }
  if (const OdSetting* s = b.conf.find("SyslogFacility")) {
    if (ascii::iequals(s->value, "mail")) {
      b.done(*s, "signet logs with facility mail");
    } else {
      b.skip(*s, "signet logs with facility mail only");
    }
  }
  if (const OdSetting* s = b.conf.find("BaseDirectory")) b.done(*s, "relative paths in the files read are resolved against it");
  return Ok{};
}

// opendkim.conf(5) On-*: accept, discard, quarantine, reject, tempfail, or
// their first letters.
std::optional<char> on_action(const std::string& v) {
  const std::string l = ascii::to_lower(v);
  for (const char* a : {"accept", "discard", "quarantine", "reject", "tempfail"}) {
    if (l == a || l == std::string(1, a[0])) return a[0];
  }
  return std::nullopt;
}

std::string action_name(char a) {
  switch (a) {
    case 'a': return "accept";
    case 'd': return "discard";
    case 'q': return "quarantine";
    case 'r': return "reject";
    default: return "tempfail";
  }
}

Status translate_on_error(Builder& b) {
  // The two that concern signing; OpenDKIM's defaults: tempfail, reject.
  char internal = 't', signature = 'r';
  const OdSetting* dflt = b.conf.find("On-Default");
  const OdSetting* ie = b.conf.find("On-InternalError");
  const OdSetting* se = b.conf.find("On-SignatureError");
  for (const OdSetting* s : {dflt, ie, se}) {
    if (s && !on_action(s->value)) {
      return at(s->origin, s->name + " " + s->value + ": expected accept, discard, quarantine, reject or tempfail");
    }
  }
  if (dflt) internal = signature = *on_action(dflt->value);
  if (ie) internal = *on_action(ie->value);
  if (se) signature = *on_action(se->value);
  const bool accept = internal == 'a' && signature == 'a';
  const std::string value = accept ? "accept" : "tempfail";
  const OdSetting* from = se ? se : ie ? ie : dflt;
  b.global("on-error", value, from, "On-InternalError and On-SignatureError unset");
  std::string why = "on-error = " + value + " (internal errors: " + action_name(internal) +
                    ", messages that cannot be signed: " + action_name(signature) + ")";
  if (internal == 'r' || internal == 'd' || internal == 'q' || signature == 'r' || signature == 'd' || signature == 'q') {
    why += "; signet never rejects, discards or quarantines over its own trouble: tempfail keeps the message queued";
  }
  if (!accept && (internal == 'a' || signature == 'a')) why += "; signet has one policy for both: the stricter, tempfail";
  if (!dflt && !ie && !se) {
    b.t.translated.push_back({"", "On-InternalError, On-SignatureError (unset)", why + ", from OpenDKIM's defaults"});
  }
  for (const OdSetting* s : {dflt, ie, se}) {
    if (s) b.done(*s, why + (s == dflt ? "; its verify-mode part is out of scope" : ""));
  }
  return Ok{};
}

// --------------------------------------------------------------------------
// The signature: c=, h=, x=, a=
// --------------------------------------------------------------------------

std::string duration_text(long seconds) {
  if (seconds % 86400 == 0) return std::to_string(seconds / 86400) + "d";
  if (seconds % 3600 == 0) return std::to_string(seconds / 3600) + "h";
  if (seconds % 60 == 0) return std::to_string(seconds / 60) + "m";
  return std::to_string(seconds) + "s";
}

Result<std::vector<std::string>> header_list(Builder& b, const OdSetting& s, std::vector<std::string> base) {
  auto ds = b.dataset(s);
  if (!ds) return ds.error();
  bool delta = false;
  for (const DataEntry& e : ds->entries) delta = delta || e.key == "*";
  // opendkim.conf(5) OmitHeaders: "*" makes the list a delta on the default.
  std::vector<std::string> out = delta ? std::move(base) : std::vector<std::string>{};
  for (const DataEntry& e : ds->entries) {
    if (e.key == "*") continue;
    std::string name = ascii::to_lower(e.key);
    const char op = name[0];
    if (op == '+' || op == '-') name.erase(0, 1);
    out.erase(std::remove(out.begin(), out.end(), name), out.end());
    if (op != '-') out.push_back(name);
  }
  return out;
}

std::string joined(const std::vector<std::string>& v) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : " ") + s;
  return out;
}

Status translate_signature(Builder& b) {
  if (const OdSetting* s = b.conf.find("Canonicalization")) {
    auto c = canon::parse_canonicalization(ascii::to_lower(s->value));
    if (!c) return at(s->origin, "Canonicalization " + s->value + ": expected simple or relaxed, or header/body");
    // A lone name is the header's; the body is simple (RFC 6376 §3.5 c=, as OpenDKIM reads it).
    const std::string v = std::string(canon::to_string(c->first)) + "/" + std::string(canon::to_string(c->second));
    b.stream_option("canonicalization", v, s);
    b.done(*s, "canonicalization = " + v);
  } else {
    b.stream_option("canonicalization", "simple/simple", nullptr, "Canonicalization unset");
    b.t.translated.push_back({"", "Canonicalization (unset)", "canonicalization = simple/simple, OpenDKIM's default "
                                                             "(signet's own, relaxed/relaxed, survives more relays)"});
  }
  if (const OdSetting* s = b.conf.find("SignHeaders")) {
    auto list = header_list(b, *s, default_header_policy().sign);
    if (!list) return list.error();
    b.stream_option("sign-headers", joined(*list), s);
    b.done(*s, "sign-headers (From, Subject, To and Date are always signed and oversigned)");
  }
  if (const OdSetting* s = b.conf.find("OversignHeaders")) {
    auto list = header_list(b, *s, {});
    if (!list) return list.error();
    b.stream_option("oversign-headers", joined(*list), s);
    b.done(*s, "oversign-headers (signet oversigns From, Subject, To and Date whatever the list says)");
  }
  if (const OdSetting* s = b.conf.find("SignatureTTL")) {
    const long ttl = std::strtol(s->value.c_str(), nullptr, 0);
    if (ttl < 0) return at(s->origin, "SignatureTTL " + s->value + ": a negative lifetime");
    // signet's expire has bounds (conf/options.h): a lifetime outside them
    // would give a signet.conf that signet-milter refuses to load.
    const conf::OptionSpec& expire = *conf::find_option(conf::Scope::Stream, "expire");
    if (ttl > 0 && (ttl < expire.min || ttl > expire.max)) {
      return at(s->origin, "SignatureTTL " + s->value + ": signet's signature lifetime (expire, x=) is " +
                               conf::allowed(expire) + "; set SignatureTTL within that range, or 0 for no x=");
    }
    if (ttl > 0) {
      b.stream_option("expire", duration_text(ttl), s);
      b.done(*s, "expire = " + duration_text(ttl) + " (x=)");
    } else {
      b.done(*s, "no x=, as OpenDKIM");
    }
  }
  if (const OdSetting* s = b.conf.find("SignatureAlgorithm")) {
    const std::string a = ascii::to_lower(s->value);
    if (a == "rsa-sha1") {
      b.skip(*s, "refused: signet never signs rsa-sha1 (RFC 8301 §3.1); it signs rsa-sha256 with the same key, which "
                 "the same record verifies unless it restricts h= to sha1");
    } else if (a == "rsa-sha256" || a == "ed25519-sha256") {
      b.done(*s, "signet signs " + a + " (the algorithm comes from each key file)");
    } else {
      return at(s->origin, "SignatureAlgorithm " + s->value + ": expected rsa-sha256, rsa-sha1 or ed25519-sha256");
    }
  }
  if (const OdSetting* s = b.conf.find("SubDomains"); s && !b.handled.count("SubDomains")) {
    b.skip(*s, "applies to Domain, which a KeyTable replaces (opendkim.conf(5)): the SigningTable's own entries "
               "(.example.com, *@*.example.com) decide");
  }
  return Ok{};
}

}  // namespace

Result<Translation> translate_opendkim(const OdConf& conf, const ReadFile& read) {
  Builder b{conf, read, {}, {}, {}};
  if (const OdSetting* s = conf.find("BaseDirectory")) b.base_dir = s->value;
  for (auto step : {translate_keys, translate_trust, translate_process, translate_on_error, translate_signature}) {
    if (Status s = step(b); !s) return s.error();
  }
  // Everything else given, with its reason; a setting given twice is OpenDKIM's last.
  for (const OdSetting& s : conf.settings) {
    const OdSetting* used = conf.find(s.name);
    if (used != &s) {
      b.t.not_translated.push_back({s.origin, setting_text(s), "given again at " + used->origin + ", which OpenDKIM uses"});
      continue;
    }
    if (b.handled.count(s.name)) continue;
    const auto it = reasons().find(s.name);
    b.t.not_translated.push_back({s.origin, setting_text(s), it != reasons().end() && *it->second ? it->second : kRuntime});
  }
  // The report reads in file order (file, then line); OpenDKIM's defaults last.
  auto key = [](const ImportNote& n) {
    const std::size_t colon = n.origin.rfind(':');
    return std::tuple(n.origin.empty(), n.origin.substr(0, colon),
                      colon == std::string::npos ? 0 : std::atoi(n.origin.c_str() + colon + 1));
  };
  for (auto* v : {&b.t.translated, &b.t.not_translated}) {
    std::stable_sort(v->begin(), v->end(), [&](const ImportNote& a, const ImportNote& x) { return key(a) < key(x); });
  }
  return std::move(b.t);
}

std::string format_signet_conf(const Translation& t, const std::string& key_directory, const std::string& header) {
  std::string out;
  for (std::string_view h = header; !h.empty();) {
    const std::size_t nl = h.find('\n');
    out += "# " + std::string(h.substr(0, nl)) + "\n";
    if (nl == std::string_view::npos) break;
    h.remove_prefix(nl + 1);
  }
  auto option = [&](const ImportOption& o) {
    out += o.origin.empty() ? "# OpenDKIM's default (" + o.source + ")\n" : "# from " + o.origin + ": " + o.source + "\n";
    out += o.name + " = " + o.value + "\n";
  };
  out += "\n";
  for (const ImportOption& o : t.globals) option(o);
  out += "# the imported keys: manifest and key files (signet key list, signet register)\n";
  out += "key-directory = " + key_directory + "\n";
  for (const ImportStream& s : t.streams) {
    out += "\n[stream." + s.name + "]\n";
    out += "# from " + s.origin + " (key " + s.key_source + "; its manifest row is in the key directory)\n";
    out += "domain = " + s.domain + "\n";
    out += "owner = " + std::string(kImportedOwner) + "\n";
    for (const ImportOption& o : t.stream_options) option(o);
  }
  for (const ImportRule& r : t.rules) {
    out += "\n[rule." + r.name + "]\n";
    out += "# from " + r.origin + ": " + r.source + "\n";
    if (!r.from_domain.empty()) out += "from-domain = " + joined(r.from_domain) + "\n";
    out += "stream = " + r.stream + "\n";
  }
  return out;
}

keystore::KeyRow imported_key_row(const ImportStream& s, const PrivateKey& key, std::int64_t since) {
  keystore::KeyRow r;
  r.stream = s.name;
  r.domain = s.domain;
  r.selector = s.selector;
  r.algorithm = key.algorithm();
  r.bits = key.bits();
  r.owner = kImportedOwner;
  r.file = s.domain + "/" + s.selector + ".key";
  r.created = r.published_at = since;
  r.window = keystore::Window::scheduled(since);
  return r;
}

}  // namespace signet::migrate
