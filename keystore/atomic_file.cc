#include "keystore/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace signet::keystore {
namespace {

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return permanent_error(std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok{};
}

}  // namespace

Status write_file_atomic(const std::string& dir, const std::string& name, std::string_view text) {
  const std::string final_path = dir + "/" + name;
  const std::string tmp = dir + "/." + name + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return permanent_error("cannot write " + tmp + ": " + std::strerror(errno));
  Status st = write_all(fd, text);
  if (st && ::fsync(fd) != 0) st = permanent_error(std::string("fsync: ") + std::strerror(errno));
  ::close(fd);
  if (st && ::rename(tmp.c_str(), final_path.c_str()) != 0) st = permanent_error(std::string("rename: ") + std::strerror(errno));
  if (!st) {
    ::unlink(tmp.c_str());
    return permanent_error("writing " + final_path + " failed (" + st.error().message + "); it is unchanged");
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // the rename itself must survive a crash
    ::close(dfd);
  }
  return Ok{};
}

Result<std::optional<std::string>> read_small_file(const std::string& path, std::size_t max_bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return std::optional<std::string>();
    return permanent_error(path + ": cannot read (" + std::strerror(errno) + ")");
  }
  std::string out;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return permanent_error(path + ": cannot read (" + std::strerror(err) + ")");
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > max_bytes) {
      ::close(fd);
      return permanent_error(path + " is larger than " + std::to_string(max_bytes >> 20) + " MiB: not a key set file");
    }
  }
  ::close(fd);
  return std::optional<std::string>(std::move(out));
}

}  // namespace signet::keystore
