// The option table. Each entry's help is what signet-milter --help,
// docs/configuration.md and signet.conf(5) say about it; defaults declared
// here are applied by the parser before the file is read, so there is one
// default for each option.
#include "conf/options.h"

#include <array>
#include <optional>
#include <type_traits>

#include "base/ascii.h"
#include "conf/values.h"

namespace signet::conf {
namespace {

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kMax = std::int64_t{1} << 40;  // "no practical bound" for byte counts

Status bad(std::string why) { return permanent_error(std::move(why)); }

Status set_bool(bool& into, const Value& v) {
  into = v.flag;
  return Ok{};
}

// Setters that store a value in one member, for the table below.
template <auto Member>
Status text(Config& c, const Value& v) {
  c.*Member = v.text;
  return Ok{};
}
template <auto Member>
Status flag(Config& c, const Value& v) {
  return set_bool(c.*Member, v);
}
template <auto Member>
Status number(Config& c, const Value& v) {
  c.*Member = static_cast<std::remove_reference_t<decltype(c.*Member)>>(v.number);
  return Ok{};
}
template <auto Member>
Status rotation(StreamDraft& d, const Value& v) {
  d.stream.rotation.*Member = v.number;
  return Ok{};
}

Status add_networks(CidrSet& into, const Value& v) { return into.add(v.text); }

Status add_names(std::vector<std::string>& into, const Value& v) {
  for (std::string& n : split_list(v.text)) into.push_back(std::move(n));
  return Ok{};
}

Status add_domain_patterns(std::vector<std::string>& into, const Value& v) {
  for (const std::string& p : split_list(v.text)) {
    const std::string_view d = p.substr(0, 2) == "*." ? std::string_view(p).substr(2) : std::string_view(p);
    if (!valid_dns_name(d)) return bad(p + " is not a domain or *.domain");
    into.push_back(ascii::to_lower(p));
  }
  return Ok{};
}

// The table. Order is documentation order: globals, then streams, then rules.
const std::array kOptions = {
    // ---------------------------------------------------------------- global
    OptionSpec{"socket", Scope::Global, Kind::Text, "inet:8891@127.0.0.1", 0, 0, nullptr, false,
               "where the MTA connects: inet:PORT@HOST, inet6:PORT@[ADDR] or unix:/path (libmilter syntax); the "
               "loopback default is reachable from Debian's chrooted Postfix smtpd",
               &text<&Config::socket>},
    OptionSpec{"user", Scope::Global, Kind::Text, nullptr, 0, 0, nullptr, false,
               "user to run as once keys are read and the socket is open (when started as root)",
               &text<&Config::user>},
    OptionSpec{"group", Scope::Global, Kind::Text, nullptr, 0, 0, nullptr, false,
               "group to run as, and the group a unix socket is given to",
               &text<&Config::group>},
    OptionSpec{"pidfile", Scope::Global, Kind::Path, nullptr, 0, 0, nullptr, false,
               "write the daemon's pid here at start, remove it at exit",
               &text<&Config::pidfile>},
    OptionSpec{"foreground", Scope::Global, Kind::Bool, "false", 0, 0, nullptr, false,
               "stay in the foreground instead of detaching (systemd runs it so)",
               &flag<&Config::foreground>},
    OptionSpec{"log", Scope::Global, Kind::Choice, "syslog", 0, 0, "syslog|stderr", false,
               "where the one line per message goes: syslog (facility mail) or stderr (the journal under systemd)",
               [](Config& c, const Value& v) -> Status {
                 c.log_to_stderr = v.text == "stderr";
                 return Ok{};
               }},
    OptionSpec{"on-error", Scope::Global, Kind::Choice, "accept", 0, 0, "accept|tempfail", false,
               "a trusted message signet cannot sign: accept it unsigned (one loud log line) or tempfail it",
               [](Config& c, const Value& v) -> Status {
                 c.on_error = v.text == "tempfail" ? OnError::Tempfail : OnError::Accept;
                 return Ok{};
               }},
    OptionSpec{"dry-run", Scope::Global, Kind::Bool, "false", 0, 0, nullptr, false,
               "compute and log every signature but insert none, to run beside the milter signet replaces "
               "(a stream's own dry-run overrides it)",
               &flag<&Config::dry_run>},
    OptionSpec{"key-directory", Scope::Global, Kind::Path, "/var/lib/signet/keys", 0, 0, nullptr, false,
               "the key directory: its manifest and the key files DIR/DOMAIN/SELECTOR.key (mode 0600)",
               &text<&Config::key_directory>},
    OptionSpec{"reports-file", Scope::Global, Kind::Path, "/var/lib/signet/reports.sqlite", 0, 0, nullptr, false,
               "the SQLite file `signet dmarc import` stores DMARC aggregate reports in (created on first import; "
               "docs/observability.md)",
               &text<&Config::reports_file>},
    OptionSpec{"allow-group-readable-keys", Scope::Global, Kind::Bool, "false", 0, 0, nullptr, false,
               "accept key files of mode 0640 (a group, not the daemon's user, owns them); world access never",
               &flag<&Config::allow_group_readable_keys>},
    OptionSpec{"key-protection", Scope::Global, Kind::Choice, "plain", 0, 0, "plain|sealed", false,
               "how private keys are stored in the key directory: plain PEM files, or sealed (encrypted under the "
               "host's master key, XChaCha20-Poly1305; plaintext keys are then refused: docs/key-custody.md)",
               [](Config& c, const Value& v) -> Status {
                 c.sealed_keys = v.text == "sealed";
                 return Ok{};
               }},
    OptionSpec{"master-key-file", Scope::Global, Kind::Path, nullptr, 0, 0, nullptr, false,
               "with key-protection = sealed and no systemd credential signet-master-key: the 32-byte master key "
               "file (mode 0600, owned by root or the daemon's user; `signet key master-key --out FILE`)",
               &text<&Config::master_key_file>},
    OptionSpec{"internal-hosts", Scope::Global, Kind::Networks, nullptr, 0, 0, nullptr, true,
               "client networks (IPv4/IPv6 CIDRs) whose mail we originate and sign",
               [](Config& c, const Value& v) { return add_networks(c.internal_hosts, v); }},
    OptionSpec{"trusted-services", Scope::Global, Kind::List, nullptr, 0, 0, nullptr, true,
               "Postfix {daemon_name} values (milter_macro_daemon_name) whose mail we originate",
               [](Config& c, const Value& v) { return add_names(c.trusted_services, v); }},
    OptionSpec{"timeout", Scope::Global, Kind::Duration, "300", 1, kDay, nullptr, false,
               "how long signet waits on the MTA (a connection silent this long is closed)",
               &number<&Config::timeout>},
    OptionSpec{"max-headers", Scope::Global, Kind::Count, "1000", 1, 1'000'000, nullptr, false,
               "header fields per message; over it the on-error policy applies",
               &number<&Config::max_headers>},
    OptionSpec{"max-header-bytes", Scope::Global, Kind::Bytes, "1048576", 1, 64 << 20, nullptr, false,
               "bytes in one header field; over it the on-error policy applies",
               &number<&Config::max_header_bytes>},
    OptionSpec{"max-total-header-bytes", Scope::Global, Kind::Bytes, "4194304", 1, 256 << 20, nullptr, false,
               "bytes in all of a message's header fields together; over it the on-error policy applies",
               &number<&Config::max_total_header_bytes>},
    OptionSpec{"max-signed-headers", Scope::Global, Kind::Count, "200", 1, 100'000, nullptr, false,
               "header fields one signature may cover (the h= list); a message that would need more follows "
               "the on-error policy",
               &number<&Config::max_signed_headers>},
    OptionSpec{"max-body-bytes", Scope::Global, Kind::Bytes, "268435456", 1, kMax, nullptr, false,
               "body bytes signet reads of one message; over it the on-error policy applies (the rest is not "
               "read)",
               &number<&Config::max_body_bytes>},
    OptionSpec{"max-connections", Scope::Global, Kind::Count, "500", 1, 100'000, nullptr, false,
               "MTA connections served at once; a connection over it has its mail handled per on-error (accept "
               "passes it unsigned), with one log line",
               &number<&Config::max_connections>},
    OptionSpec{"core-dumps", Scope::Global, Kind::Bool, "false", 0, 0, nullptr, false,
               "allow core dumps (they would hold key material); by default the process is not dumpable",
               &flag<&Config::core_dumps>},
    OptionSpec{"privilege-separation", Scope::Global, Kind::Bool, "false", 0, 0, nullptr, false,
               "keep the private keys in a signer process of their own (no network, no file writes) that signs "
               "digests for the milter, which then holds no key material; read at start only",
               &flag<&Config::privilege_separation>},
    OptionSpec{"secure-heap-size", Scope::Global, Kind::Bytes, "4194304", 1 << 20, std::int64_t{16} << 30, nullptr,
               false,
               "bytes of locked, never-dumped memory (OpenSSL's secure heap) that hold every private key, rounded "
               "up to a power of two, read at start only; an RSA-2048 key takes about 6 KiB once it has signed, "
               "an Ed25519 key 64 bytes; the service's LimitMEMLOCK must cover it",
               &number<&Config::secure_heap_size>},
    OptionSpec{"shutdown-timeout", Scope::Global, Kind::Duration, "30", 0, 3600, nullptr, false,
               "how long SIGTERM waits for messages in flight",
               &number<&Config::shutdown_timeout>},
    OptionSpec{"dns-check", Scope::Global, Kind::Bool, "true", 0, 0, nullptr, false,
               "before a scheduled key's cutover, look its record up; while it is not visible the key it "
               "replaces goes on signing",
               &flag<&Config::dns_check>},
    OptionSpec{"dns-server", Scope::Global, Kind::Text, nullptr, 0, 0, nullptr, false,
               "DNS server for that check, ADDR[:PORT] (default: the system resolver)",
               &text<&Config::dns_server>},
    OptionSpec{"dns-check-interval", Scope::Global, Kind::Duration, "60s", 1, kDay, nullptr, false,
               "how often the DNS check runs",
               &number<&Config::dns_check_interval>},
    OptionSpec{"overlap-signing", Scope::Global, Kind::Duration, "0", 0, 7 * kDay, nullptr, false,
               "after a cutover, also sign with the outgoing key this long (0: off)",
               &number<&Config::overlap_signing>},
    OptionSpec{"metrics-listen", Scope::Global, Kind::Text, nullptr, 0, 0, nullptr, false,
               "serve Prometheus metrics (GET /metrics) on this loopback HOST:PORT, e.g. 127.0.0.1:9465; "
               "other addresses are refused, the endpoint has no authentication (default: off; "
               "docs/observability.md lists the metrics)",
               [](Config& c, const Value& v) -> Status {
                 if (!v.text.empty() && !parse_loopback_listen(v.text)) {
                   return bad(v.text + " is not a loopback HOST:PORT; allowed: 127.0.0.1:PORT (any 127.x), "
                              "[::1]:PORT, localhost:PORT");
                 }
                 c.metrics_listen = v.text;
                 return Ok{};
               }},
    OptionSpec{"ledger-file", Scope::Global, Kind::Path, "/var/lib/signet/ledger.sqlite", 0, 0, nullptr, false,
               "the signing ledger (SQLite, read by `signet ledger`): per UTC day, stream, d=, s= and algorithm, "
               "how many signatures were made; empty: no ledger; one that cannot be written never stops the signing",
               &text<&Config::ledger_file>},
    OptionSpec{"ledger-flush-interval", Scope::Global, Kind::Duration, "60s", 1, 60, nullptr, false,
               "how often the ledger is written; a crash loses at most this long's counts, a clean stop none",
               &number<&Config::ledger_flush_interval>},
    // Replay detection (`signet replay check`, docs/observability.md): what
    // receivers may report beyond what we account for before it is a finding.
    OptionSpec{"sending-networks", Scope::Global, Kind::Networks, nullptr, 0, 0, nullptr, true,
               "the public addresses (IPv4/IPv6 CIDRs) our MTAs send from, as receivers see them: `signet replay "
               "check` reports our selectors passing DKIM from anywhere else as possible replay (a stream's own "
               "sending-networks replaces this for it)",
               [](Config& c, const Value& v) { return add_networks(c.sending_networks, v); }},
    OptionSpec{"replay-floor", Scope::Global, Kind::Count, "100", 0, 1'000'000'000, nullptr, false,
               "passing messages a day one selector may have beyond what signet accounts for (from outside "
               "sending-networks, or over the ledgers' count) before `signet replay check` reports possible "
               "replay: forwarders and mailing lists re-send some of our mail from their own addresses",
               &number<&Config::replay_floor>},
    OptionSpec{"replay-ratio", Scope::Global, Kind::Ratio, "1.5", 100, 100'000, nullptr, false,
               "receivers' dkim=pass count over the ledgers' signed count, per selector and day, above which (and "
               "replay-floor over it) `signet replay check` reports possible replay; above 1 because a forwarded "
               "message is reported again by the receiver it is forwarded to",
               &number<&Config::replay_ratio_pct>},
    OptionSpec{"failure-floor", Scope::Global, Kind::Count, "50", 0, 1'000'000'000, nullptr, false,
               "DKIM failures one reporting org may show for a stream's mail (over the check's window) before "
               "`signet replay check` reports that something breaks signatures after signing",
               &number<&Config::failure_floor>},
    OptionSpec{"failure-ratio", Scope::Global, Kind::Ratio, "0.05", 1, 100, nullptr, false,
               "the share of a stream's mail one reporting org may see fail DKIM before it is a finding (with "
               "failure-floor); direct mail from our own networks fails well under 1% when nothing breaks it",
               &number<&Config::failure_ratio_pct>},
    OptionSpec{"include", Scope::Global, Kind::Path, nullptr, 0, 0, nullptr, true,
               "more files of [stream.*] and [rule.*] sections, a glob (e.g. /etc/signet/streams.d/*.conf)",
               [](Config& c, const Value& v) -> Status {
                 c.includes.push_back(v.text);
                 return Ok{};
               }},
    // ---------------------------------------------------------------- [stream.NAME]
    OptionSpec{"domain", Scope::Stream, Kind::Domain, nullptr, 0, 0, nullptr, false,
               "the signing domain, d= (required)", nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 s.stream.domain = ascii::to_lower(v.text);
                 return Ok{};
               }},
    OptionSpec{"selector", Scope::Stream, Kind::List, nullptr, 0, 0, nullptr, true,
               "a key that always signs, DIR/DOMAIN/SELECTOR.key, its algorithm the file's; at most one per "
               "algorithm (two: every message signed twice). Keys managed by `signet key` need none",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 for (const std::string& sel : split_list(v.text)) {
                   if (!valid_dns_name(sel)) return bad("selector " + sel + " is not a valid selector");
                   s.stream.selectors.push_back(sel);
                 }
                 return Ok{};
               }},
    OptionSpec{"canonicalization", Scope::Stream, Kind::Canonicalization, "relaxed/relaxed", 0, 0, nullptr, false,
               "header/body canonicalization (RFC 6376 §3.4): relaxed/relaxed, simple/simple, relaxed/simple or "
               "simple/relaxed",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 const auto c = canon::parse_canonicalization(v.text);
                 s.sign.header_canon = c->first;
                 s.sign.body_canon = c->second;
                 return Ok{};
               }},
    OptionSpec{"sign-headers", Scope::Stream, Kind::List, nullptr, 0, 0, nullptr, false,
               "header names to sign, replacing the default set (RFC 6376 §5.4.1's, less those that change in "
               "transit); From, Subject, To and Date are always signed and oversigned",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 s.sign.headers.sign = split_list(v.text);
                 return Ok{};
               }},
    OptionSpec{"oversign-headers", Scope::Stream, Kind::List, nullptr, 0, 0, nullptr, false,
               "header names to oversign (listed once more than they occur), replacing the default From, "
               "Reply-To, Subject, Date, To, Cc; From, Subject, To and Date always are",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 s.sign.headers.oversign = split_list(v.text);
                 return Ok{};
               }},
    OptionSpec{"expire", Scope::Stream, Kind::Duration, nullptr, 3600, 366 * kDay, nullptr, false,
               "signature lifetime, x= (none by default); a few days limits a replayed copy's life",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 s.sign.expire_after = v.number;
                 return Ok{};
               }},
    OptionSpec{"owner", Scope::Stream, Kind::Text, nullptr, 0, 0, nullptr, false,
               "who answers for this stream's keys (in the register and on new keys)", nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 s.stream.owner = v.text;
                 return Ok{};
               }},
    OptionSpec{"dry-run", Scope::Stream, Kind::Bool, nullptr, 0, 0, nullptr, false,
               "this stream only: compute and log signatures but insert none (default: the global dry-run)",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 s.dry_run = v.flag;
                 return Ok{};
               }},
    OptionSpec{"rotate-every", Scope::Stream, Kind::Duration, "180d", kDay, 3650 * kDay, nullptr, false,
               "rotation cadence (M3AAWG: at least every 6 months); `signet audit` flags keys older than this",
               nullptr,
               &rotation<&keystore::RotationPolicy::rotate_every>},
    OptionSpec{"overlap", Scope::Stream, Kind::Duration, "14d", 1, 366 * kDay, nullptr, false,
               "how long the outgoing key's record stays published after a scheduled rotation", nullptr,
               &rotation<&keystore::RotationPolicy::overlap>},
    OptionSpec{"emergency-overlap", Scope::Stream, Kind::Duration, "7d", 1, 366 * kDay, nullptr, false,
               "the same after `signet key rotate --emergency`", nullptr,
               &rotation<&keystore::RotationPolicy::emergency_overlap>},
    OptionSpec{"propagation-delay", Scope::Stream, Kind::Duration, "1h", 0, 30 * kDay, nullptr, false,
               "how long a new record must have been published before its key may sign", nullptr,
               &rotation<&keystore::RotationPolicy::propagation_delay>},
    OptionSpec{"selector-template", Scope::Stream, Kind::Text, "{stream}-{yyyymm}-{alg}{bits}", 0, 0, nullptr, false,
               "names of new keys: {stream} {yyyymm} {yyyy} {mm} {alg} {bits}; a taken name gets -2, -3, ...",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 s.stream.rotation.selector_template = v.text;
                 return Ok{};
               }},
    OptionSpec{"sasl-logins", Scope::Stream, Kind::List, nullptr, 0, 0, nullptr, true,
               "tenant binding: only these SASL logins (globs, acme-*) may sign with this stream", nullptr,
               [](StreamDraft& s, const Value& v) { return add_names(s.stream.sasl_logins, v); }},
    OptionSpec{"hosts", Scope::Stream, Kind::Networks, nullptr, 0, 0, nullptr, true,
               "tenant binding: only clients in these networks may sign with this stream (without SASL)", nullptr,
               [](StreamDraft& s, const Value& v) { return add_networks(s.stream.hosts, v); }},
    OptionSpec{"sending-networks", Scope::Stream, Kind::Networks, nullptr, 0, 0, nullptr, true,
               "this stream's sending networks for `signet replay check`, replacing the global sending-networks "
               "(a stream sent through an MTA pool of its own)",
               nullptr,
               [](StreamDraft& s, const Value& v) -> Status {
                 if (!s.stream.sending_networks) s.stream.sending_networks = CidrSet{};
                 return add_networks(*s.stream.sending_networks, v);
               }},
    OptionSpec{"body-length", Scope::Stream, Kind::Refused, nullptr, 0, 0, nullptr, false,
               "refused: signet never emits l= (content appended after the signed length would still verify)"},
    OptionSpec{"l", Scope::Stream, Kind::Refused, nullptr, 0, 0, nullptr, false,
               "refused: signet never emits l= (content appended after the signed length would still verify)"},
    // ---------------------------------------------------------------- [rule.NAME]
    OptionSpec{"sasl-login", Scope::Rule, Kind::List, nullptr, 0, 0, nullptr, true,
               "matches the SASL login ({auth_authen}), globs", nullptr, nullptr,
               [](Rule& r, const Value& v) { return add_names(r.sasl_login, v); }},
    OptionSpec{"daemon-name", Scope::Rule, Kind::List, nullptr, 0, 0, nullptr, true,
               "matches Postfix's {daemon_name}", nullptr, nullptr,
               [](Rule& r, const Value& v) { return add_names(r.daemon_name, v); }},
    OptionSpec{"client", Scope::Rule, Kind::Networks, nullptr, 0, 0, nullptr, true,
               "matches the client address, these networks", nullptr, nullptr,
               [](Rule& r, const Value& v) -> Status {
                 if (!r.client) r.client = CidrSet{};
                 return r.client->add(v.text);
               }},
    OptionSpec{"envelope-domain", Scope::Rule, Kind::List, nullptr, 0, 0, nullptr, true,
               "matches the MAIL FROM domain: example.com exactly, *.example.com any subdomain", nullptr, nullptr,
               [](Rule& r, const Value& v) { return add_domain_patterns(r.envelope_domain, v); }},
    OptionSpec{"from-domain", Scope::Rule, Kind::List, nullptr, 0, 0, nullptr, true,
               "matches the From header's domain, the same patterns", nullptr, nullptr,
               [](Rule& r, const Value& v) { return add_domain_patterns(r.from_domain, v); }},
    OptionSpec{"stream", Scope::Rule, Kind::Text, nullptr, 0, 0, nullptr, false,
               "the stream that signs what the rule matches (required)", nullptr, nullptr,
               [](Rule& r, const Value& v) -> Status {
                 r.stream = v.text;
                 return Ok{};
               }},
    OptionSpec{"also-stream", Scope::Rule, Kind::Text, nullptr, 0, 0, nullptr, false,
               "a second stream signing the same message (e.g. the tenant's domain and the relay's)", nullptr, nullptr,
               [](Rule& r, const Value& v) -> Status {
                 r.also_stream = v.text;
                 return Ok{};
               }},
};

std::string format_seconds(std::int64_t s) {
  if (s == 0) return "0";
  for (auto [unit, n] : {std::pair{'d', kDay}, std::pair{'h', std::int64_t{3600}}, std::pair{'m', std::int64_t{60}}}) {
    if (s % n == 0) return std::to_string(s / n) + unit;
  }
  return std::to_string(s) + "s";
}

// Hundredths as the shortest decimal: 150 -> "1.5", 5 -> "0.05", 100000 -> "1000".
std::string format_ratio(std::int64_t h) {
  std::string out = std::to_string(h / 100);
  const std::int64_t frac = h % 100;
  if (frac == 0) return out;
  if (frac % 10 == 0) return out + "." + std::to_string(frac / 10);
  return out + (frac < 10 ? ".0" : ".") + std::to_string(frac);
}

// "1.5" -> 150, "0.05" -> 5, "2" -> 200; nullopt for anything else.
std::optional<std::int64_t> parse_ratio(std::string_view text) {
  const std::size_t dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  const std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  const auto digits = [](std::string_view d) { return d.find_first_not_of("0123456789") == std::string_view::npos; };
  if (whole.empty() || whole.size() > 12 || !digits(whole) || frac.size() > 2 || !digits(frac)) return std::nullopt;
  if (dot != std::string_view::npos && frac.empty()) return std::nullopt;
  std::int64_t h = std::stoll(std::string(whole)) * 100;
  if (!frac.empty()) h += std::stoll(std::string(frac)) * (frac.size() == 1 ? 10 : 1);
  return h;
}

}  // namespace

std::span<const OptionSpec> option_table() { return kOptions; }

const OptionSpec* find_option(Scope scope, std::string_view name) {
  for (const OptionSpec& o : kOptions) {
    if (o.scope == scope && name == o.name) return &o;
  }
  return nullptr;
}

std::string_view scope_name(Scope s) {
  switch (s) {
    case Scope::Global: return "global";
    case Scope::Stream: return "stream";
    case Scope::Rule: return "rule";
  }
  return "global";
}

std::string allowed(const OptionSpec& o) {
  switch (o.kind) {
    case Kind::Count:
    case Kind::Bytes: return std::to_string(o.min) + ".." + std::to_string(o.max);
    case Kind::Duration: return format_seconds(o.min) + ".." + format_seconds(o.max);
    case Kind::Ratio: return format_ratio(o.min) + ".." + format_ratio(o.max);
    case Kind::Bool: return "true | false";
    case Kind::Choice: {
      std::string out;
      for (char c : std::string_view(o.choices)) out += c == '|' ? std::string(" | ") : std::string(1, c);
      return out;
    }
    case Kind::Canonicalization: return "relaxed/relaxed | simple/simple | relaxed/simple | simple/relaxed";
    case Kind::Networks: return "CIDRs";
    case Kind::Domain: return "a domain name";
    case Kind::List: return "a list";
    case Kind::Refused: return "none";
    case Kind::Text:
    case Kind::Path: return "";
  }
  return "";
}

Result<Value> check_value(const OptionSpec& o, std::string_view text) {
  Value v;
  v.text = std::string(text);
  const std::string range = allowed(o);
  auto refuse = [&](const std::string& why) -> Result<Value> {
    return permanent_error(why + (range.empty() ? "" : "; allowed: " + range));
  };
  switch (o.kind) {
    case Kind::Refused: return permanent_error(o.help);
    case Kind::Bool: {
      const auto b = parse_bool(text);
      if (!b) return refuse("not a yes/no value");
      v.flag = *b;
      return v;
    }
    case Kind::Count:
    case Kind::Bytes: {
      if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string_view::npos) {
        return refuse("not a whole number");
      }
      v.number = std::stoll(std::string(text));
      if (v.number < o.min || v.number > o.max) return refuse("out of range");
      return v;
    }
    case Kind::Duration: {
      const auto d = text == "0" ? std::optional<std::int64_t>(0) : parse_duration(text);
      if (!d) return refuse("not a duration (30s, 5m, 12h, 7d or seconds)");
      v.number = *d;
      if (v.number < o.min || v.number > o.max) return refuse("out of range");
      return v;
    }
    case Kind::Ratio: {
      const auto r = parse_ratio(text);
      if (!r) return refuse("not a decimal number (1.5, 0.05)");
      v.number = *r;
      if (v.number < o.min || v.number > o.max) return refuse("out of range");
      return v;
    }
    case Kind::Choice: {
      const std::string_view choices(o.choices);
      std::size_t pos = 0;
      while (pos <= choices.size()) {
        const std::size_t bar = std::min(choices.find('|', pos), choices.size());
        if (choices.substr(pos, bar - pos) == text) return v;
        pos = bar + 1;
      }
      return refuse("not one of the choices");
    }
    case Kind::Canonicalization:
      if (!canon::parse_canonicalization(text)) return refuse("unknown canonicalization");
      return v;
    case Kind::Networks:
      if (auto c = CidrSet::parse(text); !c) return permanent_error(c.error().message);
      return v;
    case Kind::Domain:
      if (!valid_dns_name(text)) return permanent_error(std::string(text) + " is not a domain name");
      return v;
    case Kind::List:
    case Kind::Text:
    case Kind::Path: return v;
  }
  return v;
}

}  // namespace signet::conf
