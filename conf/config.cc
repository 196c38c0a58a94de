// Loading signet-milter's configuration. The options are conf/options.h's
// table; this file reads the command line (Boost.Program_options) and the
// INI files (conf/ini.h), applies defaults, file and command line in that
// order, and builds streams and rules, in file order (which is what makes
// "first matching rule wins" well defined).
#include "conf/config.h"

#include <glob.h>
#include <boost/program_options.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "base/ascii.h"
#include "conf/ini.h"
#include "conf/options.h"
#include "conf/rule_index.h"
#include "conf/values.h"
#include "keystore/manifest.h"

namespace po = boost::program_options;

namespace signet::conf {
namespace {

constexpr const char* kDefaultConfig = "/etc/signet/signet.conf";
constexpr const char* kSeeAlso = "see signet.conf(5)";

// One [stream.X] or [rule.X] section: its lines in order, from one file.
struct Section {
  std::string kind, name, file;
  std::size_t line = 0;  // its first option's line
  std::vector<IniLine> lines;
  std::string where() const { return file + ":" + std::to_string(line) + ": [" + kind + "." + name + "] "; }
};

struct Sections {
  std::vector<Section> list;
  std::map<std::pair<std::string, std::string>, std::size_t> index;  // (kind, name): tens of thousands of tenants
};

Result<std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return permanent_error(path + ": cannot open the configuration file");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Checks one value against its option and applies it; errors name the line.
// `prefix()` makes the error's "FILE:LINE: [stream.X] " only when there is
// one: a load of 100 000 streams builds none.
template <typename Target, typename Setter, typename Prefix>
Status apply_line(const OptionSpec& o, const IniLine& l, const Prefix& prefix, Target& target, Setter set) {
  auto v = check_value(o, l.value);
  if (!v) return permanent_error(prefix() + l.name + " = " + l.value.substr(0, 80) + ": " + v.error().message);
  if (Status s = set(target, v.value()); !s) {
    return permanent_error(prefix() + l.name + " = " + l.value.substr(0, 80) + ": " + s.error().message);
  }
  return Ok{};
}

// The first occurrence of each option that may appear once, per scope.
// REQUIRES: the lines noted outlive the Repeats (they are named in its errors).
class Repeats {
 public:
  template <typename Prefix>
  Status note(const OptionSpec& o, const IniLine& l, const Prefix& prefix) {
    if (o.repeatable) return Ok{};
    auto [it, fresh] = seen_.emplace(o.name, &l);
    if (fresh) return Ok{};
    return permanent_error(prefix() + o.name + " is given twice (first at " + it->second->where() + "); give it once");
  }

 private:
  std::map<std::string_view, const IniLine*> seen_;  // option name (the table's) -> its first line
};

// Moves each line into its section (or `globals`).
Status read_sections(std::vector<IniLine>&& lines, bool globals_allowed, Sections& sections,
                     std::vector<IniLine>* globals) {
  std::string previous_section;                  // the previous line's, checked there
  std::size_t previous = sections.list.size();  // its index in sections.list; none yet
  for (IniLine& l : lines) {
    const auto at = [&] { return l.where() + ": "; };  // the error path only
    // Consecutive lines of one section (the usual case) are checked at its first line.
    if (previous < sections.list.size() && l.section == previous_section) {
      sections.list[previous].lines.push_back(std::move(l));
      continue;
    }
    if (l.section.empty()) {
      if (!globals_allowed) {
        return permanent_error(at() + "global option '" + l.name +
                               "' in an included file; includes hold [stream.*] and [rule.*] sections only");
      }
      globals->push_back(std::move(l));
      continue;
    }
    const std::size_t dot = l.section.find('.');
    const std::string kind = l.section.substr(0, dot);
    const std::string name = dot == std::string::npos ? "" : l.section.substr(dot + 1);
    if ((kind != "stream" && kind != "rule") || name.empty()) {
      return permanent_error(at() + "unknown section [" + l.section + "]; expected [stream.NAME] or [rule.NAME] (" +
                             kSeeAlso + ")");
    }
    auto [it, fresh] = sections.index.emplace(std::make_pair(kind, name), sections.list.size());
    if (fresh) sections.list.push_back(Section{kind, name, l.file, l.line, {}});
    Section& s = sections.list[it->second];
    if (s.file != l.file) {
      return permanent_error(at() + "[" + kind + "." + name + "] is already defined in " + s.file);
    }
    previous_section = l.section;
    previous = it->second;
    s.lines.push_back(std::move(l));
  }
  return Ok{};
}

// Applies every default the table declares for `scope` to `target`.
template <typename Target, typename Pick>
void apply_defaults(Scope scope, Target& target, Pick setter_of) {
  for (const OptionSpec& o : option_table()) {
    if (o.scope != scope || !o.default_value) continue;
    auto v = check_value(o, o.default_value);
    if (v) (void)setter_of(o)(target, v.value());  // the table's own defaults are valid (unit-tested)
  }
}

// What every stream of one load starts from, and the SignProfiles already
// prepared: streams with equal options share one (an ESP's 100 000 tenants
// usually have a handful of distinct option sets), so the defaults are parsed
// and the header policy normalized once per load, not once per stream.
class StreamBuilder {
 public:
  StreamBuilder() { apply_defaults(Scope::Stream, defaults_, [](const OptionSpec& o) { return o.set_stream; }); }
  StreamDraft draft() const { return defaults_; }
  SignProfile profile(SignOptions options) {
    for (const auto& [raw, profile] : profiles_) {
      if (raw == options) return profile;
    }
    SignProfile made(options);
    // A bounded search: with thousands of distinct option sets, the rest are prepared one by one.
    if (profiles_.size() < kMaxShared) profiles_.emplace_back(std::move(options), made);
    return made;
  }

 private:
  static constexpr std::size_t kMaxShared = 16;
  StreamDraft defaults_;
  std::vector<std::pair<SignOptions, SignProfile>> profiles_;  // options as written -> prepared
};

Result<Stream> build_stream(const Section& s, const Config& cfg, StreamBuilder& builder) {
  StreamDraft d = builder.draft();
  d.stream.name = s.name;
  Repeats repeats;
  for (const IniLine& l : s.lines) {
    const auto prefix = [&] { return l.where() + ": [stream." + s.name + "] "; };
    const OptionSpec* o = find_option(Scope::Stream, l.name);
    if (!o) return permanent_error(prefix() + "unknown option '" + l.name + "' (" + kSeeAlso + ")");
    if (o->kind == Kind::Refused) return permanent_error(prefix() + l.name + ": " + o->help);
    if (Status st = repeats.note(*o, l, prefix); !st) return st.error();
    if (Status st = apply_line(*o, l, prefix, d, o->set_stream); !st) return st.error();
  }
  if (d.stream.domain.empty()) return permanent_error(s.where() + "needs a domain");
  if (d.stream.selectors.size() > 2) {
    return permanent_error(s.where() + "has more than two selectors (one rsa, one ed25519 at most)");
  }
  d.stream.dry_run = d.dry_run.value_or(cfg.dry_run);
  d.sign.max_signed_headers = cfg.max_signed_headers;
  d.stream.signing = builder.profile(std::move(d.sign));
  return std::move(d.stream);
}

Result<Rule> build_rule(const Section& s) {
  Rule r;
  r.name = s.name;
  Repeats repeats;
  for (const IniLine& l : s.lines) {
    const auto prefix = [&] { return l.where() + ": [rule." + s.name + "] "; };
    const OptionSpec* o = find_option(Scope::Rule, l.name);
    if (!o) return permanent_error(prefix() + "unknown option '" + l.name + "' (" + kSeeAlso + ")");
    if (Status st = repeats.note(*o, l, prefix); !st) return st.error();
    if (Status st = apply_line(*o, l, prefix, r, o->set_rule); !st) return st.error();
  }
  if (r.stream.empty()) return permanent_error(s.where() + "needs stream = NAME");
  return r;
}

// The value text of a global option on the command line, as INI lines.
std::vector<IniLine> command_line_globals(const po::variables_map& vm) {
  std::vector<IniLine> out;
  for (const OptionSpec& o : option_table()) {
    if (o.scope != Scope::Global || !vm.count(o.name)) continue;
    if (o.repeatable) {
      for (const std::string& v : vm[o.name].as<std::vector<std::string>>()) out.push_back({"", o.name, v, "command line", 0});
    } else {
      out.push_back({"", o.name, vm[o.name].as<std::string>(), "command line", 0});
    }
  }
  return out;
}

std::string help_text(const po::options_description& cli) {
  std::ostringstream os;
  os << cli << "\nconfiguration options (in the file, or on the command line as --NAME VALUE):\n";
  for (const OptionSpec& o : option_table()) {
    if (o.scope != Scope::Global) continue;
    std::string line = "  " + std::string(o.name);
    line.resize(std::max<std::size_t>(line.size() + 1, 30), ' ');
    line += o.help;
    const std::string range = allowed(o);
    if (o.default_value) line += std::string(" (default ") + (*o.default_value ? o.default_value : "empty") + ")";
    if (!range.empty() && o.kind != Kind::Text && o.kind != Kind::Path && o.kind != Kind::List) line += " [" + range + "]";
    os << line << "\n";
  }
  os << "\n[stream.NAME] and [rule.NAME] sections, and every option: signet.conf(5), docs/configuration.md\n";
  return os.str();
}

}  // namespace

const Stream* Config::find_stream(std::string_view name) const {
  const auto it = stream_index.find(name);
  return it == stream_index.end() ? nullptr : &streams[it->second];
}

Result<keystore::LoadOptions> key_load_options(const Config& cfg, keystore::MasterKeyKeeper* keeper) {
  keystore::LoadOptions o = cfg.key_options();
  if (!cfg.sealed_keys) return o;
  auto master = keeper ? keeper->load(cfg.master_key_file) : keystore::load_master_key(cfg.master_key_file);
  if (!master) return master.error();
  o.protection = keystore::Protection::Sealed;
  o.master_key = std::move(master.value());
  return o;
}

Result<std::vector<keystore::KeyRow>> key_rows(const Config& cfg) {
  std::vector<keystore::KeyRow> rows;
  std::string origin;
  for (const Stream& s : cfg.streams) {
    if (s.selectors.empty()) continue;
    ((origin = cfg.config_file) += " [stream.") += s.name;  // once per stream, for its selectors
    origin += ']';
    for (const std::string& sel : s.selectors) {
      rows.push_back(keystore::configured_selector(s.name, s.domain, sel, origin));
      if (cfg.sealed_keys) rows.back().file = keystore::sealed_file_name(rows.back().file);  // DOMAIN/NAME.sealed
    }
  }
  auto managed = keystore::read_manifest(cfg.key_directory);
  if (!managed) return managed.error();
  if (Status st = keystore::check_manifest(managed.value()); !st) return st.error();
  for (keystore::KeyRow& row : managed->keys) {
    if (const Stream* s = cfg.find_stream(row.stream); s && !row.retired_at && ascii::to_lower(row.domain) != s->domain) {
      return permanent_error(row.origin + ": key " + row.selector + " is for " + row.domain + " but stream " +
                             s->name + " signs as " + s->domain);
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

Result<Config> load_config(int argc, const char* const* argv) {
  Config cfg;
  po::options_description cli("signet-milter [OPTIONS]");
  cli.add_options()
      ("help,h", "show this help")
      ("version", "show the version")
      ("config,c", po::value<std::string>(), "configuration file (default /etc/signet/signet.conf)")
      ("check-config", "validate the configuration and keys, then exit");
  po::options_description globals("configuration options");
  for (const OptionSpec& o : option_table()) {
    if (o.scope != Scope::Global) continue;
    if (o.repeatable) {
      globals.add_options()(o.name, po::value<std::vector<std::string>>()->composing(), o.help);
    } else if (o.kind == Kind::Bool) {
      globals.add_options()(o.name, po::value<std::string>()->implicit_value("true"), o.help);  // --foreground
    } else {
      globals.add_options()(o.name, po::value<std::string>(), o.help);
    }
  }
  po::options_description all;
  all.add(cli).add(globals);
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, all), vm);
  } catch (const po::error& e) {
    return permanent_error(std::string("command line: ") + e.what() + "; see signet-milter --help");
  }
  if (vm.count("help")) {
    cfg.exit_early = help_text(cli);
    return cfg;
  }
  if (vm.count("version")) {
    cfg.exit_early = "signet-milter 0.1.0\n";
    return cfg;
  }
  cfg.check_config = vm.count("check-config") > 0;
  cfg.config_file = vm.count("config") ? vm["config"].as<std::string>() : kDefaultConfig;

  // Defaults, then the file, then the command line (which wins).
  apply_defaults(Scope::Global, cfg, [](const OptionSpec& o) { return o.set_global; });
  auto text = read_text(cfg.config_file);
  if (!text) return text.error();
  auto lines = parse_ini(text.value(), cfg.config_file);
  if (!lines) return lines.error();
  Sections sections;
  std::vector<IniLine> file_globals;
  if (Status s = read_sections(std::move(lines.value()), true, sections, &file_globals); !s) return s.error();
  const std::vector<IniLine> cli_globals = command_line_globals(vm);
  std::set<std::string> on_command_line;
  for (const IniLine& l : cli_globals) on_command_line.insert(l.name);
  Repeats repeats;
  for (const IniLine& l : file_globals) {
    const auto prefix = [&] { return l.where() + ": "; };
    const OptionSpec* o = find_option(Scope::Global, l.name);
    if (!o) {
      const bool sectioned = find_option(Scope::Stream, l.name) || find_option(Scope::Rule, l.name);
      return permanent_error(prefix() + "unknown option '" + l.name + "'" +
                             (sectioned ? " outside a section: it belongs in [stream.NAME] or [rule.NAME]" : "") + " (" +
                             kSeeAlso + ")");
    }
    if (Status s = repeats.note(*o, l, prefix); !s) return s.error();
    if (!o->repeatable && on_command_line.count(o->name)) continue;  // the command line wins
    if (Status s = apply_line(*o, l, prefix, cfg, o->set_global); !s) return s.error();
  }
  for (const IniLine& l : cli_globals) {
    const OptionSpec* o = find_option(Scope::Global, l.name);
    if (Status s = apply_line(*o, l, [] { return std::string("command line: --"); }, cfg, o->set_global); !s) return s.error();
  }

  for (const std::string& pattern : cfg.includes) {
    glob_t g{};
    const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);  // sorted: a stable rule order
    if (rc != 0 && rc != GLOB_NOMATCH) {
      globfree(&g);
      return permanent_error(cfg.config_file + ": include " + pattern + ": cannot read the directory");
    }
    std::vector<std::string> files(g.gl_pathv, g.gl_pathv + g.gl_pathc);
    globfree(&g);
    for (const std::string& f : files) {
      auto inc = read_text(f);
      if (!inc) return inc.error();
      auto inc_lines = parse_ini(inc.value(), f);
      if (!inc_lines) return inc_lines.error();
      if (Status s = read_sections(std::move(inc_lines.value()), false, sections, nullptr); !s) return s.error();
    }
  }

  // Sized once: a Stream is ~350 bytes, and regrowing 100 000 of them moves
  // and first-touches tens of MB (page faults are most of a large load).
  std::size_t stream_sections = 0;
  for (const Section& s : sections.list) stream_sections += s.kind == "stream";
  cfg.streams.reserve(stream_sections);
  cfg.rules.reserve(sections.list.size() - stream_sections);
  StreamBuilder builder;
  for (const Section& s : sections.list) {
    if (s.kind != "stream") continue;
    auto st = build_stream(s, cfg, builder);
    if (!st) return st.error();
    cfg.stream_index.emplace(st->name, cfg.streams.size());
    cfg.streams.push_back(std::move(st.value()));
  }
  for (const Section& s : sections.list) {
    if (s.kind != "rule") continue;
    auto r = build_rule(s);
    if (!r) return r.error();
    for (const std::string* name : {&r->stream, &r->also_stream}) {
      if (!name->empty() && !cfg.find_stream(*name)) {
        return permanent_error(s.where() + "names stream " + *name + ", which is not defined");
      }
    }
    cfg.rules.push_back(std::move(r.value()));
  }
  cfg.rule_index = std::make_shared<const RuleIndex>(cfg);
  return cfg;
}

}  // namespace signet::conf
