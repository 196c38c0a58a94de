// The milter conversation as bytes from the MTA (milter/mta_connection.h):
// what signet-milter's socket reads, before anything else looks at it.
//
// Input: one byte choosing how the bytes arrive (0: all at once, else pieces
// of that many bytes, as a socket may deliver them), then the bytes: packets
// (4-byte big-endian length, command, data) or anything else. The Runtime is
// built once: stream tx (example.com) with an rsa-1024 and an ed25519 key,
// trusted service submission, max-header-bytes 4096 (so the packet limit is
// that + 4096 + 1, as signet-milter sets it).
// Checks, beyond never crashing or leaking:
//   - consume() never claims more than it was given, and when it stops
//     short it asks for more than is left (no whole packet left behind);
//   - every reply is a whole packet whose command is one signet sends
//     (O c a t i), an 'O' only for an 'O', each 'i' an index-0 insertion of a
//     DKIM-Signature;
//   - the replies' commands are the same whether the bytes come at once or in
//     pieces (the framing does not change what is answered);
//   - after Close nothing more is read; closed() afterwards never throws.
#include <sys/stat.h>

#include <atomic>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/big_endian.h"
#include "fuzz_util.h"
#include "keystore/key_file.h"
#include "milter/log.h"
#include "milter/mta_connection.h"
#include "milter/runtime.h"

using namespace signet;
using namespace signet::milter;

namespace {

void quiet(std::string_view) {}

struct World {
  signet::fuzz::TempDir tmp{"milter-wire"};
  RuntimeHolder holder;
  std::size_t max_packet = 0;

  World() {
    Log::capture(quiet);
    const std::string keys = tmp.path() + "/keys";
    mkdir(keys.c_str(), 0700);
    mkdir((keys + "/example.com").c_str(), 0700);
    for (auto [sel, alg] : {std::pair{"rsa", Algorithm::RsaSha256}, std::pair{"ed", Algorithm::Ed25519Sha256}}) {
      auto k = PrivateKey::generate(alg, 1024);
      FUZZ_CHECK(k.ok(), "key generation");
      FUZZ_CHECK(keystore::write_private_key(keys + "/example.com/" + sel + ".key", k.value()).ok(), "key file");
    }
    const std::string path = tmp.path() + "/signet.conf";
    std::ofstream(path) << "key-directory = " << keys
                        << "\ntrusted-services = submission\nmax-header-bytes = 4096\n"
                           "[stream.tx]\ndomain = example.com\nselector = rsa\nselector = ed\n[rule.all]\nstream = tx\n";
    auto rt = load_runtime({"signet-milter", "--config", path});
    FUZZ_CHECK(rt.ok(), rt ? "" : rt.error().message);
    holder.replace(std::move(rt.value()));
    max_packet = 4096 + 4096 + 1;
  }
};

// The replies' commands; checks each packet as it goes.
std::string reply_commands(std::string_view out, std::string_view input) {
  std::string cmds;
  while (!out.empty()) {
    FUZZ_CHECK(out.size() >= 5, "a reply shorter than a packet");
    const std::uint32_t len = read_u32_be(out, 0);
    FUZZ_CHECK(len >= 1 && out.size() >= 4 + len, "a reply whose length runs past the output");
    const char cmd = out[4];
    const std::string_view data = out.substr(5, len - 1);
    FUZZ_CHECK(std::string_view("Ocati").find(cmd) != std::string_view::npos,
               std::string("a reply command signet never sends: ") + cmd);
    if (cmd == 'O') FUZZ_CHECK(input.find('O') != std::string_view::npos, "an 'O' reply without an 'O' command");
    if (cmd == 'i') {
      FUZZ_CHECK(data.size() > 4 && read_u32_be(data, 0) == 0, "an insertion not at index 0");
      FUZZ_CHECK(data.substr(4, 15) == std::string_view("DKIM-Signature\0", 15), "an insertion of another field");
      FUZZ_CHECK(data.back() == '\0', "an insertion whose value is not NUL-terminated");
    }
    cmds.push_back(cmd);
    out.remove_prefix(4 + len);
  }
  return cmds;
}

// Feeds `bytes` in pieces of `step`, as milter/server.cc does with what it reads.
std::string converse(World& w, std::string_view bytes, std::size_t step) {
  std::atomic<int> open{1};
  MtaConnection conn(w.holder, open, 1);
  std::string buffered, out;
  const std::string_view input = bytes;
  while (!bytes.empty()) {
    const std::size_t k = std::min(step, bytes.size());
    buffered.append(bytes.substr(0, k));
    bytes.remove_prefix(k);
    const MtaConnection::Consumed c = conn.consume(buffered, w.max_packet, out);
    FUZZ_CHECK(c.bytes <= buffered.size(), "consumed more than given");
    buffered.erase(0, c.bytes);
    if (c.next == MtaConnection::Next::Close) break;
    FUZZ_CHECK(c.need >= kPacketLengthBytes, "asks for less than a length");
    FUZZ_CHECK(buffered.empty() || c.need > buffered.size(), "a whole packet left unconsumed");
  }
  conn.closed(kAborted);
  return reply_commands(out, input);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World w;
  if (size == 0) return 0;
  const std::size_t step = data[0] == 0 ? SIZE_MAX : data[0];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const std::string whole = converse(w, bytes, SIZE_MAX);
  if (step != SIZE_MAX) {
    FUZZ_CHECK(converse(w, bytes, step) == whole, "pieces of " + std::to_string(step) + " bytes answered otherwise");
  }
  return 0;
}
