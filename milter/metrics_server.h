// milter/metrics_server.h — the loopback HTTP endpoint Prometheus scrapes.
//
// What it is: cpp-httplib's server (Debian libcpp-httplib) answering
// GET /metrics with render() (milter/metrics.h's text, content type
// text/plain; version=0.0.4), on a thread of its own with a pool of two
// workers: a scrape never runs on a libmilter thread and never takes a lock
// the signing path waits on.
//
// Calls:
//   MetricsServer::bind(listen, render)  binds the port now (before the
//                       daemon detaches and drops privileges, so a port in
//                       use fails the start), serves nothing yet.
//   start()             serves, on its thread. stop(): stops and joins.
// The address is loopback only (conf::parse_loopback_listen): the endpoint
// has no authentication; put a proxy in front to expose it.
// Fails: bind() returns the reason ("cannot listen on 127.0.0.1:9465:
// address in use or not permitted"); never throws.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "base/result.h"

namespace httplib {
class Server;
}

namespace signet::milter {

class MetricsServer {
 public:
  using Render = std::function<std::string()>;
  static Result<std::unique_ptr<MetricsServer>> bind(const std::string& listen, Render render);
  ~MetricsServer();
  void start();
  void stop();

 private:
  MetricsServer();
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
};

}  // namespace signet::milter
