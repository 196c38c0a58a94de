// milter/privileges.h — giving up root, for the daemon and its signer process.
//
// drop_privileges(cfg): to `user`/`group` (no supplementary groups), checked
// irreversible; nothing to do when neither is set (a warning when that leaves
// root). Fails, and the caller refuses to go on, when the user or group does
// not exist, a set*id call fails, root could be regained, or `user` is set
// but the process is neither root nor already that user: a half-dropped
// process holding keys is worse than none. Afterwards the dumpable flag is
// the system's (a uid change resets it): set it again.
#pragma once

#include "base/result.h"
#include "conf/config.h"

namespace signet::milter {

Status drop_privileges(const conf::Config& cfg);

}  // namespace signet::milter
