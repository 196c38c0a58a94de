// conf/config.h — signet-milter's configuration: global options, streams and
// rules (docs/configuration.md is the operator's manual for every option).
//
// load_config(argc, argv): reads the command line (Boost.Program_options),
// then the file named by --config (default /etc/signet/signet.conf) and the
// files its `include` globs name (conf/ini.h). Every option is declared once
// in conf/options.h, with its default, bounds and help; the defaults are
// applied first, then the file, then the command line, which wins. The
// result is immutable and validated whole: values in range, every rule names
// a defined stream, every stream has a valid domain and at most 2 selectors.
// Fails (permanent) with FILE:LINE, the option at fault and what to do (the
// allowed range for a value out of bounds); never exits the process.
// `--help` / `--version` are reported through Config::exit_early.
//
// key_load_options(): key_options() plus the master key under key-protection = sealed.
// key_rows() lists the keys a Config needs (static selectors and the key
// set's manifest) for keystore::KeySnapshot::load.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/result.h"
#include "canon/body.h"
#include "conf/cidr.h"
#include "keystore/lifecycle.h"
#include "keystore/snapshot.h"
#include "signer/signer.h"

namespace signet::conf {

enum class OnError { Accept, Tempfail };
class RuleIndex;  // conf/rule_index.h

struct Stream {
  std::string name;
  std::string domain;
  std::vector<std::string> selectors;
  SignProfile signing;  // canonicalization, signed/oversigned headers, x=: prepared once
  std::string owner;
  bool dry_run = false;                   // sign and log, insert nothing
  keystore::RotationPolicy rotation;      // rotate-every, overlap, emergency-overlap, propagation-delay
  std::vector<std::string> sasl_logins;  // tenant binding, globs
  CidrSet hosts;                          // tenant binding by client network
  std::optional<CidrSet> sending_networks;  // replay check: replaces the global sending-networks

  bool bound() const { return !sasl_logins.empty() || !hosts.empty(); }
};

struct Rule {
  std::string name;
  std::vector<std::string> sasl_login;       // globs; empty = any
  std::vector<std::string> daemon_name;      // exact; empty = any
  std::optional<CidrSet> client;             // nullopt = any
  std::vector<std::string> envelope_domain;  // patterns; empty = any
  std::vector<std::string> from_domain;      // patterns; empty = any
  std::string stream;
  std::string also_stream;
};

struct Config {
  std::string config_file;
  // Defaults are conf/options.h's, applied by load_config.
  std::string socket;
  std::string user, group, pidfile;
  bool foreground = false;
  bool log_to_stderr = false;
  OnError on_error = OnError::Accept;
  bool dry_run = false;              // compute and log signatures, insert none
  std::string key_directory;
  std::string reports_file;          // DMARC aggregate reports (signet dmarc import)
  CidrSet internal_hosts;
  std::vector<std::string> trusted_services;
  int timeout = 300;
  std::size_t max_headers = 1000;
  std::size_t max_header_bytes = 1024 * 1024;
  int shutdown_timeout = 30;
  std::size_t max_total_header_bytes = 4u << 20;
  std::size_t max_signed_headers = 200;
  std::uint64_t max_body_bytes = 256u << 20;
  std::size_t max_connections = 500;
  bool core_dumps = false;
  bool privilege_separation = false;  // privsep/: the keys in a signer process of their own
  std::size_t secure_heap_size = std::size_t{32} << 20;  // signer/secure_memory.h
  bool allow_group_readable_keys = false;
  bool sealed_keys = false;           // key-protection = sealed
  std::string master_key_file;        // empty: only the systemd credential
  std::int64_t overlap_signing = 0;  // seconds; 0 = off
  bool dns_check = true;             // check scheduled keys' records before their cutover
  std::string dns_server;            // ADDR[:PORT]; empty = the system resolver
  int dns_check_interval = 60;       // seconds between checks
  std::string metrics_listen;         // loopback HOST:PORT of the Prometheus endpoint; empty = off
  std::string ledger_file;            // the signing ledger (SQLite); empty = off
  int ledger_flush_interval = 60;     // seconds between ledger flushes (at most 60)
  std::vector<std::string> includes;  // globs of [stream.*]/[rule.*] files
  // Replay detection (signet replay check); ratios in hundredths.
  CidrSet sending_networks;
  std::int64_t replay_floor = 100, replay_ratio_pct = 150;
  std::int64_t failure_floor = 50, failure_ratio_pct = 5;
  bool check_config = false;
  std::optional<std::string> exit_early;  // --help / --version text

  std::vector<Stream> streams;
  std::map<std::string, std::size_t, std::less<>> stream_index;  // name -> streams[i]
  std::vector<Rule> rules;
  std::shared_ptr<const RuleIndex> rule_index;  // over rules and streams, built by load_config (conf/rule_index.h)

  const Stream* find_stream(std::string_view name) const;
  // The networks a stream's mail leaves from: its own, else the global ones
  // (possibly empty: none configured).
  const CidrSet& sending_networks_of(const Stream& s) const {
    return s.sending_networks ? *s.sending_networks : sending_networks;
  }
  keystore::LoadOptions key_options() const {
    keystore::LoadOptions o;
    o.allow_group_readable = allow_group_readable_keys;
    o.overlap_signing = overlap_signing;
    return o;
  }
};

// Every key the configuration needs: streams' `selector =` lines (rows whose
// window is `always`, keystore::configured_selector; their file is
// DOMAIN/NAME.key, or DOMAIN/NAME.sealed under key-protection = sealed) and the rows of
// <key-directory>/manifest, checked (keystore::check_manifest) and against
// the streams (a key must sign as its stream's domain). Reads the manifest;
// fails naming the file and line. Paths are relative to key_directory.
Result<std::vector<keystore::KeyRow>> key_rows(const Config& cfg);

Result<Config> load_config(int argc, const char* const* argv);

// key_options() with key-protection applied: under sealed, the master key
// (keystore::load_master_key: the systemd credential, else master-key-file),
// read now, so a reload with a missing or wrong master key fails here or in
// the load that uses it and the daemon keeps its last good key set. With a
// `keeper` (the process that reloads: keystore::MasterKeyKeeper) a master
// key file closed to the process after its privilege drop gives the key the
// keeper kept (the caller keeps the key of each good load: milter/runtime.h).
Result<keystore::LoadOptions> key_load_options(const Config& cfg, keystore::MasterKeyKeeper* keeper = nullptr);

}  // namespace signet::conf
