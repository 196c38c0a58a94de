// signet import-opendkim /etc/opendkim.conf --out DIR — an OpenDKIM signing
// setup as a signet configuration and key set (migrate/ translates; this file
// reads the files, copies the keys through the key-directory transaction and
// writes signet.conf). docs/migrating-from-opendkim.md is the operator's page.
//
// --seal [--master-key-file FILE]: the keys are written sealed under the
// master key (DOMAIN/SELECTOR.sealed, as `signet key seal` names them) and
// signet.conf says key-protection = sealed, so no plaintext copy of an
// imported key is ever made in the key directory (docs/key-custody.md).
//
// Everything is read and checked before anything is written; on any problem
// nothing is left behind (directories it made, the key files, signet.conf)
// and it exits 2 with one line. It never writes over an existing signet.conf
// or key set: an import is not merged into another configuration.
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <ctime>
#include <iostream>

#include "base/time.h"
#include "conf/config.h"
#include "keystore/atomic_file.h"
#include "keystore/key_directory.h"
#include "keystore/key_file.h"
#include "keystore/sealed.h"
#include "migrate/opendkim_import.h"
#include "tools/common.h"

namespace po = boost::program_options;

namespace signet::tools {
namespace {

constexpr const char* kCmd = "import-opendkim";

Result<std::string> read_input(const std::string& path) {
  auto text = keystore::read_small_file(path, 16u << 20);
  if (!text) return text.error();
  if (!text->has_value()) return permanent_error(path + ": no such file");
  return std::move(**text);
}

std::string absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[4096];
  return std::string(::getcwd(cwd, sizeof cwd) ? cwd : ".") + "/" + path;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

// What was made on the way, removed again unless the import completes.
struct Undo {
  std::vector<std::string> files, dirs;
  bool committed = false;
  ~Undo() {
    if (committed) return;
    for (auto it = files.rbegin(); it != files.rend(); ++it) ::unlink(it->c_str());
    for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) ::rmdir(it->c_str());
  }
  Status make_dirs(const std::string& path, mode_t mode) {
    for (std::size_t at = 1; at != std::string::npos;) {
      at = path.find('/', at + 1);
      const std::string part = path.substr(0, at);
      if (exists(part)) continue;
      if (::mkdir(part.c_str(), mode) != 0) return permanent_error("cannot create " + part + ": " + std::strerror(errno));
      dirs.push_back(part);
    }
    return Ok{};
  }
};

// One key to adopt, read and checked before anything is written.
struct KeyPlan {
  migrate::ImportStream stream;
  keystore::KeyRow row;
  unsigned mode = 0;
  bool clamped = false;  // the file's date was in the future
};

Result<KeyPlan> plan_key(const migrate::ImportStream& s, std::int64_t now) {
  const std::string where = s.origin + ": d=" + s.domain + " s=" + s.selector + ": ";
  struct stat st {};
  if (::stat(s.key_source.c_str(), &st) != 0) {
    return permanent_error(where + "key file " + s.key_source + ": " + std::strerror(errno));
  }
  auto bytes = keystore::read_key_file(s.key_source, /*allow_group_readable=*/true);
  if (!bytes) return permanent_error(where + bytes.error().message);
  auto key = PrivateKey::parse(bytes->bytes());
  if (!key) return permanent_error(where + "key file " + s.key_source + ": " + key.error().message);
  KeyPlan p;
  p.stream = s;
  p.mode = st.st_mode & 07777u;
  const std::int64_t mtime = static_cast<std::int64_t>(st.st_mtime);
  p.clamped = mtime > now;
  p.row = migrate::imported_key_row(s, *key, std::min(mtime, now));
  return p;
}

void print_notes(const char* title, const std::vector<migrate::ImportNote>& notes) {
  if (notes.empty()) return;
  fmt::print("{}:\n", title);
  for (const auto& n : notes) {
    fmt::print("  {}{}: {}\n", n.origin.empty() ? "" : n.origin + " ", n.setting, n.text);
  }
}

void print_report(const migrate::Translation& t, const std::vector<KeyPlan>& keys) {
  fmt::print("streams (each key copied, active since its file's date):\n");
  for (const KeyPlan& k : keys) {
    fmt::print("  {}: d={} s={} {} {} bits, from {} (mode {:04o}), active since {}{}  [{}]\n", k.row.stream,
               k.row.domain, k.row.selector, key_type_name(k.row.algorithm), k.row.bits, k.stream.key_source, k.mode,
               rfc3339::format(k.row.window.from), k.clamped ? " (the file's date is in the future: now)" : "",
               k.stream.origin);
  }
  fmt::print("rules (first match wins):\n");
  for (const auto& r : t.rules) {
    fmt::print("  {}: {} -> stream {}  [{}]\n", r.name,
               r.from_domain.empty() ? std::string("every trusted sender") : "from-domain " + r.from_domain[0], r.stream,
               r.origin);
  }
  print_notes("translated", t.translated);
  print_notes("not translated", t.not_translated);
}

}  // namespace

int import_opendkim_main(const std::vector<std::string>& args) {
  po::options_description desc(
      "signet import-opendkim OPENDKIM.CONF --out DIR [--key-directory KD] [--seal [--master-key-file FILE]] [--check]");
  std::string input, out, key_dir, master_file;
  bool check = false, seal = false;
  desc.add_options()("help,h", "show this help")("out", po::value(&out), "write DIR/signet.conf (DIR is created)")(
      "key-directory", po::value(&key_dir),
      "where the key set is written and where signet.conf says it is (default DIR/keys; e.g. /var/lib/signet/keys)")(
      "check", po::bool_switch(&check), "translate and report only: read everything, write nothing")(
      "seal", po::bool_switch(&seal),
      "write the keys sealed under the master key and signet.conf with key-protection = sealed")(
      "master-key-file", po::value(&master_file),
      "with --seal: the master key (signet key master-key --out FILE), named in signet.conf; without it, the "
      "systemd credential signet-master-key in $CREDENTIALS_DIRECTORY");
  Positional words{"input", 1, {}};
  words.hidden.add_options()("input", po::value(&input), "");
  po::variables_map vm;
  if (!parse_args(desc, words, args, vm,
                  "Reads OpenDKIM's configuration (and the KeyTable, SigningTable and host lists it names) and\n"
                 "writes the same signing as signet: the same keys under the same selectors, so no DNS record\n"
                 "changes. The report lists every setting, translated or not and why. Nothing is written on\n"
                  "any problem, nor over an existing signet.conf or key set. See docs/migrating-from-opendkim.md.\n")) {
    return kExitOk;
  }
  if (input.empty()) return fail(kCmd, "name OpenDKIM's configuration file, e.g. /etc/opendkim.conf");
  if (out.empty() && !check) return fail(kCmd, "--out DIR is required (or --check to write nothing)");
  if (!master_file.empty() && !seal) return fail(kCmd, "--master-key-file is for --seal: add --seal, or leave it out");

  // 1. Read and translate: nothing is written before all of it succeeds.
  auto text = read_input(input);
  if (!text) return fail(kCmd, text.error().message + " (nothing written)");
  auto conf = migrate::parse_opendkim_conf(*text, input, read_input);
  if (!conf) return fail(kCmd, conf.error().message + " (nothing written)");
  auto t = migrate::translate_opendkim(*conf, read_input);
  if (!t) return fail(kCmd, t.error().message + " (nothing written)");
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  std::vector<KeyPlan> keys;
  for (const auto& s : t->streams) {
    auto k = plan_key(s, now);
    if (!k) return fail(kCmd, k.error().message + " (nothing written)");
    if (seal) k->row.file = keystore::sealed_file_name(k->row.file);
    keys.push_back(std::move(k.value()));
  }
  if (check) {
    print_report(*t, keys);
    fmt::print("--check: {} streams, {} rules; nothing written\n", t->streams.size(), t->rules.size());
    return kExitOk;
  }
  out = absolute(out);
  key_dir = key_dir.empty() ? out + "/keys" : absolute(key_dir);
  keystore::LoadOptions options;
  if (seal) {
    // Read (and its mode checked) before anything is written, as the daemon will read it.
    if (!master_file.empty()) master_file = absolute(master_file);
    auto master = keystore::load_master_key(master_file);
    if (!master) return fail(kCmd, master.error().message + " (nothing written)");
    options.protection = keystore::Protection::Sealed;
    options.master_key = std::move(master.value());
    const std::string origin = "signet import-opendkim --seal";
    t->globals.push_back({"key-protection", "sealed", origin, "the keys are sealed under the master key"});
    if (!master_file.empty()) t->globals.push_back({"master-key-file", master_file, origin, "--master-key-file"});
  }
  const std::string conf_path = out + "/signet.conf";
  if (exists(conf_path)) {
    return fail(kCmd, conf_path + " exists: an import is not merged into a configuration; choose a new --out (nothing written)");
  }
  if (exists(key_dir + "/" + keystore::kManifestName)) {
    return fail(kCmd, key_dir + " already holds a key set (manifest): choose a new --key-directory (nothing written)");
  }

  // 2. Write: the key set as one transaction, signet.conf atomically, and
  // whatever fails undoes the rest (Undo outlives the transaction objects).
  Undo undo;
  for (auto [dir, mode] : {std::pair{out, 0755}, std::pair{key_dir, 0700}}) {
    if (Status s = undo.make_dirs(dir, static_cast<mode_t>(mode)); !s) return fail(kCmd, s.error().message + " (nothing written)");
  }
  if (!exists(key_dir + "/.lock")) undo.files.push_back(key_dir + "/.lock");
  auto kd = keystore::KeyDirectory::open(key_dir, keystore::KeyDirectory::Mode::Write, options);
  if (!kd) return fail(kCmd, kd.error().message + " (nothing written)");
  keystore::KeyChange change(kd->manifest());
  for (const KeyPlan& k : keys) {
    const std::string domain_dir = key_dir + "/" + k.row.domain;
    if (!exists(domain_dir)) undo.dirs.push_back(domain_dir);
    auto record = kd->adopt_key(change, k.row, k.stream.key_source);
    if (!record) return fail(kCmd, k.stream.origin + ": " + record.error().message + " (nothing written)");
    change.manifest.keys.push_back(k.row);
  }
  const std::string header = "signet.conf written by `signet import-opendkim` from " + absolute(input) + " at " +
                             rfc3339::format(now) + ".\nEach option names the OpenDKIM line it came from; the import's "
                             "report lists what was not translated\nand why (docs/migrating-from-opendkim.md).";
  undo.files.push_back(conf_path);
  if (Status s = keystore::write_file_atomic(out, "signet.conf", migrate::format_signet_conf(*t, key_dir, header)); !s) {
    return fail(kCmd, s.error().message + " (nothing written)");
  }
  // The daemon's own reader must take what was written (and the key set, next).
  const std::string argv_conf = "--config=" + conf_path;
  const char* argv[] = {"signet-milter", argv_conf.c_str()};
  if (auto cfg = conf::load_config(2, argv); !cfg) {
    return fail(kCmd, "the translated configuration does not load: " + cfg.error().message + " (nothing written)");
  }
  auto done = kd->apply(change);
  if (!done) return fail(kCmd, done.error().message + " (nothing written)");
  undo.committed = true;

  print_report(*t, keys);
  fmt::print("wrote {} and the key set in {} ({} keys{}, mode 0600, owned by uid {}: signet-milter reads them\n"
             "before it drops to `user`; `chown -R` them to that user so that it can reload them);\n"
             "check with: signet-milter --config {} --check-config\n",
             conf_path, key_dir, keys.size(), seal ? " sealed" : "", ::getuid(), conf_path);
  return kExitOk;
}

}  // namespace signet::tools
