// milter/privileges.h — giving up root, for the daemon and its signer process.
//
// drop_privileges(cfg): to `user`/`group` (no supplementary groups), checked
// irreversible; nothing to do when neither is set (a warning when that leaves
// root). Fails, and the caller refuses to go on, when the user or group does
// not exist, a set*id call fails, root could be regained, or `user` is set
// but the process is neither root nor already that user: a half-dropped
// process holding keys is worse than none. Afterwards the dumpable flag is
// the system's (a uid change resets it): set it again.
//
// master_key_warning(cfg): the warning to log at start when a signer process
// restarted after a crash (privilege-separation = on) will not be able to
// read the master key: key-protection = sealed, started as root with `user`
// set, and the master key file (the credential, else master-key-file) owned
// by another uid than `user`'s with a mode that lets only its owner read it.
// The first signer reads it as root; a restarted one starts as `user`
// (privsep/client.h) and its load is refused until the daemon is restarted.
// The text names the file, its owner and the fix; nothing of its contents.
// nullopt: nothing to say (or the file cannot be seen: the load says why).
#pragma once

#include <optional>
#include <string>

#include "base/result.h"
#include "conf/config.h"

namespace signet::milter {

Status drop_privileges(const conf::Config& cfg);
std::optional<std::string> master_key_warning(const conf::Config& cfg);

}  // namespace signet::milter
