// keystore/key_directory.h: the key directory as a transaction. A change is
// validated whole and committed atomically, or nothing changes; one writer
// at a time.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "keystore/atomic_file.h"
#include "keystore/key_directory.h"
#include "keystore/key_file.h"
#include "keystore/lifecycle.h"
#include "test_util.h"

using namespace signet;
using namespace signet::keystore;

namespace {

struct TempDir {
  std::string dir = signet::testing::temp_dir("keydir");
  bool exists(const std::string& rel) const { return ::access((dir + "/" + rel).c_str(), F_OK) == 0; }
  std::string manifest_text() const { return signet::testing::read_file(dir + "/manifest"); }
};

// One standby key committed through the transaction, as `signet key new` does.
KeyRow add_standby(KeyDirectory& kd, Algorithm a, std::int64_t now) {
  auto row = plan_new_key(kd.manifest(), signet::testing::tx_stream(), a, 1024, now, kd.used_selectors("example.com"));
  EXPECT_TRUE(row.ok());
  KeyChange change(kd.manifest());
  EXPECT_TRUE(kd.create_key(change, *row).ok());
  change.manifest.keys.push_back(*row);
  auto done = kd.apply(change);
  EXPECT_TRUE(done.ok()) << done.error().message;
  return *row;
}

}  // namespace

TEST(KeyDirectory, RefusesADirectoryThatDoesNotExist) {
  auto kd = KeyDirectory::open("/nonexistent/signet-keys", KeyDirectory::Mode::Read);
  ASSERT_FALSE(kd.ok());
  EXPECT_NE(kd.error().message.find("does not exist"), std::string::npos);
}

TEST(KeyDirectory, ApplyCommitsTheWholeChangeAtomically) {
  TempDir t;
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok()) << kd.error().message;
  const KeyRow r = add_standby(*kd, Algorithm::Ed25519Sha256, 1795689000);
  EXPECT_TRUE(t.exists(r.file));
  EXPECT_NE(t.manifest_text().find("selector = " + r.selector), std::string::npos);
  EXPECT_EQ(kd->manifest().keys.size(), 1u);  // the directory sees its own commit
  auto again = KeyDirectory::open(t.dir, KeyDirectory::Mode::Read);
  ASSERT_TRUE(again.ok());
  ASSERT_EQ(again->manifest().keys.size(), 1u);
  EXPECT_TRUE(again->manifest().keys[0] == r);
}

TEST(KeyDirectory, AnInvalidResultChangesNothingAndRemovesTheFilesItCreated) {
  TempDir t;
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  add_standby(*kd, Algorithm::Ed25519Sha256, 1795689000);
  const std::string before = t.manifest_text();
  auto row = plan_new_key(kd->manifest(), signet::testing::tx_stream(), Algorithm::Ed25519Sha256, 0, 1795689000,
                          kd->used_selectors("example.com"));
  ASSERT_TRUE(row.ok());
  {
    KeyChange change(kd->manifest());
    ASSERT_TRUE(kd->create_key(change, *row).ok());
    ASSERT_TRUE(t.exists(row->file));
    KeyRow bad = *row;
    bad.window = Window::scheduled(bad.published_at - 10);  // signs before it is in DNS
    change.manifest.keys.push_back(bad);
    auto done = kd->apply(change);
    ASSERT_FALSE(done.ok());
    EXPECT_NE(done.error().message.find("manifest (new):"), std::string::npos) << done.error().message;
    EXPECT_NE(done.error().message.find("must be in DNS before it signs"), std::string::npos);
    EXPECT_EQ(t.manifest_text(), before);
  }  // the command gives up: its key file goes with the change
  EXPECT_FALSE(t.exists(row->file));
}

TEST(KeyDirectory, AKeyFileTheResultCannotLoadIsRefusedWhole) {
  TempDir t;
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  const KeyRow r = add_standby(*kd, Algorithm::Ed25519Sha256, 1795689000);
  chmod((t.dir + "/" + r.file).c_str(), 0644);  // what the daemon refuses, apply refuses
  KeyChange change(kd->manifest());
  change.manifest.keys[0].owner = "someone else";
  auto done = kd->apply(change);
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().message.find("chmod 600"), std::string::npos) << done.error().message;
  EXPECT_EQ(t.manifest_text().find("someone else"), std::string::npos);
}

TEST(KeyDirectory, ApplyDestroysRetiredKeysOnlyAfterTheCommit) {
  TempDir t;
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  const KeyRow r = add_standby(*kd, Algorithm::Ed25519Sha256, 1795689000);
  KeyChange change(kd->manifest());
  change.manifest.keys[0].retired_at = 1795689100;
  change.destroy.push_back(kd->key_path(r));
  auto done = kd->apply(change);
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_TRUE(done->empty());
  EXPECT_FALSE(t.exists(r.file));
  EXPECT_NE(t.manifest_text().find("retired-at = 2026-11-26T10:31:40Z"), std::string::npos);
  // The register keeps the name: a new key never gets it again.
  EXPECT_EQ(kd->used_selectors("example.com").count(r.selector), 1u);
}

TEST(KeyDirectory, DroppedChangeRemovesTheKeyFilesItCreated) {
  TempDir t;
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  auto row = plan_new_key(kd->manifest(), signet::testing::tx_stream(), Algorithm::Ed25519Sha256, 0, 1795689000, {});
  ASSERT_TRUE(row.ok());
  {
    KeyChange change(kd->manifest());
    ASSERT_TRUE(kd->create_key(change, *row).ok());
    EXPECT_TRUE(t.exists(row->file));
  }  // a command that fails half way never applies its change
  EXPECT_FALSE(t.exists(row->file));
  EXPECT_FALSE(t.exists("manifest"));
}

TEST(KeyDirectory, ReadOnlyOpenCannotApply) {
  TempDir t;
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Read);
  ASSERT_TRUE(kd.ok());
  KeyChange change(Manifest{});
  auto done = kd->apply(change);
  ASSERT_FALSE(done.ok());
  EXPECT_NE(done.error().message.find("read-only"), std::string::npos);
}

TEST(KeyDirectory, WriteModeHoldsTheLockUntilDropped) {
  TempDir t;
  const std::string lock = t.dir + "/.lock";
  auto try_lock = [&] {
    const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    const bool got = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
    ::close(fd);
    return got;
  };
  {
    auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
    ASSERT_TRUE(kd.ok());
    EXPECT_FALSE(try_lock());  // a second writer waits
    auto moved = std::move(kd.value());
    EXPECT_FALSE(try_lock());  // the lock moves with the object
  }
  EXPECT_TRUE(try_lock());
  auto reader = KeyDirectory::open(t.dir, KeyDirectory::Mode::Read);
  ASSERT_TRUE(reader.ok());
  EXPECT_TRUE(try_lock());  // readers take no lock
}

TEST(KeyDirectory, UsedSelectorsIncludeRetiredAndDelegatedNames) {
  TempDir t;
  ASSERT_TRUE(write_delegated(t.dir, {Delegated{"example.com", "esp1", "esp1.vendor.example", "mkt", 0}}).ok());
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  const KeyRow r = add_standby(*kd, Algorithm::Ed25519Sha256, 1795689000);
  const auto used = kd->used_selectors("example.com");
  EXPECT_EQ(used, (std::set<std::string>{"esp1", r.selector}));
  EXPECT_TRUE(kd->used_selectors("example.org").empty());
}

TEST(DestroyKeyFile, OverwritesAndRemovesAndAcceptsAMissingFile) {
  TempDir t;
  const std::string path = t.dir + "/k.key";
  ASSERT_TRUE(write_private_key(path, PrivateKey::generate(Algorithm::Ed25519Sha256).value()).ok());
  ASSERT_TRUE(destroy_key_file(path).ok());
  EXPECT_NE(::access(path.c_str(), F_OK), 0);
  EXPECT_TRUE(destroy_key_file(path).ok());
}

// Run as root (as the tests are) on a directory owned by the daemon's user:
// what `signet key` writes is given to that user, modes kept.
TEST(KeyDirectory, RootGivesNewKeysToTheDirectorysOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TempDir t;
  ASSERT_EQ(::chown(t.dir.c_str(), 65534, 65534), 0);  // nobody:nogroup
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  const KeyRow r = add_standby(*kd, Algorithm::Ed25519Sha256, 1795689000);
  for (const std::string& rel : {r.file, std::string("example.com"), std::string(".lock"), std::string("manifest")}) {
    struct stat st {};
    ASSERT_EQ(::stat((t.dir + "/" + rel).c_str(), &st), 0) << rel;
    EXPECT_EQ(st.st_uid, 65534u) << rel;
  }
  struct stat key {};
  ASSERT_EQ(::stat((t.dir + "/" + r.file).c_str(), &key), 0);
  EXPECT_EQ(key.st_mode & 0777, 0600u);
}

// adopt_key: an existing key (OpenDKIM's) joins the key set through the same
// transaction; the source file is only read.
namespace {

struct SourceKey {
  std::string path, bytes;
  mode_t mode;
  // Never moved, changed or chmod'ed by the import.
  bool unchanged() const {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && (st.st_mode & 0777) == mode && signet::testing::read_file(path) == bytes;
  }
};

SourceKey source_key(const std::string& dir, Algorithm a, mode_t mode) {
  const std::string path = dir + "/source.private";
  EXPECT_TRUE(write_private_key(path, PrivateKey::generate(a, 1024).value()).ok());
  ::chmod(path.c_str(), mode);
  return {path, signet::testing::read_file(path), mode};
}

KeyRow adopted_row(Algorithm a) {
  KeyRow r;
  r.stream = "tx";
  r.domain = "example.com";
  r.selector = "2020";
  r.algorithm = a;
  r.file = "example.com/2020.key";
  r.created = r.published_at = 1795689000;
  r.window = Window::scheduled(1795689000);
  return r;
}

}  // namespace

TEST(KeyDirectory, AdoptKeyCopiesTheKeyMode0600AndLeavesTheSourceAsItWas) {
  TempDir t, src;
  const SourceKey before = source_key(src.dir, Algorithm::Ed25519Sha256, 0640);
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  const KeyRow row = adopted_row(Algorithm::Ed25519Sha256);
  KeyChange change(kd->manifest());
  auto record = kd->adopt_key(change, row, before.path);
  ASSERT_TRUE(record.ok()) << record.error().message;
  change.manifest.keys.push_back(row);
  ASSERT_TRUE(kd->apply(change).ok());
  struct stat st {};
  ASSERT_EQ(::stat(kd->key_path(row).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto copy = load_private_key(kd->key_path(row));
  ASSERT_TRUE(copy.ok()) << copy.error().message;
  EXPECT_NE(record->find(copy->public_key_base64()), std::string::npos);  // the same key
  EXPECT_TRUE(before.unchanged());
}

TEST(KeyDirectory, AnAdoptedKeyGoesWithADroppedChangeButTheSourceStays) {
  TempDir t, src;
  const SourceKey before = source_key(src.dir, Algorithm::RsaSha256, 0600);
  const KeyRow row = adopted_row(Algorithm::RsaSha256);
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  {
    KeyChange change(kd->manifest());
    ASSERT_TRUE(kd->adopt_key(change, row, before.path).ok());
    EXPECT_TRUE(t.exists(row.file));
  }
  EXPECT_FALSE(t.exists(row.file));
  EXPECT_FALSE(t.exists("manifest"));
  EXPECT_TRUE(before.unchanged());
}

TEST(KeyDirectory, AdoptKeyRefusesAnotherAlgorithmAWorldReadableOrMissingSource) {
  TempDir t, src;
  auto kd = KeyDirectory::open(t.dir, KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok());
  KeyChange change(kd->manifest());
  const SourceKey ed = source_key(src.dir, Algorithm::Ed25519Sha256, 0600);
  auto wrong = kd->adopt_key(change, adopted_row(Algorithm::RsaSha256), ed.path);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("is ed25519"), std::string::npos) << wrong.error().message;
  ::chmod(ed.path.c_str(), 0644);
  auto open_key = kd->adopt_key(change, adopted_row(Algorithm::Ed25519Sha256), ed.path);
  ASSERT_FALSE(open_key.ok());
  EXPECT_NE(open_key.error().message.find("chmod 600"), std::string::npos) << open_key.error().message;
  EXPECT_FALSE(kd->adopt_key(change, adopted_row(Algorithm::Ed25519Sha256), src.dir + "/none").ok());
  EXPECT_TRUE(change.created().empty());
}
