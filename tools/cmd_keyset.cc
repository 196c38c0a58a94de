// signet keyset: the key set on disk, checked or installed whole.
//   signet keyset check --dir DIR        validate manifest + keys, print gap warnings
//   signet keyset install --dir DIR < M  validate manifest text M against DIR's keys, then
//                                        write it atomically under the directory's lock
//                                        (keystore/key_directory.h); on any problem nothing changes
// Both read the key files as --key-protection says (plain, or sealed with
// --master-key-file or the systemd credential: docs/key-custody.md); under
// sealed a plaintext key fails the check, naming it and `signet key seal`.
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <ctime>
#include <iostream>
#include <set>

#include "base/time.h"
#include "keystore/key_directory.h"
#include "tools/common.h"

namespace po = boost::program_options;

namespace signet::tools {

int keyset_main(const std::vector<std::string>& args) {
  if (args.empty() || (args[0] != "check" && args[0] != "install")) {
    return fail("keyset", "expected `signet keyset check --dir DIR` or `signet keyset install --dir DIR < manifest`");
  }
  const std::string verb = args[0];
  po::options_description desc("signet keyset " + verb + " --dir DIR" + (verb == "install" ? " < manifest" : ""));
  std::string dir = "/var/lib/signet/keys";
  bool group_readable = false;
  std::string at, protection = "plain", master_key_file;
  desc.add_options()("help,h", "show this help")("dir", po::value(&dir), "the key directory (default /var/lib/signet/keys)")(
      "allow-group-readable-keys", po::bool_switch(&group_readable), "accept key files of mode 0640")(
      "now", po::value(&at), "check: as of this time (RFC 3339)")(
      "key-protection", po::value(&protection), "plain (default) or sealed: the key files' form, as the "
      "configuration's key-protection; under sealed a plaintext key fails the check")(
      "master-key-file", po::value(&master_key_file), "sealed: the master key (default: the systemd credential)");
  po::variables_map vm;
  if (!parse_args(desc, std::vector<std::string>(args.begin() + 1, args.end()), vm,
                  "check: exit 0 when the key set would load, 2 (one line) when not.\n"
                  "install: the new manifest is validated with the directory's key files and\n"
                  "written atomically (temp, fsync, rename) under the directory's lock, the same\n"
                  "transaction `signet key new|rotate|retire` use; on any problem nothing changes.\n"))
    return kExitOk;
  auto now = static_cast<std::int64_t>(std::time(nullptr));
  if (!at.empty()) {
    auto t = rfc3339::parse(at);
    if (!t) return fail("keyset", "--now " + at + ": expected 2026-11-26T14:00:00Z");
    now = *t;
  }

  if (protection != "plain" && protection != "sealed") return fail("keyset", "--key-protection: plain or sealed");
  keystore::LoadOptions options;
  options.allow_group_readable = group_readable;
  if (protection == "sealed") {
    auto master = keystore::load_master_key(master_key_file);
    if (!master) return fail("keyset " + verb, master.error().message);
    options.protection = keystore::Protection::Sealed;
    options.master_key = std::move(master.value());
  }

  if (verb == "check") {
    if (::access((dir + "/" + keystore::kManifestName).c_str(), F_OK) != 0) {
      return fail("keyset check", dir + " has no manifest: not a key set directory");
    }
    auto snap = keystore::load_key_directory(dir, options);
    if (!snap) return fail("keyset check", snap.error().message);
    fmt::print("{}: key set valid, {} keys\n", dir, snap.value()->size());
    // What the daemon signs each stream's mail with at `now` (the same keys_for).
    auto manifest = keystore::read_manifest(dir);
    if (!manifest) return fail("keyset check", manifest.error().message);
    std::set<std::string> streams;
    for (const auto& row : manifest->keys) streams.insert(row.stream);
    for (const auto& st : streams) {
      std::string keys;
      for (const auto& k : snap.value()->keys_for(st, now)) keys += " " + k.selector;
      fmt::print("stream {} signs with:{}\n", st, keys.empty() ? " (no key)" : keys);
    }
    for (const auto& gap : snap.value()->gaps(now)) fmt::print("warning: {}\n", gap);
    return kExitOk;
  }

  std::string error;
  auto text = read_stdin(16u << 20, &error);
  if (!text) return fail("keyset install", error);
  auto kd = keystore::KeyDirectory::open(dir, keystore::KeyDirectory::Mode::Write, options);
  if (!kd) return fail("keyset install", kd.error().message + " (nothing changed)");
  auto manifest = keystore::parse_manifest(*text, "stdin");
  if (!manifest) return fail("keyset install", manifest.error().message + " (nothing changed)");
  // Validated as the daemon would load it, with this directory's key files.
  keystore::KeyChange change(std::move(manifest.value()));
  auto done = kd->apply(change);
  if (!done) return fail("keyset install", done.error().message + " (nothing changed)");
  fmt::print("{}: manifest installed, {} keys\n", dir, change.manifest.keys.size());
  return kExitOk;
}

}  // namespace signet::tools
