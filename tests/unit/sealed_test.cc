// keystore/sealed.h: sealed key files. A sealed file opens only with its
// master key and only as the selector it was sealed for; every malformed
// file is refused with a message, never a crash; the loaders refuse the form
// the protection does not allow; seal and unseal go through the transaction;
// the MasterKeyKeeper gives the kept master key to a reload after the
// privilege drop, and only then.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string_view>
#include <vector>

#include "keystore/key_directory.h"
#include "keystore/key_file.h"
#include "keystore/lifecycle.h"
#include "keystore/sealed.h"
#include "keystore/snapshot.h"
#include "test_util.h"

using namespace signet;
using namespace signet::keystore;

namespace {

std::shared_ptr<const MasterKey> new_master() {
  auto k = MasterKey::generate();
  EXPECT_TRUE(k.ok());
  return std::make_shared<const MasterKey>(std::move(k.value()));
}

void write_raw(const std::string& path, const std::string& bytes, mode_t mode = 0600) {
  ::unlink(path.c_str());
  std::ofstream(path, std::ios::binary) << bytes;
  ::chmod(path.c_str(), mode);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// A sealed key as the loaders see it: (file bytes, the PEM sealed).
struct Sealed {
  std::string bytes, pem;
  PrivateKey key;
};
Sealed seal(Algorithm a, const MasterKey& m, const std::string& domain = "example.com", const std::string& sel = "s1") {
  auto key = PrivateKey::generate(a, 1024).value();
  std::string pem = key.to_pem();
  auto bytes = seal_key(pem, a, m, domain, sel);
  EXPECT_TRUE(bytes.ok());
  return {bytes.value(), pem, std::move(key)};
}

LoadOptions sealed_options(std::shared_ptr<const MasterKey> m) {
  LoadOptions o;
  o.protection = Protection::Sealed;
  o.master_key = std::move(m);
  return o;
}

}  // namespace

TEST(Sealed, RoundTripForRsaAndEd25519) {
  const std::string dir = signet::testing::temp_dir("sealed");
  auto m = new_master();
  for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
    auto key = PrivateKey::generate(a, 2048).value();
    const std::string path = dir + "/" + std::string(key_type_name(a)) + ".sealed";
    ASSERT_TRUE(write_sealed_key(path, key, *m, "example.com", "sel").ok());
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    const std::string bytes = signet::testing::read_file(path);
    EXPECT_TRUE(is_sealed(bytes));
    EXPECT_FALSE(has(bytes, "PRIVATE KEY"));
    EXPECT_FALSE(PrivateKey::parse(bytes).ok());
    auto pem = open_sealed(bytes, *m, "example.com", "sel", path);
    ASSERT_TRUE(pem.ok()) << pem.error().message;
    auto back = PrivateKey::parse(pem->bytes());
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->algorithm(), a);
    EXPECT_EQ(back->public_key_base64(), key.public_key_base64());
    // Two seals of one key differ (a fresh nonce each time).
    EXPECT_NE(seal_key(key.to_pem(), a, *m, "example.com", "sel").value(), seal_key(key.to_pem(), a, *m, "example.com", "sel").value());
  }
}

TEST(Sealed, OpensOnlyAsTheDomainAndSelectorItWasSealedFor) {
  auto m = new_master();
  const Sealed s = seal(Algorithm::Ed25519Sha256, *m, "example.com", "s1");
  EXPECT_TRUE(open_sealed(s.bytes, *m, "example.com", "s1", "f").ok());
  auto other_selector = open_sealed(s.bytes, *m, "example.com", "s2", "f");
  ASSERT_FALSE(other_selector.ok());
  EXPECT_TRUE(has(other_selector.error().message, "does not open")) << other_selector.error().message;
  EXPECT_FALSE(open_sealed(s.bytes, *m, "example.org", "s1", "f").ok());
  // The name split differently ("example.com\0s1" must not equal "example.co" + "m\0s1"-like shifts).
  EXPECT_FALSE(open_sealed(s.bytes, *m, "example.co", "ms1", "f").ok());
}

TEST(Sealed, SwappedFilesInAKeySetAreRefusedWhole) {
  const std::string dir = signet::testing::temp_dir("sealed-swap");
  auto m = new_master();
  auto kd = KeyDirectory::open(dir, KeyDirectory::Mode::Write, sealed_options(m));
  ASSERT_TRUE(kd.ok()) << kd.error().message;
  KeyChange change(kd->manifest());
  for (Algorithm a : {Algorithm::Ed25519Sha256, Algorithm::Ed25519Sha256}) {
    auto row = plan_new_key(change.manifest, signet::testing::tx_stream(), a, 0, 1795687200, kd->used_selectors("example.com"));
    ASSERT_TRUE(row.ok()) << row.error().message;
    row->file = kd->stored_file(row->file);
    ASSERT_TRUE(kd->create_key(change, *row).ok());
    change.manifest.keys.push_back(*row);
  }
  ASSERT_TRUE(kd->apply(change).ok());
  const auto rows = kd->manifest().keys;
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_TRUE(has(rows[0].file, ".sealed"));
  ASSERT_TRUE(KeySnapshot::load(dir, rows, sealed_options(m)).ok());
  const std::string a = dir + "/" + rows[0].file, b = dir + "/" + rows[1].file;
  ASSERT_EQ(::rename(a.c_str(), (a + ".tmp").c_str()), 0);
  ASSERT_EQ(::rename(b.c_str(), a.c_str()), 0);
  ASSERT_EQ(::rename((a + ".tmp").c_str(), b.c_str()), 0);
  auto swapped = KeySnapshot::load(dir, rows, sealed_options(m));
  ASSERT_FALSE(swapped.ok());
  EXPECT_TRUE(has(swapped.error().message, "does not open")) << swapped.error().message;
  EXPECT_TRUE(has(swapped.error().message, rows[0].selector)) << swapped.error().message;
}

TEST(Sealed, AWrongMasterKeyIsRefusedAndTheMessageHoldsNoKeyBytes) {
  auto m = new_master();
  const Sealed s = seal(Algorithm::RsaSha256, *m);
  auto other = new_master();
  auto r = open_sealed(s.bytes, *other, "example.com", "s1", "/k/example.com/s1.sealed");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(has(r.error().message, "wrong master key")) << r.error().message;
  EXPECT_TRUE(has(r.error().message, "/k/example.com/s1.sealed"));
  EXPECT_LT(r.error().message.size(), 400u);
  EXPECT_FALSE(has(r.error().message, s.pem.substr(40, 32)));
}

TEST(Sealed, EveryTruncationIsRefused) {
  auto m = new_master();
  const Sealed s = seal(Algorithm::Ed25519Sha256, *m);
  for (std::size_t n = 0; n < s.bytes.size(); ++n) {
    EXPECT_FALSE(open_sealed(s.bytes.substr(0, n), *m, "example.com", "s1", "f").ok()) << n;
  }
  auto extra = open_sealed(s.bytes + "x", *m, "example.com", "s1", "f");
  ASSERT_FALSE(extra.ok());
  EXPECT_TRUE(has(extra.error().message, "past its end"));
}

TEST(Sealed, ForgedHeadersAreRefusedBounded) {
  auto m = new_master();
  const Sealed s = seal(Algorithm::Ed25519Sha256, *m);
  auto open = [&](std::string b) { return open_sealed(b, *m, "example.com", "s1", "f"); };
  std::string future = s.bytes;
  future[8] = 2;
  auto v = open(future);
  ASSERT_FALSE(v.ok());
  EXPECT_TRUE(has(v.error().message, "version 2")) << v.error().message;
  std::string huge = s.bytes;
  for (int i = 12; i < 16; ++i) huge[i] = static_cast<char>(0xff);
  auto h = open(huge);
  ASSERT_FALSE(h.ok());
  EXPECT_TRUE(has(h.error().message, "impossible length")) << h.error().message;
  std::string shorter = s.bytes;
  shorter[15] = static_cast<char>(shorter[15] - 1);
  EXPECT_FALSE(open(shorter).ok());
  std::string tiny = s.bytes;
  for (int i = 12; i < 16; ++i) tiny[i] = 0;
  EXPECT_FALSE(open(tiny).ok());
  std::string rsa = s.bytes;  // the algorithm byte is covered by the tag
  rsa[9] = 1;
  EXPECT_FALSE(open(rsa).ok());
  std::string unknown = s.bytes;
  unknown[9] = 7;
  EXPECT_TRUE(has(open(unknown).error().message, "malformed header"));
  std::string reserved = s.bytes;
  reserved[10] = 1;
  EXPECT_FALSE(open(reserved).ok());
  std::string nonce = s.bytes;
  nonce[20] ^= 1;
  EXPECT_FALSE(open(nonce).ok());
  std::string body = s.bytes;
  body[body.size() - 1] ^= 1;
  EXPECT_FALSE(open(body).ok());
  EXPECT_TRUE(has(open("-----BEGIN PRIVATE KEY-----\n").error().message, "not a sealed key file"));
}

TEST(Sealed, EveryValueOfEveryHeaderByteOpensOnlyAsWritten) {
  auto m = new_master();
  const Sealed s = seal(Algorithm::RsaSha256, *m);
  std::size_t opened = 0;
  for (std::size_t i = 0; i < 40; ++i) {
    for (int v = 0; v < 256; ++v) {
      std::string b = s.bytes;
      b[i] = static_cast<char>(v);
      auto r = open_sealed(b, *m, "example.com", "s1", "f");
      if (r.ok()) {
        ++opened;
        EXPECT_EQ(b, s.bytes) << "byte " << i << " = " << v << " opened";
      } else {
        EXPECT_LT(r.error().message.size(), 300u);
      }
    }
  }
  EXPECT_EQ(opened, 40u);  // only the unchanged byte value, once per position
}

TEST(Sealed, MasterKeyFileMustBe0600AndExactly32Bytes) {
  const std::string dir = signet::testing::temp_dir("master");
  auto m = MasterKey::generate().value();
  const std::string path = dir + "/master.key";
  ASSERT_TRUE(write_master_key(path, m).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);
  auto again = write_master_key(path, m);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(has(again.error().message, "already exists"));
  auto back = read_master_key(path);
  ASSERT_TRUE(back.ok()) << back.error().message;
  // The key read back opens what the original sealed.
  auto sealed = seal_key("pem", Algorithm::Ed25519Sha256, m, "d", "s").value();
  EXPECT_TRUE(open_sealed(sealed, **back, "d", "s", "f").ok());
  ASSERT_EQ(::chmod(path.c_str(), 0644), 0);
  auto open_mode = read_master_key(path);
  ASSERT_FALSE(open_mode.ok());
  EXPECT_TRUE(has(open_mode.error().message, "0644")) << open_mode.error().message;
  EXPECT_TRUE(has(open_mode.error().message, "chmod 600"));
  write_raw(dir + "/short.key", std::string(31, 'x'));
  auto short_key = read_master_key(dir + "/short.key");
  ASSERT_FALSE(short_key.ok());
  EXPECT_TRUE(has(short_key.error().message, "exactly 32 bytes"));
  EXPECT_FALSE(read_master_key(dir + "/missing").ok());
}

TEST(Sealed, TheSystemdCredentialComesFirst) {
  const std::string creds = signet::testing::temp_dir("creds"), dir = signet::testing::temp_dir("master");
  auto from_cred = MasterKey::generate().value(), from_file = MasterKey::generate().value();
  ASSERT_TRUE(write_master_key(creds + "/signet-master-key", from_cred).ok());
  ASSERT_TRUE(write_master_key(dir + "/master.key", from_file).ok());
  const std::string sealed = seal_key("pem", Algorithm::Ed25519Sha256, from_cred, "d", "s").value();
  ::setenv("CREDENTIALS_DIRECTORY", creds.c_str(), 1);
  auto m = load_master_key(dir + "/master.key");
  ::unsetenv("CREDENTIALS_DIRECTORY");
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_TRUE(open_sealed(sealed, **m, "d", "s", "f").ok());
  auto file = load_master_key(dir + "/master.key");
  ASSERT_TRUE(file.ok());
  EXPECT_FALSE(open_sealed(sealed, **file, "d", "s", "f").ok());
  auto none = load_master_key("");
  ASSERT_FALSE(none.ok());
  EXPECT_TRUE(has(none.error().message, "LoadCredentialEncrypted"));
}

TEST(Sealed, EachProtectionRefusesTheOtherForm) {
  const std::string dir = signet::testing::temp_dir("sealed-form");
  auto m = new_master();
  auto key = PrivateKey::generate(Algorithm::Ed25519Sha256).value();
  ::mkdir((dir + "/example.com").c_str(), 0700);
  ASSERT_TRUE(write_private_key(dir + "/example.com/a.key", key).ok());
  ASSERT_TRUE(write_sealed_key(dir + "/example.com/b.sealed", key, *m, "example.com", "b").ok());
  KeyRow a = configured_selector("tx", "example.com", "a", "conf:1");
  KeyRow b = configured_selector("tx", "example.com", "b", "conf:2");
  b.file = "example.com/b.sealed";
  auto plain = KeySnapshot::load(dir, {a, b}, LoadOptions{});
  ASSERT_FALSE(plain.ok());
  EXPECT_TRUE(has(plain.error().message, "key-protection = plain")) << plain.error().message;
  auto sealed = KeySnapshot::load(dir, {a, b}, sealed_options(m));
  ASSERT_FALSE(sealed.ok());
  EXPECT_TRUE(has(sealed.error().message, "plaintext")) << sealed.error().message;
  EXPECT_TRUE(has(sealed.error().message, "signet key seal"));
  auto only_b = KeySnapshot::load(dir, {b}, sealed_options(m));
  ASSERT_TRUE(only_b.ok()) << only_b.error().message;
  EXPECT_EQ(only_b.value()->size(), 1u);
  // A reload with the previous snapshot still opens the file: a wrong key fails it.
  EXPECT_FALSE(KeySnapshot::load(dir, {b}, sealed_options(new_master()), only_b.value().get()).ok());
  EXPECT_TRUE(KeySnapshot::load(dir, {b}, sealed_options(m), only_b.value().get()).ok());
}

TEST(Sealed, SealThenUnsealThroughTheTransactionKeepsTheKeys) {
  const std::string dir = signet::testing::temp_dir("sealed-convert");
  auto m = new_master();
  std::vector<std::string> publics;
  {
    auto kd = KeyDirectory::open(dir, KeyDirectory::Mode::Write);
    ASSERT_TRUE(kd.ok());
    KeyChange change(kd->manifest());
    for (Algorithm a : {Algorithm::RsaSha256, Algorithm::Ed25519Sha256}) {
      auto row = plan_new_key(change.manifest, signet::testing::tx_stream(), a, 1024, 1795687200, kd->used_selectors("example.com"));
      ASSERT_TRUE(row.ok());
      auto rec = kd->create_key(change, *row);
      ASSERT_TRUE(rec.ok());
      publics.push_back(*rec);
      change.manifest.keys.push_back(*row);
    }
    ASSERT_TRUE(kd->apply(change).ok());
  }
  auto convert = [&](Protection to, std::size_t expect) {
    LoadOptions o = sealed_options(m);
    o.protection = to;
    auto kd = KeyDirectory::open(dir, KeyDirectory::Mode::Write, o);
    ASSERT_TRUE(kd.ok());
    KeyChange change(kd->manifest());
    std::size_t n = 0;
    for (std::size_t i = 0; i < change.manifest.keys.size(); ++i) {
      auto done = kd->convert_key(change, change.manifest.keys[i], to);
      ASSERT_TRUE(done.ok()) << done.error().message;
      n += *done ? 1 : 0;
    }
    EXPECT_EQ(n, expect);
    if (n) {
      auto applied = kd->apply(change);
      ASSERT_TRUE(applied.ok()) << applied.error().message;
    }
  };
  const auto before = KeyDirectory::open(dir, KeyDirectory::Mode::Read).value().manifest().keys;
  convert(Protection::Sealed, 2);
  auto sealed = KeyDirectory::open(dir, KeyDirectory::Mode::Read, sealed_options(m)).value();
  for (std::size_t i = 0; i < 2; ++i) {
    const KeyRow& row = sealed.manifest().keys[i];
    EXPECT_EQ(row.file, sealed_file_name(before[i].file));
    EXPECT_EQ(::access((dir + "/" + before[i].file).c_str(), F_OK), -1) << "the plaintext file is destroyed";
    EXPECT_TRUE(is_sealed(signet::testing::read_file(dir + "/" + row.file)));
    auto key = sealed.load_key(row);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_NE(publics[i].find(key->public_key_base64()), std::string::npos);
  }
  convert(Protection::Sealed, 0);  // already sealed: nothing to do
  convert(Protection::Plain, 2);
  auto plain = KeyDirectory::open(dir, KeyDirectory::Mode::Read).value();
  for (std::size_t i = 0; i < 2; ++i) {
    const KeyRow& row = plain.manifest().keys[i];
    EXPECT_EQ(row.file, before[i].file);
    auto key = plain.load_key(row);
    ASSERT_TRUE(key.ok()) << key.error().message;
    EXPECT_NE(publics[i].find(key->public_key_base64()), std::string::npos);
  }
}

TEST(Sealed, ASealWithTheWrongMasterKeyChangesNothing) {
  const std::string dir = signet::testing::temp_dir("sealed-wrong");
  auto m = new_master();
  {
    auto kd = KeyDirectory::open(dir, KeyDirectory::Mode::Write, sealed_options(m));
    ASSERT_TRUE(kd.ok());
    KeyChange change(kd->manifest());
    auto row = plan_new_key(change.manifest, signet::testing::tx_stream(), Algorithm::Ed25519Sha256, 0, 1795687200, {});
    ASSERT_TRUE(row.ok());
    row->file = kd->stored_file(row->file);
    ASSERT_TRUE(kd->create_key(change, *row).ok());
    change.manifest.keys.push_back(*row);
    ASSERT_TRUE(kd->apply(change).ok());
  }
  const std::string manifest = signet::testing::read_file(dir + "/manifest");
  LoadOptions wrong = sealed_options(new_master());
  wrong.protection = Protection::Plain;
  auto kd = KeyDirectory::open(dir, KeyDirectory::Mode::Write, wrong);
  ASSERT_TRUE(kd.ok());
  KeyChange change(kd->manifest());
  auto done = kd->convert_key(change, change.manifest.keys[0], Protection::Plain);
  ASSERT_FALSE(done.ok());
  EXPECT_TRUE(has(done.error().message, "wrong master key"));
  EXPECT_EQ(signet::testing::read_file(dir + "/manifest"), manifest);
  EXPECT_TRUE(change.created().empty());
}

namespace {

// seteuid(2) to nobody and back: what a reload after the privilege drop is
// to a file (root can take its effective uid back; the daemon cannot).
struct AsNobody {
  AsNobody() { ok = ::seteuid(65534) == 0; }
  ~AsNobody() {
    if (ok) {
      EXPECT_EQ(::seteuid(0), 0);
    }
  }
  bool ok = false;
};

bool same_key(const MasterKey& a, const MasterKey& b) {
  return std::memcmp(a.data(), b.data(), MasterKey::kSize) == 0;
}

}  // namespace

TEST(MasterKeyKeeper, AFileClosedAfterThePrivilegeDropGivesTheKeptKeySaidOnce) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (seteuid to nobody and back)";
  const std::string dir = signet::testing::temp_dir("keeper");
  ASSERT_EQ(::chmod(dir.c_str(), 0755), 0);  // nobody may look in; the file itself is root's 0600
  const std::string path = dir + "/master.key";
  auto original = MasterKey::generate().value();
  ASSERT_TRUE(write_master_key(path, original).ok());
  std::vector<std::string> notes;
  MasterKeyKeeper keeper([&notes](std::string_view l) { notes.emplace_back(l); });

  {
    AsNobody drop;
    ASSERT_TRUE(drop.ok);
    auto before_any = keeper.load(path);  // nothing kept yet: refused as today
    ASSERT_FALSE(before_any.ok());
    EXPECT_TRUE(has(before_any.error().message, "Permission denied")) << before_any.error().message;
  }
  auto at_start = keeper.load(path);
  ASSERT_TRUE(at_start.ok()) << at_start.error().message;
  keeper.keep(path, at_start.value());
  {
    AsNobody drop;
    ASSERT_TRUE(drop.ok);
    for (int reload = 0; reload < 3; ++reload) {
      auto r = keeper.load(path);
      ASSERT_TRUE(r.ok()) << r.error().message;
      EXPECT_TRUE(same_key(**r, original));
    }
  }
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_TRUE(has(notes[0], path) && has(notes[0], "cannot be opened by this process")) << notes[0];

  // Refused as without a keeper: an unsafe mode, a missing file, another path.
  ASSERT_EQ(::chmod(path.c_str(), 0640), 0);
  {
    AsNobody drop;
    EXPECT_FALSE(keeper.load(path).ok());
  }
  ASSERT_EQ(::chmod(path.c_str(), 0600), 0);
  ASSERT_EQ(::rename(path.c_str(), (path + ".away").c_str()), 0);
  {
    AsNobody drop;
    EXPECT_FALSE(keeper.load(path).ok());
  }
  ASSERT_EQ(::rename((path + ".away").c_str(), path.c_str()), 0);
  ASSERT_EQ(::link(path.c_str(), (dir + "/other.key").c_str()), 0);
  {
    AsNobody drop;
    EXPECT_FALSE(keeper.load(dir + "/other.key").ok());
  }

  // Readable: read anew, so a replaced master key is noticed; a load that
  // is not kept (its key set refused) leaves the kept key as it was.
  ASSERT_EQ(::unlink(path.c_str()), 0);
  auto replaced = MasterKey::generate().value();
  ASSERT_TRUE(write_master_key(path, replaced).ok());
  auto now = keeper.load(path);
  ASSERT_TRUE(now.ok());
  EXPECT_TRUE(same_key(**now, replaced));
  {
    AsNobody drop;
    auto r = keeper.load(path);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(same_key(**r, original));
  }
  EXPECT_EQ(notes.size(), 2u);  // a read succeeded in between: said again
  for (const std::string& n : notes) {
    const std::string raw(reinterpret_cast<const char*>(original.data()), MasterKey::kSize);
    EXPECT_FALSE(has(n, raw));
  }
}
