// keystore/: the key set on disk (manifest), its snapshot, and which key signs when.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include "base/time.h"
#include "keystore/atomic_file.h"
#include "keystore/key_file.h"
#include "keystore/manifest.h"
#include "keystore/snapshot.h"
#include "test_util.h"

using namespace signet;
using namespace signet::keystore;

namespace {

struct KeyDir {
  std::string dir = signet::testing::temp_dir("keystore");
  KeyDir() { mkdir((dir + "/example.com").c_str(), 0700); }
  // Writes a key file and returns its manifest row (times in seconds).
  KeyRow key(const std::string& selector, Algorithm a, std::int64_t from, std::optional<std::int64_t> until,
               const std::string& stream = "tx") {
    auto k = PrivateKey::generate(a, 1024).value();
    const std::string file = "example.com/" + selector + ".key";
    EXPECT_TRUE(write_private_key(dir + "/" + file, k, true).ok());
    KeyRow e;
    e.stream = stream;
    e.domain = "example.com";
    e.selector = selector;
    e.algorithm = a;
    e.bits = k.bits();
    e.owner = "test";
    e.file = file;
    e.created = e.published_at = from - 100;
    e.window = Window::scheduled(from, until);
    e.retire_at = until ? std::optional<std::int64_t>(*until + 1000) : std::nullopt;
    return e;
  }
  Result<std::shared_ptr<const KeySnapshot>> load(const Manifest& m, LoadOptions o = {},
                                                  const KeySnapshot* previous = nullptr) {
    if (Status s = write_file_atomic(dir, kManifestName, format_manifest(m)); !s) return s.error();
    auto rows = read_manifest(dir);
    if (!rows) return rows.error();
    if (Status s = check_manifest(rows.value()); !s) return s.error();
    return KeySnapshot::load(dir, rows->keys, o, previous);
  }
  void write_text(const std::string& text) { std::ofstream(dir + "/manifest") << text; }
};

std::vector<std::string> selectors(const KeySnapshot& s, std::int64_t now, const std::string& stream = "tx") {
  std::vector<std::string> out;
  for (const auto& k : s.keys_for(stream, now)) out.push_back(k.selector);
  return out;
}

using V = std::vector<std::string>;

}  // namespace

TEST(KeyWindows, CutoverHappensAtTheInstantNotBeforeOrAfter) {
  KeyDir d;
  auto snap = d.load(Manifest{{d.key("a", Algorithm::Ed25519Sha256, 1000, 2000),
                               d.key("b", Algorithm::Ed25519Sha256, 2000, std::nullopt)}});
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(selectors(**snap, 999), V{});
  EXPECT_EQ(selectors(**snap, 1000), V{"a"});
  EXPECT_EQ(selectors(**snap, 1001), V{"a"});
  EXPECT_EQ(selectors(**snap, 1999), V{"a"});
  EXPECT_EQ(selectors(**snap, 2000), V{"b"});
  EXPECT_EQ(selectors(**snap, 2001), V{"b"});
  EXPECT_EQ(selectors(**snap, 9'000'000'000), V{"b"});
}

TEST(KeyWindows, WhereWindowsOverlapTheNewerSigns) {
  KeyDir d;
  auto snap = d.load(Manifest{{d.key("old", Algorithm::Ed25519Sha256, 1000, 3000),
                               d.key("new", Algorithm::Ed25519Sha256, 2000, std::nullopt)}});
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(selectors(**snap, 1999), V{"old"});
  EXPECT_EQ(selectors(**snap, 2000), V{"new"});
  EXPECT_EQ(selectors(**snap, 2999), V{"new"});
}

TEST(KeyWindows, EachAlgorithmHasItsOwnScheduleRsaFirst) {
  KeyDir d;
  auto snap = d.load(Manifest{{d.key("ed1", Algorithm::Ed25519Sha256, 1000, 2000),
                               d.key("rsa1", Algorithm::RsaSha256, 1000, 3000),
                               d.key("ed2", Algorithm::Ed25519Sha256, 2000, std::nullopt)}});
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(selectors(**snap, 1500), (V{"rsa1", "ed1"}));
  EXPECT_EQ(selectors(**snap, 2000), (V{"rsa1", "ed2"}));
  EXPECT_EQ(selectors(**snap, 3000), V{"ed2"});
}

TEST(KeyWindows, GapsLeaveNoKeyAndAreWarnedAboutAhead) {
  KeyDir d;
  auto snap = d.load(Manifest{{d.key("a", Algorithm::Ed25519Sha256, 1000, 2000),
                               d.key("b", Algorithm::Ed25519Sha256, 2500, 4000)}});
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(selectors(**snap, 2200), V{});
  const auto gaps = (*snap)->gaps(1500);
  ASSERT_EQ(gaps.size(), 2u);
  EXPECT_NE(gaps[0].find("from 1970-01-01T00:33:20Z to 1970-01-01T00:41:40Z"), std::string::npos) << gaps[0];
  EXPECT_NE(gaps[1].find("from 1970-01-01T01:06:40Z on"), std::string::npos) << gaps[1];
  EXPECT_TRUE((*snap)->gaps(500).size() == 3u);  // before the first window too
}

TEST(KeyWindows, OverlapSigningAddsTheOutgoingKeyForAWhile) {
  KeyDir d;
  LoadOptions o;
  o.overlap_signing = 600;
  auto a = d.key("a", Algorithm::Ed25519Sha256, 1000, 2000);
  a.retire_at = 2300;
  auto snap = d.load(Manifest{{a, d.key("b", Algorithm::Ed25519Sha256, 2000, std::nullopt)}}, o);
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ(selectors(**snap, 1999), V{"a"});
  EXPECT_EQ(selectors(**snap, 2000), (V{"b", "a"}));
  EXPECT_EQ(selectors(**snap, 2299), (V{"b", "a"}));
  EXPECT_EQ(selectors(**snap, 2300), V{"b"});  // a's record is gone: it must not sign
  EXPECT_EQ((*snap)->next_change(2000), 2300);
}

TEST(KeyWindows, NextChangeIsTheNextScheduledInstant) {
  KeyDir d;
  auto snap = d.load(Manifest{{d.key("a", Algorithm::Ed25519Sha256, 1000, 2000),
                               d.key("b", Algorithm::Ed25519Sha256, 2000, std::nullopt)}});
  ASSERT_TRUE(snap.ok());
  EXPECT_EQ((*snap)->next_change(500), 1000);
  EXPECT_EQ((*snap)->next_change(1000), 2000);
  EXPECT_EQ((*snap)->next_change(1999), 2000);
  EXPECT_EQ((*snap)->next_change(2000), 3000);  // a's retire-at
}

TEST(KeyWindows, RetiredKeysNeverSignButKeepTheirSelector) {
  KeyDir d;
  auto old = d.key("old", Algorithm::Ed25519Sha256, 1000, 2000);
  old.retired_at = 3000;
  unlink((d.dir + "/" + old.file).c_str());  // retiring destroys the private key
  auto snap = d.load(Manifest{{old, d.key("cur", Algorithm::Ed25519Sha256, 2000, std::nullopt)}});
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(selectors(**snap, 1500), V{});
  EXPECT_EQ(selectors(**snap, 2500), V{"cur"});
}

TEST(Manifest, FormatThenParseGivesTheSameEntries) {
  KeyDir d;
  Manifest m{{d.key("a", Algorithm::Ed25519Sha256, 1795689000, 1796000000),
              d.key("b", Algorithm::RsaSha256, 1796000000, std::nullopt)}};
  auto back = parse_manifest(format_manifest(m), "m");
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->keys.size(), 2u);
  EXPECT_TRUE(back->keys[0] == m.keys[0]);
  EXPECT_TRUE(back->keys[1] == m.keys[1]);
  EXPECT_EQ(rfc3339::format(1795689000), "2026-11-26T10:30:00Z");
  EXPECT_EQ(rfc3339::parse("2026-11-26T10:30:00Z"), 1795689000);
  EXPECT_FALSE(rfc3339::parse("2026-02-31T00:00:00Z").has_value());
}

TEST(Manifest, WriteIsAtomicAndLeavesNoTemporaryFile) {
  KeyDir d;
  ASSERT_TRUE(write_file_atomic(d.dir, kManifestName,
                                format_manifest(Manifest{{d.key("a", Algorithm::Ed25519Sha256, 1000, std::nullopt)}}))
                  .ok());
  int files = 0;
  if (DIR* dir = opendir(d.dir.c_str())) {
    while (dirent* e = readdir(dir)) files += std::string(e->d_name).find(".tmp") != std::string::npos;
    closedir(dir);
  }
  EXPECT_EQ(files, 0);
}

// The bad key sets of the issue: each refused whole, with where and why.
class BadKeySet : public ::testing::Test {
 protected:
  KeyDir d;
  KeyRow a = d.key("a", Algorithm::Ed25519Sha256, 1000, 2000);
  KeyRow b = d.key("b", Algorithm::Ed25519Sha256, 2000, std::nullopt);

  std::string refusal_of_text(const std::string& text) {
    d.write_text(text);
    auto snap = load_key_directory(d.dir, {});
    return snap ? std::string("accepted") : snap.error().message;
  }
  std::string refusal(const Manifest& m) { return refusal_of_text(format_manifest(m)); }
};

TEST_F(BadKeySet, TruncatedManifestIsRefused) {
  const std::string text = format_manifest(Manifest{{a, b}});
  const std::string why = refusal_of_text(text.substr(0, text.size() - 30));
  EXPECT_NE(why.find("manifest:"), std::string::npos) << why;
  EXPECT_NE(why.find("truncated"), std::string::npos) << why;
}

TEST_F(BadKeySet, UnknownAlgorithmIsRefusedWithItsLine) {
  std::string text = format_manifest(Manifest{{a, b}});
  text.replace(text.find("algorithm = ed25519"), 19, "algorithm = dsa");
  const std::string why = refusal_of_text(text);
  EXPECT_NE(why.find("manifest:9: unknown algorithm dsa"), std::string::npos) << why;
}

TEST_F(BadKeySet, MissingKeyFileIsRefused) {
  unlink((d.dir + "/" + b.file).c_str());
  const std::string why = refusal(Manifest{{a, b}});
  EXPECT_NE(why.find("b.key"), std::string::npos) << why;
  EXPECT_NE(why.find("No such file"), std::string::npos) << why;
}

TEST_F(BadKeySet, UnsafePermissionsAreRefused) {
  chmod((d.dir + "/" + b.file).c_str(), 0644);
  const std::string why = refusal(Manifest{{a, b}});
  EXPECT_NE(why.find("chmod 600"), std::string::npos) << why;
}

TEST_F(BadKeySet, DuplicateSelectorIsRefused) {
  KeyRow again = b;
  again.file = a.file;
  const std::string why = refusal(Manifest{{a, b, again}});
  EXPECT_NE(why.find("selector b of example.com is already used"), std::string::npos) << why;
}

TEST_F(BadKeySet, ReusedRetiredSelectorIsRefused) {
  KeyRow retired = a;
  retired.retired_at = 3000;
  KeyRow reuse = d.key("a2", Algorithm::Ed25519Sha256, 5000, std::nullopt);
  reuse.selector = "a";  // the retired key's name, for a new key
  const std::string why = refusal(Manifest{{retired, b, reuse}});
  EXPECT_NE(why.find("a selector is never reused"), std::string::npos) << why;
}

TEST_F(BadKeySet, KeyActiveBeforeItIsPublishedIsRefused) {
  a.published_at = a.window.from + 10;
  const std::string why = refusal(Manifest{{a, b}});
  EXPECT_NE(why.find("must be in DNS before it signs"), std::string::npos) << why;
}

TEST(KeySnapshotReload, UnchangedKeyFilesAreNotParsedAgain) {
  KeyDir d;
  Manifest m{{d.key("a", Algorithm::Ed25519Sha256, 1000, 2000), d.key("b", Algorithm::RsaSha256, 1000, std::nullopt)}};
  auto first = d.load(m);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ((*first)->parsed(), 2u);
  auto second = d.load(m, {}, first->get());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->parsed(), 0u);
  // A key file replaced (new inode) is parsed again.
  auto fresh = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
  unlink((d.dir + "/example.com/a.key").c_str());
  ASSERT_TRUE(write_private_key(d.dir + "/example.com/a.key", fresh).ok());
  auto third = d.load(m, {}, second->get());
  ASSERT_TRUE(third.ok());
  EXPECT_EQ((*third)->parsed(), 1u);
  EXPECT_EQ((*third)->keys_for("tx", 1500)[1].key->public_key_base64(), fresh.public_key_base64());
}

TEST(KeySnapshotReload, SameContentInANewFileIsNotParsedAgain) {
  // A Kubernetes secret update or a symlink swap gives every key a new inode.
  KeyDir d;
  Manifest m{{d.key("a", Algorithm::RsaSha256, 1000, std::nullopt)}};
  auto first = d.load(m);
  ASSERT_TRUE(first.ok());
  const std::string path = d.dir + "/example.com/a.key";
  const std::string copy = path + ".new";
  {
    std::ifstream in(path, std::ios::binary);
    std::ofstream out(copy, std::ios::binary);
    out << in.rdbuf();
  }
  chmod(copy.c_str(), 0600);
  ASSERT_EQ(rename(copy.c_str(), path.c_str()), 0);
  auto second = d.load(m, {}, first->get());
  ASSERT_TRUE(second.ok());
  EXPECT_EQ((*second)->parsed(), 0u);
}

TEST(KeyWindows, StandbyKeyIsLoadedButNeverSigns) {
  KeyDir d;
  auto standby = d.key("next", Algorithm::Ed25519Sha256, 1000, std::nullopt);
  standby.window = Window::standby();
  standby.retire_at.reset();
  auto snap = d.load(Manifest{{d.key("cur", Algorithm::Ed25519Sha256, 1000, std::nullopt), standby}});
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  EXPECT_EQ(selectors(**snap, 5000), V{"cur"});
  EXPECT_EQ((*snap)->next_change(5000), std::nullopt);
  EXPECT_TRUE((*snap)->gaps(5000).empty());
}

TEST(KeyWindows, HiddenNextKeyLeavesTheCurrentOneSigningWhileItsRecordIsPublished) {
  KeyDir d;
  auto a = d.key("a", Algorithm::Ed25519Sha256, 1000, 2000);  // retire-at 3000
  auto snap = d.load(Manifest{{a, d.key("b", Algorithm::Ed25519Sha256, 2000, std::nullopt)}});
  ASSERT_TRUE(snap.ok());
  const HiddenKeys hidden = {"example.com/b"};
  EXPECT_EQ(selectors(**snap, 1999), V{"a"});
  std::vector<std::string> at_cut;
  for (const auto& k : (*snap)->keys_for("tx", 2000, hidden)) at_cut.push_back(k.selector);
  EXPECT_EQ(at_cut, V{"a"});  // b is not in DNS: a goes on
  EXPECT_TRUE((*snap)->keys_for("tx", 3000, hidden).empty());  // a's record is gone: nothing signs
  EXPECT_EQ(selectors(**snap, 2000), V{"b"});                    // nothing hidden: b
  const auto up = (*snap)->upcoming(1700, 600);  // (1100, 2300]: b starts in it, a started before
  ASSERT_EQ(up.size(), 1u);
  EXPECT_EQ(up[0].row.selector, "b");
}
