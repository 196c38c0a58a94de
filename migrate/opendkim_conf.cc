#include "migrate/opendkim_conf.h"

#include <cstdlib>
#include <string>

#include "base/ascii.h"

namespace signet::migrate {
namespace {

enum class Type { Bool, Int, String, Dataset, Include };

struct Param {
  const char* name;
  Type type;
};

// opendkim.conf(5), version 2.11.0 (Debian 12's opendkim 2.11.0~beta2): every
// parameter name. An unknown name stops OpenDKIM ("unrecognized parameter"),
// so it stops the import too. BodyLengthLimit is not an OpenDKIM name; the
// import's issue calls the l= settings that, so it is read to be refused by
// name (migrate/opendkim_import.cc) rather than as an unknown word.
constexpr Param kParams[] = {
    {"AllowSHA1Only", Type::Bool}, {"AlwaysAddARHeader", Type::Bool}, {"AuthservID", Type::String},
    {"AuthservIDWithJobID", Type::Bool}, {"AutoRestart", Type::Bool}, {"AutoRestartCount", Type::Int},
    {"AutoRestartRate", Type::String}, {"Background", Type::Bool}, {"BaseDirectory", Type::String},
    {"BodyLengthDB", Type::Dataset}, {"BodyLengthLimit", Type::String}, {"BogusKey", Type::String},
    {"CaptureUnknownErrors", Type::Bool}, {"Canonicalization", Type::String}, {"ChangeRootDirectory", Type::String},
    {"ClockDrift", Type::Int}, {"Diagnostics", Type::Bool}, {"DiagnosticDirectory", Type::String},
    {"DisableCryptoInit", Type::Bool}, {"DNSConnect", Type::Bool}, {"DNSTimeout", Type::Int},
    {"Domain", Type::Dataset}, {"DomainKeysCompat", Type::Bool}, {"DontSignMailTo", Type::Dataset},
    {"EnableCoredumps", Type::Bool}, {"ExemptDomains", Type::Dataset}, {"ExternalIgnoreList", Type::Dataset},
    {"FinalPolicyScript", Type::String}, {"FixCRLF", Type::Bool}, {"IdentityHeader", Type::String},
    {"IdentityHeaderRemove", Type::Bool}, {"IgnoreMalformedMail", Type::Bool}, {"Include", Type::Include},
    {"InternalHosts", Type::Dataset}, {"KeepAuthResults", Type::Bool}, {"KeepTemporaryFiles", Type::Bool},
    {"KeyFile", Type::String}, {"KeyTable", Type::Dataset}, {"LDAPAuthMechanism", Type::String},
    {"LDAPAuthName", Type::String}, {"LDAPAuthRealm", Type::String}, {"LDAPAuthUser", Type::String},
    {"LDAPBindPassword", Type::String}, {"LDAPBindUser", Type::String}, {"LDAPDisableCache", Type::Bool},
    {"LDAPKeepaliveIdle", Type::Int}, {"LDAPKeepaliveInterval", Type::Int}, {"LDAPKeepaliveProbes", Type::Int},
    {"LDAPTimeout", Type::Int}, {"LDAPUseTLS", Type::Bool}, {"LogResults", Type::Bool}, {"LogWhy", Type::Bool},
    {"MacroList", Type::Dataset}, {"MaximumHeaders", Type::Int}, {"MaximumSignaturesToVerify", Type::Int},
    {"MaximumSignedBytes", Type::Int}, {"MilterDebug", Type::Int}, {"Minimum", Type::String},
    {"MinimumKeyBits", Type::Int}, {"Mode", Type::String}, {"MTA", Type::Dataset}, {"MTACommand", Type::String},
    {"MultipleSignatures", Type::Bool}, {"MustBeSigned", Type::Dataset}, {"Nameservers", Type::String},
    {"NoHeaderB", Type::Bool}, {"OmitHeaders", Type::Dataset}, {"On-BadSignature", Type::String},
    {"On-Default", Type::String}, {"On-DNSError", Type::String}, {"On-InternalError", Type::String},
    {"On-KeyNotFound", Type::String}, {"On-NoSignature", Type::String}, {"On-Security", Type::String},
    {"On-SignatureError", Type::String}, {"OversignHeaders", Type::Dataset}, {"PeerList", Type::Dataset},
    {"PidFile", Type::String}, {"POPDBFile", Type::Dataset}, {"Quarantine", Type::Bool}, {"QueryCache", Type::Bool},
    {"RedirectFailuresTo", Type::String}, {"RemoveARAll", Type::Bool}, {"RemoveARFrom", Type::Dataset},
    {"RemoveOldSignatures", Type::Bool}, {"ReplaceHeaders", Type::Dataset}, {"ReplaceRules", Type::String},
    {"ReportAddress", Type::String}, {"ReportBccAddress", Type::String}, {"RequestReports", Type::Bool},
    {"RequiredHeaders", Type::Bool}, {"RequireSafeKeys", Type::Bool}, {"ResignAll", Type::Bool},
    {"ResignMailTo", Type::Dataset}, {"ResolverConfiguration", Type::String}, {"ResolverTracing", Type::Bool},
    {"ScreenPolicyScript", Type::String}, {"SelectCanonicalizationHeader", Type::String},
    {"Selector", Type::String}, {"SenderHeaders", Type::Dataset}, {"SenderMacro", Type::String},
    {"SendReports", Type::Bool}, {"SetupPolicyScript", Type::String}, {"SignatureAlgorithm", Type::String},
    {"SignatureTTL", Type::Int}, {"SignHeaders", Type::Dataset}, {"SigningTable", Type::Dataset},
    {"SMTPURI", Type::String}, {"Socket", Type::String}, {"SoftStart", Type::Bool}, {"SoftwareHeader", Type::Bool},
    {"Statistics", Type::String}, {"StatisticsName", Type::String}, {"StatisticsPolicyScript", Type::String},
    {"StatisticsPrefix", Type::String}, {"StrictHeaders", Type::Bool}, {"StrictTestMode", Type::Bool},
    {"SubDomains", Type::Bool}, {"Syslog", Type::Bool}, {"SyslogFacility", Type::String},
    {"SyslogName", Type::String}, {"SyslogSuccess", Type::Bool}, {"TemporaryDirectory", Type::String},
    {"TestDNSData", Type::Dataset}, {"TestPublicKeys", Type::String}, {"TrustAnchorFile", Type::String},
    {"TrustSignaturesFrom", Type::Dataset}, {"UMask", Type::Int}, {"UnprotectedKey", Type::String},
    {"UserID", Type::String}, {"VBR-Certifiers", Type::String}, {"VBR-PurgeFields", Type::String},
    {"VBR-TrustedCertifiers", Type::String}, {"VBR-TrustedCertifiersOnly", Type::Bool}, {"VBR-Type", Type::String},
    {"WeakSyntaxChecks", Type::Bool},
};

constexpr int kMaxIncludeLevel = 5;  // OpenDKIM config.c MAXLEVEL

const Param* find_param(std::string_view name) {
  for (const Param& p : kParams) {
    if (ascii::iequals(p.name, name)) return &p;
  }
  return nullptr;
}

using ascii::is_wsp;
using ascii::trim;

// Calls f(line_number, line) for each line, without its line break.
template <typename F>
void for_each_line(std::string_view text, F&& f) {
  int n = 0;
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    ++n;
    f(n, text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// config.c: a line ends at the first '#' or CR.
std::string_view cut_comment(std::string_view line) {
  const std::size_t at = line.find_first_of("#\r");
  return at == std::string_view::npos ? line : line.substr(0, at);
}

bool valid_int(std::string_view v) {
  const std::string s(v);
  char* end = nullptr;
  std::strtol(s.c_str(), &end, 0);  // config.c: strtol(p, &q, 0), nothing may follow
  return !s.empty() && end && *end == '\0';
}

Status parse_level(std::string_view text, const std::string& path, const ReadFile& read, int level, OdConf& out) {
  Status status = Ok{};
  for_each_line(text, [&](int n, std::string_view raw) {
    if (!status) return;
    const std::string_view line = trim(cut_comment(raw));
    if (line.empty()) return;
    const std::string where = path + ":" + std::to_string(n);
    std::size_t end = 0;
    while (end < line.size() && !is_wsp(line[end])) ++end;
    const std::string_view name = line.substr(0, end);
    const std::string_view value = trim(line.substr(end));
    const Param* p = find_param(name);
    if (!p) {
      status = permanent_error(where + ": unrecognized parameter '" + std::string(name) +
                               "' (opendkim.conf(5)); OpenDKIM refuses to start on it too: fix or remove the line");
      return;
    }
    if (value.empty()) {
      status = permanent_error(where + ": " + p->name + " has no value (a truncated line?); give its value or remove it");
      return;
    }
    if (p->type == Type::Bool && !od_bool(value)) {
      status = permanent_error(where + ": " + p->name + " " + std::string(value) + ": not a Boolean (yes/no, true/false, 1/0)");
      return;
    }
    if (p->type == Type::Int && !valid_int(value)) {
      status = permanent_error(where + ": " + p->name + " " + std::string(value) + ": not an integer");
      return;
    }
    if (p->type == Type::Include) {
      if (level + 1 > kMaxIncludeLevel) {
        status = permanent_error(where + ": Include nests deeper than " + std::to_string(kMaxIncludeLevel) +
                                 " levels (OpenDKIM's limit)");
        return;
      }
      const std::string file(value);
      auto included = read(file);
      if (!included) {
        status = permanent_error(where + ": Include " + file + ": " + included.error().message);
        return;
      }
      status = parse_level(*included, file, read, level + 1, out);
      return;
    }
    out.settings.push_back(OdSetting{p->name, std::string(value), where});
  });
  return status;
}

bool has_prefix(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

}  // namespace

const OdSetting* OdConf::find(std::string_view name) const {
  for (auto it = settings.rbegin(); it != settings.rend(); ++it) {
    if (ascii::iequals(it->name, name)) return &*it;
  }
  return nullptr;
}

std::optional<bool> od_bool(std::string_view value) {
  if (value.empty()) return std::nullopt;
  switch (value[0]) {
    case 't': case 'T': case 'y': case 'Y': case '1': return true;
    case 'f': case 'F': case 'n': case 'N': case '0': return false;
    default: return std::nullopt;
  }
}

Result<OdConf> parse_opendkim_conf(std::string_view text, const std::string& path, const ReadFile& read) {
  OdConf out;
  if (Status s = parse_level(text, path, read, 0, out); !s) return s.error();
  return out;
}

std::optional<std::string> resolve_path(const std::string& path, const std::string& base_dir) {
  if (!path.empty() && path[0] == '/') return path;
  if (base_dir.empty()) return std::nullopt;
  return base_dir + "/" + path;
}

std::vector<DataEntry> parse_dataset_file(std::string_view text, const std::string& path) {
  std::vector<DataEntry> out;
  for_each_line(text, [&](int n, std::string_view raw) {
    const std::string_view line = trim(cut_comment(raw));
    if (line.empty()) return;
    std::size_t end = 0;
    while (end < line.size() && !is_wsp(line[end])) ++end;
    out.push_back(DataEntry{std::string(line.substr(0, end)), std::string(trim(line.substr(end))),
                            path + ":" + std::to_string(n)});
  });
  return out;
}

Result<Dataset> load_dataset(const OdSetting& setting, const ReadFile& read, const std::string& base_dir) {
  const std::string where = setting.origin + ": " + setting.name + " " + setting.value;
  const std::string_view v = setting.value;
  for (const char* unsupported : {"db:", "dsn:", "ldap:", "ldaps:", "ldapi:", "lua:", "memcache:", "erlang:", "mdb:"}) {
    if (has_prefix(v, unsupported)) {
      return permanent_error(where + ": a " + std::string(unsupported) +
                             " data set is not read by the import; export it to a flat file (file:) and point " +
                             setting.name + " at that");
    }
  }
  Dataset ds;
  std::string file;
  if (has_prefix(v, "refile:")) {
    ds.kind = Dataset::Kind::Refile;
    file = std::string(v.substr(7));
  } else if (has_prefix(v, "file:")) {
    ds.kind = Dataset::Kind::File;
    file = std::string(v.substr(5));
  } else if (has_prefix(v, "/")) {
    ds.kind = Dataset::Kind::File;
    file = std::string(v);
  } else if (v.size() > 3 && v.substr(v.size() - 3) == ".db") {
    return permanent_error(where + ": a Sleepycat database is not read by the import; export it to a flat file (file:)");
  }
  if (ds.kind == Dataset::Kind::List) {
    // opendkim(8) "DATA SETS" j) and m): a comma-separated list, "x=y" pairs.
    std::string_view list = has_prefix(v, "csl:") ? v.substr(4) : v;
    while (true) {
      const std::size_t comma = list.find(',');
      const std::string_view item = trim(list.substr(0, comma));
      if (!item.empty()) {
        const std::size_t eq = item.find('=');
        ds.entries.push_back(DataEntry{std::string(trim(item.substr(0, eq))),
                                       eq == std::string_view::npos ? "" : std::string(trim(item.substr(eq + 1))),
                                       setting.origin});
      }
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
    return ds;
  }
  const auto resolved = resolve_path(file, base_dir);
  if (!resolved) {
    return permanent_error(where + ": relative path " + file +
                           ": OpenDKIM opens it from its working directory, which this file does not set "
                           "(BaseDirectory); give an absolute path");
  }
  auto text = read(*resolved);
  if (!text) return permanent_error(where + ": " + text.error().message);
  ds.path = *resolved;
  ds.entries = parse_dataset_file(*text, *resolved);
  return ds;
}

}  // namespace signet::migrate
