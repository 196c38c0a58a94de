// milter/lifecycle.h — signals and shutdown, done the way an MTA needs them.
//
// One thread takes the signals (sigwait), every other thread blocks them:
//   SIGTERM  drain: the milter socket stops accepting (an MTA's connect is
//            refused, and its milter_default_action applies), the connections
//            already open are served until they close or shutdown-timeout
//            passes, then the rest are closed (their messages abandoned,
//            logged) and MilterServer::serve() returns.
//   SIGINT   the same without the wait: open connections are closed now.
//   SIGHUP   reload(): a new configuration and key set, validated whole and
//            swapped in atomically; on any problem the running one stays and
//            the reason is logged.
//
// start_lifecycle(reload, server, shutdown_timeout): REQUIRES: called once,
// before the threads it should cover start (the signal mask it sets is
// inherited), and `server` outlives stop_lifecycle().
// stop_lifecycle(): after serve() returns: ends and joins the thread, so
// nothing it allocated (OpenSSL keeps per-thread state) outlives main.
// draining(): whether SIGTERM or SIGINT has been received.
#pragma once

#include <functional>

namespace signet::milter {

class MilterServer;

bool start_lifecycle(std::function<void()> reload, MilterServer& server, int shutdown_timeout_seconds);
void stop_lifecycle();
bool draining();

}  // namespace signet::milter
