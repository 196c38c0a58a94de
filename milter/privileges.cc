#include "milter/privileges.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

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

}  // namespace signet::milter
