// milter/conn_wrap.h — what milter/tcp_wrap.cc's wraps of libmilter's
// accept/read/close offer the daemon (see that file for why they exist).
//
// close_idle_connections(timeout): shuts down every MTA connection that has
// sent nothing for `timeout` seconds (an MTA that opened a message and never
// ended it); libmilter then sees the end of the stream, aborts the message
// and frees the connection. Returns how many it shut down. Thread-safe; call
// it from one thread, about once a second.
#pragma once

namespace signet::milter {

int close_idle_connections(int timeout_seconds);

}  // namespace signet::milter
