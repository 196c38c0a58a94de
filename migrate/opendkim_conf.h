// migrate/opendkim_conf.h — OpenDKIM's files as OpenDKIM reads them:
// opendkim.conf(5) and the "data sets" of opendkim(8) (KeyTable,
// SigningTable, InternalHosts, ...). Pure functions of (text, path); the one
// way to reach another file is the ReadFile the caller passes, so a test or a
// fuzzer hands in a map and nothing touches the disk.
//
// parse_opendkim_conf(text, path, read): every "Name value" line, in order,
// Include files expanded in place (at most 5 levels, as OpenDKIM's
// config.c MAXLEVEL). The syntax is OpenDKIM's: a line is cut at the first
// '#' or CR; the name is the first word (matched case-insensitively against
// opendkim.conf(5)'s parameter names); the value is the rest, trimmed;
// Booleans take the first character (tTyY1 / fFnN0), integers strtol(0)
// syntax. There are no continuation lines. The same parameter given twice:
// OpenDKIM uses the last (config_get walks a list built back to front), and
// so does OdConf::find. Fails, naming "PATH:LINE", on an unrecognized
// parameter, a missing value, an illegal Boolean or integer, an Include that
// cannot be read or nests too deep: what OpenDKIM itself refuses to start on.
//
// load_dataset(setting, read, base_dir): the entries of a data set value
// (opendkim(8) "DATA SETS"): "file:PATH" or "/PATH" a flat file, "refile:PATH"
// a file of wildcard patterns ('*' the only wildcard), "csl:a,b" or a bare
// "a, b" a comma-separated list whose "x=y" entries are key/value pairs.
// File lines: '#' starts a comment, blank lines are skipped, the key is the
// text up to the first white space and the value the rest (trimmed). Each
// entry keeps its origin ("PATH:LINE", or the setting's origin for a list).
// Relative file paths are resolved against base_dir (BaseDirectory: OpenDKIM
// chdir()s there first); without one they are refused, because OpenDKIM
// would read them from wherever it was started. Fails naming the setting's
// origin for database, LDAP, SQL, Lua, memcache, Erlang and MDB data sets
// (export them to a flat file first) and for a file that cannot be read.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet::migrate {

// Reads a whole file; an error names the path and says why.
using ReadFile = std::function<Result<std::string>(const std::string& path)>;

struct OdSetting {
  std::string name;    // as opendkim.conf(5) spells it ("SigningTable")
  std::string value;   // trimmed, comment removed
  std::string origin;  // "PATH:LINE"
};

struct OdConf {
  std::vector<OdSetting> settings;  // file order, includes expanded in place
  // The setting OpenDKIM uses (the last one given), or nullptr.
  const OdSetting* find(std::string_view name) const;
};

Result<OdConf> parse_opendkim_conf(std::string_view text, const std::string& path, const ReadFile& read);

// opendkim.conf(5) Boolean: the first character decides; nullopt if illegal.
std::optional<bool> od_bool(std::string_view value);

struct DataEntry {
  std::string key;
  std::string value;   // empty for a plain set member
  std::string origin;  // "PATH:LINE" (file), or the setting's origin (list)
};

struct Dataset {
  enum class Kind { List, File, Refile };
  Kind kind = Kind::List;
  std::string path;  // File/Refile: the file read
  std::vector<DataEntry> entries;
};

Result<Dataset> load_dataset(const OdSetting& setting, const ReadFile& read, const std::string& base_dir);

// The lines of a flat or refile data set file (the file half of load_dataset).
std::vector<DataEntry> parse_dataset_file(std::string_view text, const std::string& path);

// A path as OpenDKIM opens it: absolute as is, relative under base_dir;
// nullopt when relative and there is no base_dir.
std::optional<std::string> resolve_path(const std::string& path, const std::string& base_dir);

}  // namespace signet::migrate
