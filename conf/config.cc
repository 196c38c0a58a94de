// Loading signet-milter's configuration through Boost.Program_options.
// Global options are registered; [stream.NAME] and [rule.NAME] sections come
// through as unregistered "stream.NAME.option" keys, in file order, which is
// what makes "first matching rule wins" well defined.
#include "conf/config.h"

#include <glob.h>
#include <boost/program_options.hpp>

#include <fstream>
#include <sstream>
#include <set>

#include "base/ascii.h"
#include "canon/header.h"
#include "conf/values.h"
#include "keystore/manifest.h"

namespace po = boost::program_options;

namespace signet::conf {
namespace {

constexpr const char* kDefaultConfig = "/etc/signet/signet.conf";

// One [stream.X] or [rule.X] section: its options in order, values repeated.
struct Section {
  std::string kind, name, file;
  std::vector<std::pair<std::string, std::string>> options;
};

po::options_description global_options() {
  po::options_description d("configuration (file or command line)");
  d.add_options()
      ("socket", po::value<std::string>(), "unix:/path, inet:PORT@HOST or inet6:PORT@[ADDR]")
      ("user", po::value<std::string>(), "user to run as after start-up")
      ("group", po::value<std::string>(), "group to run as after start-up")
      ("pidfile", po::value<std::string>(), "write the daemon's pid here")
      ("foreground", po::value<std::string>()->implicit_value("true"), "do not detach")
      ("log", po::value<std::string>(), "syslog (facility mail) or stderr")
      ("on-error", po::value<std::string>(), "accept (pass unsigned, log) or tempfail")
      ("key-directory", po::value<std::string>(), "key files: DIR/<domain>/<selector>.key")
      ("internal-hosts", po::value<std::vector<std::string>>()->composing(), "client networks whose mail is ours")
      ("trusted-services", po::value<std::vector<std::string>>()->composing(), "{daemon_name}s whose mail is ours")
      ("timeout", po::value<int>(), "seconds to wait on the MTA")
      ("max-headers", po::value<std::size_t>(), "header fields per message")
      ("max-header-bytes", po::value<std::size_t>(), "bytes per header field")
      ("shutdown-timeout", po::value<int>(), "seconds SIGTERM waits for messages in flight")
      ("allow-group-readable-keys", po::value<std::string>(), "accept key files of mode 0640 (default false)")
      ("dns-check", po::value<std::string>(), "check scheduled keys' DNS records before their cutover (default true)")
      ("dns-server", po::value<std::string>(), "DNS server for that check (ADDR[:PORT]; default: the system resolver)")
      ("dns-check-interval", po::value<std::string>(), "how often (default 60s)")
      ("overlap-signing", po::value<std::string>(), "after a cutover, also sign with the outgoing key this long (e.g. 1h; default off)")
      ("include", po::value<std::vector<std::string>>()->composing(), "files of [stream.*]/[rule.*] sections (glob)");
  return d;
}

std::string joined(const po::variables_map& vm, const char* name) {
  std::string out;
  if (vm.count(name)) {
    for (const auto& v : vm[name].as<std::vector<std::string>>()) out += v + " ";
  }
  return out;
}

// Splits "stream.tx.domain" into kind, name and option.
bool split_section_key(const std::string& key, std::string& kind, std::string& name, std::string& option) {
  const std::size_t first = key.find('.');
  const std::size_t last = key.rfind('.');
  if (first == std::string::npos || first == last) return false;
  kind = key.substr(0, first);
  name = key.substr(first + 1, last - first - 1);
  option = key.substr(last + 1);
  return (kind == "stream" || kind == "rule") && !name.empty();
}

// Sections in file order, with an index by (kind, name): tens of thousands of
// tenant sections must not cost a linear search per option.
struct Sections {
  std::vector<Section> list;
  std::map<std::pair<std::string, std::string>, std::size_t> index;
};

Status read_file(const std::string& path, const po::options_description& desc, bool globals_allowed,
                 po::variables_map& vm, Sections& sections) {
  std::ifstream in(path);
  if (!in) return permanent_error(path + ": cannot open the configuration file");
  po::parsed_options parsed(nullptr);
  try {
    parsed = po::parse_config_file(in, desc, true);
  } catch (const po::error& e) {
    return permanent_error(path + ": " + e.what());
  }
  for (const po::option& o : parsed.options) {
    if (!o.unregistered) {
      if (!globals_allowed) {
        return permanent_error(path + ": global option '" + o.string_key +
                               "' in an included file; includes hold [stream.*] and [rule.*] sections only");
      }
      continue;
    }
    std::string kind, name, option;
    if (!split_section_key(o.string_key, kind, name, option)) {
      if (!globals_allowed && global_options().find_nothrow(o.string_key, false)) {
        return permanent_error(path + ": global option '" + o.string_key +
                               "' in an included file; includes hold [stream.*] and [rule.*] sections only");
      }
      return permanent_error(path + ": unknown option '" + o.string_key + "' (see docs/configuration.md)");
    }
    auto [it, fresh] = sections.index.emplace(std::make_pair(kind, name), sections.list.size());
    if (fresh) sections.list.push_back(Section{kind, name, path, {}});
    Section* s = &sections.list[it->second];
    if (s->file != path) {
      return permanent_error(path + ": [" + kind + "." + name + "] is already defined in " + s->file);
    }
    for (const std::string& v : o.value) s->options.emplace_back(option, v);
  }
  if (globals_allowed) {
    try {
      po::store(parsed, vm);
    } catch (const po::error& e) {
      return permanent_error(path + ": " + e.what());
    }
  }
  return Ok{};
}

Result<Stream> build_stream(const Section& s) {
  Stream st;
  st.name = s.name;
  SignOptions sign;
  const std::string where = s.file + ": [stream." + s.name + "] ";
  for (const auto& [opt, value] : s.options) {
    if (opt == "domain") {
      if (!valid_dns_name(value)) return permanent_error(where + "domain " + value + " is not a domain name");
      st.domain = ascii::to_lower(value);
    } else if (opt == "selector") {
      for (const std::string& sel : split_list(value)) {
        if (!valid_dns_name(sel)) return permanent_error(where + "selector " + sel + " is not a valid selector");
        st.selectors.push_back(sel);
      }
    } else if (opt == "canonicalization") {
      auto c = canon::parse_canonicalization(value);
      if (!c) return permanent_error(where + "canonicalization " + value + ": use relaxed/relaxed or simple/simple");
      sign.header_canon = c->first;
      sign.body_canon = c->second;
    } else if (opt == "sign-headers") {
      sign.headers.sign = split_list(value);
    } else if (opt == "oversign-headers") {
      sign.headers.oversign = split_list(value);
    } else if (opt == "expire") {
      sign.expire_after = parse_duration(value);
      if (!sign.expire_after) return permanent_error(where + "expire " + value + ": use a duration such as 7d");
    } else if (opt == "owner") {
      st.owner = value;
    } else if (opt == "rotate-every" || opt == "overlap" || opt == "emergency-overlap" || opt == "propagation-delay") {
      auto d = parse_duration(value);
      if (!d) return permanent_error(where + opt + " = " + value + ": use a duration such as 180d, 14d, 1h");
      (opt == "rotate-every"        ? st.rotation.rotate_every
       : opt == "overlap"           ? st.rotation.overlap
       : opt == "emergency-overlap" ? st.rotation.emergency_overlap
                                    : st.rotation.propagation_delay) = *d;
    } else if (opt == "selector-template") {
      st.rotation.selector_template = value;
    } else if (opt == "sasl-logins") {
      for (auto& l : split_list(value)) st.sasl_logins.push_back(l);
    } else if (opt == "hosts") {
      auto h = CidrSet::parse(value);
      if (!h) return permanent_error(where + "hosts: " + h.error().message);
      st.hosts = std::move(h.value());
    } else if (opt == "body-length" || opt == "l") {
      // docs/dkim.md: a body length limit is an error, not a warning.
      return permanent_error(where + opt + ": signet never emits l= (appended content would still verify)");
    } else {
      return permanent_error(where + "unknown option '" + opt + "'");
    }
  }
  if (st.domain.empty()) return permanent_error(where + "needs a domain");
  if (st.selectors.size() > 2) return permanent_error(where + "has more than two selectors (one rsa, one ed25519 at most)");
  st.signing = SignProfile(std::move(sign));
  return st;
}

Result<Rule> build_rule(const Section& s) {
  Rule r;
  r.name = s.name;
  const std::string where = s.file + ": [rule." + s.name + "] ";
  auto patterns = [&](const std::string& opt, const std::string& value, std::vector<std::string>& into) -> Status {
    for (const std::string& p : split_list(value)) {
      const std::string_view d = p.substr(0, 2) == "*." ? std::string_view(p).substr(2) : std::string_view(p);
      if (!valid_dns_name(d)) return permanent_error(where + opt + " " + p + " is not a domain or *.domain");
      into.push_back(ascii::to_lower(p));
    }
    return Ok{};
  };
  for (const auto& [opt, value] : s.options) {
    if (opt == "sasl-login") {
      for (auto& l : split_list(value)) r.sasl_login.push_back(l);
    } else if (opt == "daemon-name") {
      for (auto& d : split_list(value)) r.daemon_name.push_back(d);
    } else if (opt == "client") {
      auto c = CidrSet::parse(value);
      if (!c) return permanent_error(where + "client: " + c.error().message);
      r.client = std::move(c.value());
    } else if (opt == "envelope-domain") {
      if (Status st = patterns(opt, value, r.envelope_domain); !st) return st.error();
    } else if (opt == "from-domain") {
      if (Status st = patterns(opt, value, r.from_domain); !st) return st.error();
    } else if (opt == "stream") {
      r.stream = value;
    } else if (opt == "also-stream") {
      r.also_stream = value;
    } else {
      return permanent_error(where + "unknown option '" + opt + "'");
    }
  }
  if (r.stream.empty()) return permanent_error(where + "needs stream = NAME");
  return r;
}

}  // namespace

const Stream* Config::find_stream(std::string_view name) const {
  const auto it = stream_index.find(name);
  return it == stream_index.end() ? nullptr : &streams[it->second];
}

Result<std::vector<keystore::KeyRow>> key_rows(const Config& cfg) {
  std::vector<keystore::KeyRow> rows;
  for (const Stream& s : cfg.streams) {
    for (const std::string& sel : s.selectors) {
      rows.push_back(keystore::configured_selector(s.name, s.domain, sel, cfg.config_file + " [stream." + s.name + "]"));
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
  po::options_description globals = global_options();
  po::options_description cli("signet-milter [OPTIONS]");
  cli.add_options()
      ("help,h", "show this help")
      ("version", "show the version")
      ("config,c", po::value<std::string>(), "configuration file (default /etc/signet/signet.conf)")
      ("check-config", "validate the configuration and keys, then exit");
  cli.add(globals);
  po::variables_map vm;
  try {
    po::store(po::parse_command_line(argc, argv, cli), vm);
  } catch (const po::error& e) {
    return permanent_error(std::string("command line: ") + e.what() + "; see signet-milter --help");
  }
  if (vm.count("help")) {
    std::ostringstream os;
    os << cli << "\nThe configuration file and every option: docs/configuration.md\n";
    cfg.exit_early = os.str();
    return cfg;
  }
  if (vm.count("version")) {
    cfg.exit_early = "signet-milter 0.1.0\n";
    return cfg;
  }
  cfg.check_config = vm.count("check-config") > 0;
  cfg.config_file = vm.count("config") ? vm["config"].as<std::string>() : kDefaultConfig;

  Sections sections;
  if (Status s = read_file(cfg.config_file, globals, true, vm, sections); !s) return s.error();
  po::notify(vm);
  if (vm.count("include")) {
    for (const std::string& pattern : vm["include"].as<std::vector<std::string>>()) {
      glob_t g{};
      const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);  // sorted: a stable rule order
      if (rc != 0 && rc != GLOB_NOMATCH) {
        globfree(&g);
        return permanent_error(cfg.config_file + ": include " + pattern + ": cannot read the directory");
      }
      std::vector<std::string> files(g.gl_pathv, g.gl_pathv + g.gl_pathc);
      globfree(&g);
      for (const std::string& f : files) {
        if (Status s = read_file(f, po::options_description(), false, vm, sections); !s) return s.error();
      }
    }
  }

  const std::string where = cfg.config_file + ": ";
  auto str = [&](const char* k) { return vm.count(k) ? vm[k].as<std::string>() : std::string(); };
  if (vm.count("socket")) cfg.socket = str("socket");
  cfg.user = str("user");
  cfg.group = str("group");
  cfg.pidfile = str("pidfile");
  if (vm.count("foreground")) {
    auto b = parse_bool(str("foreground"));
    if (!b) return permanent_error(where + "foreground = " + str("foreground") + ": use true or false");
    cfg.foreground = *b;
  }
  if (vm.count("log")) {
    if (str("log") == "stderr") {
      cfg.log_to_stderr = true;
    } else if (str("log") != "syslog") {
      return permanent_error(where + "log = " + str("log") + ": use syslog or stderr");
    }
  }
  if (vm.count("on-error")) {
    if (str("on-error") == "tempfail") {
      cfg.on_error = OnError::Tempfail;
    } else if (str("on-error") != "accept") {
      return permanent_error(where + "on-error = " + str("on-error") + ": use accept or tempfail");
    }
  }
  if (vm.count("key-directory")) cfg.key_directory = str("key-directory");
  auto hosts = CidrSet::parse(joined(vm, "internal-hosts"));
  if (!hosts) return permanent_error(where + "internal-hosts: " + hosts.error().message);
  cfg.internal_hosts = std::move(hosts.value());
  cfg.trusted_services = split_list(joined(vm, "trusted-services"));
  if (vm.count("timeout")) cfg.timeout = vm["timeout"].as<int>();
  if (vm.count("max-headers")) cfg.max_headers = vm["max-headers"].as<std::size_t>();
  if (vm.count("max-header-bytes")) cfg.max_header_bytes = vm["max-header-bytes"].as<std::size_t>();
  if (vm.count("shutdown-timeout")) cfg.shutdown_timeout = vm["shutdown-timeout"].as<int>();
  if (vm.count("allow-group-readable-keys")) {
    auto b = parse_bool(str("allow-group-readable-keys"));
    if (!b) return permanent_error(where + "allow-group-readable-keys: use true or false");
    cfg.allow_group_readable_keys = *b;
  }
  if (vm.count("dns-check")) {
    auto b = parse_bool(str("dns-check"));
    if (!b) return permanent_error(where + "dns-check: use true or false");
    cfg.dns_check = *b;
  }
  if (vm.count("dns-server")) cfg.dns_server = str("dns-server");
  if (vm.count("dns-check-interval")) {
    auto d = parse_duration(str("dns-check-interval"));
    if (!d) return permanent_error(where + "dns-check-interval: use a duration such as 60s");
    cfg.dns_check_interval = static_cast<int>(*d);
  }
  if (vm.count("overlap-signing")) {
    auto d = parse_duration(str("overlap-signing"));
    if (!d && str("overlap-signing") != "0") return permanent_error(where + "overlap-signing: use a duration such as 1h, or 0");
    cfg.overlap_signing = d.value_or(0);
  }
  if (cfg.timeout <= 0 || cfg.shutdown_timeout < 0 || cfg.max_headers == 0 || cfg.max_header_bytes == 0) {
    return permanent_error(where + "timeout, max-headers and max-header-bytes must be positive");
  }

  for (const Section& s : sections.list) {
    if (s.kind != "stream") continue;
    auto st = build_stream(s);
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
        return permanent_error(s.file + ": [rule." + s.name + "] names stream " + *name + ", which is not defined");
      }
    }
    cfg.rules.push_back(std::move(r.value()));
  }
  return cfg;
}

}  // namespace signet::conf
