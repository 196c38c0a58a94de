// milter/server.h — the milter socket: listens where `socket =` says, takes
// the MTA's connections and runs each one's conversation
// (milter/mta_connection.h) on a thread of its own. signet's own, in place of
// libmilter's (issue 12): libmilter hands each connection between a listener
// and a worker pool through futexes for every batch of commands, reads each
// command with poll() + read() of its head + poll() + read() of its data, and
// copies every packet into a fresh allocation; measured, that was the largest
// cost after the signature itself.
//
// The model:
//   - a few threads wait in accept(2) on the listening socket; the kernel
//     wakes one per connection, and that thread serves the connection to its
//     end: no hand-off. When the last waiting thread takes a connection it
//     starts another waiter first; a thread that ends a connection while
//     enough others wait (spare threads) ends too;
//   - a connection is read into one buffer with a read(2) of whatever the
//     kernel holds (Postfix writes a message's macros, headers and end of
//     header back to back: one read for a dozen commands); every complete
//     packet is handled in place, without a copy; the replies those commands
//     wait for go out with one write(2) before the next read;
//   - TCP: TCP_NODELAY, and TCP_QUICKACK after every read (Linux clears it
//     when the connection looks interactive; tcp(7)): Postfix writes the
//     commands that need no reply back to back, and with Nagle on its side a
//     delayed ACK from ours holds the second write 40 ms (one SMTP session
//     then signs ~11 messages/s over inet: against ~120/s over unix:).
//     SIGNET_TCP_TUNING=off in the environment turns this off: only for the
//     test and benchmark that show the stall it prevents;
//   - a connection that sends nothing for `timeout` seconds (an MTA that
//     opened a message and never ended it), or does not take our reply
//     within it, is closed, its message abandoned with one log line
//     (SO_RCVTIMEO / SO_SNDTIMEO: no timer thread);
//   - a packet longer than `max_packet`, or a command that does not parse,
//     closes the connection with one log line; the MTA applies its
//     milter_default_action to the message.
//
// listen(spec, options): binds and listens (before the privilege drop):
//   unix:/path, local:/path or /path (a stale socket file there is removed;
//   anything else there is refused), inet:PORT@HOST, inet:PORT (every
//   address), inet6:PORT@HOST (HOST a name or an address, [brackets] allowed).
//   Fails with what is wrong and where.
// serve(holder): serves until stop(); returns once every connection's thread
//   has ended and been joined; returns false at once, logged, if no thread
//   can be started at all. A thread that cannot be started later (RLIMIT_NPROC,
//   memory) is logged; connections then wait in the backlog for a free one.
//   REQUIRES: holder outlives the call.
// stop_accepting(): no new connections from now on (the listening socket is
//   shut down: an MTA's connect is refused); open ones are served on.
// stop(): stop_accepting(), and every open connection is shut down (its
//   message abandoned, logged); serve() then returns. Thread-safe, idempotent.
// open_connections(): connections open now (metrics, max-connections, drain).
// The destructor closes the listening socket and removes a unix socket file.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/result.h"
#include "milter/runtime.h"

namespace signet::milter {

class MilterServer {
 public:
  struct Options {
    int timeout_seconds = 300;
    std::size_t max_packet = 65535 + 1;  // a body chunk (MILTER_CHUNK_SIZE) and its command byte
    std::size_t max_connections = 1024;  // threads beyond this wait in the listen backlog
    std::size_t spare_threads = 4;       // threads kept waiting in accept()
  };

  static Result<std::unique_ptr<MilterServer>> listen(const std::string& spec, Options options);
  ~MilterServer();
  MilterServer(const MilterServer&) = delete;
  MilterServer& operator=(const MilterServer&) = delete;

  bool serve(RuntimeHolder& holder);
  void stop_accepting();
  void stop();
  int open_connections() const { return open_.load(std::memory_order_relaxed); }
  // The socket file of a unix: socket, "" for inet.
  const std::string& unix_path() const { return unix_path_; }

 private:
  MilterServer(int fd, std::string unix_path, Options options, bool tcp)
      : listen_fd_(fd), unix_path_(std::move(unix_path)), options_(options), tcp_(tcp) {}
  bool spawn_locked();  // REQUIRES: mu_ held. False (logged) when no thread can be started
  void worker(RuntimeHolder& holder);
  void converse(int fd, RuntimeHolder& holder, int rank);

  const int listen_fd_;
  const std::string unix_path_;
  const Options options_;
  const bool tcp_;  // inet and TCP tuning on: each accepted connection gets TCP_NODELAY/QUICKACK
  std::atomic<int> open_{0};
  std::atomic<int> waiting_{0};  // threads in accept()
  std::atomic<bool> accepting_{true};
  std::atomic<bool> stopped_{false};
  RuntimeHolder* holder_ = nullptr;

  mutable std::mutex mu_;
  std::condition_variable changed_;
  std::map<std::thread::id, std::thread> threads_;
  std::vector<std::thread::id> finished_;  // to be joined by serve()
  std::set<int> connections_;              // open descriptors, for stop()
};

}  // namespace signet::milter
