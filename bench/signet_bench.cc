// bench/signet_bench.cc — what signet costs on top of the primitive it wraps.
//
// Pairs, all measured in the same run:
//   body/{simple,relaxed}_canon_sha256  BodyHasher over a ~1 MiB email body,
//   body/raw_sha256                     vs. OpenSSL EVP SHA-256 over the same
//                                       bytes, both fed in 64 KiB chunks.
//   sign2k/{rsa2048,ed25519}/signet     MessageSigner end to end on a ~2 KB
//                                       message (10 fields + ~1.6 KB body),
//   sign2k/{rsa2048,ed25519}/bare       vs. one bare signature of a 32-byte
//                                       digest (EVP_PKEY_sign with a reused
//                                       context; crypto_sign_detached).
// A custom main() records each benchmark's real time per iteration while the
// console shows the usual table, then prints ratio = signet rate / bare rate
// (= bare time / signet time) and marks targets MISSED; the exit code stays 0.
//
// The inputs are generated deterministically (fixed-seed xorshift), so every
// run and every machine hashes the same bytes.
#include <benchmark/benchmark.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "canon/body.h"
#include "signer/digest.h"
#include "signer/key.h"
#include "signer/signer.h"

namespace {

using signet::canon::Canon;

constexpr std::size_t kBodyBytes = 1 << 20;   // the throughput corpus
constexpr std::size_t kChunk = 64 * 1024;     // what a milter typically hands over
constexpr std::size_t kSmallBody = 1600;      // body of the 2 KB message
constexpr std::int64_t kNow = 1715677950;     // t= (fixed: same work every run)

// ------------------------------------------------------------------ corpus

class Rng {
 public:
  explicit Rng(std::uint64_t seed) : s_(seed) {}
  std::uint64_t next() {
    s_ ^= s_ << 13;
    s_ ^= s_ >> 7;
    s_ ^= s_ << 17;
    return s_;
  }
  std::size_t below(std::size_t n) { return static_cast<std::size_t>(next() % n); }
  bool one_in(std::size_t n) { return below(n) == 0; }

 private:
  std::uint64_t s_;
};

constexpr std::array<std::string_view, 48> kWords = {
    "the",       "report",   "meeting",  "please",   "review",     "attached", "figures",
    "quarter",   "before",   "Thursday", "budget",   "team",       "project",  "update",
    "schedule",  "customer", "delivery", "invoice",  "approved",   "thanks",   "regards",
    "question",  "about",    "changes",  "should",   "would",      "could",    "server",
    "migration", "weekend",  "deadline", "proposal", "agreement",  "contract", "numbers",
    "revenue",   "forecast", "draft",    "final",    "version",    "comments", "office",
    "travel",    "expenses", "followup", "priority", "management", "resources"};
constexpr std::array<std::string_view, 6> kShortWords = {"a", "to", "of", "in", "is", "it"};
constexpr std::array<std::string_view, 4> kTrailing = {" ", "  ", "\t", " \t"};

// Text lines of 60-78 characters, words separated by single spaces, CRLF
// endings; about 1 line in 8 has one double space, 1 in 10 trailing
// whitespace, 1 in 12 is followed by a blank line (paragraphs), 1 in 40 by a
// whitespace-only line. Whole lines until at least `size` bytes.
std::string make_body(std::size_t size, std::uint64_t seed) {
  Rng rng(seed);
  std::string out;
  out.reserve(size + 128);
  std::string line;
  while (out.size() < size) {
    line.clear();
    const std::size_t target = 60 + rng.below(19);  // 60..78
    const bool double_space = rng.one_in(8);
    std::size_t double_at = 1 + rng.below(6);
    while (line.size() < target) {
      std::string_view w = kWords[rng.below(kWords.size())];
      const std::size_t sep = line.empty() ? 0 : 1;
      if (line.size() + sep + w.size() > 78) w = kShortWords[rng.below(kShortWords.size())];
      if (line.size() + sep + w.size() > 78) break;
      if (sep) {
        line += ' ';
        if (double_space && --double_at == 0 && line.size() + 1 + w.size() <= 78) line += ' ';
      }
      line += w;
    }
    if (rng.one_in(10)) line += kTrailing[rng.below(kTrailing.size())];
    out += line;
    out += "\r\n";
    if (rng.one_in(12)) out += "\r\n";
    if (rng.one_in(40)) out += " \t\r\n";
  }
  return out;
}

const std::string& big_body() {
  static const std::string body = make_body(kBodyBytes, 0x5157'4e45'5442'4e43ULL);
  return body;
}

// About 10 fields as a mail client and one relay write them (~450 bytes).
const std::vector<std::string>& message_fields() {
  static const std::vector<std::string> fields = {
      "Received: from mail.example.org (mail.example.org [192.0.2.10])\r\n"
      "\tby mx1.example.com (Postfix) with ESMTPS id 4VdR2k1xYqz9sWm\r\n"
      "\tfor <bob@example.com>; Tue, 14 May 2024 09:12:33 +0000 (UTC)",
      "Received: from [198.51.100.23] (unknown [198.51.100.23])\r\n"
      "\tby mail.example.org (Postfix) with ESMTPSA id 1A2B3C4D5E\r\n"
      "\tfor <bob@example.com>; Tue, 14 May 2024 09:12:31 +0000 (UTC)",
      "From: Alice Example <alice@example.com>",
      "To: Bob Example <bob@example.com>, carol@example.net",
      "Subject: Quarterly report: figures for review before Thursday's meeting",
      "Date: Tue, 14 May 2024 09:12:30 +0000",
      "Message-ID: <20240514091230.4f2a1c9e@mail.example.com>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=\"utf-8\"; format=flowed",
      "Content-Transfer-Encoding: 8bit",
  };
  return fields;
}

const std::string& small_body() {
  static const std::string body = make_body(kSmallBody, 0x2b7e'1516'28ae'd2a6ULL);
  return body;
}

// The 32-byte "digest" the bare signatures sign (its value does not matter).
signet::Sha256Digest fixed_digest() {
  signet::Sha256 sha;
  sha.write("signet bench");
  return sha.finish();
}

// ------------------------------------------------------------------ keys

struct Keys {
  std::optional<signet::PrivateKey> rsa;
  std::optional<signet::PrivateKey> ed25519;
  EVP_PKEY* bare_rsa = nullptr;
  unsigned char ed_pk[crypto_sign_PUBLICKEYBYTES] = {};
  unsigned char ed_sk[crypto_sign_SECRETKEYBYTES] = {};
};

Keys& keys() {
  static Keys k;
  return k;
}

bool make_keys() {
  Keys& k = keys();
  if (sodium_init() < 0) {
    std::fprintf(stderr, "signet_bench: sodium_init failed\n");
    return false;
  }
  auto rsa = signet::PrivateKey::generate(signet::Algorithm::RsaSha256, 2048);
  auto ed = signet::PrivateKey::generate(signet::Algorithm::Ed25519Sha256);
  if (!rsa || !ed) {
    std::fprintf(stderr, "signet_bench: key generation failed: %s\n",
                 (!rsa ? rsa.error() : ed.error()).message.c_str());
    return false;
  }
  k.rsa.emplace(std::move(rsa).value());
  k.ed25519.emplace(std::move(ed).value());
  // PrivateKey does not expose its EVP_PKEY: the bare RSA case gets its own.
  k.bare_rsa = EVP_RSA_gen(2048);
  if (k.bare_rsa == nullptr) {
    std::fprintf(stderr, "signet_bench: EVP_RSA_gen failed\n");
    return false;
  }
  crypto_sign_keypair(k.ed_pk, k.ed_sk);
  return true;
}

// ------------------------------------------------------------------ benchmarks

void BM_BodyCanonHash(benchmark::State& state, Canon canon) {
  const std::string_view body = big_body();
  for (auto _ : state) {
    signet::BodyHasher hasher(canon);
    for (std::size_t off = 0; off < body.size(); off += kChunk) hasher.update(body.substr(off, kChunk));
    signet::Sha256Digest d = hasher.finish();
    benchmark::DoNotOptimize(d);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

void BM_RawSha256(benchmark::State& state) {
  const std::string_view body = big_body();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  const EVP_MD* md = EVP_sha256();
  for (auto _ : state) {
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestInit_ex(ctx.get(), md, nullptr);
    for (std::size_t off = 0; off < body.size(); off += kChunk) {
      const std::string_view chunk = body.substr(off, kChunk);
      EVP_DigestUpdate(ctx.get(), chunk.data(), chunk.size());
    }
    EVP_DigestFinal_ex(ctx.get(), d, &len);
    benchmark::DoNotOptimize(d);
    benchmark::DoNotOptimize(len);
  }
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(body.size()));
}

void BM_Sign2K(benchmark::State& state, const signet::PrivateKey* key) {
  const std::vector<std::string>& fields = message_fields();
  const std::string& body = small_body();
  const signet::SignProfile profile;  // relaxed/relaxed, default header policy
  const std::vector<signet::SigningKey> signing_keys = {
      signet::SigningKey{key, "example.com", "sel2024", std::nullopt}};
  std::size_t message_bytes = body.size() + 2;  // + the empty separator line
  for (const std::string& f : fields) message_bytes += f.size() + 2;
  for (auto _ : state) {
    // As the milter does: the fields are stored once by the caller, the signer views them.
    signet::MessageSigner signer(profile, std::vector<std::string_view>(fields.begin(), fields.end()));
    signer.add_body(body);
    auto result = signer.finish(signing_keys, kNow);
    if (!result) {
      state.SkipWithError(result.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(result);
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["msg_bytes"] = static_cast<double>(message_bytes);
}

void BM_BareRsaSign(benchmark::State& state) {
  // Best case: one context, set up once, reused for every signature.
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new(keys().bare_rsa, nullptr),
                                                                   &EVP_PKEY_CTX_free);
  std::size_t max_len = 0;
  const signet::Sha256Digest digest = fixed_digest();
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 ||
      EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha256()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &max_len, digest.data(), digest.size()) != 1) {
    state.SkipWithError("OpenSSL RSA sign setup failed");
    return;
  }
  std::vector<unsigned char> sig(max_len);
  for (auto _ : state) {
    std::size_t len = sig.size();
    if (EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) != 1) {
      state.SkipWithError("EVP_PKEY_sign failed");
      break;
    }
    benchmark::DoNotOptimize(sig.data());
    benchmark::DoNotOptimize(len);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_BareEd25519Sign(benchmark::State& state) {
  const signet::Sha256Digest digest = fixed_digest();
  unsigned char sig[crypto_sign_BYTES];
  for (auto _ : state) {
    crypto_sign_detached(sig, nullptr, digest.data(), digest.size(), keys().ed_sk);
    benchmark::DoNotOptimize(sig);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

// ------------------------------------------------------------------ reporting

constexpr const char* kRelaxed = "body/relaxed_canon_sha256";
constexpr const char* kSimple = "body/simple_canon_sha256";
constexpr const char* kRawSha = "body/raw_sha256";
constexpr const char* kRsaSignet = "sign2k/rsa2048/signet";
constexpr const char* kRsaBare = "sign2k/rsa2048/bare";
constexpr const char* kEdSignet = "sign2k/ed25519/signet";
constexpr const char* kEdBare = "sign2k/ed25519/bare";

// The normal console table, plus each benchmark's mean real time per
// iteration (ns) over its iteration runs (several with --benchmark_repetitions).
class RecordingReporter final : public benchmark::ConsoleReporter {
 public:
  explicit RecordingReporter(OutputOptions opts) : ConsoleReporter(opts) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration || run.iterations == 0) continue;
      const double ns = run.GetAdjustedRealTime() / benchmark::GetTimeUnitMultiplier(run.time_unit) * 1e9;
      Acc& a = acc_[run.benchmark_name()];
      a.sum_ns += ns;
      ++a.n;
    }
    ConsoleReporter::ReportRuns(runs);
  }

  std::optional<double> ns_per_iter(const std::string& name) const {
    auto it = acc_.find(name);
    if (it == acc_.end() || it->second.n == 0) return std::nullopt;
    return it->second.sum_ns / it->second.n;
  }

 private:
  struct Acc {
    double sum_ns = 0;
    int n = 0;
  };
  std::map<std::string, Acc> acc_;
};

struct RatioLine {
  const char* label;
  const char* signet;
  const char* bare;
  std::optional<double> target;
};

void print_summary(const RecordingReporter& rep) {
  const RatioLine lines[] = {
      {"ratio relaxed canon+hash / raw sha256", kRelaxed, kRawSha, 0.80},
      {"ratio simple  canon+hash / raw sha256", kSimple, kRawSha, std::nullopt},
      {"ratio rsa-2048 sign 2KB / bare sign  ", kRsaSignet, kRsaBare, 0.90},
      {"ratio ed25519 sign 2KB / bare sign   ", kEdSignet, kEdBare, std::nullopt},
  };
  std::printf("\nsignet / bare (ratio = signet rate / bare rate = bare time / signet time, this run):\n");
  for (const RatioLine& l : lines) {
    const auto s = rep.ns_per_iter(l.signet);
    const auto b = rep.ns_per_iter(l.bare);
    if (!s || !b || *s <= 0) {
      std::printf("  %s : n/a (not run)\n", l.label);
      continue;
    }
    const double ratio = *b / *s;
    std::printf("  %s : %.2f", l.label, ratio);
    if (l.target) std::printf(" (target >= %.2f)  %s", *l.target, ratio >= *l.target ? "OK" : "MISSED");
    std::printf("\n");
  }
  const auto relaxed = rep.ns_per_iter(kRelaxed);
  const auto simple = rep.ns_per_iter(kSimple);
  const auto raw = rep.ns_per_iter(kRawSha);
  const auto mib_s = [](std::optional<double> ns) {
    return ns ? static_cast<double>(big_body().size()) / (1024.0 * 1024.0) / (*ns * 1e-9) : 0.0;
  };
  std::printf("  (body %zu bytes: relaxed %.0f MiB/s, simple %.0f MiB/s, raw sha256 %.0f MiB/s)\n",
              big_body().size(), mib_s(relaxed), mib_s(simple), mib_s(raw));
  std::fflush(stdout);
}

bool use_color() {
  if (isatty(STDOUT_FILENO) == 0) return false;
  const char* term = std::getenv("TERM");
  return term != nullptr && std::string_view(term) != "dumb";
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  if (!make_keys()) return 1;
  (void)big_body();  // generate the corpora before any timing
  (void)small_body();

  const auto us = benchmark::kMicrosecond;
  benchmark::RegisterBenchmark(kRelaxed, BM_BodyCanonHash, Canon::Relaxed)->Unit(us);
  benchmark::RegisterBenchmark(kSimple, BM_BodyCanonHash, Canon::Simple)->Unit(us);
  benchmark::RegisterBenchmark(kRawSha, BM_RawSha256)->Unit(us);
  benchmark::RegisterBenchmark(kRsaSignet, BM_Sign2K, &*keys().rsa)->Unit(us);
  benchmark::RegisterBenchmark(kRsaBare, BM_BareRsaSign)->Unit(us);
  benchmark::RegisterBenchmark(kEdSignet, BM_Sign2K, &*keys().ed25519)->Unit(us);
  benchmark::RegisterBenchmark(kEdBare, BM_BareEd25519Sign)->Unit(us);

  RecordingReporter reporter(use_color() ? benchmark::ConsoleReporter::OO_Color
                                         : benchmark::ConsoleReporter::OO_None);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  print_summary(reporter);
  benchmark::Shutdown();
  EVP_PKEY_free(keys().bare_rsa);
  return 0;  // a missed target is reported, not an error
}
