#include "milter/metrics_server.h"

#include <httplib.h>

#include "conf/values.h"
#include "milter/log.h"

namespace signet::milter {

MetricsServer::MetricsServer() : server_(std::make_unique<httplib::Server>()) {}

MetricsServer::~MetricsServer() { stop(); }

Result<std::unique_ptr<MetricsServer>> MetricsServer::bind(const std::string& listen, Render render) {
  const auto where = conf::parse_loopback_listen(listen);
  if (!where) {
    return permanent_error("metrics-listen " + listen +
                           ": not a loopback HOST:PORT (127.0.0.1:PORT, [::1]:PORT or localhost:PORT)");
  }
  std::unique_ptr<MetricsServer> m(new MetricsServer());
  // Two workers: a scrape at a time is the norm; a second one is not kept waiting.
  m->server_->new_task_queue = [] { return new httplib::ThreadPool(2); };
  m->server_->Get("/metrics", [render = std::move(render)](const httplib::Request&, httplib::Response& res) {
    res.set_content(render(), "text/plain; version=0.0.4; charset=utf-8");
  });
  if (!m->server_->bind_to_port(where->first.c_str(), where->second)) {
    return permanent_error("metrics-listen " + listen + ": cannot listen there (address in use, or not permitted)");
  }
  return m;
}

void MetricsServer::start() {
  thread_ = std::thread([this] {
    if (!server_->listen_after_bind()) Log::error("metrics endpoint stopped serving");
  });
}

void MetricsServer::stop() {
  if (!thread_.joinable()) return;
  server_->stop();
  thread_.join();
}

}  // namespace signet::milter
