// milter/lifecycle.h — signals and shutdown, done the way an MTA needs them.
//
// libmilter's own signal thread treats SIGTERM and SIGHUP as "stop": with
// Debian's libmilter (worker pool) a connection waiting for the MTA's next
// command is then never served again and is dropped at exit, so a message in
// flight is lost to the MTA's default action, and SIGHUP kills the daemon.
// signet-milter links libmilter statically and wraps sigwait() so libmilter
// only sees SIGINT (immediate abort, for debugging); this module's thread
// takes the others:
//   SIGTERM  stop accepting (new connections are closed as soon as they are
//            accepted), serve the connections already open until they close
//            or shutdown-timeout passes, then smfi_stop(), and SIGUSR2 to the
//            thread in smfi_main so libmilter's listener stops at once
//            (it would otherwise sleep out its 5 s poll): smfi_main returns.
//   SIGHUP   reload(): a new configuration and key set, validated whole and
//            swapped in atomically; on any problem the running one stays and
//            the reason is logged.
//
// start(reload, shutdown_timeout): REQUIRES: called once, before smfi_main
// (the signal mask it sets is inherited by libmilter's threads).
// stop_lifecycle(): after smfi_main returns: ends and joins the thread, so
// nothing it allocated (OpenSSL keeps per-thread state) outlives main.
// draining(): whether SIGTERM has been received (read by the accept wrapper).
#pragma once

#include <functional>

namespace signet::milter {

bool start_lifecycle(std::function<void()> reload, int shutdown_timeout_seconds);
void stop_lifecycle();
bool draining();

}  // namespace signet::milter
