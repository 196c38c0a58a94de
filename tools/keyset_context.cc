#include "tools/keyset_context.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include "base/time.h"
#include "keystore/snapshot.h"

namespace po = boost::program_options;

namespace signet::tools {

void KeySetContext::add_options(po::options_description& desc) {
  desc.add_options()("config", po::value<std::string>(), "signet-milter configuration (default /etc/signet/signet.conf)")(
      "dir", po::value<std::string>(), "key directory (default: the configuration's key-directory)")(
      "now", po::value<std::string>(), "act as if it were this time (RFC 3339 or Unix time): tests, dry runs");
}

Result<KeySetContext> KeySetContext::open(const po::variables_map& vm, bool lock) {
  KeySetContext ctx;
  const std::string config_file = vm.count("config") ? vm["config"].as<std::string>() : "/etc/signet/signet.conf";
  const char* argv[] = {"signet", "--config", config_file.c_str()};
  auto cfg = conf::load_config(3, argv);
  if (!cfg) return cfg.error();
  ctx.config = std::move(cfg.value());
  ctx.dir = vm.count("dir") ? vm["dir"].as<std::string>() : ctx.config.key_directory;
  ctx.now = static_cast<std::int64_t>(std::time(nullptr));
  if (vm.count("now")) {
    const std::string v = vm["now"].as<std::string>();
    auto t = rfc3339::parse(v);
    if (!t && !v.empty() && v.find_first_not_of("0123456789") == std::string::npos) t = std::stoll(v);
    if (!t) return permanent_error("--now " + v + ": expected 2026-11-26T14:00:00Z or a Unix time");
    ctx.now = *t;
  }
  struct stat st {};
  if (::stat(ctx.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return permanent_error("key directory " + ctx.dir + " does not exist: create it (mode 0700, owned by the daemon user)");
  }
  if (lock) {
    ctx.lock_fd_ = ::open((ctx.dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (ctx.lock_fd_ < 0 || ::flock(ctx.lock_fd_, LOCK_EX) != 0) {
      return permanent_error("cannot lock " + ctx.dir + "/.lock: " + std::strerror(errno));
    }
  }
  const std::string path = ctx.dir + "/" + keystore::kManifestName;
  std::ifstream in(path, std::ios::binary);
  if (in) {
    std::stringstream ss;
    ss << in.rdbuf();
    auto m = keystore::parse_manifest(ss.str(), path);
    if (!m) return m.error();
    ctx.manifest = std::move(m.value());
  }
  auto d = keystore::read_delegated(ctx.dir);
  if (!d) return d.error();
  ctx.delegated = std::move(d.value());
  return ctx;
}

std::set<std::string> KeySetContext::delegated_names(const std::string& domain) const {
  std::set<std::string> out;
  for (const auto& d : delegated) {
    if (d.domain == domain) out.insert(d.selector);
  }
  return out;
}

KeySetContext::KeySetContext(KeySetContext&& o) noexcept
    : config(std::move(o.config)),
      dir(std::move(o.dir)),
      now(o.now),
      manifest(std::move(o.manifest)),
      delegated(std::move(o.delegated)),
      lock_fd_(o.lock_fd_) {
  o.lock_fd_ = -1;
}

KeySetContext::~KeySetContext() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

Result<keystore::StreamInfo> KeySetContext::stream(const std::string& name) const {
  const conf::Stream* s = config.find_stream(name);
  if (!s) return permanent_error("stream " + name + " is not defined in " + config.config_file);
  return keystore::StreamInfo{s->name, s->domain, s->owner, s->rotation};
}

Status KeySetContext::commit(const keystore::Manifest& next) const {
  auto specs = keystore::specs_from_manifest_text(dir, keystore::format_manifest(next), dir + "/manifest (new)");
  if (!specs) return specs.error();
  keystore::LoadOptions o;
  o.allow_group_readable = config.allow_group_readable_keys;
  auto snap = keystore::KeySnapshot::load(specs.value(), o);
  if (!snap) return snap.error();
  return keystore::write_manifest(dir, next);
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

}  // namespace signet::tools
