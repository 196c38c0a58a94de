// signer/secure_memory.h: where a parsed key's secrets are. The test reads its
// own memory (every readable mapping of /proc/self/maps) for the RSA key's
// private numbers (d, p, q, dmp1, dmq1, iqmp) and the Ed25519 seed, in both
// byte orders (big-endian as DER has them, little-endian as a BIGNUM's limbs
// hold them on x86-64), and checks that each copy is in the secure heap,
// whose mapping is locked and never dumped; that dropping the key leaves no
// copy; and that a full heap fails a parse with its own message.
#include <gtest/gtest.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "keystore/key_file.h"
#include "keystore/sealed.h"
#include "signer/base64.h"
#include "signer/key.h"
#include "signer/secure_memory.h"
#include "test_util.h"

using namespace signet;

namespace {

// The needles and the DER they come from live in a mapping of their own,
// which the scan skips: the test's copies are not the key's.
struct Scratch {
  static constexpr std::size_t kSize = 1 << 16;
  unsigned char* base = static_cast<unsigned char*>(
      ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  std::size_t used = 0;
  ~Scratch() {
    sodium_memzero(base, kSize);
    ::munmap(base, kSize);
  }
  unsigned char* take(std::size_t n) {
    unsigned char* p = base + used;
    used += (n + 15) & ~std::size_t{15};
    return p;
  }
};

struct Needle {
  std::string name;
  const unsigned char* bytes;
  std::size_t size;
};

using signet::testing::Mapping;
using signet::testing::mappings;

struct Hit {
  std::string needle, mapping, flags;
  bool secure;
};

// Every copy of each needle in this process's readable memory, but the
// scratch's and the read buffer's. Read through /proc/self/mem, as another
// process would (a direct read faults on file mappings past their end).
std::vector<Hit> scan(const std::vector<Needle>& needles, const Scratch& scratch) {
  constexpr std::size_t kChunk = 1 << 20, kOverlap = 1024;
  auto* buf = static_cast<unsigned char*>(
      ::mmap(nullptr, kChunk + kOverlap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
  const int fd = ::open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
  std::vector<Hit> hits;
  for (const Mapping& m : mappings()) {
    if (m.perms[0] != 'r' || m.name == "[vvar]" || m.name == "[vsyscall]") continue;
    for (std::uintptr_t at = m.lo; at < m.hi; at += kChunk) {
      const std::size_t want = std::min<std::size_t>(kChunk + kOverlap, m.hi - at);
      const ssize_t got = ::pread(fd, buf, want, static_cast<off_t>(at));
      if (got <= 0) break;
      for (const Needle& n : needles) {
        const unsigned char* e = buf + got;
        for (const unsigned char* p = buf; (p = std::search(p, e, n.bytes, n.bytes + n.size)) != e; ++p) {
          const std::size_t off = static_cast<std::size_t>(p - buf);
          if (off >= kChunk) break;  // the next chunk finds it
          // The needles themselves and the read buffer are not copies. They are
          // skipped by address, not by mapping: the kernel merges adjacent
          // anonymous mappings, so the scratch's can start below its base.
          const std::uintptr_t addr = at + off;
          const auto inside = [addr](const void* lo, std::size_t len) {
            const auto b = reinterpret_cast<std::uintptr_t>(lo);
            return addr >= b && addr < b + len;
          };
          if (inside(scratch.base, Scratch::kSize) || inside(buf, kChunk + kOverlap)) continue;
          hits.push_back({n.name, m.name, m.flags, CRYPTO_secure_allocated(reinterpret_cast<const void*>(addr)) == 1});
        }
      }
    }
  }
  ::close(fd);
  sodium_memzero(buf, kChunk + kOverlap);
  ::munmap(buf, kChunk + kOverlap);
  return hits;
}

// A DER element's content (X.690 definite lengths), advancing *in past it.
std::pair<const unsigned char*, std::size_t> der_take(const unsigned char** in, unsigned char tag) {
  const unsigned char* p = *in;
  EXPECT_EQ(p[0], tag);
  std::size_t len = p[1];
  p += 2;
  if (len & 0x80) {
    const std::size_t n = len & 0x7f;
    len = 0;
    for (std::size_t i = 0; i < n; ++i) len = (len << 8) | *p++;
  }
  *in = p + len;
  return {p, len};
}

// The PEM's DER, decoded into the scratch (never the ordinary heap).
std::pair<const unsigned char*, std::size_t> pem_der(const std::string& pem, Scratch& s) {
  const auto body = pem.find('\n') + 1;
  const auto end = pem.find("-----END");
  unsigned char* der = s.take(pem.size());
  std::size_t len = 0;
  EXPECT_EQ(sodium_base642bin(der, pem.size(), pem.data() + body, end - body, "\r\n", &len, nullptr,
                              sodium_base64_VARIANT_ORIGINAL),
            0);
  return {der, len};
}

// A number both ways: big-endian as DER has it (no leading zero), and
// little-endian as a BIGNUM's limbs hold it on a little-endian machine.
void add_both(std::vector<Needle>& out, const std::string& name, std::pair<const unsigned char*, std::size_t> v,
              Scratch& s) {
  while (v.second > 0 && v.first[0] == 0) ++v.first, --v.second;
  unsigned char* le = s.take(v.second);
  std::reverse_copy(v.first, v.first + v.second, le);
  out.push_back({name + " big-endian", v.first, v.second});
  out.push_back({name + " little-endian", le, v.second});
}

// d, p, q, dmp1, dmq1, iqmp of a PKCS#8 RSA PEM (RFC 8017 A.1.2).
std::vector<Needle> rsa_secrets(const std::string& pem, Scratch& s) {
  auto [der, len] = pem_der(pem, s);
  const unsigned char* p = der;
  const unsigned char* info = der_take(&p, 0x30).first;  // PrivateKeyInfo
  der_take(&info, 0x02);                                 // version
  der_take(&info, 0x30);                                 // algorithm
  const unsigned char* rsa = der_take(&info, 0x04).first;
  const unsigned char* seq = der_take(&rsa, 0x30).first;  // RSAPrivateKey
  for (int i = 0; i < 3; ++i) der_take(&seq, 0x02);       // version, n, e
  std::vector<Needle> out;
  for (const char* name : {"d", "p", "q", "dmp1", "dmq1", "iqmp"}) add_both(out, name, der_take(&seq, 0x02), s);
  return out;
}

// The 32-byte seed of a PKCS#8 Ed25519 PEM (RFC 8410 §7).
std::vector<Needle> ed25519_seed(const std::string& pem, Scratch& s) {
  auto [der, len] = pem_der(pem, s);
  return {{"ed25519 seed", der + len - 32, 32}};
}

std::string describe(const std::vector<Hit>& hits) {
  std::ostringstream o;
  for (const Hit& h : hits) o << h.needle << " in " << h.mapping << (h.secure ? " (secure heap)" : "") << ";";
  return o.str();
}

std::size_t count(const std::vector<Hit>& hits, const std::string& needle) {
  return std::count_if(hits.begin(), hits.end(), [&](const Hit& h) { return h.needle == needle; });
}

std::string pem_of(Algorithm a) {
  auto k = PrivateKey::generate(a);
  EXPECT_TRUE(k.ok());
  return k->to_pem();
}

}  // namespace

TEST(KeyMemory, OpenSslAllocationsAreHookedAndTheSecureHeapIsLockedAndNeverDumped) {
  ASSERT_TRUE(ensure_secure_heap());
  const SecureHeapState s = secure_heap();
  EXPECT_TRUE(s.hooked) << "CRYPTO_set_mem_functions was refused: OpenSSL allocated before main()";
  EXPECT_TRUE(s.ready);
  EXPECT_GE(s.size, std::size_t{1} << 20);
  if (::geteuid() == 0) {
    EXPECT_TRUE(s.locked) << "root (CAP_IPC_LOCK) could not mlock the secure heap";
  }
  SecretBuffer b(64);
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(CRYPTO_secure_allocated(b.data()), 1);
  for (const Mapping& m : mappings()) {
    const auto at = reinterpret_cast<std::uintptr_t>(b.data());
    if (at < m.lo || at >= m.hi) continue;
    EXPECT_NE(m.flags.find(" dd"), std::string::npos) << "no MADV_DONTDUMP on the secure heap: " << m.flags;
    if (s.locked) {
      EXPECT_NE(m.flags.find(" lo"), std::string::npos) << "the secure heap is not locked: " << m.flags;
    }
  }
}

TEST(KeyMemory, RsaPrivateNumbersAreOnlyInTheSecureHeapAfterParseAndSigning) {
  Scratch s;
  const std::string pem = pem_of(Algorithm::RsaSha256);
  const std::vector<Needle> secrets = rsa_secrets(pem, s);
  {
    auto key = PrivateKey::parse(pem);
    ASSERT_TRUE(key.ok()) << key.error().message;
    Sha256Digest d{};
    d[0] = 1;
    auto sig = key->sign_digest(d);  // the first signature: the Montgomery caches of p and q
    ASSERT_TRUE(sig.ok());
    auto pub = PublicKey::from_der(Algorithm::RsaSha256, *base64::decode(key->public_key_base64()));
    ASSERT_TRUE(pub.ok());
    EXPECT_TRUE(pub->verify_digest(d, *sig));
    const std::vector<Hit> hits = scan(secrets, s);
    // The search works: the key's own numbers are found, as its BIGNUMs hold them.
    for (const char* n : {"d", "p", "q", "dmp1", "dmq1", "iqmp"}) {
      EXPECT_GE(count(hits, std::string(n) + " little-endian"), 1u) << n << " not found: " << describe(hits);
    }
    for (const Hit& h : hits) {
      EXPECT_TRUE(h.secure) << h.needle << " outside the secure heap, in " << h.mapping;
      EXPECT_NE(h.flags.find(" dd"), std::string::npos) << h.needle << " in a dumpable mapping";
    }
    EXPECT_EQ(count(hits, "p big-endian") + count(hits, "q big-endian"), 0u)
        << "the DER decoded from the PEM was not cleansed: " << describe(hits);
  }
  const std::vector<Hit> after = scan(secrets, s);
  EXPECT_TRUE(after.empty()) << "dropping the key left copies: " << describe(after);
}

TEST(KeyMemory, Ed25519SeedIsOnlyInTheSecureHeapAndCleansedWhenDropped) {
  Scratch s;
  const std::string pem = pem_of(Algorithm::Ed25519Sha256);
  const std::vector<Needle> seed = ed25519_seed(pem, s);
  {
    auto key = PrivateKey::parse(pem);
    ASSERT_TRUE(key.ok()) << key.error().message;
    Sha256Digest d{};
    ASSERT_TRUE(key->sign_digest(d).ok());
    const std::vector<Hit> hits = scan(seed, s);
    ASSERT_GE(hits.size(), 1u) << "the search did not find the seed the key holds";
    for (const Hit& h : hits) EXPECT_TRUE(h.secure) << "the seed outside the secure heap, in " << h.mapping;
  }
  const std::vector<Hit> after = scan(seed, s);
  EXPECT_TRUE(after.empty()) << "dropping the key left copies: " << describe(after);
}

TEST(KeyMemory, KeyFileBytesAndSealedPlaintextAreReadIntoTheSecureHeap) {
  const std::string dir = signet::testing::temp_dir("keymem");
  const std::string path = dir + "/k.key";
  auto key = PrivateKey::generate(Algorithm::Ed25519Sha256);
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(keystore::write_private_key(path, *key).ok());
  auto bytes = keystore::read_key_file(path);
  ASSERT_TRUE(bytes.ok()) << bytes.error().message;
  EXPECT_EQ(CRYPTO_secure_allocated(bytes->bytes().data()), 1);

  auto master = keystore::MasterKey::generate();
  ASSERT_TRUE(master.ok());
  auto sealed = keystore::seal_key(bytes->bytes(), Algorithm::Ed25519Sha256, *master, "example.com", "s1");
  ASSERT_TRUE(sealed.ok());
  auto plain = keystore::open_sealed(*sealed, *master, "example.com", "s1", "k.sealed");
  ASSERT_TRUE(plain.ok()) << plain.error().message;
  EXPECT_EQ(plain->bytes(), bytes->bytes());
  EXPECT_EQ(CRYPTO_secure_allocated(plain->bytes().data()), 1);
  EXPECT_EQ(CRYPTO_secure_allocated(master->data()), 0) << "the master key is sodium_malloc'd, not in OpenSSL's heap";
  ::unlink(path.c_str());
  ::rmdir(dir.c_str());
}

TEST(KeyMemory, AFullSecureHeapFailsTheParseWithItsOwnMessageAndRecovers) {
  const std::string rsa = pem_of(Algorithm::RsaSha256);
  const std::string ed = pem_of(Algorithm::Ed25519Sha256);
  ASSERT_TRUE(ensure_secure_heap());
  std::vector<SecretBuffer> fill;
  for (std::size_t chunk = secure_heap().size / 2; chunk >= 32; chunk /= 2) {
    for (;;) {
      SecretBuffer b(chunk);
      if (!b.ok()) break;
      fill.push_back(std::move(b));
    }
  }
  for (const std::string* pem : {&rsa, &ed}) {
    auto key = PrivateKey::parse(*pem);
    ASSERT_FALSE(key.ok());
    EXPECT_NE(key.error().message.find("secure heap for private keys is full"), std::string::npos) << key.error().message;
    EXPECT_NE(key.error().message.find("secure-heap-size"), std::string::npos);
  }
  fill.clear();
  EXPECT_TRUE(PrivateKey::parse(rsa).ok()) << "the heap emptied, keys parse again";
  EXPECT_TRUE(PrivateKey::parse(ed).ok());
}
