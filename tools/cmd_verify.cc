// signet verify: check every DKIM-Signature on the message on stdin.
#include <boost/program_options.hpp>
#include <fmt/core.h>

#include <ctime>
#include <iostream>
#include <memory>

#include "keystore/txt_lookup.h"
#include "signer/message.h"
#include "signer/verifier.h"
#include "tools/common.h"

namespace po = boost::program_options;

namespace signet::tools {

int verify_main(const std::vector<std::string>& args) {
  po::options_description desc("signet verify [--keys FILE | --dns [--server ADDR[:PORT]]] < message");
  std::string keys_file, server;
  std::int64_t now = 0;
  desc.add_options()
      ("help,h", "show this help")
      ("keys", po::value(&keys_file), "file of 'NAME TXT \"value\"' key records instead of DNS")
      ("server", po::value(&server), "query this DNS server (IPv4 ADDR[:PORT]) instead of the system resolver")
      ("time", po::value(&now), "verification time as a Unix timestamp, for x= (default: now)");
  po::variables_map vm;
  if (!parse_args(desc, args, vm,
                  "Prints one Authentication-Results style line per signature; exit 0 only if\n"
                         "every signature passes, 1 if any does not (or there is none), 2 on bad input.\n"))
    return kExitOk;
  if (!vm.count("time")) now = static_cast<std::int64_t>(std::time(nullptr));

  std::unique_ptr<KeyLookup> lookup;
  if (!keys_file.empty()) {
    auto f = keystore::FileTxtLookup::load(keys_file);
    if (!f) return fail("verify", f.error().message);
    lookup = std::make_unique<keystore::FileTxtLookup>(std::move(f.value()));
  } else {
    lookup = std::make_unique<keystore::DnsTxtLookup>(server);
  }

  std::string error;
  auto raw = read_stdin(256u << 20, &error);
  if (!raw) return fail("verify", error);
  const std::string message = normalize_line_endings(*raw);
  auto parsed = parse_message(message);
  if (!parsed) return fail("verify", "input " + parsed.error().message);

  const auto results = verify_message(parsed->fields, parsed->body, *lookup, VerifyOptions{now, 300});
  if (results.empty()) {
    fmt::print("dkim=none (no DKIM-Signature header)\n");
    return kExitFailed;
  }
  bool all = true;
  for (const auto& r : results) {
    fmt::print("{}\n", r.authentication_results());
    all = all && r.pass();
  }
  return all ? kExitOk : kExitFailed;
}

}  // namespace signet::tools
