// The milter session (milter/session.h) driven by MTA events in any order,
// as milter/mta_connection.cc drives it (without the wire): negotiate,
// connect, macros, MAIL FROM, headers, end of headers, body chunks, end of
// message, abort, close; plus the clock, the hidden-key set (the DNS watch)
// and a reload to another configuration between events.
//
// Input: events, each an opcode byte and its operands (strings are one length
// byte, 255 meaning two more bytes of length, then the bytes; fuzz_util.h's
// Reader). The Runtimes are built once, from configurations and keys written
// to a temporary directory at startup: stream tx (example.com) with a
// scheduled rsa-1024 cutover at T1 and an ed25519 key, stream tenant
// (tenant.example, bound to SASL logins alice*) with a selector line; three
// configurations (plain; tempfail, overlap-signing, simple/simple, x=, a
// dry-run stream; dry-run everywhere). Log lines are captured (Log::capture),
// never printed. Checks, beyond never crashing or leaking:
//   - every message (a MAIL FROM) leaves exactly one log line, whatever
//     events come and in whatever order; events outside a message log nothing;
//   - headers come back only from end of message, only with Continue, only
//     when the message (as the MTA sent it) has exactly one From field, each
//     a DKIM-Signature that parses and passes check_signature, for the
//     stream's domain;
//   - those signatures verify (signer/verifier.h, keys from a DNS map) over
//     the message as the MTA will send it on: the DKIM-Signature fields on
//     top, the fields as they travel, the body chunks as given, whenever that
//     text splits back into the same fields and body.
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_lookup.h"
#include "fuzz_util.h"
#include "keystore/key_file.h"
#include "keystore/manifest.h"
#include "milter/header_text.h"
#include "milter/log.h"
#include "milter/runtime.h"
#include "milter/session.h"
#include "signer/key_record.h"
#include "signer/message.h"
#include "signer/signature.h"
#include "signer/verifier.h"

using namespace signet;
using signet::fuzz::MapLookup;
using namespace signet::milter;

namespace {

constexpr std::int64_t kT0 = 1764150000;  // the keys start signing
constexpr std::int64_t kT1 = kT0 + 86400;  // rsa-a -> rsa-b cutover

std::size_t g_lines = 0;
std::string g_last_line;
void count_line(std::string_view line) {
  if (std::getenv("SIGNET_FUZZ_DEBUG")) std::fprintf(stderr, "  log: %.*s\n", static_cast<int>(line.size()), line.data());
  ++g_lines;
  g_last_line = std::string(line);
}

struct World {
  signet::fuzz::TempDir tmp{"session"};
  std::string dir = tmp.path();
  MapLookup lookup;
  std::vector<std::shared_ptr<const Runtime>> runtimes;

  World() {
    Log::capture(count_line);
    const std::string keys = dir + "/keys";
    mkdir(keys.c_str(), 0700);
    mkdir((keys + "/example.com").c_str(), 0700);
    mkdir((keys + "/tenant.example").c_str(), 0700);
    keystore::Manifest manifest;
    auto add = [&](const char* domain, const char* selector, Algorithm alg, bool managed, keystore::Window w) {
      auto k = PrivateKey::generate(alg, 1024);
      FUZZ_CHECK(k.ok(), "key generation");
      const std::string file = std::string(domain) + "/" + selector + ".key";
      FUZZ_CHECK(keystore::write_private_key(keys + "/" + file, k.value()).ok(), "writing " + file);
      lookup.records[std::string(selector) + "._domainkey." + domain] = {format_key_record(k.value())};
      if (!managed) return;
      keystore::KeyRow row;
      row.stream = "tx";
      row.domain = domain;
      row.selector = selector;
      row.algorithm = alg;
      row.bits = k->bits();
      row.file = file;
      row.created = row.published_at = kT0 - 86400;
      row.window = w;
      manifest.keys.push_back(row);
    };
    add("example.com", "rsa-a", Algorithm::RsaSha256, true, keystore::Window::scheduled(kT0, kT1));
    add("example.com", "rsa-b", Algorithm::RsaSha256, true, keystore::Window::scheduled(kT1));
    add("example.com", "ed", Algorithm::Ed25519Sha256, true, keystore::Window::scheduled(kT0));
    add("tenant.example", "tn-ed", Algorithm::Ed25519Sha256, false, {});
    std::ofstream(keys + "/manifest") << keystore::format_manifest(manifest);

    const std::string common = "key-directory = " + keys +
                               "\ntrusted-services = submission\ninternal-hosts = 127.0.0.0/8, ::1\n"
                               "max-headers = 40\nmax-header-bytes = 4096\n";
    const std::string tenant = "[stream.tenant]\ndomain = tenant.example\nselector = tn-ed\nsasl-logins = alice*\n";
    const std::string rules = "[rule.tenant]\nfrom-domain = tenant.example\nstream = tenant\nalso-stream = tx\n"
                              "[rule.all]\nstream = tx\n";
    const std::string configs[] = {
        common + "[stream.tx]\ndomain = example.com\n" + tenant + rules,
        common + "on-error = tempfail\noverlap-signing = 1h\n[stream.tx]\ndomain = example.com\n"
                 "canonicalization = simple/simple\nexpire = 1d\nsign-headers = from, subject, x-a\n"
                 "oversign-headers = x-a\n" + tenant + "dry-run = true\n" + rules,
        common + "dry-run = true\n[stream.tx]\ndomain = example.com\ncanonicalization = relaxed/simple\n" + tenant +
            rules,
    };
    for (std::size_t i = 0; i < std::size(configs); ++i) {
      const std::string path = dir + "/signet" + std::to_string(i) + ".conf";
      std::ofstream(path) << configs[i];
      auto rt = load_runtime({"signet-milter", "--config", path});
      FUZZ_CHECK(rt.ok(), rt ? "" : rt.error().message);
      runtimes.push_back(std::move(rt.value()));
    }
  }
};

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& ch : out) ch = ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch + 32) : ch;
  return out;
}

// A field as the MTA sends it on is named `lower` when what precedes its first
// colon is that name in any case, WSP before the colon allowed (RFC 5322 §4.5.8).
bool named(std::string_view wire, std::string_view lower) {
  std::string_view name = wire.substr(0, wire.find(':'));
  while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
  return lowered(name) == lower;
}

// The view of one connection (milter/mta_connection.h's state and
// macros) and the harness's model of the message in progress.
struct Connection {
  Connection() { session.set_leading_space(leading_space); }  // as negotiate leaves them: agreed
  Session session;
  bool leading_space = false;
  std::string auth, mail_addr, queue_id;

  bool open = false;            // a message began (MAIL FROM -> Continue) and has not ended
  std::size_t lines_at = 0;     // log lines when it began
  bool headers_ended = false;   // end of headers said Continue
  std::vector<std::string> fields;  // as they travel
  std::string body;             // chunks after the end of headers
  const Runtime* runtime = nullptr;
};

void expect_lines(std::size_t before, std::size_t n, const char* when) {
  FUZZ_CHECK(g_lines == before + n, std::string(when) + ": " + std::to_string(g_lines - before) +
                                        " log lines, expected " + std::to_string(n) + "; last: " + g_last_line);
}

// A message ended: its one line was written.
void ended(Connection& c, const char* when) {
  expect_lines(c.lines_at, 1, when);
  c.open = false;
}

void check_signed(const Connection& c, const EndResult& r, std::int64_t now, MapLookup& lookup) {
  if (r.headers.empty()) return;
  FUZZ_CHECK(r.verdict == Verdict::Continue, "headers with a verdict other than Continue");
  std::size_t froms = 0;
  for (const std::string& f : c.fields) froms += named(f, "from");
  FUZZ_CHECK(froms == 1, "signed a message with " + std::to_string(froms) + " From fields");
  for (const HeaderField& h : r.headers) {
    FUZZ_CHECK(h.name == kSignatureHeaderName, "an added header that is not a DKIM-Signature: " + h.name);
    auto sig = parse_signature(h.value);
    FUZZ_CHECK(sig.ok(), "our own signature does not parse");
    FUZZ_CHECK(!check_signature(sig.value()), "our own signature fails §6.1.1's checks");
    bool ours = false;
    for (const conf::Stream& s : c.runtime->config.streams) ours |= s.domain == sig->domain;
    FUZZ_CHECK(ours, "a signature for a domain no stream signs as: " + sig->domain);
    FUZZ_CHECK(sig->timestamp == now, "t= is not the end-of-message clock");
  }
  std::string wire;
  for (const HeaderField& h : r.headers) wire += h.wire() + "\r\n";
  for (const std::string& f : c.fields) wire += f + "\r\n";
  wire += "\r\n" + c.body;
  auto parsed = parse_message(wire);
  if (!parsed || parsed->fields.size() != r.headers.size() + c.fields.size() || parsed->body != c.body) return;
  for (std::size_t i = 0; i < c.fields.size(); ++i) {
    if (parsed->fields[r.headers.size() + i] != c.fields[i]) return;
  }
  // One result per DKIM-Signature field, top down: ours first, then any the message came with.
  std::size_t theirs = 0;
  for (const std::string& f : c.fields) theirs += named(f, "dkim-signature");
  const auto results = verify_message(parsed->fields, parsed->body, lookup, VerifyOptions{now, 300});
  FUZZ_CHECK(results.size() == r.headers.size() + theirs, "verifier: another number of results");
  for (std::size_t i = 0; i < r.headers.size(); ++i) {
    FUZZ_CHECK(results[i].pass(), "our signature does not verify: " + results[i].authentication_results());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  signet::fuzz::Reader in(data, size);
  auto conn = std::make_unique<Connection>();
  std::int64_t now = kT0 + 3600;
  keystore::HiddenKeys hidden;
  std::shared_ptr<const Runtime> runtime = world.runtimes[0];
  const char* const hideable[] = {"example.com/rsa-a", "example.com/rsa-b", "example.com/ed", "tenant.example/tn-ed"};

  static const bool debug = std::getenv("SIGNET_FUZZ_DEBUG") != nullptr;  // each event on stderr
  for (int events = 0; !in.empty() && events < 2000; ++events) {
    Connection& c = *conn;
    const std::size_t before = g_lines;
    const int op = in.byte() % 13;
    if (debug) std::fprintf(stderr, "event %d: op %d, %zu log lines\n", events, op, g_lines);
    switch (op) {
      case 0:  // negotiate: SMFIP_HDR_LEADSPC granted or not
        c.leading_space = in.byte() & 1;
        c.session.set_leading_space(c.leading_space);
        break;
      case 1: {  // connect: the client address, {daemon_name}
        const std::string addr(in.str());
        c.session.set_client(addr, std::string(in.str()));
        break;
      }
      case 2: {  // a macro: {auth_authen}, {mail_addr}, i
        const std::uint8_t which = in.byte() % 3;
        (which == 0 ? c.auth : which == 1 ? c.mail_addr : c.queue_id) = std::string(in.str());
        break;
      }
      case 3: {  // MAIL FROM, as on_envfrom reads it
        std::string from = c.mail_addr;
        const std::string_view arg = in.str();
        if (from.empty()) from = std::string(arg);
        if (from.size() >= 2 && from.front() == '<' && from.back() == '>') from = from.substr(1, from.size() - 2);
        const bool was_open = c.open;
        const std::size_t at = g_lines;
        const Verdict v = c.session.begin(runtime, c.auth, from, c.queue_id);
        // A message still open gets its line first (the MTA moved on without ending it).
        if (was_open) FUZZ_CHECK(g_lines >= at + 1, "a message left open by MAIL FROM left no log line");
        c.lines_at = was_open ? at + 1 : at;
        c.open = true;
        c.headers_ended = false;
        c.fields.clear();
        c.body.clear();
        c.runtime = runtime.get();
        if (v != Verdict::Continue) {
          ended(c, "MAIL FROM refused");
        } else {
          expect_lines(c.lines_at, 0, "MAIL FROM accepted");
        }
        break;
      }
      case 4: {  // a header
        const std::string name(in.str());
        const std::string value(in.str());
        c.session.header(name, value);
        if (debug) std::fprintf(stderr, "  header [%s] [%s]\n", name.c_str(), value.c_str());
        expect_lines(before, 0, "header");
        if (c.open && !c.headers_ended) c.fields.push_back(field_from_mta(name, value, c.leading_space));
        break;
      }
      case 5: {  // end of headers
        const Verdict v = c.session.end_of_headers(c.queue_id, now, hidden);
        if (!c.open) {
          expect_lines(before, 0, "end of headers outside a message");
        } else if (c.headers_ended) {
          expect_lines(before, 0, "end of headers again");
        } else if (v != Verdict::Continue) {
          ended(c, "end of headers");
        } else {
          expect_lines(before, 0, "end of headers");
          c.headers_ended = true;
        }
        break;
      }
      case 6: {  // a body chunk
        const std::string_view chunk = in.str();
        const Verdict v = c.session.body(chunk);
        if (v != Verdict::Continue) {
          // Only the body limit (max-body-bytes) ends a message here.
          FUZZ_CHECK(c.open && c.headers_ended, "a body chunk outside a signed message ended it");
          ended(c, "body past max-body-bytes");
        } else {
          expect_lines(before, 0, "body");
          if (c.open && c.headers_ended) c.body.append(chunk);
        }
        break;
      }
      case 7: {  // end of message, then the glue's reset
        const EndResult r = c.session.end_of_message(c.queue_id, now, hidden);
        if (c.open) {
          ended(c, "end of message");
          if (c.headers_ended) check_signed(c, r, now, world.lookup);
        } else {
          expect_lines(before, 0, "end of message outside a message");
        }
        FUZZ_CHECK(r.headers.empty() || c.headers_ended, "headers from a message whose header never ended");
        // The log line says "signed" exactly when signatures come back.
        const std::string& qid = c.session.queue_id();
        const std::string signed_line = (qid.empty() ? "NOQUEUE" : qid) + ": signed stream=";
        const bool says_signed = g_lines > before && g_last_line.rfind(signed_line, 0) == 0;
        FUZZ_CHECK(says_signed == !r.headers.empty(), "the log line and the headers disagree: " + g_last_line);
        c.session.reset();
        break;
      }
      case 8:  // abort
        c.session.abandon("aborted (the MTA sent abort or the connection was lost)");
        if (c.open) {
          ended(c, "abort");
        } else {
          expect_lines(before, 0, "abort outside a message");
        }
        break;
      case 9:  // close: the connection's state goes, a new one comes
        c.session.abandon("connection closed mid-message");
        if (c.open) {
          ended(c, "close");
        } else {
          expect_lines(before, 0, "close outside a message");
        }
        conn = std::make_unique<Connection>();
        break;
      case 10:  // the clock, from an hour before the keys to past the cutover
        now = kT0 - 3600 + static_cast<std::int64_t>(in.u16()) * 4;
        break;
      case 11: {  // the DNS watch hides or shows a key
        const char* key = hideable[in.byte() % std::size(hideable)];
        if (!hidden.erase(key)) hidden.insert(key);
        break;
      }
      case 12:  // a reload: the next message takes another Runtime
        runtime = world.runtimes[in.byte() % world.runtimes.size()];
        break;
    }
  }
  // The connection closes at the end of the input, as on_close does.
  const std::size_t before = g_lines;
  conn->session.abandon("connection closed mid-message");
  if (conn->open) {
    ended(*conn, "final close");
  } else {
    expect_lines(before, 0, "final close outside a message");
  }
  return 0;
}
