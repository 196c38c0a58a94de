// hsm/pkcs11.h against a real SoftHSM2 token made in a temp directory
// (SOFTHSM2_CONF names a softhsm2.conf whose tokendir is there): keys made in
// the token sign what OpenSSL and libsodium verify, the private key is
// sensitive and not extractable, failures name the token and object and
// never the PIN, a token that goes away fails signatures temporarily and
// signs again once it is back; and keystore/ reads pkcs11: rows as keys.
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <p11-kit/pkcs11.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "base/locked_thread.h"
#include "hsm/pkcs11.h"
#include "keystore/key_directory.h"
#include "keystore/lifecycle.h"
#include "keystore/manifest.h"
#include "keystore/snapshot.h"
#include "signer/base64.h"
#include "signer/digest.h"
#include "test_util.h"

using namespace signet;

namespace {

constexpr const char* kModule = "/usr/lib/softhsm/libsofthsm2.so";
constexpr const char* kPin = "4321";
constexpr const char* kLabel = "signet-unit";

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// One SoftHSM2 token per test process: the module reads SOFTHSM2_CONF once,
// at its C_Initialize.
struct SoftHsm {
  std::string dir, tokens, pin_file;
  SoftHsm() {
    dir = signet::testing::temp_dir("pkcs11");
    tokens = dir + "/tokens";
    ::mkdir(tokens.c_str(), 0700);
    std::ofstream(dir + "/softhsm2.conf") << "directories.tokendir = " << tokens
                                          << "\nobjectstore.backend = file\nlog.level = ERROR\n";
    ::setenv("SOFTHSM2_CONF", (dir + "/softhsm2.conf").c_str(), 1);
    const std::string init = std::string("softhsm2-util --init-token --free --label ") + kLabel + " --pin " + kPin +
                             " --so-pin 87654321 >/dev/null";
    EXPECT_EQ(std::system(init.c_str()), 0) << "softhsm2-util (Debian softhsm2) is needed";
    pin_file = dir + "/token.pin";
    std::ofstream(pin_file) << kPin << "\n";
    ::chmod(pin_file.c_str(), 0600);
  }
  std::string uri(const std::string& object, const std::string& pin_file_override = "") const {
    return std::string("pkcs11:token=") + kLabel + ";object=" + object + "?module-path=" + kModule +
           "&pin-source=" + (pin_file_override.empty() ? pin_file : pin_file_override);
  }
};

SoftHsm& softhsm() {
  static SoftHsm s;
  return s;
}

hsm::Pkcs11Uri parsed(const std::string& text) {
  auto u = hsm::Pkcs11Uri::parse(text);
  EXPECT_TRUE(u.ok()) << (u ? "" : u.error().message);
  return u.value();
}

Sha256Digest digest_of(const std::string& text) {
  Sha256 sha;
  sha.write(text);
  return sha.finish();
}

// Verifies with the key's published p= through signer/key.h's PublicKey
// (OpenSSL EVP for rsa, libsodium for ed25519): what a receiver does.
bool verifies(const PrivateKey& key, const Sha256Digest& d, const std::string& sig) {
  auto der = base64::decode(key.public_key_base64());
  if (!der) return false;
  auto pub = PublicKey::from_der(key.algorithm(), *der);
  return pub.ok() && pub->verify_digest(d, sig);
}

}  // namespace

TEST(Pkcs11Uri, ParsesRfc7512AttributesAndPercentEncoding) {
  auto u = hsm::Pkcs11Uri::parse(
      "pkcs11:token=my%20token;object=tx%2Fkey;id=%01%02;type=private?module-path=/usr/lib/x.so&pin-source=file:/etc/p");
  ASSERT_TRUE(u.ok()) << u.error().message;
  EXPECT_EQ(u->token, "my token");
  EXPECT_EQ(u->object, "tx/key");
  EXPECT_EQ(u->id, std::string("\x01\x02", 2));
  EXPECT_EQ(u->module_path, "/usr/lib/x.so");
  EXPECT_EQ(u->pin_source, "/etc/p");
}

TEST(Pkcs11Uri, RefusesUnknownAttributesAndMissingParts) {
  EXPECT_TRUE(has(hsm::Pkcs11Uri::parse("pkcs11:token=t;object=o;colour=red?module-path=/m.so").error().message,
                  "unknown attribute colour"));
  EXPECT_TRUE(has(hsm::Pkcs11Uri::parse("pkcs11:token=t;object=o").error().message, "no module-path="));
  EXPECT_TRUE(has(hsm::Pkcs11Uri::parse("pkcs11:object=o?module-path=/m.so").error().message, "no token="));
  EXPECT_TRUE(has(hsm::Pkcs11Uri::parse("pkcs11:token=t?module-path=/m.so").error().message, "no object= or id="));
  EXPECT_TRUE(has(hsm::Pkcs11Uri::parse("pkcs11:token=t;object=%zz?module-path=/m.so").error().message, "percent"));
  EXPECT_TRUE(has(hsm::Pkcs11Uri::parse("pkcs11:token=t;object=o?module-path=m.so").error().message, "absolute"));
  EXPECT_FALSE(hsm::Pkcs11Uri::parse("file:/x").ok());
}

TEST(Pkcs11Uri, RedactedHidesThePinAndFormatRoundTrips) {
  auto u = parsed("pkcs11:token=t;object=s1._domainkey.example.com;id=%00%ff?module-path=/m.so&pin-value=secret99");
  EXPECT_FALSE(has(u.redacted(), "secret99"));
  EXPECT_TRUE(has(u.redacted(), "pin-value=***"));
  auto again = parsed(u.format());
  EXPECT_EQ(again.token, u.token);
  EXPECT_EQ(again.object, u.object);
  EXPECT_EQ(again.id, u.id);
  EXPECT_EQ(again.module_path, u.module_path);
  EXPECT_EQ(again.pin_value, u.pin_value);
  // A parse error never echoes the PIN either.
  EXPECT_FALSE(has(hsm::Pkcs11Uri::parse("pkcs11:token=t;bogus=1?module-path=/m.so&pin-value=secret99").error().message,
                   "secret99"));
}

// RFC 7512's pin-source= is a URI reference: parse drops one "file:", so
// format must write one back before a path that itself begins with "file:"
// (found by tests/fuzz/fuzz_pkcs11_uri: `key new --pkcs11` wrote another
// PIN file's name into the manifest).
TEST(Pkcs11Uri, FormatKeepsAPinSourcePathThatBeginsWithFile) {
  auto u = parsed("pkcs11:token=t;object=o?module-path=/m.so&pin-source=file:file:/etc/p");
  EXPECT_EQ(u.pin_source, "file:/etc/p");
  EXPECT_EQ(parsed(u.format()).pin_source, "file:/etc/p");
  EXPECT_EQ(parsed(parsed("pkcs11:token=t;object=o?module-path=/m.so&pin-source=/etc/p").format()).pin_source, "/etc/p");
}

TEST(Pkcs11Token, RsaKeyMadeInTheTokenSignsWhatOpenSslVerifies) {
  auto key = hsm::generate_key(parsed(softhsm().uri("rsa-a")), Algorithm::RsaSha256, 2048);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_TRUE(key->is_external());
  EXPECT_EQ(key->bits(), 2048);
  EXPECT_EQ(key->to_pem(), "");  // nothing to write: the key stays in the token
  const Sha256Digest d = digest_of("headers");
  auto sig = key->sign_digest(d);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_EQ(sig->size(), 256u);
  EXPECT_TRUE(verifies(*key, d, *sig));
  EXPECT_FALSE(verifies(*key, digest_of("other headers"), *sig));
  // Opened again from the URI alone (as the daemon loads it): the same public key.
  auto reopened = hsm::open_key(parsed(softhsm().uri("rsa-a")));
  ASSERT_TRUE(reopened.ok()) << reopened.error().message;
  EXPECT_EQ(reopened->public_key_base64(), key->public_key_base64());
  EXPECT_EQ(reopened->algorithm(), Algorithm::RsaSha256);
}

TEST(Pkcs11Token, Ed25519KeyMadeInTheTokenSignsWhatLibsodiumVerifies) {
  auto key = hsm::generate_key(parsed(softhsm().uri("ed-a")), Algorithm::Ed25519Sha256);
  ASSERT_TRUE(key.ok()) << key.error().message;
  EXPECT_EQ(key->algorithm(), Algorithm::Ed25519Sha256);
  EXPECT_EQ(base64::decode(key->public_key_base64())->size(), 32u);  // RFC 8463 §4: the raw key
  const Sha256Digest d = digest_of("headers");
  auto sig = key->sign_digest(d);
  ASSERT_TRUE(sig.ok()) << sig.error().message;
  EXPECT_EQ(sig->size(), 64u);
  EXPECT_TRUE(verifies(*key, d, *sig));
  EXPECT_FALSE(verifies(*key, digest_of("x"), *sig));
}

// Read through the module directly, as another program would: the private
// key's value is not readable and the key cannot be exported.
// The signer process opens token keys on its key-parsing threads and signs
// on its channel threads, both on locked stacks of kKeyThreadStack bytes
// (base/locked_thread.h): the module's frames fit there with room to spare.
TEST(Pkcs11Token, OpensAndSignsOnALockedStackWellWithinItsSize) {
  ASSERT_TRUE(hsm::generate_key(parsed(softhsm().uri("rsa-locked")), Algorithm::RsaSha256, 2048).ok());
  bool signed_ok = false;
  auto t = LockedThread::start([&] {
    auto key = hsm::open_key(parsed(softhsm().uri("rsa-locked")));
    if (!key) return;
    const Sha256Digest d = digest_of("headers");
    auto sig = key->sign_digest(d);
    signed_ok = sig.ok() && verifies(*key, d, *sig);
  });
  ASSERT_TRUE(t.ok()) << t.error().message;
  t->join();
  EXPECT_TRUE(signed_ok);
  std::printf("a SoftHSM2 open and RSA-2048 signature used %zu KiB of a %zu KiB locked stack\n", t->stack_used() >> 10,
              kKeyThreadStack >> 10);
  EXPECT_GT(t->stack_used(), 0u);
  EXPECT_LT(t->stack_used(), kKeyThreadStack / 2);
}

TEST(Pkcs11Token, PrivateKeyIsSensitiveAndNotExtractable) {
  ASSERT_TRUE(hsm::generate_key(parsed(softhsm().uri("rsa-sens")), Algorithm::RsaSha256, 2048).ok());
  void* h = ::dlopen(kModule, RTLD_NOW);
  ASSERT_NE(h, nullptr);
  auto get = reinterpret_cast<CK_C_GetFunctionList>(::dlsym(h, "C_GetFunctionList"));
  CK_FUNCTION_LIST_PTR f = nullptr;
  ASSERT_EQ(get(&f), CKR_OK);
  CK_RV rv = f->C_Initialize(nullptr);
  ASSERT_TRUE(rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED);
  CK_ULONG n = 8;
  CK_SLOT_ID slots[8];
  ASSERT_EQ(f->C_GetSlotList(CK_TRUE, slots, &n), CKR_OK);
  bool checked = false;
  for (CK_ULONG i = 0; i < n; ++i) {
    CK_SESSION_HANDLE s;
    if (f->C_OpenSession(slots[i], CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) continue;
    rv = f->C_Login(s, CKU_USER, reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(kPin)), 4);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    std::string label = "rsa-sens";
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_LABEL, label.data(), label.size()}};
    CK_OBJECT_HANDLE o;
    CK_ULONG found = 0;
    f->C_FindObjectsInit(s, t, 2);
    f->C_FindObjects(s, &o, 1, &found);
    f->C_FindObjectsFinal(s);
    if (found == 1) {
      CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, token = CK_FALSE;
      CK_ATTRIBUTE a[] = {{CKA_SENSITIVE, &sensitive, sizeof sensitive},
                          {CKA_EXTRACTABLE, &extractable, sizeof extractable},
                          {CKA_TOKEN, &token, sizeof token}};
      ASSERT_EQ(f->C_GetAttributeValue(s, o, a, 3), CKR_OK);
      EXPECT_EQ(sensitive, CK_TRUE);
      EXPECT_EQ(extractable, CK_FALSE);
      EXPECT_EQ(token, CK_TRUE);
      unsigned char buf[1024];
      CK_ATTRIBUTE d{CKA_PRIVATE_EXPONENT, buf, sizeof buf};
      EXPECT_EQ(f->C_GetAttributeValue(s, o, &d, 1), CKR_ATTRIBUTE_SENSITIVE);
      checked = true;
    }
    f->C_CloseSession(s);
  }
  EXPECT_TRUE(checked);
}

TEST(Pkcs11Token, GenerateRefusesALabelTheTokenAlreadyHolds) {
  ASSERT_TRUE(hsm::generate_key(parsed(softhsm().uri("dup")), Algorithm::Ed25519Sha256).ok());
  auto again = hsm::generate_key(parsed(softhsm().uri("dup")), Algorithm::Ed25519Sha256);
  ASSERT_FALSE(again.ok());
  EXPECT_TRUE(has(again.error().message, "already holds an object")) << again.error().message;
}

TEST(Pkcs11Token, MissingObjectWrongPinAndMissingModuleAreRefusedAtOpenWithoutThePin) {
  auto missing = hsm::open_key(parsed(softhsm().uri("no-such-key")));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(has(missing.error().message, "object no-such-key")) << missing.error().message;
  EXPECT_TRUE(has(missing.error().message, "no private key object"));
  EXPECT_FALSE(missing.error().temporary);

  const std::string wrong = softhsm().dir + "/wrong.pin";
  std::ofstream(wrong) << "99991111\n";
  ::chmod(wrong.c_str(), 0600);
  auto bad_pin = hsm::open_key(parsed(softhsm().uri("rsa-a", wrong)));
  ASSERT_FALSE(bad_pin.ok());
  EXPECT_TRUE(has(bad_pin.error().message, "CKR_PIN_INCORRECT")) << bad_pin.error().message;
  EXPECT_FALSE(has(bad_pin.error().message, "99991111"));
  EXPECT_FALSE(has(bad_pin.error().message, kPin));

  auto value_pin = hsm::open_key(parsed(std::string("pkcs11:token=") + kLabel + ";object=x?module-path=" + kModule +
                                        "&pin-value=55554444"));
  ASSERT_FALSE(value_pin.ok());
  EXPECT_FALSE(has(value_pin.error().message, "55554444"));

  auto no_module = hsm::open_key(parsed(std::string("pkcs11:token=") + kLabel +
                                        ";object=rsa-a?module-path=/nonexistent/libnone.so&pin-source=" + softhsm().pin_file));
  ASSERT_FALSE(no_module.ok());
  EXPECT_TRUE(has(no_module.error().message, "/nonexistent/libnone.so")) << no_module.error().message;

  auto no_token = hsm::open_key(parsed(std::string("pkcs11:token=absent;object=rsa-a?module-path=") + kModule +
                                       "&pin-source=" + softhsm().pin_file));
  ASSERT_FALSE(no_token.ok());
  EXPECT_TRUE(has(no_token.error().message, "no token with this label")) << no_token.error().message;
}

TEST(Pkcs11Token, DeletedObjectFailsSignaturesTemporarilyNamingIt) {
  auto key = hsm::generate_key(parsed(softhsm().uri("to-delete")), Algorithm::RsaSha256, 2048);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(key->sign_digest(digest_of("a")).ok());
  ASSERT_TRUE(hsm::destroy_key(parsed(softhsm().uri("to-delete"))).ok());
  EXPECT_TRUE(hsm::destroy_key(parsed(softhsm().uri("to-delete"))).ok());  // already gone: fine
  auto sig = key->sign_digest(digest_of("a"));
  ASSERT_FALSE(sig.ok());
  EXPECT_TRUE(sig.error().temporary);
  EXPECT_TRUE(has(sig.error().message, "object to-delete")) << sig.error().message;
  EXPECT_FALSE(has(sig.error().message, kPin));
  EXPECT_FALSE(hsm::open_key(parsed(softhsm().uri("to-delete"))).ok());
}

// The token's directory moved away (the token is gone) and back: signatures
// fail while it is away and succeed again on the next call once it is back,
// with no reopen by the caller (the module is initialised again to find it).
TEST(Pkcs11Token, TokenThatGoesAwayAndComesBackSignsAgain) {
  auto key = hsm::generate_key(parsed(softhsm().uri("ed-away")), Algorithm::Ed25519Sha256);
  ASSERT_TRUE(key.ok()) << key.error().message;
  ASSERT_TRUE(key->sign_digest(digest_of("a")).ok());
  std::string token_dir;
  for (const auto& e : std::filesystem::directory_iterator(softhsm().tokens)) token_dir = e.path();
  ASSERT_FALSE(token_dir.empty());
  const std::string away = softhsm().dir + "/away";
  ASSERT_EQ(::rename(token_dir.c_str(), away.c_str()), 0);
  auto gone = key->sign_digest(digest_of("a"));
  ASSERT_FALSE(gone.ok());
  EXPECT_TRUE(gone.error().temporary);
  EXPECT_TRUE(has(gone.error().message, "token " + std::string(kLabel))) << gone.error().message;
  ASSERT_EQ(::rename(away.c_str(), token_dir.c_str()), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // the module is initialised again at most once a second
  auto back = key->sign_digest(digest_of("a"));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(verifies(*key, digest_of("a"), *back));
}

TEST(Pkcs11Token, SignsFromManyThreadsAtOnce) {
  auto key = hsm::generate_key(parsed(softhsm().uri("rsa-threads")), Algorithm::RsaSha256, 2048);
  ASSERT_TRUE(key.ok());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20; ++i) {
        const Sha256Digest d = digest_of(std::to_string(t) + "/" + std::to_string(i));
        auto sig = key->sign_digest(d);
        if (sig && verifies(*key, d, *sig)) ++good;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 120);
}

// ------------------------------------------------------------ keystore/

namespace {

keystore::StreamInfo tx_stream() {
  keystore::StreamInfo s;
  s.stream = "tx";
  s.domain = "example.com";
  s.owner = "ops";
  return s;
}

std::string token_uri() {  // no object=: the key directory names the key for its row
  return std::string("pkcs11:token=") + kLabel + "?module-path=" + kModule + "&pin-source=" + softhsm().pin_file;
}

}  // namespace

TEST(Pkcs11Keystore, ManifestKeepsATokenRowAndRefusesAPinValue) {
  keystore::Manifest m;
  keystore::KeyRow r;
  r.stream = "tx";
  r.domain = "example.com";
  r.selector = "s1";
  r.bits = 2048;
  r.file = softhsm().uri("s1._domainkey.example.com");
  m.keys.push_back(r);
  auto back = keystore::parse_manifest(keystore::format_manifest(m), "manifest");
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->keys[0].file, r.file);
  EXPECT_TRUE(back->keys[0].in_token());
  std::string text = keystore::format_manifest(m);
  text.replace(text.find("pin-source="), std::string::npos, "pin-value=1234\ncreated = 2026-01-01T00:00:00Z\n"
                                                              "published-at = 2026-01-01T00:00:00Z\n");
  auto refused = keystore::parse_manifest(text, "manifest");
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(has(refused.error().message, "pin-source")) << refused.error().message;
  EXPECT_TRUE(has(refused.error().message, "manifest:"));
}

// key new --pkcs11 as the tool does it: the key is made in the token, the
// row records its URI, the set loads (and signs), a dropped change destroys
// the object again, and retiring destroys it.
TEST(Pkcs11Keystore, KeyDirectoryMakesLoadsAndRetiresATokenKey) {
  const std::string dir = signet::testing::temp_dir("pkcs11-kd");
  auto kd = keystore::KeyDirectory::open(dir, keystore::KeyDirectory::Mode::Write);
  ASSERT_TRUE(kd.ok()) << kd.error().message;
  const std::int64_t now = 1'790'000'000;
  auto row = keystore::plan_new_key(kd->manifest(), tx_stream(), Algorithm::RsaSha256, 2048, now);
  ASSERT_TRUE(row.ok());
  auto uri = keystore::KeyDirectory::token_key_uri(token_uri(), *row);
  ASSERT_TRUE(uri.ok()) << uri.error().message;
  EXPECT_TRUE(has(*uri, "object=" + row->dns_name()));
  row->file = *uri;
  {  // dropped without apply(): the object made for it is destroyed
    keystore::KeyChange dropped(kd->manifest());
    ASSERT_TRUE(kd->create_key(dropped, *row).ok());
    ASSERT_TRUE(hsm::open_key(parsed(*uri)).ok());
  }
  EXPECT_FALSE(hsm::open_key(parsed(*uri)).ok());

  keystore::KeyChange change(kd->manifest());
  auto record = kd->create_key(change, *row);
  ASSERT_TRUE(record.ok()) << record.error().message;
  EXPECT_TRUE(has(*record, "k=rsa; p=MII"));
  change.manifest.keys.push_back(*row);
  ASSERT_TRUE(kd->apply(change).ok());

  keystore::LoadOptions opts;
  auto snap = keystore::load_key_directory(dir, opts);
  ASSERT_TRUE(snap.ok()) << snap.error().message;
  auto loaded = kd->load_key(kd->manifest().keys[0]);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ("v=DKIM1; k=rsa; p=" + loaded->public_key_base64(), *record);

  // Retire: the register row stays, the token's objects go.
  keystore::KeyChange retire(kd->manifest());
  retire.manifest.keys[0].retired_at = now + 10;
  retire.manifest.keys[0].retire_at = now + 10;
  retire.destroy.push_back(kd->key_path(retire.manifest.keys[0]));
  auto done = kd->apply(retire);
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_TRUE(done->empty());
  EXPECT_FALSE(hsm::open_key(parsed(*uri)).ok());
  EXPECT_TRUE(keystore::load_key_directory(dir, opts).ok());  // a retired row needs no object
}

TEST(Pkcs11Keystore, SnapshotRefusesTheWholeSetWhenAnObjectIsMissing) {
  const std::string dir = signet::testing::temp_dir("pkcs11-snap");
  ASSERT_TRUE(hsm::generate_key(parsed(softhsm().uri("snap-present")), Algorithm::Ed25519Sha256).ok());
  std::vector<keystore::KeyRow> rows(2);
  for (int i = 0; i < 2; ++i) {
    rows[i].stream = "tx";
    rows[i].domain = "example.com";
    rows[i].selector = "s" + std::to_string(i);
    rows[i].algorithm = Algorithm::Ed25519Sha256;
    rows[i].window = keystore::Window::always();
    rows[i].origin = "manifest:" + std::to_string(i + 1);
  }
  rows[0].file = softhsm().uri("snap-present");
  rows[1].file = softhsm().uri("snap-absent");
  auto one = keystore::KeySnapshot::load(dir, {rows[0]});
  ASSERT_TRUE(one.ok()) << one.error().message;
  auto keys = one.value()->keys_for("tx", 0);
  ASSERT_EQ(keys.size(), 1u);
  EXPECT_TRUE(keys[0].key->sign_digest(digest_of("m")).ok());
  auto both = keystore::KeySnapshot::load(dir, rows);
  ASSERT_FALSE(both.ok());
  EXPECT_TRUE(has(both.error().message, "manifest:2")) << both.error().message;
  EXPECT_TRUE(has(both.error().message, "object snap-absent"));
}
