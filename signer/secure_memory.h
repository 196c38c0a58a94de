// signer/secure_memory.h — where private-key material lives in memory.
//
// What it is: one locked, non-dumpable arena for every private key the
// process parses (docs/key-custody.md, "Keys in memory"). It is OpenSSL's
// secure heap: one mmap'd region between two PROT_NONE guard pages, mlock'd
// (mlock2 MLOCK_ONFAULT: pages are locked as they are first touched, the whole
// size counts against RLIMIT_MEMLOCK), madvise'd MADV_DONTDUMP, and cleansed
// by OpenSSL on every free. It holds
//   - the RSA private numbers (d, p, q, dmp1, dmq1, iqmp: OpenSSL's DER
//     decoder makes them with BN_secure_new) and everything OpenSSL allocates
//     while a key is parsed (the decoder's copy of the DER) or while it signs
//     its first signature (the Montgomery contexts of p and q, kept with the
//     key, each a copy of p or q),
//   - the Ed25519 secret key (seed || public),
//   - the key file's bytes, the decrypted sealed plaintext and the DER decoded
//     from the PEM (SecretBuffer), zeroized when dropped.
// One arena, not one sodium_malloc per key: sodium_malloc maps 4 pages and
// splits them into 3-4 mappings per allocation, so 100 000 Ed25519 keys would
// need 400 000 mappings (vm.max_map_count is 65 530) and 400 MB locked.
// The master key is the one sodium_malloc allocation (keystore/sealed.h).
//
// Calls:
//   init_secure_heap(bytes)   sets the arena up once, rounded up to a power of
//                             two; fails (permanent) when the arena cannot be
//                             mapped, or was set up already with another
//                             size. `locked` says whether mlock succeeded.
//   secure_heap()             its state; the first key parsed without an
//                             init_secure_heap() sets it up at
//                             kDefaultSecureHeapBytes (tests, tools).
//   SecretAllocations         a scope: OpenSSL allocations made on this
//                             thread while it lives go to the secure heap
//                             (an allocator hook installed from the
//                             executable's .preinit_array, before any
//                             library's constructor, so
//                             every allocation OpenSSL makes is seen);
//                             failed() says one did not fit.
//   SecretBuffer(n)           n zeroed bytes in the secure heap; ok() false
//                             when it is full. Cleansed when dropped.
//   secure_heap_full_error()  the message a full heap gives: its size, what
//                             is used, the option to raise.
// Fails: allocation in a full heap returns nullptr (OpenSSL then fails the
// parse, which the caller reports with secure_heap_full_error()); nothing is
// ever put in ordinary memory instead.
// Thread safety: all calls may be made from any thread; OpenSSL's lock
// serializes the heap.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "base/result.h"

namespace signet {

// 4 MiB: about 650 RSA-2048 keys once they have signed (6.1 KiB each), or
// 60 000 Ed25519 keys (64 bytes); docs/key-custody.md has the measurements.
// It fits under the 8 MiB RLIMIT_MEMLOCK a non-root process gets by default
// (and that a container may not let even root raise); larger key sets raise
// secure-heap-size together with LimitMEMLOCK=.
constexpr std::size_t kDefaultSecureHeapBytes = std::size_t{4} << 20;

struct SecureHeapState {
  bool ready = false;    // set up
  bool locked = false;   // mlock (and MADV_DONTDUMP) succeeded
  bool hooked = false;   // OpenSSL's allocations pass through our hook
  std::size_t size = 0;  // bytes
  std::size_t used = 0;  // bytes allocated now
};

Status init_secure_heap(std::size_t bytes);
SecureHeapState secure_heap();
bool ensure_secure_heap();  // the default arena unless one is set up; false: none could be
Error secure_heap_full_error();

class SecretAllocations {
 public:
  SecretAllocations();
  ~SecretAllocations();
  SecretAllocations(const SecretAllocations&) = delete;
  SecretAllocations& operator=(const SecretAllocations&) = delete;
  bool failed() const;  // an allocation in this scope found the heap full

 private:
  bool failed_before_;
};

class SecretBuffer {
 public:
  SecretBuffer() = default;
  explicit SecretBuffer(std::size_t n);
  SecretBuffer(SecretBuffer&& o) noexcept : p_(o.p_), n_(o.n_), failed_(o.failed_) { o.p_ = nullptr, o.n_ = 0; }
  SecretBuffer& operator=(SecretBuffer&& o) noexcept;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer();

  bool ok() const { return !failed_; }
  unsigned char* data() { return p_; }
  const unsigned char* data() const { return p_; }
  std::size_t size() const { return n_; }
  void shrink(std::size_t n) { if (n < n_) n_ = n; }  // the tail stays allocated (cleansed at the end)
  std::string_view view() const { return {reinterpret_cast<const char*>(p_), n_}; }

 private:
  unsigned char* p_ = nullptr;
  std::size_t n_ = 0;
  bool failed_ = false;
};

}  // namespace signet
