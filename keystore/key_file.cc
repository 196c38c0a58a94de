#include "keystore/key_file.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace signet::keystore {
namespace {

constexpr off_t kMaxKeyFile = 64 * 1024;

std::string oct(unsigned mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", mode & 07777u);
  return buf;
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Who may own a key file: root, this process's user, or the owner of the
// directory it is in or of that directory's parent (the key directory, for
// DIR/DOMAIN/SELECTOR.key). Anyone else could have swapped in a key of
// their own, whatever the mode says.
bool trusted_owner(const std::string& path, uid_t uid) {
  if (uid == 0 || uid == ::geteuid()) return true;
  std::string dir = path;
  for (int up = 0; up < 2; ++up) {
    const std::size_t slash = dir.rfind('/');
    dir = slash == std::string::npos ? "." : slash == 0 ? "/" : dir.substr(0, slash);
    struct stat st {};
    if (::stat(dir.c_str(), &st) == 0 && st.st_uid == uid) return true;
  }
  return false;
}

}  // namespace

Result<KeyBytes> read_key_file(const std::string& path, bool allow_group_readable, bool any_owner) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return permanent_error("key file " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return permanent_error("key file " + path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return permanent_error("key file " + path + " is not a regular file");
  if ((st.st_mode & (allow_group_readable ? 007 : 077)) != 0) {
    return permanent_error("key file " + path + " has mode " + oct(st.st_mode) + ", readable beyond its owner" +
                           (allow_group_readable ? " and group" : "") + ": run `chmod 600 " + path + "`");
  }
  if (!any_owner && !trusted_owner(path, st.st_uid)) {
    return permanent_error("key file " + path + " is owned by uid " + std::to_string(st.st_uid) +
                           ", neither root, this process's user nor the key directory's owner: chown it to the "
                           "key directory's owner");
  }
  if (st.st_size > kMaxKeyFile) return permanent_error("key file " + path + " is larger than 64 KiB: not a key");
  SecretBuffer text(static_cast<std::size_t>(st.st_size));
  if (!text.ok()) return permanent_error("key file " + path + ": " + secure_heap_full_error().message);
  std::size_t got = 0;
  while (got < text.size()) {
    const ssize_t n = ::read(f.fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return permanent_error("key file " + path + ": short read");
    got += static_cast<std::size_t>(n);
  }
  return KeyBytes(std::move(text));
}

Result<PrivateKey> load_private_key(const std::string& path, bool allow_group_readable) {
  auto bytes = read_key_file(path, allow_group_readable);
  if (!bytes) return bytes.error();
  auto key = PrivateKey::parse(bytes->bytes());
  if (!key) return permanent_error("key file " + path + ": " + key.error().message);
  return key;
}

Status write_private_key(const std::string& path, const PrivateKey& key, bool overwrite) {
  std::string pem = key.to_pem();
  if (pem.empty()) return permanent_error("could not encode the key as PEM");
  Status s = write_secret_file(path, pem, overwrite);
  sodium_memzero(pem.data(), pem.size());
  return s;
}

Status write_secret_file(const std::string& path, std::string_view bytes, bool overwrite) {
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC | (overwrite ? O_TRUNC : O_EXCL);
  Fd f{::open(path.c_str(), flags, 0600)};
  if (f.fd < 0) {
    if (errno == EEXIST) return permanent_error(path + " already exists: choose another --out (keys are never overwritten)");
    return permanent_error("cannot create " + path + ": " + std::strerror(errno));
  }
  bool ok = ::fchmod(f.fd, 0600) == 0;  // O_TRUNC on an existing file keeps its old mode
  std::size_t put = 0;
  while (ok && put < bytes.size()) {
    const ssize_t n = ::write(f.fd, bytes.data() + put, bytes.size() - put);
    if (n < 0 && errno == EINTR) continue;
    ok = n > 0;
    if (ok) put += static_cast<std::size_t>(n);
  }
  ok = ok && ::fsync(f.fd) == 0;
  const int err = errno;
  if (!ok) {
    ::unlink(path.c_str());
    return permanent_error("writing " + path + " failed: " + std::strerror(err) + "; nothing was kept");
  }
  return Ok{};
}

}  // namespace signet::keystore
