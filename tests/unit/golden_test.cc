// The milter's signing path against recorded goldens: every corpus message,
// fed to a Session the way an MTA feeds it (fields split at the colon, values
// with their leading space and LF folding, the body in 64 KB chunks), signed
// with fixed keys (tests/golden) at a fixed time, must yield the same
// DKIM-Signature headers byte for byte as tests/golden/milter-signatures.txt.
// RSASSA-PKCS1-v1_5 and Ed25519 are deterministic, so a refactor that changes
// any byte of what is signed or how it is written fails here.
// SIGNET_REGENERATE_GOLDEN=1 rewrites the golden file instead of comparing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "milter/session.h"
#include "signer/message.h"
#include "test_util.h"

using namespace signet;
using namespace signet::milter;

namespace {

constexpr std::int64_t kNow = 1764150000;

std::string golden_dir() { return std::string(SIGNET_VECTORS_DIR) + "/../golden"; }

// CR made visible, so the golden file is plain LF text whatever git does.
std::string escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\r') {
      out += "\\r";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::shared_ptr<const Runtime> runtime_for(const std::string& dir, const std::string& canon) {
  namespace fs = std::filesystem;
  fs::create_directories(dir + "/example.com");
  for (const char* name : {"golden-rsa.key", "golden-ed25519.key"}) {
    const std::string to = dir + "/example.com/" + name;
    fs::copy_file(golden_dir() + "/" + name, to, fs::copy_options::overwrite_existing);
    chmod(to.c_str(), 0600);
  }
  fs::rename(dir + "/example.com/golden-ed25519.key", dir + "/example.com/golden-ed.key");
  std::ofstream(dir + "/signet.conf") << "key-directory = " << dir << "\ntrusted-services = submission\n"
                                      << "dns-check = false\n"
                                      << "[stream.tx]\ndomain = example.com\nselector = golden-rsa\n"
                                      << "selector = golden-ed\nexpire = 7d\ncanonicalization = " << canon
                                      << "\n[rule.all]\nstream = tx\n";
  const std::string conf = dir + "/signet.conf";
  auto rt = load_runtime({"signet-milter", "--config", conf});
  EXPECT_TRUE(rt.ok()) << (rt.ok() ? "" : rt.error().message);
  return rt.ok() ? rt.value() : nullptr;
}

// What the Session makes of one corpus message: its headers, or its verdict.
std::string sign_through_session(const std::shared_ptr<const Runtime>& rt, const std::string& raw) {
  const std::string msg = normalize_line_endings(raw);
  auto parsed = parse_message(msg);
  if (!parsed) return "unparsable: " + parsed.error().message + "\n";
  Session s("192.0.2.1", "submission");
  if (s.begin(rt, "", "a@example.com", "GOLD") != Verdict::Continue) return "not trusted\n";
  for (std::string_view f : parsed->fields) {
    const std::size_t colon = f.find(':');
    std::string value(f.substr(colon + 1));
    // The MTA hands folded values with LF line breaks.
    for (std::size_t p; (p = value.find("\r\n")) != std::string::npos;) value.erase(p, 1);
    s.header(f.substr(0, colon), value);
  }
  if (Verdict v = s.end_of_headers("GOLD", kNow, {}); v != Verdict::Continue) {
    return std::string("verdict at end of headers: ") + (v == Verdict::Accept ? "accept" : "tempfail") + "\n";
  }
  constexpr std::size_t kChunk = 65535;
  for (std::size_t off = 0; off < parsed->body.size(); off += kChunk) s.body(parsed->body.substr(off, kChunk));
  const EndResult r = s.end_of_message("GOLD", kNow, {});
  std::string out;
  if (r.headers.empty()) out += std::string("no headers, verdict ") + (r.verdict == Verdict::Tempfail ? "tempfail" : "accept") + "\n";
  for (const auto& h : r.headers) out += escape(h.name + ": " + h.value) + "\n";
  return out;
}

}  // namespace

TEST(GoldenSignatures, MilterSessionOutputIsByteIdenticalToTheRecordedGolden) {
  char tmpl[] = "/tmp/signet-golden-XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  std::string got;
  for (const std::string canon : {"relaxed/relaxed", "simple/simple"}) {
    auto rt = runtime_for(dir + "/" + canon.substr(0, canon.find('/')), canon);
    ASSERT_TRUE(rt);
    for (const std::string& path : signet::testing::corpus_files()) {
      got += "== " + path.substr(path.rfind('/') + 1) + " " + canon + "\n";
      got += sign_through_session(rt, signet::testing::read_file(path));
    }
  }
  std::filesystem::remove_all(dir);
  const std::string golden_path = golden_dir() + "/milter-signatures.txt";
  if (std::getenv("SIGNET_REGENERATE_GOLDEN")) {
    std::ofstream(golden_path, std::ios::binary) << got;
    GTEST_SKIP() << "regenerated " << golden_path;
  }
  const std::string golden = signet::testing::read_file(golden_path);
  ASSERT_FALSE(golden.empty()) << golden_path << " is missing: run with SIGNET_REGENERATE_GOLDEN=1 on a known-good build";
  // Line by line, so a failure names the message and the first differing line.
  std::size_t a = 0, b = 0, line = 1;
  std::string where;
  while (a < golden.size() || b < got.size()) {
    const std::size_t ea = std::min(golden.find('\n', a), golden.size());
    const std::size_t eb = std::min(got.find('\n', b), got.size());
    const std::string gl = golden.substr(a, ea - a), nl = got.substr(b, eb - b);
    if (gl.rfind("== ", 0) == 0) where = gl;
    ASSERT_EQ(gl, nl) << "first difference at line " << line << " (" << where << ")";
    a = ea + 1;
    b = eb + 1;
    ++line;
  }
}
