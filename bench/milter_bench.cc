// milter_bench — a milter-protocol load generator: drives any milter (signet-milter,
// OpenDKIM, ...) the way Postfix's smtpd does (bench/milterclient/milter_client.h)
// and measures it.
//
//   milter_bench --socket unix:PATH|inet:PORT@127.0.0.1 [--connections N] [--messages M]
//                [--message FILE ...] [--size BYTES ...] [--reuse] [--warmup W]
//                [--pid PID] [--expect-signatures K [--keys FILE] [--verify-sample S]]
//                [--label TEXT]
//
// N threads each send messages until M have been sent, each on a milter
// connection of its own (connect, negotiate, SMFIC_CONNECT, HELO, the
// message, QUIT: Postfix opens one per SMTP session), or with --reuse on one
// connection per thread. Messages come from the files given (round robin),
// else generated ones of the --size bytes given, else a 2 KB and a 1 MB one.
// W warm-up messages (default 20) go first and are not counted.
//
// Reported: messages/s, latency (connection opened to final reply) p50, p99,
// max; with --pid, the milter's CPU per message from utime+stime in
// /proc/PID/stat (all its threads, exited ones included) before and after;
// the generator's own CPU per message. With --expect-signatures K every
// message must come back with exactly K DKIM-Signature fields inserted, and
// with --keys (a file of "name TXT record" lines, keystore/txt_lookup.h) S of
// them, spread over the run (default 20), are rebuilt as Postfix would queue
// them and verified with signet's verifier.
//
// Output: one human line, then one JSON line (stdout). Exit 0 when every
// message got a final continue/accept (and the checks asked for passed), 1
// otherwise, 2 on bad usage.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/milterclient/milter_client.h"
#include "keystore/txt_lookup.h"
#include "signer/message.h"
#include "signer/verifier.h"

namespace {

using Clock = std::chrono::steady_clock;
using signet::bench::Envelope;
using signet::bench::Message;
using signet::bench::MilterConnection;
using signet::bench::Outcome;

struct Options {
  std::string socket, keys, label;
  int connections = 1;
  long messages = 1000, warmup = 20;
  std::vector<std::string> files;
  std::vector<std::size_t> sizes;
  bool reuse = false;
  long pid = 0;
  int expect_signatures = -1;
  int verify_sample = 20;
};

struct Result {
  double latency_ms = 0;
  char reply = 0;
  int signatures = 0;
  std::string error;
};

// utime + stime of a process (every thread, live and exited), in seconds.
double process_cpu_seconds(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren == std::string::npos) return -1;
  std::istringstream fields(text.substr(paren + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state (proc(5))
    if (i == 14) utime = std::stod(f);
    if (i == 15) {
      stime = std::stod(f);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

int usage(const std::string& why) {
  std::fprintf(stderr,
               "milter_bench: %s\nusage: milter_bench --socket unix:PATH|inet:PORT@ADDR [--connections N] "
               "[--messages M] [--message FILE ...] [--size BYTES ...] [--reuse] [--warmup W] [--pid PID] "
               "[--expect-signatures K [--keys FILE] [--verify-sample S]] [--label TEXT]\n",
               why.c_str());
  return 2;
}

std::string json_string(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\', out += c;
    else if (static_cast<unsigned char>(c) < 0x20) out += ' ';
    else out += c;
  }
  return out + "\"";
}

std::string num(double v) {
  if (!std::isfinite(v)) return "null";
  char b[64];
  std::snprintf(b, sizeof b, "%.4g", v);
  return b;
}

// Sends one message as Postfix does: on a fresh connection unless reusing.
Result send_one(const Options& o, std::unique_ptr<MilterConnection>& conn, const Message& msg, long n, Outcome* keep) {
  Result r;
  const auto t0 = Clock::now();
  Envelope env;
  env.queue_id = "4B" + std::to_string(100000 + n);
  if (!conn || !conn->ok() || !o.reuse) {
    conn.reset();
    auto c = MilterConnection::open(o.socket);
    if (!c) return r.error = c.error().message, r;
    conn = std::move(c.value());
    if (!conn->session(env)) {
      r.error = conn->ok() ? "the milter refused the SMTP session at connect/helo" : conn->error();
      conn.reset();
      return r;
    }
  }
  Outcome out = conn->message(env, msg);
  if (!o.reuse) conn.reset();  // SMFIC_QUIT and close, as smtpd at the end of the session
  r.latency_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  r.reply = out.reply;
  r.signatures = out.count("DKIM-Signature");
  if (out.reply == 0) r.error = conn ? conn->error() : "transport error";
  if (keep) *keep = std::move(out);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string k = argv[i];
      if (k == "--reuse") {
        o.reuse = true;
        continue;
      }
      if (i + 1 >= argc) return usage(k + " needs a value");
      const std::string v = argv[++i];
      if (k == "--socket") o.socket = v;
      else if (k == "--connections") o.connections = std::stoi(v);
      else if (k == "--messages") o.messages = std::stol(v);
      else if (k == "--warmup") o.warmup = std::stol(v);
      else if (k == "--message") o.files.push_back(v);
      else if (k == "--size") o.sizes.push_back(std::stoul(v));
      else if (k == "--pid") o.pid = std::stol(v);
      else if (k == "--expect-signatures") o.expect_signatures = std::stoi(v);
      else if (k == "--keys") o.keys = v;
      else if (k == "--verify-sample") o.verify_sample = std::stoi(v);
      else if (k == "--label") o.label = v;
      else return usage("unknown option " + k);
    }
  } catch (const std::exception&) {
    return usage("a numeric option has a value that is not a number");
  }
  if (o.socket.empty()) return usage("--socket is required");
  if (o.connections < 1 || o.messages < 1 || o.warmup < 0) return usage("--connections and --messages must be >= 1");
  if (o.pid && process_cpu_seconds(o.pid) < 0) return usage("--pid " + std::to_string(o.pid) + ": no such process");

  std::vector<Message> messages;
  for (const auto& f : o.files) {
    auto m = signet::bench::read_message_file(f);
    if (!m) {
      std::fprintf(stderr, "milter_bench: %s\n", m.error().message.c_str());
      return 2;
    }
    messages.push_back(std::move(m.value()));
  }
  if (messages.empty() && o.sizes.empty()) o.sizes = {2048, 1024 * 1024};
  for (std::size_t s : o.sizes) messages.push_back(signet::bench::generated_message(s, "bench" + std::to_string(s)));
  double avg_bytes = 0;
  for (const auto& m : messages) {
    std::size_t b = m.body.size();
    for (const auto& [n, v] : m.headers) b += n.size() + v.size() + 3;
    avg_bytes += static_cast<double>(b) / static_cast<double>(messages.size());
  }

  std::optional<signet::keystore::FileTxtLookup> lookup;
  if (!o.keys.empty()) {
    auto l = signet::keystore::FileTxtLookup::load(o.keys);
    if (!l) {
      std::fprintf(stderr, "milter_bench: %s\n", l.error().message.c_str());
      return 2;
    }
    lookup = std::move(l.value());
  }

  // Warm-up: keys parsed on first use, thread pools, page cache.
  {
    std::unique_ptr<MilterConnection> conn;
    for (long n = 0; n < o.warmup; ++n) {
      Result r = send_one(o, conn, messages[static_cast<std::size_t>(n) % messages.size()], -1 - n, nullptr);
      if (!r.error.empty()) {
        std::fprintf(stderr, "milter_bench: warm-up message failed: %s\n", r.error.c_str());
        return 1;
      }
    }
  }

  // The sample to verify, spread over the run.
  std::vector<long> sample;
  if (lookup && o.verify_sample > 0) {
    for (long k = 0; k < o.verify_sample && k < o.messages; ++k) sample.push_back(k * o.messages / std::min<long>(o.verify_sample, o.messages));
  }
  std::vector<Outcome> sampled(sample.size());

  std::vector<Result> results(static_cast<std::size_t>(o.messages));
  std::atomic<long> next{0};
  const double cpu0 = o.pid ? process_cpu_seconds(o.pid) : 0, self0 = self_cpu_seconds();
  const auto start = Clock::now();
  std::vector<std::thread> threads;
  for (int c = 0; c < o.connections; ++c) {
    threads.emplace_back([&] {
      std::unique_ptr<MilterConnection> conn;
      for (long n; (n = next.fetch_add(1)) < o.messages;) {
        const auto s = std::lower_bound(sample.begin(), sample.end(), n);
        Outcome* keep = s != sample.end() && *s == n ? &sampled[static_cast<std::size_t>(s - sample.begin())] : nullptr;
        results[static_cast<std::size_t>(n)] =
            send_one(o, conn, messages[static_cast<std::size_t>(n) % messages.size()], n, keep);
      }
    });
  }
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const double cpu1 = o.pid ? process_cpu_seconds(o.pid) : 0, self1 = self_cpu_seconds();

  long errors = 0, refused = 0, wrong_count = 0;
  std::string first_error;
  std::vector<double> lat;
  lat.reserve(results.size());
  for (const Result& r : results) {
    if (r.reply == 0) {
      ++errors;
      if (first_error.empty()) first_error = r.error;
      continue;
    }
    if (r.reply != 'c' && r.reply != 'a') {
      ++refused;
      if (first_error.empty()) first_error = std::string("final reply '") + r.reply + "' (not continue/accept)";
    }
    if (o.expect_signatures >= 0 && r.signatures != o.expect_signatures) {
      if (!wrong_count++ && first_error.empty()) {
        first_error = std::to_string(r.signatures) + " DKIM-Signature fields inserted, expected " +
                      std::to_string(o.expect_signatures);
      }
    }
    lat.push_back(r.latency_ms);
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) -> double {
    if (lat.empty()) return NAN;
    return lat[std::min(lat.size() - 1, static_cast<std::size_t>(p * static_cast<double>(lat.size())))];
  };

  long verified = 0, verify_failed = 0;
  for (std::size_t i = 0; i < sample.size(); ++i) {
    const Outcome& out = sampled[i];
    if (out.reply != 'c' && out.reply != 'a') continue;  // counted above
    const Message& msg = messages[static_cast<std::size_t>(sample[i]) % messages.size()];
    const std::string text = signet::normalize_line_endings(signet::bench::rebuild(msg, out));
    auto parsed = signet::parse_message(text);
    bool ok = parsed.ok() && out.count("DKIM-Signature") > 0;
    std::string why = parsed.ok() ? "no DKIM-Signature" : parsed.error().message;
    if (parsed.ok()) {
      for (const auto& v : signet::verify_message(parsed->fields, parsed->body, *lookup,
                                                  signet::VerifyOptions{static_cast<std::int64_t>(std::time(nullptr)), 300})) {
        if (!v.pass()) ok = false, why = v.authentication_results();
      }
    }
    if (ok) {
      ++verified;
    } else if (!verify_failed++) {
      std::fprintf(stderr, "milter_bench: message %ld does not verify: %s\n", sample[i], why.c_str());
    }
  }

  const double n = static_cast<double>(o.messages);
  const double milter_ms = o.pid ? (cpu1 - cpu0) * 1000.0 / n : NAN;
  const double self_ms = (self1 - self0) * 1000.0 / n;
  const bool failed = errors || refused || wrong_count || verify_failed ||
                      (lookup && o.verify_sample > 0 && verified == 0);
  std::printf("%s%s: %ld msgs of %.0f bytes over %d connection%s%s: %.1f msgs/s, latency p50 %.2f ms p99 %.2f ms max "
              "%.2f ms, milter CPU %s ms/msg (generator %.3f ms/msg); %ld errors, %ld refused, %ld wrong signature "
              "counts, %ld/%zu verified%s%s\n",
              o.label.empty() ? "" : (o.label + " ").c_str(), o.socket.c_str(), o.messages, avg_bytes, o.connections,
              o.connections == 1 ? "" : "s", o.reuse ? " (reused)" : "", n / seconds, pct(0.50), pct(0.99),
              lat.empty() ? NAN : lat.back(), num(milter_ms).c_str(), self_ms, errors, refused, wrong_count, verified,
              sample.size(), first_error.empty() ? "" : "; first problem: ", first_error.c_str());
  std::printf("{\"label\": %s, \"socket\": %s, \"connections\": %d, \"reuse\": %s, \"messages\": %ld, "
              "\"message_bytes\": %.0f, \"seconds\": %s, \"msgs_per_s\": %s, \"latency_ms\": {\"p50\": %s, \"p99\": %s, "
              "\"max\": %s}, \"milter_cpu_ms_per_msg\": %s, \"generator_cpu_ms_per_msg\": %s, "
              "\"expect_signatures\": %d, \"wrong_signature_counts\": %ld, \"errors\": %ld, \"refused\": %ld, "
              "\"verified\": %ld, \"verify_failed\": %ld, \"ok\": %s}\n",
              json_string(o.label).c_str(), json_string(o.socket).c_str(), o.connections, o.reuse ? "true" : "false",
              o.messages, avg_bytes, num(seconds).c_str(), num(n / seconds).c_str(), num(pct(0.50)).c_str(),
              num(pct(0.99)).c_str(), num(lat.empty() ? NAN : lat.back()).c_str(), num(milter_ms).c_str(),
              num(self_ms).c_str(), o.expect_signatures, wrong_count, errors, refused, verified, verify_failed,
              failed ? "false" : "true");
  return failed ? 1 : 0;
}
