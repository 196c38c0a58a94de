// signet keygen: a new private key file and its DNS TXT record.
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <iostream>

#include "keystore/key_file.h"
#include "signer/key_record.h"
#include "tools/common.h"

namespace po = boost::program_options;

namespace signet::tools {

int keygen_main(const std::vector<std::string>& args) {
  po::options_description desc("signet keygen --algorithm rsa|ed25519 [--bits 2048] --out FILE");
  std::string algorithm = "rsa", out;
  int bits = kDefaultRsaBits;
  desc.add_options()
      ("help,h", "show this help")
      ("algorithm,a", po::value(&algorithm), "rsa (default) or ed25519")
      ("bits,b", po::value(&bits), "RSA modulus size: 2048 (default), 3072 or 4096; 1024 is the minimum")
      ("out,o", po::value(&out), "where to write the private key (created mode 0600; never overwritten)");
  po::variables_map vm;
  if (!parse_args(desc, args, vm,
                  "Prints the TXT record value, split into quoted strings of at most 255 bytes.\n"
                  "The key is not added to any key directory: use it with `signet sign --key`, or\n"
                  "as DIR/<domain>/<selector>.key for a stream's `selector =` line. For keys the\n"
                  "daemon rotates on a schedule, use `signet key new` instead.\n"))
    return kExitOk;
  if (out.empty()) return fail("keygen", "--out FILE is required");
  const auto a = parse_key_type(algorithm);
  if (!a) return fail("keygen", "--algorithm " + algorithm + ": expected rsa or ed25519");
  if (*a == Algorithm::Ed25519Sha256 && vm.count("bits")) {
    return fail("keygen", "--bits applies to rsa only; ed25519 keys are 256 bits");
  }
  auto key = PrivateKey::generate(*a, bits);
  if (!key) return fail("keygen", key.error().message);
  if (Status s = keystore::write_private_key(out, *key); !s) return fail("keygen", s.error().message);
  fmt::print("{}\n", quote_txt_strings(format_key_record(*key)));
  return kExitOk;
}

}  // namespace signet::tools
