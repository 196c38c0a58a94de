// pkcs11_bench: one DKIM signature (sign_digest over a SHA-256 digest) with
// a key in a PKCS#11 token against the same algorithm with a file key, in
// one run (`make bench`). The token is SoftHSM2, made in a temp directory:
// a software token, so this measures the PKCS#11 path's own cost (dlopen'ed
// module, session pool, C_SignInit + C_Sign, SoftHSM2's object store and its
// OpenSSL), not an HSM's: a network or PCIe HSM adds its round trip and its
// own signing speed, and is what an operator must measure on their own.
//   BM_FileKeySign/rsa|ed25519    signer/key.h with the key in memory
//   BM_TokenKeySign/rsa|ed25519   hsm/pkcs11.h through SoftHSM2
// Threads(1) and Threads(2): the session pool lets signatures run at once.
#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <optional>
#include <string>

#include "hsm/pkcs11.h"
#include "signer/digest.h"
#include "signer/key.h"

namespace {

constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";

struct Keys {
  std::optional<signet::PrivateKey> file_rsa, file_ed, token_rsa, token_ed;
};
Keys keys;

bool make_token_keys() {
  char tmpl[] = "/tmp/signet-pkcs11-bench-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  const std::string tokens = dir + "/tokens";
  ::mkdir(tokens.c_str(), 0700);
  std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << tokens
                                        << "\nobjectstore.backend = file\nlog.level = ERROR\n";
  ::setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
  if (std::system("softhsm2-util --init-token --free --label bench --pin 1234 --so-pin 12345678 >/dev/null") != 0) {
    std::fprintf(stderr, "pkcs11_bench: softhsm2-util failed (Debian softhsm2)\n");
    return false;
  }
  const std::string base = std::string("pkcs11:token=bench;object=");
  const std::string query = std::string("?module-path=") + kModule + "&pin-value=1234";
  auto rsa = signet::hsm::generate_key(signet::hsm::Pkcs11Uri::parse(base + "rsa" + query).value(),
                                       signet::Algorithm::RsaSha256, 2048);
  auto ed = signet::hsm::generate_key(signet::hsm::Pkcs11Uri::parse(base + "ed" + query).value(),
                                      signet::Algorithm::Ed25519Sha256);
  if (!rsa || !ed) {
    std::fprintf(stderr, "pkcs11_bench: %s\n", (!rsa ? rsa.error() : ed.error()).message.c_str());
    return false;
  }
  keys.token_rsa.emplace(std::move(rsa).value());
  keys.token_ed.emplace(std::move(ed).value());
  keys.file_rsa.emplace(signet::PrivateKey::generate(signet::Algorithm::RsaSha256, 2048).value());
  keys.file_ed.emplace(signet::PrivateKey::generate(signet::Algorithm::Ed25519Sha256).value());
  return true;
}

void BM_Sign(benchmark::State& state, const std::optional<signet::PrivateKey>* key) {
  signet::Sha256 sha;
  sha.write("signet pkcs11 bench");
  const signet::Sha256Digest digest = sha.finish();
  for (auto _ : state) {
    auto sig = (*key)->sign_digest(digest);
    if (!sig) {
      state.SkipWithError(sig.error().message.c_str());
      break;
    }
    benchmark::DoNotOptimize(sig);
  }
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  if (!make_token_keys()) return 1;
  for (auto [name, key] : {std::pair{"BM_FileKeySign/rsa", &keys.file_rsa}, std::pair{"BM_TokenKeySign/rsa", &keys.token_rsa},
                           std::pair{"BM_FileKeySign/ed25519", &keys.file_ed},
                           std::pair{"BM_TokenKeySign/ed25519", &keys.token_ed}}) {
    benchmark::RegisterBenchmark(name, BM_Sign, key)->Threads(1)->Threads(2)->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The token keys go while the module is still loaded: left to the static
  // destructors, their sessions were closed after SoftHSM2's own had run, and
  // C_CloseSession crashed at exit (make bench stopped there).
  keys = Keys{};
  return 0;
}
