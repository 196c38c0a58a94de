#include "keystore/sealed.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace signet::keystore {
namespace {

constexpr char kMagic[8] = {'S', 'I', 'G', 'N', 'E', 'T', 'S', 'K'};
constexpr unsigned char kVersion = 1;
constexpr std::size_t kFixed = 16;  // magic, version, algorithm, reserved, length: the bound part
constexpr std::size_t kNonce = crypto_aead_xchacha20poly1305_ietf_NPUBBYTES;
constexpr std::size_t kHeader = kFixed + kNonce;
constexpr std::size_t kTag = crypto_aead_xchacha20poly1305_ietf_ABYTES;
constexpr std::size_t kMaxCiphertext = 64 * 1024;  // a key file is never larger (keystore/key_file.h)

unsigned char algorithm_code(Algorithm a) { return a == Algorithm::RsaSha256 ? 1 : 2; }

// The header's first 16 bytes and the key's name: what the tag covers
// besides the ciphertext, so the file opens only as this domain's selector.
std::string associated_data(std::string_view fixed, std::string_view domain, std::string_view selector) {
  std::string ad(fixed);
  ad.append(domain);
  ad.push_back('\0');
  ad.append(selector);
  return ad;
}

bool init_sodium() { return sodium_init() >= 0; }

}  // namespace

Result<MasterKey> MasterKey::generate() {
  if (!init_sodium()) return permanent_error("libsodium did not initialize: no master key");
  MasterKey k;
  k.key_ = static_cast<unsigned char*>(sodium_malloc(kSize));
  if (!k.key_) return permanent_error("cannot allocate locked memory for the master key");
  crypto_aead_xchacha20poly1305_ietf_keygen(k.key_);
  return k;
}

Result<MasterKey> MasterKey::from_bytes(std::string_view raw) {
  if (raw.size() != kSize) {
    return permanent_error("a master key is exactly 32 bytes, this one is " + std::to_string(raw.size()) +
                           ": make one with `signet key master-key --out FILE`");
  }
  if (!init_sodium()) return permanent_error("libsodium did not initialize: no master key");
  MasterKey k;
  k.key_ = static_cast<unsigned char*>(sodium_malloc(kSize));
  if (!k.key_) return permanent_error("cannot allocate locked memory for the master key");
  std::memcpy(k.key_, raw.data(), kSize);
  return k;
}

MasterKey::~MasterKey() {
  if (key_) sodium_free(key_);  // zeroizes, unlocks, unmaps
}

Result<std::shared_ptr<const MasterKey>> read_master_key(const std::string& path) {
  // The same rules as a private key: regular file, 0600, a trusted owner.
  auto bytes = read_key_file(path);
  if (!bytes) return permanent_error("master key: " + bytes.error().message);
  auto key = MasterKey::from_bytes(bytes->bytes());
  if (!key) return permanent_error("master key " + path + ": " + key.error().message);
  return std::make_shared<const MasterKey>(std::move(key.value()));
}

Result<std::string> master_key_path(const std::string& file) {
  // systemd's LoadCredential[Encrypted]= puts it here, decrypted, readable by the service only.
  if (const char* creds = std::getenv("CREDENTIALS_DIRECTORY"); creds && *creds) {
    std::string path = std::string(creds) + "/" + kMasterKeyCredential;
    if (::access(path.c_str(), F_OK) == 0 || file.empty()) return path;
  }
  if (file.empty()) {
    return permanent_error("key-protection = sealed but there is no master key: give the service the systemd "
                           "credential signet-master-key (LoadCredentialEncrypted=) or set master-key-file");
  }
  return file;
}

Result<std::shared_ptr<const MasterKey>> load_master_key(const std::string& file) {
  auto path = master_key_path(file);
  if (!path) return path.error();
  return read_master_key(path.value());
}

namespace {

// The file is there and still safe, but this process may not open it
// (open(2): EACCES): what a root-owned 0600 file is to a process that has
// dropped to `user`. A directory on the way closed to it too (stat fails
// with EACCES) counts the same: nothing more can be seen from here.
bool closed_to_this_process(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ::close(fd);
    return false;
  }
  if (errno != EACCES) return false;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return errno == EACCES;
  return S_ISREG(st.st_mode) && (st.st_mode & 077) == 0;
}

}  // namespace

Result<std::shared_ptr<const MasterKey>> MasterKeyKeeper::load(const std::string& file) {
  auto path = master_key_path(file);
  if (!path) return path.error();
  std::lock_guard<std::mutex> lock(mu_);
  if (kept_ && path.value() == kept_from_ && closed_to_this_process(path.value())) {
    if (!said_) {
      said_ = true;
      note_("master key " + path.value() + " cannot be opened by this process (uid " + std::to_string(::geteuid()) +
            ") since it dropped privileges: reloads use the master key it read before, and a replaced master key "
            "is not seen until the file is readable again (chown it to the daemon's user, or use the systemd "
            "credential signet-master-key; docs/key-custody.md)");
    }
    return kept_;
  }
  auto key = read_master_key(path.value());
  if (key) said_ = false;
  return key;
}

void MasterKeyKeeper::keep(const std::string& file, std::shared_ptr<const MasterKey> key) {
  auto path = master_key_path(file);
  if (!path || !key) return;
  std::lock_guard<std::mutex> lock(mu_);
  kept_ = std::move(key);
  kept_from_ = std::move(path.value());
}

Status write_master_key(const std::string& path, const MasterKey& key) {
  return write_secret_file(path, std::string_view(reinterpret_cast<const char*>(key.data()), MasterKey::kSize));
}

bool is_sealed(std::string_view bytes) {
  return bytes.size() >= sizeof kMagic && std::memcmp(bytes.data(), kMagic, sizeof kMagic) == 0;
}

Result<std::string> seal_key(std::string_view pem, Algorithm algorithm, const MasterKey& key, std::string_view domain,
                             std::string_view selector) {
  if (pem.size() + kTag > kMaxCiphertext) return permanent_error("key too large to seal (over 64 KiB)");
  const std::size_t n = pem.size() + kTag;
  std::string out(kHeader + n, '\0');
  auto* h = reinterpret_cast<unsigned char*>(out.data());
  std::memcpy(h, kMagic, sizeof kMagic);
  h[8] = kVersion;
  h[9] = algorithm_code(algorithm);
  h[12] = static_cast<unsigned char>(n >> 24);
  h[13] = static_cast<unsigned char>(n >> 16);
  h[14] = static_cast<unsigned char>(n >> 8);
  h[15] = static_cast<unsigned char>(n);
  randombytes_buf(h + kFixed, kNonce);
  const std::string ad = associated_data(std::string_view(out.data(), kFixed), domain, selector);
  unsigned long long written = 0;
  crypto_aead_xchacha20poly1305_ietf_encrypt(h + kHeader, &written, reinterpret_cast<const unsigned char*>(pem.data()),
                                             pem.size(), reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
                                             nullptr, h + kFixed, key.data());
  if (written != n) return permanent_error("sealing failed");
  return out;
}

Result<KeyBytes> open_sealed(std::string_view bytes, const MasterKey& key, std::string_view domain,
                             std::string_view selector, const std::string& path) {
  const std::string at = "sealed key file " + path;
  if (!is_sealed(bytes)) return permanent_error(at + " does not begin with SIGNETSK: not a sealed key file");
  if (bytes.size() < kHeader) return permanent_error(at + " is truncated (shorter than its header): restore it from backup");
  const auto* h = reinterpret_cast<const unsigned char*>(bytes.data());
  if (h[8] != kVersion) {
    return permanent_error(at + " is format version " + std::to_string(h[8]) + "; this signet reads version 1: "
                           "upgrade signet, or unseal it with the signet that sealed it");
  }
  if ((h[9] != 1 && h[9] != 2) || h[10] != 0 || h[11] != 0) {
    return permanent_error(at + " has a malformed header: not a key file this signet wrote");
  }
  const std::size_t n = (std::size_t{h[12]} << 24) | (std::size_t{h[13]} << 16) | (std::size_t{h[14]} << 8) | h[15];
  if (n < kTag || n > kMaxCiphertext) return permanent_error(at + " declares an impossible length: not a key file this signet wrote");
  if (bytes.size() != kHeader + n) {
    return permanent_error(at + (bytes.size() < kHeader + n ? " is truncated" : " has bytes past its end") +
                           ": restore it from backup");
  }
  const std::string ad = associated_data(bytes.substr(0, kFixed), domain, selector);
  // The plaintext PEM goes straight into the secure heap (signer/secure_memory.h).
  SecretBuffer plain(n - kTag);
  if (!plain.ok()) return permanent_error(at + ": " + secure_heap_full_error().message);
  unsigned long long got = 0;
  if (crypto_aead_xchacha20poly1305_ietf_decrypt(plain.data(), &got, nullptr, h + kHeader, n,
                                                 reinterpret_cast<const unsigned char*>(ad.data()), ad.size(),
                                                 h + kFixed, key.data()) != 0) {
    return permanent_error(at + " does not open with this master key as selector " + std::string(selector) + " of " +
                           std::string(domain) + ": a wrong master key, or the file belongs to another key");
  }
  return KeyBytes(std::move(plain));
}

Result<KeyBytes> open_stored_key(KeyBytes file, const std::string& path, std::string_view domain,
                                 std::string_view selector, const MasterKey* master, Protection protection) {
  if (!is_sealed(file.bytes())) {
    if (protection == Protection::Sealed) {
      return permanent_error("key file " + path + " is stored in plaintext but key-protection = sealed: run "
                             "`signet key seal` (docs/key-custody.md)");
    }
    return file;
  }
  if (protection == Protection::Plain) {
    return permanent_error("key file " + path + " is sealed but key-protection = plain: set key-protection = sealed "
                           "and give signet the master key, or run `signet key unseal --yes`");
  }
  if (!master) return permanent_error("key file " + path + " is sealed and no master key was given");
  return open_sealed(file.bytes(), *master, domain, selector, path);
}

Status write_sealed_key(const std::string& path, const PrivateKey& key, const MasterKey& master,
                        std::string_view domain, std::string_view selector) {
  std::string pem = key.to_pem();
  if (pem.empty()) return permanent_error("could not encode the key as PEM");
  auto sealed = seal_key(pem, key.algorithm(), master, domain, selector);
  sodium_memzero(pem.data(), pem.size());
  if (!sealed) return sealed.error();
  return write_secret_file(path, *sealed);
}

namespace {
std::string swap_suffix(const std::string& file, std::string_view from, std::string_view to) {
  if (file.size() >= from.size() && file.compare(file.size() - from.size(), from.size(), from) == 0) {
    return file.substr(0, file.size() - from.size()) + std::string(to);
  }
  return file + std::string(to);
}
}  // namespace

std::string sealed_file_name(const std::string& file) { return swap_suffix(file, ".key", ".sealed"); }
std::string plain_file_name(const std::string& file) { return swap_suffix(file, ".sealed", ".key"); }

}  // namespace signet::keystore
