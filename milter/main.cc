// signet-milter: the DKIM signing daemon Postfix and Sendmail talk to.
//
// Start-up order matters for security: configuration and every key are read
// and validated first (refusing to start on any problem), then the socket is
// opened, then privileges are dropped to `user`/`group`, and only then does
// the milter server (milter/server.h) start taking connections. SIGTERM: it
// stops accepting, messages in flight finish (up to shutdown-timeout), the ledger is flushed,
// exit 0. The metrics endpoint (metrics-listen) is bound with the milter
// socket, before privileges drop; it and the ledger's flusher start after the
// signal mask is set, like every other thread.
#include <grp.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "conf/config.h"
#include "ledger/writer.h"
#include "milter/clock.h"
#include "milter/dns_watch.h"
#include "milter/lifecycle.h"
#include "milter/log.h"
#include "milter/metrics.h"
#include "milter/metrics_server.h"
#include "milter/notify.h"
#include "milter/privileges.h"
#include "milter/reloader.h"
#include "milter/retirer.h"
#include "milter/runtime.h"
#include "milter/server.h"
#include "milter/signer_main.h"
#include "privsep/client.h"
#include "signer/secure_memory.h"

using namespace signet;
using namespace signet::milter;

namespace {

// Resident memory stays flat (issue 12; bench/memory.py measures it). glibc
// gives a thread that finds every arena locked an arena of its own, up to 8
// per core, and each connection runs on a thread of the server's pool
// (milter/server.h): over a long run more arenas come into use, each keeping the
// pages its thread last touched (a 64 KB body chunk, a signature's OpenSSL
// state). Measured on 2 cores with glibc's default: +208 KB over 100 000
// messages and +52-100 KB for one 50 MB message, spread over 7-8 arenas; with
// as many arenas as cores (the threads that can run at once, so malloc's
// contention stays where it was) both are flat. An operator's own setting
// (GLIBC_TUNABLES=glibc.malloc.arena_max=N, MALLOC_ARENA_MAX) wins.
void limit_malloc_arenas() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (std::getenv("MALLOC_ARENA_MAX") || (tunables && std::strstr(tunables, "glibc.malloc.arena_max"))) return;
  const long cpus = ::sysconf(_SC_NPROCESSORS_ONLN);
  (void)::mallopt(M_ARENA_MAX, static_cast<int>(std::clamp(cpus, 1L, 1024L)));
}

bool daemonized = false;  // before the signer started: stderr is gone

int fail(const std::string& what) {
  std::fprintf(stderr, "signet-milter: %s\n", what.c_str());
  if (daemonized) Log::error(what);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  limit_malloc_arenas();  // before any thread exists
  // Not dumpable before any key is read (no core, no ptrace by our own
  // user); core-dumps = true turns it back on once the configuration is read.
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) return fail("prctl(PR_SET_DUMPABLE) failed");
  // The signer process (privilege-separation = on) is this binary again,
  // started by privsep/client.h with its descriptors first.
  if (argc >= 3 && std::strcmp(argv[1], "--signer-fds") == 0) {
    std::vector<std::string> rest{argv[0]};
    rest.insert(rest.end(), argv + 3, argv + argc);
    return signer_main(argv[2], rest);
  }
  // A write to an MTA or scraper that went away is an error to handle, not
  // a signal that ends the daemon (the milter socket sends with MSG_NOSIGNAL;
  // this covers every other socket and pipe).
  (void)::signal(SIGPIPE, SIG_IGN);
  const std::vector<std::string> args(argv, argv + argc);
  auto loaded = conf::load_config(argc, argv);
  if (!loaded) return fail(loaded.error().message);
  if (loaded->exit_early) {
    std::fputs(loaded->exit_early->c_str(), stdout);
    return 0;
  }
  if (auto why = Clock::init()) return fail(*why);
  // privilege-separation = on: this process reads no key (and no master
  // key); the signer process does, and holds the secure heap (milter/signer_main.h).
  const bool separated = loaded->privilege_separation && !loaded->check_config;
  if (separated && !loaded->foreground) {
    // Before the signer starts: daemon() forks, and the signer must be the
    // child of the process that supervises it. Start-up errors from here on
    // go to syslog as well as to the (closed) stderr.
    Log::init(loaded->log_to_stderr);
    if (::daemon(0, 0) != 0) return fail(std::string("daemon(): ") + std::strerror(errno));
    daemonized = true;
  }
  std::shared_ptr<privsep::SignerClient> signer;
  if (separated) {
    privsep::SignerClient::Options o;
    o.args = args;
    // One channel per signing thread of the signer; connection threads beyond
    // that wait for a free one, and each wait is a futex sleep and wake more
    // per signature. Four per core, at least 8: on 2 cores at 8 connections,
    // 8 channels signed 4-5% more messages/s than 4 in three interleaved runs
    // (bench/privsep_cost.py; docs/key-custody.md), and an idle channel costs
    // a blocked thread and a socket pair.
    o.channels = std::clamp<std::size_t>(4 * std::thread::hardware_concurrency(), 8, 64);
    o.log = [](std::string_view line) { Log::error(line); };
    auto started = privsep::SignerClient::start(std::move(o));
    if (!started) return fail(started.error().message);
    signer = std::move(started.value());
  }
  // Every private key lives in this one locked arena (signer/secure_memory.h),
  // set up before the first key is read, while still root: root locks it
  // whatever RLIMIT_MEMLOCK says. Unlocked keys could be swapped out: refused.
  if (Status s = separated ? Status(Ok{}) : init_secure_heap(loaded->secure_heap_size); !s) return fail(s.error().message);
  if (const SecureHeapState heap = secure_heap(); !separated && (!heap.locked || !heap.hooked)) {
    return fail(!heap.hooked ? "OpenSSL's allocator could not be hooked: private keys would not stay in the secure heap"
                             : "cannot lock the secure heap (secure-heap-size = " + std::to_string(heap.size) +
                                   " bytes) in memory: RLIMIT_MEMLOCK is too small; raise it (systemd: LimitMEMLOCK=) "
                                   "above secure-heap-size, or lower secure-heap-size");
  }
  // Counted from the first message on; they outlive every Runtime (milter/runtime.h).
  Metrics metrics;
  ledger::SignatureCounts counts;
  const Instruments instruments{&metrics, &counts};
  // Without the signer process this process opens sealed key files, at
  // start as root and at every reload as `user`: the master key of its last
  // good load (at first, the one read now) serves the reloads that can no
  // longer read a root-owned file (keystore/sealed.h).
  keystore::MasterKeyKeeper master_key([](std::string_view line) { Log::warn(line); });
  auto first = load_runtime(args, nullptr, instruments, signer.get(), &master_key);
  if (!first) return fail(first.error().message);
  const conf::Config& cfg = first.value()->config;
  // The process holds private keys: no core dump (nor ptrace by other
  // processes of the same user) unless the operator asks for them.
  if (cfg.core_dumps && ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) != 0) return fail("prctl(PR_SET_DUMPABLE) failed");
  const std::int64_t started_at = Clock::now();
  if (cfg.check_config) {
    std::printf("signet-milter: %s is valid: %zu streams, %zu rules, %zu keys\n", cfg.config_file.c_str(),
                cfg.streams.size(), cfg.rules.size(), first.value()->keys->size());
    for (const std::string& gap : first.value()->keys->gaps(started_at)) std::printf("warning: %s\n", gap.c_str());
    if (cfg.streams.empty()) std::printf("warning: no [stream.NAME] is defined: nothing will be signed\n");
    return 0;
  }

  Log::init(cfg.log_to_stderr);
  if (Clock::injected()) Log::warn(Clock::warning());
  if (auto w = master_key_warning(cfg)) Log::warn(*w);
  RuntimeHolder holder;
  const std::string socket = cfg.socket;
  const conf::Config settings = cfg;  // start-up settings; reloads change streams and keys only
  for (const std::string& gap : first.value()->keys->gaps(started_at)) Log::warn("key set: " + gap);
  if (settings.streams.empty()) Log::warn("no [stream.NAME] is defined: nothing will be signed (see signet.conf(5))");
  holder.replace(std::move(first.value()));

  MilterServer::Options server_options;
  server_options.timeout_seconds = settings.timeout;
  // A packet over the limit closes the connection before any of it is read
  // as a command: let header fields up to max-header-bytes through so our
  // own limit applies, with the on-error policy and a log line. +1: the
  // command byte.
  server_options.max_packet = std::max<std::size_t>(65535, settings.max_header_bytes + 4096) + 1;
  server_options.max_connections = settings.max_connections;
  server_options.spare_threads = std::clamp<std::size_t>(2 * std::thread::hardware_concurrency(), 4, 64);
  auto listening = MilterServer::listen(socket, server_options);
  if (!listening) return fail(listening.error().message);
  MilterServer& server = *listening.value();
  // What a scrape reads; the reloader and the ledger writer exist by the
  // time the endpoint serves (start() below).
  Reloader* reloader_seen = nullptr;
  std::unique_ptr<ledger::Writer> ledger_writer;
  auto scrape = [&] {
    ScrapeInputs in;
    in.metrics = &metrics;
    in.runtime = holder.current_for_scrape();  // never the lock a message takes
    in.hidden = holder.hidden_for_scrape();
    in.now = Clock::now();
    in.connections_open = server.open_connections();
    if (reloader_seen) {
      in.reloads_ok = reloader_seen->reloads();
      in.reloads_refused = reloader_seen->refused();
      in.last_good_load = reloader_seen->last_good_load();
    }
    if (ledger_writer) {
      in.ledger = ScrapeInputs::Ledger{ledger_writer->up(), ledger_writer->write_errors(), ledger_writer->pending(),
                                       ledger_writer->last_flush()};
    }
    return render_metrics(in);
  };
  std::unique_ptr<MetricsServer> metrics_server;
  if (!settings.metrics_listen.empty()) {
    auto bound = MetricsServer::bind(settings.metrics_listen, scrape);
    if (!bound) return fail(bound.error().message);
    metrics_server = std::move(bound.value());
  }
  const std::string& path = server.unix_path();
  if (!path.empty() && ::geteuid() == 0 && (!settings.user.empty() || !settings.group.empty())) {
    // The MTA connects as its own user: give the socket to signet's group.
    const passwd* pw = settings.user.empty() ? nullptr : ::getpwnam(settings.user.c_str());
    const group* gr = settings.group.empty() ? nullptr : ::getgrnam(settings.group.c_str());
    if (::chown(path.c_str(), pw ? pw->pw_uid : static_cast<uid_t>(-1), gr ? gr->gr_gid : static_cast<gid_t>(-1)) != 0 ||
        ::chmod(path.c_str(), 0660) != 0) {
      return fail("cannot hand socket " + path + " to " + settings.user + ":" + settings.group);
    }
  }
  if (Status s = drop_privileges(settings); !s) return fail(s.error().message);
  // A uid change resets the dumpable flag to the system's suid_dumpable:
  // say again what the operator chose.
  if (::prctl(PR_SET_DUMPABLE, settings.core_dumps ? 1 : 0, 0, 0, 0) != 0) return fail("prctl(PR_SET_DUMPABLE) failed");

  if (!settings.foreground && !daemonized && ::daemon(0, 0) != 0) {
    return fail(std::string("daemon(): ") + std::strerror(errno));
  }
  // Replaced Runtimes are freed on the retirer's thread, not at the end of
  // the last message that held one (milter/retirer.h). After daemon(): a
  // fork does not copy the thread, and the child would queue them forever.
  if (!Retirer::start()) Log::warn("no thread for freeing replaced key sets: a reload's old set is freed by the last message on it");
  if (!settings.pidfile.empty()) {
    std::ofstream pid(settings.pidfile, std::ios::trunc);
    pid << ::getpid() << "\n";
    if (!pid) Log::warn("cannot write pidfile " + settings.pidfile);
  }
  // SIGHUP, file changes and scheduled instants (milter/reloader.h).
  // The signal mask is set first: every thread started after inherits it.
  Reloader reloader(holder, args, instruments, static_cast<std::int64_t>(std::time(nullptr)));
  reloader_seen = &reloader;
  if (signer) reloader.set_signer(signer.get());
  reloader.set_master_key(&master_key);
  auto status = [&holder] {
    const auto rt = holder.current();
    return std::to_string(rt->config.streams.size()) + " streams, " + std::to_string(rt->keys->size()) + " keys";
  };
  auto reload = [&reloader, &status] {
    notify::reloading();
    reloader.reload("SIGHUP");  // on failure the running key set stays: ready again either way
    notify::ready(status());
  };
  if (!start_lifecycle(reload, server, settings.shutdown_timeout)) return fail("cannot set up signal handling");
  if (signer) {
    // A signer that dies is started again and the key set reloaded through
    // it. After the signal mask is set, like every thread.
    signer->supervise([&reloader] { return reloader.reload("signer process restarted"); });
    Log::info("privilege separation: keys held by signer process " + std::to_string(signer->pid()));
  }
  if (!reloader.start()) Log::warn("cannot watch the key directory (inotify); reload with SIGHUP");
  if (!settings.ledger_file.empty()) {
    // Opened by its thread at the first flush, as the daemon's user; a
    // ledger that cannot be written is logged and retried, never fatal.
    ledger_writer = std::make_unique<ledger::Writer>(counts, settings.ledger_file, settings.ledger_flush_interval,
                                                     [](bool error, std::string_view line) {
                                                       if (error) {
                                                         Log::error(line);
                                                       } else {
                                                         Log::info(line);
                                                       }
                                                     });
    ledger_writer->start();
  }
  if (metrics_server) metrics_server->start();
  DnsWatch dns_watch(holder);
  if (!dns_watch.start()) Log::warn("cannot start the DNS check of upcoming keys");
  Log::info("started: socket " + socket + ", " + std::to_string(settings.streams.size()) + " streams" +
            (settings.metrics_listen.empty() ? "" : ", metrics on " + settings.metrics_listen) +
            (settings.ledger_file.empty() ? "" : ", ledger " + settings.ledger_file));
  notify::ready("signing: " + status() + ", socket " + socket);
  const bool served = server.serve(holder);  // returns after SIGTERM's drain (milter/lifecycle.h)
  stop_lifecycle();
  reloader.stop();
  if (signer) signer->stop();
  dns_watch.stop();
  if (metrics_server) metrics_server->stop();
  if (ledger_writer) ledger_writer->stop();  // the last interval's counts: a clean stop loses none
  Retirer::stop();
  if (!settings.pidfile.empty()) ::unlink(settings.pidfile.c_str());
  listening.value().reset();  // the socket closed, a unix socket file removed
  Log::info("stopped");
  return served ? 0 : 1;
}
