// milter/notify.h — telling the service manager where the daemon is
// (systemd's Type=notify, libsystemd's sd_notify(3)).
//
// ready(status): keys are loaded, the socket is listening, privileges are
//   dropped: systemd may consider the service started (and `systemctl start`
//   returns). A daemon that fails before this exits non-zero and the start
//   fails with its one stderr line in the journal.
// reloading() / ready(status): around a SIGHUP reload (RELOADING=1, then
//   READY=1), so `systemctl reload` waits for it.
// stopping(): SIGTERM received, draining.
// Outside systemd (no $NOTIFY_SOCKET) every call does nothing.
// Fails: never; a lost notification is systemd's to time out on.
#pragma once

#include <string>

namespace signet::milter::notify {

void ready(const std::string& status);
void reloading();
void stopping();

}  // namespace signet::milter::notify
