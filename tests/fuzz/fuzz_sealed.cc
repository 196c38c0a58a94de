// The sealed key file reader (keystore/sealed.h): everything under the key
// directory is untrusted input to whoever opens it (issue 11, "Bad input": a
// forged header, a huge length, a format version from the future: refused,
// bounded, never a crash).
//
// One fixed test master key (32 bytes of 0x5a), domain example.com, selector
// tx-202612. Input: a mode byte, then
//   even: a sealed file's bytes, as read from the key directory. Checks:
//     open_sealed never crashes and, when it refuses, names the file; a file
//     that opens was sealed for this key and name, so it opens as nothing
//     else (another selector, another domain); open_stored_key follows
//     the protection (a sealed file refused under Plain, a plaintext one
//     under Sealed, a plaintext one passed unchanged otherwise).
//   odd: a length-prefixed plaintext (fuzz_util.h Reader), a position, an XOR
//     byte and a length change. The plaintext is sealed and must open to the
//     same bytes; the sealed file with that byte changed, or cut or extended,
//     must not open (XChaCha20-Poly1305's tag covers the header, the nonce
//     and the ciphertext; RFC 8439 §2.8, keystore/sealed.h).
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "keystore/sealed.h"

using namespace signet;
using namespace signet::keystore;

namespace {

constexpr std::string_view kDomain = "example.com";
constexpr std::string_view kSelector = "tx-202612";
const std::string kPath = "/keys/example.com/tx-202612.sealed";

const MasterKey& master() {
  static const MasterKey key = MasterKey::from_bytes(std::string(MasterKey::kSize, '\x5a')).value();
  return key;
}

KeyBytes secret_copy(std::string_view bytes) {
  SecretBuffer b(bytes.size());
  if (!bytes.empty()) FUZZ_CHECK(b.ok(), "the secure heap is full");
  if (!bytes.empty()) std::copy(bytes.begin(), bytes.end(), b.data());
  return KeyBytes(std::move(b));
}

void check_refusal(const Error& e) {
  FUZZ_CHECK(!e.temporary, "a bad sealed file is a temporary error");
  FUZZ_CHECK(e.message.find(kPath) != std::string::npos, "a refusal that does not name the file: " + e.message);
}

void open_file(std::string_view file) {
  auto opened = open_sealed(file, master(), kDomain, kSelector, kPath);
  if (!opened) {
    check_refusal(opened.error());
  } else {
    FUZZ_CHECK(!open_sealed(file, master(), kDomain, "tx-202611", kPath), "opens as another selector");
    FUZZ_CHECK(!open_sealed(file, master(), "example.net", kSelector, kPath), "opens as another domain");
  }
  const bool sealed = is_sealed(file);
  for (Protection p : {Protection::Plain, Protection::Sealed, Protection::Any}) {
    auto stored = open_stored_key(secret_copy(file), kPath, kDomain, kSelector, &master(), p);
    if (sealed && p == Protection::Plain) FUZZ_CHECK(!stored, "a sealed file passed under key-protection = plain");
    if (!sealed && p == Protection::Sealed) FUZZ_CHECK(!stored, "a plaintext file passed under key-protection = sealed");
    if (!sealed && p != Protection::Sealed) {
      FUZZ_CHECK(stored && stored->bytes() == file, "a plaintext file not passed unchanged");
    }
    if (sealed && p != Protection::Plain) FUZZ_CHECK(stored.ok() == opened.ok(), "open_stored_key != open_sealed");
  }
}

void seal_and_tamper(signet::fuzz::Reader& in) {
  const std::string_view plain = in.str();
  const std::size_t at = in.u16();
  const std::uint8_t flip = in.byte();
  const std::uint8_t resize = in.byte();
  const Algorithm alg = resize & 0x80 ? Algorithm::Ed25519Sha256 : Algorithm::RsaSha256;
  auto sealed = seal_key(plain, alg, master(), kDomain, kSelector);
  if (plain.size() + 16 > 64 * 1024) {  // the format's bound (keystore/sealed.h)
    FUZZ_CHECK(!sealed, "a plaintext over 64 KiB sealed");
    return;
  }
  FUZZ_CHECK(sealed.ok(), sealed ? "" : sealed.error().message);
  FUZZ_CHECK(is_sealed(*sealed), "seal_key's output does not begin with the magic");
  auto opened = open_sealed(*sealed, master(), kDomain, kSelector, kPath);
  FUZZ_CHECK(opened.ok(), opened ? "" : opened.error().message);
  FUZZ_CHECK(opened->bytes() == plain, "sealed and opened, another plaintext");

  std::string changed = *sealed;
  if (flip != 0) changed[at % changed.size()] = static_cast<char>(changed[at % changed.size()] ^ flip);
  const std::size_t cut = resize & 0x7f;
  if (cut != 0 && (resize & 0x40)) changed.append(cut & 0x3f, '\0');
  else if (cut != 0) changed.resize(changed.size() - std::min(changed.size(), cut));
  if (changed == *sealed) return;
  auto tampered = open_sealed(changed, master(), kDomain, kSelector, kPath);
  FUZZ_CHECK(!tampered, "a changed sealed file opens");
  check_refusal(tampered.error());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  signet::fuzz::Reader in(data, size);
  if (in.byte() % 2 == 0) {
    open_file(in.rest());
  } else {
    seal_and_tamper(in);
  }
  return 0;
}
