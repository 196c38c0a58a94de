#include "keystore/key_directory.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "hsm/pkcs11.h"
#include "keystore/atomic_file.h"
#include "keystore/key_file.h"
#include "keystore/sealed.h"
#include "signer/key_record.h"

namespace signet::keystore {
namespace {

// Run as root on a directory the daemon's user owns, what signet writes there
// is given to that owner (so `sudo signet key …` leaves files the daemon and a
// later unprivileged `signet key` can use). Modes stay as created.
Status give_to_owner(const std::string& dir, const std::string& path) {
  struct stat st {};
  if (::geteuid() != 0 || ::stat(dir.c_str(), &st) != 0 || st.st_uid == 0) return Ok{};
  if (::chown(path.c_str(), st.st_uid, st.st_gid) != 0) {
    return permanent_error("cannot give " + path + " to the key directory's owner: " + std::strerror(errno));
  }
  return Ok{};
}

}  // namespace

Result<KeyDirectory> KeyDirectory::open(const std::string& dir, Mode mode, const LoadOptions& options) {
  KeyDirectory d;
  d.dir_ = dir;
  d.options_ = options;
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return permanent_error("key directory " + dir + " does not exist: create it (mode 0700, owned by the daemon user)");
  }
  if (mode == Mode::Write) {
    // One writer at a time: the lock is held until this object goes away.
    d.lock_fd_ = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (d.lock_fd_ < 0 || ::flock(d.lock_fd_, LOCK_EX) != 0) {
      return permanent_error("cannot lock " + dir + "/.lock: " + std::strerror(errno));
    }
    if (Status s = give_to_owner(dir, dir + "/.lock"); !s) return s.error();
  }
  auto m = read_manifest(dir);
  if (!m) return m.error();
  d.manifest_ = std::move(m.value());
  auto del = read_delegated(dir);
  if (!del) return del.error();
  d.delegated_ = std::move(del.value());
  return d;
}

KeyDirectory::KeyDirectory(KeyDirectory&& o) noexcept
    : dir_(std::move(o.dir_)),
      options_(o.options_),
      manifest_(std::move(o.manifest_)),
      delegated_(std::move(o.delegated_)),
      lock_fd_(o.lock_fd_) {
  o.lock_fd_ = -1;
}

KeyDirectory::~KeyDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<PrivateKey> KeyDirectory::load_key(const KeyRow& row) const { return load_key_as(row, options_.protection); }

Result<PrivateKey> KeyDirectory::load_key_as(const KeyRow& row, Protection protection) const {
  if (row.in_token()) return open_token_key(row);
  const std::string path = key_path(row);
  auto file = read_key_file(path, options_.allow_group_readable);
  if (!file) return file.error();
  auto pem = open_stored_key(std::move(file.value()), path, row.domain, row.selector, options_.master_key.get(), protection);
  if (!pem) return pem.error();
  auto key = PrivateKey::parse(pem->bytes());
  if (!key) return permanent_error("key file " + path + ": " + key.error().message);
  return key;
}

Result<bool> KeyDirectory::convert_key(KeyChange& change, KeyRow& row, Protection to) const {
  if (row.retired_at) return false;  // destroyed already: nothing to convert
  if (row.in_token()) return false;  // held by its token: no file to seal
  const std::string target = to == Protection::Sealed ? sealed_file_name(row.file) : plain_file_name(row.file);
  // A configuration selector's key converted by an earlier run: only the new name is there.
  if (::access(key_path(row).c_str(), F_OK) != 0 && ::access((dir_ + "/" + target).c_str(), F_OK) == 0) {
    row.file = target;
    return false;
  }
  {
    auto bytes = read_key_file(key_path(row), options_.allow_group_readable);
    if (!bytes) return bytes.error();
    if (is_sealed(bytes->bytes()) == (to == Protection::Sealed)) return false;  // already in that form
  }
  auto key = load_key_as(row, Protection::Any);
  if (!key) return key.error();
  const std::string& file = target;
  const std::string old_path = key_path(row);
  KeyRow next = row;
  next.file = file;
  if (Status s = install_as(change, next, *key, to); !s) return s.error();
  row.file = file;
  change.destroy.push_back(old_path);  // only once the manifest naming the new file is committed
  return true;
}

std::set<std::string> KeyDirectory::used_selectors(const std::string& domain) const {
  std::set<std::string> out;
  for (const KeyRow& k : manifest_.keys) {
    if (k.domain == domain) out.insert(k.selector);
  }
  for (const Delegated& d : delegated_) {
    if (d.domain == domain) out.insert(d.selector);
  }
  return out;
}

Result<std::string> KeyDirectory::create_key(KeyChange& change, const KeyRow& row) const {
  if (row.in_token()) {
    auto uri = hsm::Pkcs11Uri::parse(row.file);
    if (!uri) return uri.error();
    auto key = hsm::generate_key(*uri, row.algorithm, row.bits);
    if (!key) return key.error();
    change.created_.push_back(row.file);  // destroyed in the token if the change is dropped
    return format_key_record(*key);
  }
  auto key = PrivateKey::generate(row.algorithm, row.bits);
  if (!key) return key.error();
  return install_key(change, row, *key);
}

Result<std::string> KeyDirectory::adopt_key(KeyChange& change, const KeyRow& row, const std::string& source) const {
  // OpenDKIM's keys belong to its own user: the owner is not ours to check.
  auto bytes = read_key_file(source, /*allow_group_readable=*/true, /*any_owner=*/true);  // zeroized when dropped
  if (!bytes) return bytes.error();
  auto key = PrivateKey::parse(bytes->bytes());
  if (!key) return permanent_error("key file " + source + ": " + key.error().message);
  if (key->algorithm() != row.algorithm || (row.bits && key->bits() != row.bits)) {
    return permanent_error("key file " + source + " is " + std::string(key_type_name(key->algorithm())) + " " +
                           std::to_string(key->bits()) + " bits, not the " + std::string(key_type_name(row.algorithm)) +
                           " key its row " + row.selector + " describes");
  }
  return install_key(change, row, *key);
}

Result<std::string> KeyDirectory::install_key(KeyChange& change, const KeyRow& row, const PrivateKey& key) const {
  if (Status s = install_as(change, row, key, options_.protection); !s) return s.error();
  return format_key_record(key);
}

Status KeyDirectory::install_as(KeyChange& change, const KeyRow& row, const PrivateKey& key, Protection form) const {
  const std::string path = key_path(row);
  const std::string subdir = path.substr(0, path.rfind('/'));
  ::mkdir(subdir.c_str(), 0700);
  if (form == Protection::Sealed) {
    if (!options_.master_key) return permanent_error("key-protection = sealed but no master key was loaded");
    if (Status s = write_sealed_key(path, key, *options_.master_key, row.domain, row.selector); !s) return s;
  } else {
    if (Status s = write_private_key(path, key); !s) return s;
  }
  change.created_.push_back(path);
  // The daemon runs as the directory's owner (signet): it must read the key.
  if (Status s = give_to_owner(dir_, subdir); !s) return s;
  return give_to_owner(dir_, path);
}

KeyChange::~KeyChange() {
  if (committed_) return;
  for (const std::string& path : created_) {
    if (hsm::is_pkcs11_uri(path)) {
      if (auto uri = hsm::Pkcs11Uri::parse(path)) (void)hsm::destroy_key(*uri);
    } else {
      ::unlink(path.c_str());
    }
  }
}

Result<std::string> KeyDirectory::token_key_uri(const std::string& token_uri, const KeyRow& row) {
  auto uri = hsm::Pkcs11Uri::parse(token_uri, hsm::Pkcs11Uri::Names::Token);
  if (!uri) return uri.error();
  if (!uri->pin_value.empty()) {
    return permanent_error("--pkcs11 with pin-value=: the URI goes into the manifest, which everyone can read; put "
                           "the PIN in a file (mode 0600) and name it with pin-source=");
  }
  if (uri->object.empty() && uri->id.empty()) uri->object = row.dns_name();
  return uri->format();
}

Result<std::vector<std::string>> KeyDirectory::apply(KeyChange& change) {
  auto fail = [](const Error& e) -> Result<std::vector<std::string>> { return e; };
  if (lock_fd_ < 0) return fail(permanent_error(dir_ + " was opened read-only: nothing can be changed"));
  const std::string text = format_manifest(change.manifest);
  // Rows built in memory are named by their line in the text to be written.
  auto written = parse_manifest(text, dir_ + "/" + kManifestName + " (new)");
  if (!written) return fail(written.error());
  for (std::size_t i = 0; i < change.manifest.keys.size(); ++i) {
    if (change.manifest.keys[i].origin.empty()) change.manifest.keys[i].origin = written->keys[i].origin;
  }
  // As the daemon will load it: schedules, then every key file.
  if (Status s = check_manifest(change.manifest); !s) return fail(s.error());
  if (auto snap = KeySnapshot::load(dir_, change.manifest.keys, options_); !snap) return fail(snap.error());
  if (Status s = write_file_atomic(dir_, kManifestName, text); !s) return fail(s.error());
  change.committed_ = true;
  (void)give_to_owner(dir_, dir_ + "/" + kManifestName);  // readable (0644) either way
  manifest_ = change.manifest;
  std::vector<std::string> warnings;
  for (const std::string& path : change.destroy) {
    if (Status s = destroy_stored_key(path); !s) warnings.push_back(s.error().message);
  }
  return warnings;
}

Status KeyDirectory::replace_delegated(const std::vector<Delegated>& list) {
  if (lock_fd_ < 0) return permanent_error(dir_ + " was opened read-only: nothing can be changed");
  if (Status s = write_delegated(dir_, list); !s) return s;
  delegated_ = list;
  return Ok{};
}

Status destroy_stored_key(const std::string& path_or_uri) {
  if (!hsm::is_pkcs11_uri(path_or_uri)) return destroy_key_file(path_or_uri);
  auto uri = hsm::Pkcs11Uri::parse(path_or_uri);
  if (!uri) return uri.error();
  return hsm::destroy_key(*uri);
}

Status destroy_key_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return Ok{};
    return permanent_error("cannot destroy " + path + ": " + std::strerror(errno));
  }
  struct stat st {};
  bool ok = ::fstat(fd, &st) == 0;
  const std::string zeros(static_cast<std::size_t>(ok ? st.st_size : 0), '\0');
  ok = ok && ::write(fd, zeros.data(), zeros.size()) == static_cast<ssize_t>(zeros.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::unlink(path.c_str()) != 0) return permanent_error("cannot destroy " + path + ": " + std::strerror(errno));
  return Ok{};
}

}  // namespace signet::keystore
