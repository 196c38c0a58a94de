// tests/unit/milter_fixture.h — a Runtime for the milter's unit tests: a key
// directory with one RSA-2048 and one Ed25519 key for example.com, a
// configuration with stream tx signing with both (trusted service
// submission, every message routed to tx), and a DNS map holding both keys'
// records, so what is signed can be verified.
// SessionFixture(extra_globals, stream_extra): configuration lines added to
// the global section and to [stream.tx]. run() feeds a Session one message;
// verify() checks the signatures over the message as the MTA sends it on.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "conf/config.h"
#include "keystore/key_file.h"
#include "milter/runtime.h"
#include "milter/session.h"
#include "signer/key_record.h"
#include "signer/message.h"
#include "signer/verifier.h"
#include "test_util.h"

namespace signet::testing {

using namespace signet::milter;

struct SessionFixture {
  std::string dir;
  MapLookup lookup;
  std::shared_ptr<const Runtime> runtime;

  explicit SessionFixture(const std::string& extra_globals = "", const std::string& stream_extra = "") {
    char tmpl[] = "/tmp/signet-session-XXXXXX";
    dir = mkdtemp(tmpl);
    mkdir((dir + "/example.com").c_str(), 0700);
    for (auto [sel, alg] : {std::pair{"tx-rsa", Algorithm::RsaSha256}, std::pair{"tx-ed", Algorithm::Ed25519Sha256}}) {
      auto k = PrivateKey::generate(alg, 2048).value();
      EXPECT_TRUE(keystore::write_private_key(dir + "/example.com/" + sel + ".key", k).ok());
      lookup.records[std::string(sel) + "._domainkey.example.com"] = {format_key_record(k)};
    }
    std::ofstream(dir + "/signet.conf") << "key-directory = " << dir << "\n"
                                        << "trusted-services = submission\nmax-headers = 50\n"
                                        << extra_globals << "[stream.tx]\ndomain = example.com\n"
                                        << "selector = tx-rsa\nselector = tx-ed\n" << stream_extra
                                        << "[rule.all]\nstream = tx\n";
    const std::string path = dir + "/signet.conf";
    const char* argv[] = {"signet-milter", "--config", path.c_str()};
    auto cfg = conf::load_config(3, argv);
    EXPECT_TRUE(cfg.ok()) << cfg.error().message;
    auto rows = conf::key_rows(cfg.value());
    EXPECT_TRUE(rows.ok()) << rows.error().message;
    auto keys = keystore::KeySnapshot::load(cfg->key_directory, rows.value());
    EXPECT_TRUE(keys.ok()) << keys.error().message;
    runtime = std::make_shared<const Runtime>(Runtime{std::move(cfg.value()), std::move(keys.value())});
  }

  // Feeds a message as an MTA would: fields split at the first colon, values
  // with their leading space (SMFIP_HDR_LEADSPC), folding with LF.
  EndResult run(Session& s, const std::vector<std::pair<std::string, std::string>>& fields, const std::string& body,
                Verdict* early = nullptr) {
    Verdict v = s.begin(runtime, "carol", "carol@example.com", "Q1");
    if (v == Verdict::Continue) {
      for (const auto& [n, val] : fields) s.header(n, val);
      v = s.end_of_headers("Q1", 1764150000, {});
    }
    if (v != Verdict::Continue) {
      if (early) *early = v;
      return EndResult{v, {}};
    }
    s.body(body);
    return s.end_of_message("Q1", 1764150000, {});
  }

  // The message as the MTA would send it on: our headers on top, CRLF.
  std::vector<VerifyResult> verify(const EndResult& r, const std::vector<std::pair<std::string, std::string>>& fields,
                                   const std::string& body) {
    std::string msg;
    for (const auto& h : r.headers) msg += h.name + ": " + h.value + "\r\n";
    for (const auto& [n, v] : fields) msg += n + ":" + v + "\r\n";
    msg = normalize_line_endings(msg + "\r\n" + body);
    auto parsed = parse_message(msg).value();
    return verify_message(parsed.fields, parsed.body, lookup, VerifyOptions{1764150000, 300});
  }
};

}  // namespace signet::testing
