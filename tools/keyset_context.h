// tools/keyset_context.h — what the `signet key|dns|register|audit` commands
// share: the configuration (streams, rotation policy), the key directory
// (keystore/key_directory.h: its manifest, its lock, its transaction) and
// the clock.
//
// open(vm, mode): reads --config (default /etc/signet/signet.conf) and the
// key directory (--dir, else the configuration's key-directory); Write mode
// holds the directory's lock until the context is destroyed. --now TIME
// (RFC 3339, or a Unix time) injects the clock, for tests and dry runs.
// stream(name): the stream's domain, owner and rotation policy.
// clock_from(vm): the --now clock alone, for commands without a key directory.
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <string>

#include "base/result.h"
#include "conf/config.h"
#include "keystore/key_directory.h"
#include "keystore/lifecycle.h"

namespace signet::tools {

// --now TIME (RFC 3339 or Unix time) when given, else the real time.
Result<std::int64_t> clock_from(const boost::program_options::variables_map& vm);

class KeySetContext {
 public:
  static void add_options(boost::program_options::options_description& desc);
  static Result<KeySetContext> open(const boost::program_options::variables_map& vm, keystore::KeyDirectory::Mode mode);

  Result<keystore::StreamInfo> stream(const std::string& name) const;
  const keystore::Manifest& manifest() const { return dir.manifest(); }

  conf::Config config;
  keystore::KeyDirectory dir;
  std::int64_t now = 0;

 private:
  KeySetContext(conf::Config c, keystore::KeyDirectory d, std::int64_t t)
      : config(std::move(c)), dir(std::move(d)), now(t) {}
};

}  // namespace signet::tools
