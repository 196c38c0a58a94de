// limits — the bare cost of what a DKIM signer cannot avoid, measured with
// OpenSSL and libsodium directly (not signet's code), so the milter figures
// can be stated as ratios to it:
//   RSA-2048 signs/s (PKCS#1 v1.5 over a SHA-256 digest, EVP_PKEY_sign) and
//   Ed25519 signs/s (libsodium crypto_sign_detached over 300 bytes, the size
//   of a signed header block) at 1 process and at 2 (two forked workers
//   running at once, their rates summed), and SHA-256 bytes/s on one core
//   (EVP_Digest over a 1 MB buffer, as a 1 MB body is hashed). Each both as
//   a wall-clock rate and as CPU time per operation: on a shared machine the
//   first falls with other load, the second is the cost.
//
//   limits [--seconds S]     (each measurement runs S seconds, default 1)
//
// Prints one JSON line. Exit 1 (with a message) when a primitive fails.
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "limits: %s failed\n", what);
  std::exit(1);
}

// What one worker measured: operations per wall-clock second (the rate on
// this machine as it is) and CPU milliseconds per operation (the cost, which
// other load on a shared machine does not inflate).
struct Meas {
  double per_s = 0, cpu_ms = 0;
};

double cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

template <typename Op>
Meas rate(double seconds, Op op) {
  const auto start = Clock::now();
  const double cpu0 = cpu_seconds();
  long n = 0;
  double elapsed = 0;
  do {
    for (int i = 0; i < 16; ++i) op();
    n += 16;
    elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  } while (elapsed < seconds);
  return {static_cast<double>(n) / elapsed, (cpu_seconds() - cpu0) * 1000.0 / static_cast<double>(n)};
}

EVP_PKEY* rsa_key() {
  EVP_PKEY* key = EVP_RSA_gen(2048);
  if (!key) die("RSA-2048 key generation");
  return key;
}

Meas rsa_rate(EVP_PKEY* key, double seconds) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(key, nullptr);
  if (!ctx || EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
      EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0) {
    die("RSA sign setup");
  }
  unsigned char digest[32] = {1, 2, 3};
  unsigned char sig[512];
  const Meas r = rate(seconds, [&] {
    std::size_t len = sizeof sig;
    if (EVP_PKEY_sign(ctx, sig, &len, digest, sizeof digest) <= 0) die("RSA sign");
    digest[0]++;
  });
  EVP_PKEY_CTX_free(ctx);
  return r;
}

Meas ed25519_rate(double seconds) {
  unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(pk, sk);
  unsigned char msg[300] = {0}, sig[crypto_sign_BYTES];
  return rate(seconds, [&] {
    crypto_sign_detached(sig, nullptr, msg, sizeof msg, sk);
    msg[0]++;
  });
}

// Per 1 MB digest.
Meas sha256_1mb(double seconds) {
  std::vector<unsigned char> buf(1 << 20, 'a');
  unsigned char md[32];
  return rate(seconds, [&] {
    if (EVP_Digest(buf.data(), buf.size(), md, nullptr, EVP_sha256(), nullptr) != 1) die("SHA-256");
    buf[0] = md[0];
  });
}

// `procs` forked workers running op at once: their rates summed, their CPU
// per operation averaged. Each worker writes its Meas to a pipe; the key is
// made before the fork (shared, as a multi-process signer would share it).
template <typename Op>
Meas parallel_rate(int procs, Op op) {
  int fds[2];
  if (pipe(fds) != 0) die("pipe");
  std::vector<pid_t> kids;
  for (int i = 0; i < procs; ++i) {
    const pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
      const Meas r = op();
      if (write(fds[1], &r, sizeof r) != sizeof r) _exit(1);
      _exit(0);
    }
    kids.push_back(pid);
  }
  close(fds[1]);
  Meas sum, r;
  int got = 0;
  while (read(fds[0], &r, sizeof r) == sizeof r) sum.per_s += r.per_s, sum.cpu_ms += r.cpu_ms / procs, ++got;
  close(fds[0]);
  for (pid_t k : kids) waitpid(k, nullptr, 0);
  if (got != procs) die("a worker");
  return sum;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 1.0;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: limits [--seconds S]\n");
      return 2;
    }
  }
  if (!(seconds > 0)) {
    std::fprintf(stderr, "limits: --seconds must be > 0\n");
    return 2;
  }
  if (sodium_init() < 0) die("sodium_init");
  EVP_PKEY* key = rsa_key();
  const Meas rsa1 = parallel_rate(1, [&] { return rsa_rate(key, seconds); });
  const Meas rsa2 = parallel_rate(2, [&] { return rsa_rate(key, seconds); });
  const Meas ed1 = parallel_rate(1, [&] { return ed25519_rate(seconds); });
  const Meas ed2 = parallel_rate(2, [&] { return ed25519_rate(seconds); });
  const Meas sha = parallel_rate(1, [&] { return sha256_1mb(seconds); });
  EVP_PKEY_free(key);
  // *_per_s: wall-clock rates (what this machine, as loaded, sustains);
  // *_cpu_ms: CPU per operation (the cost the milter's CPU is compared to).
  std::printf("{\"rsa2048_signs_per_s_1p\": %.1f, \"rsa2048_signs_per_s_2p\": %.1f, "
              "\"ed25519_signs_per_s_1p\": %.1f, \"ed25519_signs_per_s_2p\": %.1f, "
              "\"sha256_bytes_per_s\": %.0f, \"rsa2048_sign_ms\": %.4f, \"ed25519_sign_ms\": %.4f, "
              "\"sha256_1mb_ms\": %.4f, \"rsa2048_sign_cpu_ms\": %.4f, \"ed25519_sign_cpu_ms\": %.4f, "
              "\"sha256_1mb_cpu_ms\": %.4f, \"openssl\": \"%s\", \"libsodium\": \"%s\", \"seconds_each\": %.2f}\n",
              rsa1.per_s, rsa2.per_s, ed1.per_s, ed2.per_s, sha.per_s * 1048576.0, 1000.0 / rsa1.per_s,
              1000.0 / ed1.per_s, 1000.0 / sha.per_s, rsa1.cpu_ms, ed1.cpu_ms, sha.cpu_ms,
              OpenSSL_version(OPENSSL_VERSION), sodium_version_string(), seconds);
  return 0;
}
