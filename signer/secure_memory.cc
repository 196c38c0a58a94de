#include "signer/secure_memory.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdio>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace signet {
namespace {

// How deep this thread is in SecretAllocations scopes, and whether an
// allocation in one found the heap full.
thread_local int t_depth = 0;
thread_local bool t_failed = false;

std::atomic<bool> g_ready{false};
std::atomic<bool> g_locked{false};
std::atomic<std::size_t> g_size{0};
bool g_hooked = false;  // written once, before main()
std::mutex g_init;

#if defined(__SANITIZE_ADDRESS__)
#define SIGNET_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SIGNET_LSAN 1
#endif
#endif
#ifdef SIGNET_LSAN
extern "C" void __lsan_register_root_region(const void* p, std::size_t size);
// LeakSanitizer scans only the memory it knows; the secure heap is OpenSSL's
// own mmap, and the keys in it point at ordinary OpenSSL objects, which LSan
// would report as leaked. Its mapping (found from a block in it) is a root.
void register_with_lsan() {
  void* probe = CRYPTO_secure_malloc(1, __FILE__, __LINE__);
  if (!probe) return;
  const auto at = reinterpret_cast<std::uintptr_t>(probe);
  if (std::FILE* f = std::fopen("/proc/self/maps", "r")) {
    unsigned long lo = 0, hi = 0;
    char line[512];
    while (std::fgets(line, sizeof line, f)) {
      if (std::sscanf(line, "%lx-%lx", &lo, &hi) == 2 && at >= lo && at < hi) {
        __lsan_register_root_region(reinterpret_cast<const void*>(lo), hi - lo);
        break;
      }
    }
    std::fclose(f);
  }
  CRYPTO_secure_free(probe, __FILE__, __LINE__);
}
#endif

void* hook_malloc(std::size_t n, const char* file, int line) {
  if (t_depth > 0 && g_ready.load(std::memory_order_acquire)) {
    void* p = CRYPTO_secure_malloc(std::max<std::size_t>(n, 1), file, line);
    if (!p) t_failed = true;
    return p;  // never ordinary memory instead: the caller fails, and says why
  }
  return std::malloc(n);
}

void hook_free(void* p, const char* file, int line) {
  if (p && CRYPTO_secure_allocated(p)) {
    CRYPTO_secure_free(p, file, line);  // cleanses the whole block
  } else {
    std::free(p);
  }
}

void* hook_realloc(void* p, std::size_t n, const char* file, int line) {
  if (!p) return hook_malloc(n, file, line);
  if (n == 0) {
    hook_free(p, file, line);
    return nullptr;
  }
  if (!CRYPTO_secure_allocated(p)) return std::realloc(p, n);
  // A secure block stays secure, whatever scope this thread is in.
  void* q = CRYPTO_secure_malloc(n, file, line);
  if (!q) {
    t_failed = true;
    return nullptr;  // realloc's contract: the old block is untouched
  }
  std::memcpy(q, p, std::min(n, CRYPTO_secure_actual_size(p)));
  CRYPTO_secure_free(p, file, line);
  return q;
}

// CRYPTO_set_mem_functions refuses once OpenSSL has allocated anything, and
// shared libraries' constructors run before the program's: Debian's
// cpp-httplib pulls in libssl, whose initialisation allocates. So the hook is
// installed from the executable's .preinit_array, which the dynamic linker
// runs before any library's constructor (libcrypto is mapped and relocated
// by then; setting its allocator needs nothing more).
void install_hook(int, char**, char**) {
  if (!g_hooked) g_hooked = CRYPTO_set_mem_functions(hook_malloc, hook_realloc, hook_free) == 1;
}
[[gnu::used, gnu::section(".preinit_array")]] void (*const g_preinit)(int, char**, char**) = install_hook;

std::size_t round_up_pow2(std::size_t n) {
  std::size_t p = 4096;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

Status init_secure_heap(std::size_t bytes) {
  const std::size_t size = round_up_pow2(bytes);
  std::lock_guard<std::mutex> lock(g_init);
  if (g_ready.load()) {
    if (g_size.load() == size) return Ok{};
    return permanent_error("the secure heap is already set up with " + std::to_string(g_size.load() >> 10) +
                           " KiB; secure-heap-size is read at start only: restart signet-milter to change it");
  }
  // 32-byte minimum blocks: an Ed25519 secret key is 64, a BIGNUM 24.
  const int rc = CRYPTO_secure_malloc_init(size, 32);
  if (rc == 0) {
    return permanent_error("cannot set up the secure heap for private keys (" + std::to_string(size >> 10) +
                           " KiB, secure-heap-size): mmap failed; lower secure-heap-size");
  }
  g_size = size;
  g_locked = rc == 1;
#ifdef SIGNET_LSAN
  register_with_lsan();
#endif
  g_ready.store(true, std::memory_order_release);
  return Ok{};
}

bool ensure_secure_heap() {
  if (g_ready.load(std::memory_order_acquire)) return true;
  return init_secure_heap(kDefaultSecureHeapBytes).ok() || g_ready.load();
}

SecureHeapState secure_heap() {
  SecureHeapState s;
  s.ready = g_ready.load(std::memory_order_acquire);
  s.locked = g_locked.load();
  s.hooked = g_hooked;
  s.size = g_size.load();
  s.used = s.ready ? CRYPTO_secure_used() : 0;
  return s;
}

Error secure_heap_full_error() {
  const SecureHeapState s = secure_heap();
  return permanent_error("the secure heap for private keys is full (" + std::to_string(s.used >> 10) + " of " +
                         std::to_string(s.size >> 10) +
                         " KiB in use): raise secure-heap-size (docs/key-custody.md gives the cost per key) and "
                         "restart signet-milter");
}

SecretAllocations::SecretAllocations() : failed_before_(t_failed) {
  ensure_secure_heap();
  ++t_depth;
  t_failed = false;
}

SecretAllocations::~SecretAllocations() {
  --t_depth;
  t_failed = t_failed || failed_before_;
}

bool SecretAllocations::failed() const { return t_failed; }

SecretBuffer::SecretBuffer(std::size_t n) : n_(n) {
  if (n == 0) return;
  ensure_secure_heap();
  p_ = static_cast<unsigned char*>(g_ready.load() ? OPENSSL_secure_zalloc(n) : nullptr);
  if (!p_) n_ = 0, failed_ = true;
}

SecretBuffer& SecretBuffer::operator=(SecretBuffer&& o) noexcept {
  if (this != &o) {
    OPENSSL_secure_free(p_);
    p_ = o.p_, n_ = o.n_, failed_ = o.failed_;
    o.p_ = nullptr, o.n_ = 0;
  }
  return *this;
}

SecretBuffer::~SecretBuffer() { OPENSSL_secure_free(p_); }  // cleansed by OpenSSL

}  // namespace signet
