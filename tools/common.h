// tools/common.h — what the signet subcommands share: reading stdin, the
// one-line error convention, durations, name checks.
//
// Exit codes: 0 success; 1 a verification failed; 2 bad input or usage, with
// exactly one line on stderr saying what, where, and what to do.
#pragma once

#include <boost/program_options.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "conf/values.h"

namespace signet::tools {

using conf::parse_duration;
using conf::valid_dns_name;

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitBadInput = 2;

// Prints "signet CMD: message" as one line (newlines in message flattened); returns 2.
int fail(std::string_view cmd, std::string_view message);

// All of stdin, binary-safe. nullopt (with *error set) past max_bytes.
std::optional<std::string> read_stdin(std::size_t max_bytes, std::string* error);

// Parses a subcommand's arguments into vm. Returns false after printing the
// options and `help_footer` when --help was given (the caller exits 0).
// Throws boost::program_options::error on unknown or malformed options; main()
// turns that into the one-line exit-2 error.
bool parse_args(const boost::program_options::options_description& desc, const std::vector<std::string>& args,
                boost::program_options::variables_map& vm, std::string_view help_footer);

// Words that are not options (FILE, `record '<TXT>'`): they go to the hidden
// option `name`, at most `max_count` of them (-1: any number; past it boost
// throws "too many positional options"). `hidden` holds that option (and any
// other option --help should not list).
struct Positional {
  std::string name;
  int max_count = -1;
  boost::program_options::options_description hidden;
};
// As above, with positional words; --help lists `desc` only.
bool parse_args(const boost::program_options::options_description& desc, const Positional& positional,
                const std::vector<std::string>& args, boost::program_options::variables_map& vm,
                std::string_view help_footer);

using SubcommandMain = int (*)(const std::vector<std::string>& args);
int sign_main(const std::vector<std::string>& args);
int verify_main(const std::vector<std::string>& args);
int keygen_main(const std::vector<std::string>& args);
int keyset_main(const std::vector<std::string>& args);
int key_main(const std::vector<std::string>& args);
int dns_main(const std::vector<std::string>& args);
int register_main(const std::vector<std::string>& args);
int inspect_main(const std::vector<std::string>& args);
int audit_main(const std::vector<std::string>& args);
int import_opendkim_main(const std::vector<std::string>& args);
int doctor_main(const std::vector<std::string>& args);
int dmarc_main(const std::vector<std::string>& args);
int ledger_main(const std::vector<std::string>& args);
int replay_main(const std::vector<std::string>& args);

}  // namespace signet::tools
