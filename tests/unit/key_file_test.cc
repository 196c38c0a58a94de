// keystore/key_file.h and keystore/txt_lookup.h.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "keystore/key_file.h"
#include "keystore/txt_lookup.h"

using namespace signet;

namespace {
std::string temp_dir() {
  char tmpl[] = "/tmp/signet-unit-XXXXXX";
  return mkdtemp(tmpl);
}
}  // namespace

TEST(KeyFile, WritesMode0600AndLoadsBack) {
  const std::string dir = temp_dir();
  auto key = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
  ASSERT_TRUE(keystore::write_private_key(dir + "/k.pem", key).ok());
  struct stat st {};
  ASSERT_EQ(stat((dir + "/k.pem").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = keystore::load_private_key(dir + "/k.pem");
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->public_key_base64(), key.public_key_base64());
}

TEST(KeyFile, NeverOverwritesAnExistingKey) {
  const std::string dir = temp_dir();
  auto key = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
  ASSERT_TRUE(keystore::write_private_key(dir + "/k.pem", key).ok());
  auto again = keystore::write_private_key(dir + "/k.pem", key);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().message.find("already exists"), std::string::npos);
}

TEST(KeyFile, RefusesGroupOrWorldReadableKey) {
  const std::string dir = temp_dir();
  auto key = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
  ASSERT_TRUE(keystore::write_private_key(dir + "/k.pem", key).ok());
  for (mode_t mode : {0640, 0604, 0644}) {
    chmod((dir + "/k.pem").c_str(), mode);
    auto loaded = keystore::load_private_key(dir + "/k.pem");
    ASSERT_FALSE(loaded.ok());
    EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos) << loaded.error().message;
  }
}

TEST(KeyFile, MissingFileSaysWhich) {
  auto loaded = keystore::load_private_key("/nonexistent/signet.key");
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("/nonexistent/signet.key"), std::string::npos);
}

TEST(FileTxtLookup, ParsesQuotedSplitUnquotedAndCommentLines) {
  auto l = keystore::FileTxtLookup::parse(
      "# comment\n"
      "a._domainkey.Example.COM. IN TXT \"v=DKIM1; k=rsa; \" \"p=AB\"\n"
      "b._domainkey.example.com TXT v=DKIM1; p=CD\n",
      "keys.txt");
  ASSERT_TRUE(l.ok()) << l.error().message;
  EXPECT_EQ(l->txt("a._domainkey.example.com").value(), std::vector<std::string>{"v=DKIM1; k=rsa; p=AB"});
  EXPECT_EQ(l->txt("B._domainkey.example.com.").value(), std::vector<std::string>{"v=DKIM1; p=CD"});
  EXPECT_TRUE(l->txt("c._domainkey.example.com").value().empty());
}

TEST(FileTxtLookup, ReportsFileAndLineOfBadRecord) {
  auto l = keystore::FileTxtLookup::parse("ok TXT x\nbad A 127.0.0.1\n", "keys.txt");
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.error().message.substr(0, 11), "keys.txt:2:");
}

// A key file someone else owns could be their key, whatever its mode: only
// root, this process's user and the key directory's owner may own one.
TEST(KeyFile, RefusesAKeyOwnedByAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  const std::string dir = temp_dir();
  const std::string sub = dir + "/example.com";
  mkdir(sub.c_str(), 0700);
  const std::string path = sub + "/s.key";
  ASSERT_TRUE(keystore::write_private_key(path, PrivateKey::generate(Algorithm::Ed25519Sha256).value()).ok());
  EXPECT_TRUE(keystore::load_private_key(path).ok());  // root's
  ASSERT_EQ(::chown(path.c_str(), 65534, 65534), 0);   // nobody's, in root's directory
  auto refused = keystore::load_private_key(path);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("owned by uid 65534"), std::string::npos) << refused.error().message;
  ASSERT_EQ(::chown(dir.c_str(), 65534, 65534), 0);  // the key directory is nobody's: then the key may be
  EXPECT_TRUE(keystore::load_private_key(path).ok());
  EXPECT_TRUE(keystore::read_key_file(path, false, true).ok());
}
