#include "milter/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "keystore/sealed.h"
#include "milter/log.h"

namespace signet::milter {

Status drop_privileges(const conf::Config& cfg) {
  if (cfg.user.empty() && cfg.group.empty()) {
    if (::geteuid() == 0) Log::warn("running as root: set user and group in the configuration");
    return Ok{};
  }
  gid_t gid = ::getegid();
  uid_t uid = ::geteuid();
  const passwd* pw = nullptr;
  if (!cfg.user.empty()) {
    pw = ::getpwnam(cfg.user.c_str());
    if (!pw) return permanent_error("user " + cfg.user + " does not exist");
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  if (!cfg.group.empty()) {
    const group* gr = ::getgrnam(cfg.group.c_str());
    if (!gr) return permanent_error("group " + cfg.group + " does not exist");
    gid = gr->gr_gid;
  }
  if (::geteuid() == 0) {
    // No supplementary groups: the daemon's user and group, nothing more.
    if (::setgroups(0, nullptr) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0) {
      return permanent_error(std::string("dropping privileges failed: ") + std::strerror(errno));
    }
    if (uid != 0 && ::setuid(0) == 0) return permanent_error("privileges could be regained after dropping them");
  } else if (::geteuid() != uid) {
    return permanent_error("user = " + cfg.user + " needs signet-milter started as root");
  }
  return Ok{};
}

std::optional<std::string> master_key_warning(const conf::Config& cfg) {
  if (!cfg.sealed_keys || !cfg.privilege_separation || cfg.user.empty() || ::geteuid() != 0) return std::nullopt;
  auto path = keystore::master_key_path(cfg.master_key_file);
  if (!path) return std::nullopt;
  const passwd* pw = ::getpwnam(cfg.user.c_str());
  struct stat st {};
  if (!pw || ::stat(path->c_str(), &st) != 0) return std::nullopt;
  if (st.st_uid == pw->pw_uid || (st.st_mode & 077) != 0) return std::nullopt;
  const bool credential = path.value() != cfg.master_key_file;
  return "master key " + path.value() + " is owned by uid " + std::to_string(st.st_uid) + ", not by " + cfg.user +
         ", and only its owner may read it: the signer process read it at start, as root, but a signer process "
         "restarted after a crash runs as " + cfg.user + ", cannot read it nor open the sealed keys, and messages "
         "go unsigned (on-error) until signet-milter is restarted. " +
         (credential ? "Run the service as User=" + cfg.user + " so that systemd gives the credential to that user"
                     : "chown " + cfg.user + " " + path.value() + " (mode 0600 stays), or give the master key as the "
                       "systemd credential signet-master-key") +
         " (docs/key-custody.md)";
}

}  // namespace signet::milter
