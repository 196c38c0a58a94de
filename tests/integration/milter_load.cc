// milter_load — a milter-protocol load generator and checker, speaking to
// signet-milter the way Postfix does (bench/milterclient/milter_client.h:
// negotiation without MDS flags, the steps, no-reply flags and macro lists the
// milter asks for).
//
//   milter_load --socket inet:PORT@127.0.0.1 --connections 8 --messages 20000
//               [--min-seconds S] [--keys FILE --schedule FILE] [--latency-out FILE]
//               [--verify-dir DIR] [--per-connection N] [--from-domains N]
//               [--until-file PATH]
//
// Each connection carries N messages (default 50) before a new one is opened;
// --per-connection 1 is Postfix's pattern with one SMTP session per message.
// Every message's reply and inserted DKIM-Signature headers are recorded.
// With --keys/--schedule, each signed message is rebuilt and verified with
// signet's verifier, and every signature's s= must be the key whose window
// (from the schedule: "selector algorithm from until|-" per line) held its
// t=. --verify-dir checks the *.eml files there (e.g. what Postfix relayed)
// the same way. --from-domains N sends each message from a domain drawn
// uniformly from t0.example .. t<N-1>.example (envelope and From; a key set
// of N streams, bench/keyset_scale.py) instead of example.com, and checks
// every signature's d= is that domain. --until-file PATH keeps sending, past
// --messages and --min-seconds, until PATH exists (a benchmark that cannot
// know in advance how long the load must last, bench/keyset_scale.py's
// reloads, ends it when it is done). Prints counts and "N passed, M
// failed"; exit 1 on failure.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <dirent.h>
#include <unistd.h>

#include "bench/milterclient/milter_client.h"
#include "canon/header.h"
#include "keystore/txt_lookup.h"
#include "signer/key.h"
#include "signer/message.h"
#include "signer/tag_list.h"
#include "signer/verifier.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string socket;
  int connections = 8;
  long messages = 1000;
  double min_seconds = 0;
  std::string keys, schedule, latency_out, verify_dir, until_file;
  int body_lines = 20;
  long per_connection = 50;
  long from_domains = 0;  // 0: everything from example.com
};

struct Record {
  char reply = 0;                       // 'c' continue/accept... 't' tempfail, 0 = transport error
  std::vector<std::string> signatures;  // inserted DKIM-Signature values
  std::string message;                  // as Postfix would queue it, the insertions in place
  std::string domain;                   // the sender's domain
  double start_s = 0, latency_ms = 0;   // since the run started
};

// One message as milter_load sends it, through the Postfix-like client
// (bench/milterclient/milter_client.h).
Record send_message(std::unique_ptr<signet::bench::MilterConnection>& conn, const std::string& socket,
                    const std::string& id, int body_lines, const std::string& domain) {
  Record r;
  r.domain = domain;
  signet::bench::Envelope env;
  env.client_name = env.helo = "load.test";
  env.sender = std::string("load@").append(domain);
  env.queue_id = id;
  if (!conn || !conn->ok()) {
    conn.reset();
    auto c = signet::bench::MilterConnection::open(socket);
    if (!c) return r;
    conn = std::move(c.value());
    if (!conn->session(env)) return conn.reset(), r;
  }
  signet::bench::Message m;
  m.headers = {{"From", " Load <" + env.sender + ">"}, {"To", " rcpt@example.org"}, {"Subject", " load " + id},
               {"Date", " Thu, 26 Nov 2026 10:00:00 +0000"}, {"Message-ID", " <" + id + "@example.com>"}};
  for (int i = 0; i < body_lines; ++i) m.body += "Line " + std::to_string(i) + " of message " + id + ".\r\n";
  const signet::bench::Outcome out = conn->message(env, m);
  r.reply = out.reply;
  for (const auto& [index, f] : out.inserted) r.signatures.push_back(f.second);
  for (const auto& f : out.added) r.signatures.push_back(f.second);
  if (out.reply != 0) r.message = signet::bench::rebuild(m, out);
  return r;
}

struct Window {
  signet::Algorithm algorithm;
  std::int64_t from;
  std::optional<std::int64_t> until;
};

std::map<std::string, Window> read_schedule(const std::string& path) {
  std::map<std::string, Window> out;
  std::ifstream in(path);
  std::string sel, alg, until;
  std::int64_t from;
  while (in >> sel >> alg >> from >> until) {
    Window w{alg == "rsa" ? signet::Algorithm::RsaSha256 : signet::Algorithm::Ed25519Sha256, from, std::nullopt};
    if (until != "-") w.until = std::stoll(until);
    out[sel] = w;
  }
  return out;
}

// The selector whose window holds t for this algorithm (newer wins on overlap).
std::string expected_selector(const std::map<std::string, Window>& schedule, signet::Algorithm a, std::int64_t t) {
  std::string best;
  std::int64_t best_from = 0;
  for (const auto& [sel, w] : schedule) {
    if (w.algorithm != a || t < w.from || (w.until && t >= *w.until)) continue;
    if (best.empty() || w.from > best_from) best = sel, best_from = w.from;
  }
  return best;
}

struct Tally {
  long passed = 0, failed = 0;
  std::map<std::string, long> why;
  void fail(const std::string& reason) {
    ++failed;
    if (why[reason]++ < 3) std::printf("FAIL %s\n", reason.c_str());
  }
};

// Verifies one whole message; every DKIM-Signature must pass and name the
// key scheduled for its t=.
void check_message(const std::string& message, signet::KeyLookup& lookup, const std::map<std::string, Window>& schedule,
                   int expect_signatures, Tally& tally) {
  const std::string m = signet::normalize_line_endings(message);
  auto parsed = signet::parse_message(m);
  if (!parsed) return tally.fail("unparsable message: " + parsed.error().message);
  std::int64_t now = 0;
  std::vector<std::pair<std::string, std::int64_t>> sigs;  // s=, t=
  for (auto f : parsed->fields) {
    if (!signet::canon::header_name_equals(f, "dkim-signature")) continue;
    auto tags = signet::parse_tag_list(f.substr(f.find(':') + 1));
    if (!tags || !tags->find("s") || !tags->find("t") || !tags->find("a")) return tally.fail("signature without s=/t=/a=");
    const std::int64_t t = std::stoll(tags->find("t")->value);
    const auto a = signet::parse_algorithm(tags->find("a")->value);
    const std::string want = expected_selector(schedule, a.value_or(signet::Algorithm::RsaSha256), t);
    if (tags->find("s")->value != want) {
      return tally.fail("t=" + std::to_string(t) + " signed with s=" + tags->find("s")->value + ", its window holds " +
                        (want.empty() ? "no key" : want));
    }
    now = std::max(now, t);
    sigs.emplace_back(tags->find("s")->value, t);
  }
  if (static_cast<int>(sigs.size()) != expect_signatures) {
    return tally.fail("expected " + std::to_string(expect_signatures) + " signatures, found " + std::to_string(sigs.size()));
  }
  for (const auto& r : signet::verify_message(parsed->fields, parsed->body, lookup, signet::VerifyOptions{now, 300})) {
    if (!r.pass()) return tally.fail(r.authentication_results());
  }
  ++tally.passed;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i], v = argv[i + 1];
    if (k == "--socket") o.socket = v;
    else if (k == "--connections") o.connections = std::stoi(v);
    else if (k == "--messages") o.messages = std::stol(v);
    else if (k == "--min-seconds") o.min_seconds = std::stod(v);
    else if (k == "--keys") o.keys = v;
    else if (k == "--schedule") o.schedule = v;
    else if (k == "--latency-out") o.latency_out = v;
    else if (k == "--verify-dir") o.verify_dir = v;
    else if (k == "--until-file") o.until_file = v;
    else if (k == "--body-lines") o.body_lines = std::stoi(v);
    else if (k == "--from-domains") o.from_domains = std::stol(v);
    else if (k == "--per-connection") o.per_connection = std::max(1L, std::stol(v));
    else {
      std::fprintf(stderr, "milter_load: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  std::vector<Record> records;
  std::mutex mu;
  const auto start = Clock::now();
  if (!o.socket.empty() && o.messages > 0) {
    std::atomic<long> next{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < o.connections; ++c) {
      threads.emplace_back([&, c] {
        std::vector<Record> mine;
        std::unique_ptr<signet::bench::MilterConnection> conn;
        long on_conn = 0;
        std::mt19937_64 rng(static_cast<std::uint64_t>(c) * 7919 + 1);
        for (;;) {
          const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
          const long n = next.fetch_add(1);
          if (n >= o.messages && elapsed >= o.min_seconds &&
              (o.until_file.empty() || ::access(o.until_file.c_str(), F_OK) == 0))
            break;
          if (++on_conn % o.per_connection == 0) conn.reset();  // connection churn (1: Postfix's pattern)
          const auto t0 = Clock::now();
          // (built with append: GCC 12 -O3 warns falsely on "lit" + std::string)
          std::string id = "L";
          id.append(std::to_string(c)).append("N").append(std::to_string(n));
          std::string domain = "example.com";
          if (o.from_domains > 0) {
            domain = "t";
            domain.append(std::to_string(std::uniform_int_distribution<long>(0, o.from_domains - 1)(rng))).append(".example");
          }
          Record r = send_message(conn, o.socket, id, o.body_lines, domain);
          r.start_s = std::chrono::duration<double>(t0 - start).count();
          r.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          mine.push_back(std::move(r));
        }
        std::lock_guard<std::mutex> lock(mu);
        for (auto& r : mine) records.push_back(std::move(r));
      });
    }
    for (auto& t : threads) t.join();
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  long signed_both = 0, unsigned_ = 0, tempfail = 0, errors = 0, wrong_domain = 0;
  for (const Record& r : records) {
    if (r.reply == 't') ++tempfail;
    else if (r.reply == 0) ++errors;
    else if (r.signatures.empty()) ++unsigned_;
    else ++signed_both;
    if (o.from_domains > 0) {
      // Each signature must carry the sender's stream's d= (RFC 6376 §3.5).
      for (const std::string& sig : r.signatures) {
        auto tags = signet::parse_tag_list(sig);
        if (!tags || !tags->find("d") || tags->find("d")->value != r.domain) ++wrong_domain;
      }
    }
  }
  if (!o.latency_out.empty()) {
    std::ofstream out(o.latency_out);
    for (const Record& r : records) out << r.start_s << " " << r.latency_ms << "\n";
  }
  std::printf("messages sent: %zu in %.1f s (%.0f msg/s) over %d connections\n", records.size(), seconds,
              static_cast<double>(records.size()) / std::max(seconds, 1e-9), o.connections);
  std::printf("signed: %ld  unsigned: %ld  tempfailed: %ld  transport errors: %ld\n", signed_both, unsigned_, tempfail,
              errors);

  Tally tally;
  if (!o.socket.empty()) {
    (unsigned_ == 0 ? ++tally.passed : (tally.fail(std::to_string(unsigned_) + " messages unsigned"), 0));
    (tempfail == 0 ? ++tally.passed : (tally.fail(std::to_string(tempfail) + " messages tempfailed"), 0));
    (errors == 0 ? ++tally.passed : (tally.fail(std::to_string(errors) + " transport errors"), 0));
    if (o.from_domains > 0) {
      (wrong_domain == 0 ? ++tally.passed
                         : (tally.fail(std::to_string(wrong_domain) + " signatures with another stream's d="), 0));
    }
  }
  if (!o.keys.empty() && !o.schedule.empty()) {
    auto lookup = signet::keystore::FileTxtLookup::load(o.keys);
    if (!lookup) {
      std::fprintf(stderr, "milter_load: %s\n", lookup.error().message.c_str());
      return 2;
    }
    const auto schedule = read_schedule(o.schedule);
    Tally verify;
    for (const Record& r : records) {
      if (r.signatures.empty()) continue;
      check_message(r.message, lookup.value(), schedule, 2, verify);
    }
    std::printf("verified against the key whose window held t=: %ld ok, %ld bad\n", verify.passed, verify.failed);
    if (!o.verify_dir.empty()) {
      Tally relayed;
      if (DIR* d = opendir(o.verify_dir.c_str())) {
        while (dirent* e = readdir(d)) {
          const std::string name = e->d_name;
          if (name.size() < 4 || name.substr(name.size() - 4) != ".eml") continue;
          std::ifstream in(o.verify_dir + "/" + name, std::ios::binary);
          std::stringstream ss;
          ss << in.rdbuf();
          check_message(ss.str(), lookup.value(), schedule, 2, relayed);
        }
        closedir(d);
      }
      std::printf("relayed messages in %s verified: %ld ok, %ld bad\n", o.verify_dir.c_str(), relayed.passed,
                  relayed.failed);
      tally.passed += relayed.passed > 0 && relayed.failed == 0;
      if (relayed.failed || relayed.passed == 0) tally.fail("relayed messages did not all verify");
    }
    if (!o.socket.empty()) {  // with no load run, only --verify-dir is checked
      tally.passed += verify.failed == 0 && verify.passed > 0;
      if (verify.failed || verify.passed == 0) tally.fail("signatures did not all verify against their scheduled keys");
    }
  }
  std::printf("%ld passed, %ld failed\n", tally.passed, tally.failed);
  return tally.failed ? 1 : 0;
}
