// keystore/sealed.h — sealed key files: private keys stored encrypted under a
// host's master key (key-protection = sealed; docs/key-custody.md).
//
// The file format (version 1), all of it bounded before anything is trusted:
//   offset  size  field
//   0       8     magic "SIGNETSK"
//   8       1     version (1)
//   9       1     algorithm of the key inside: 1 rsa, 2 ed25519
//   10      2     reserved, zero
//   12      4     ciphertext length N, big-endian (PEM + 16-byte tag), <= 64 KiB
//   16      24    nonce (random)
//   40      N     XChaCha20-Poly1305-IETF ciphertext of the PKCS#8 PEM
// Associated data: bytes 0..16 of the header, the domain, a NUL, the
// selector. So a file copied to another selector's name (or another
// domain's), or a header whose algorithm was edited, fails to open.
//
// Calls:
//   MasterKey               32 bytes in sodium_malloc'd, mlocked memory;
//                           sodium_free zeroizes it when the last holder goes
//   MasterKey::generate()   a fresh random key
//   read_master_key(path)   the file's 32 raw bytes; refused (permanent) when
//                           the file is not regular, is group/world accessible,
//                           has an untrusted owner (keystore/key_file.h's
//                           rules) or is not exactly 32 bytes
//   load_master_key(file)   $CREDENTIALS_DIRECTORY/signet-master-key when that
//                           variable is set (systemd LoadCredential[Encrypted]=),
//                           else `file` (option master-key-file); fails saying
//                           which was tried and how to provide one
//   master_key_path(file)   which of the two load_master_key reads
//   MasterKeyKeeper         for the process that unseals at every reload (the
//                           in-process daemon, or the signer process):
//     load(file)            reads as load_master_key does; when the file is
//                           present but closed to this process (open(2) fails
//                           with EACCES: it has dropped root since the start)
//                           and still safe as far as stat(2) shows (regular,
//                           no group/world bits), answers with the kept key
//                           instead, and `note` says so once (again only
//                           after a read has succeeded in between). A file
//                           that can be read is read, so a replaced master key
//                           is still noticed; a missing file, an unsafe mode,
//                           a wrong size, or a path other than the kept key's
//                           are refused as load_master_key refuses them
//     keep(file, key)       after a key set loaded with `key` is taken: the
//                           key kept from then on (its MasterKey as it is:
//                           locked, zeroized when the last holder drops it).
//                           So the kept key is the one of the last good load
//                           (at first, the one read at start, as root); a
//                           wrong master key that was read and refused never
//                           replaces it
//   write_master_key(path, key)  creates it 0600, never over an existing file
//   is_sealed(bytes)        the bytes begin with the magic
//   seal_key(pem, alg, key, domain, selector)   the sealed file's bytes
//   open_sealed(bytes, key, domain, selector, path)  the PEM (zeroized when
//                           dropped); fails (permanent) naming `path` for a bad
//                           magic, a future version, a bad length, a truncated
//                           file, or a wrong key / binding ("does not open")
//   open_stored_key(file, path, domain, selector, master, protection)
//                           what the loaders call on a key file's bytes: opens
//                           a sealed one, passes a plaintext one, and refuses
//                           the form the protection does not allow
//   write_sealed_key(path, key, master, domain, selector)  as
//                           write_private_key (0600, O_EXCL, nothing left on
//                           failure), sealed
// No message ever holds key or master-key bytes.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "base/result.h"
#include "keystore/key_file.h"
#include "signer/key.h"

namespace signet::keystore {

class MasterKey {
 public:
  static constexpr std::size_t kSize = 32;
  static Result<MasterKey> generate();
  static Result<MasterKey> from_bytes(std::string_view raw);  // exactly kSize bytes
  MasterKey(MasterKey&& o) noexcept : key_(o.key_) { o.key_ = nullptr; }
  MasterKey& operator=(MasterKey&&) = delete;
  MasterKey(const MasterKey&) = delete;
  ~MasterKey();
  const unsigned char* data() const { return key_; }

 private:
  MasterKey() = default;
  unsigned char* key_ = nullptr;  // sodium_malloc'd, mlocked
};

// Which key files a load accepts.
enum class Protection {
  Plain,   // key-protection = plain: PEM files; a sealed one is refused
  Sealed,  // key-protection = sealed: sealed files; a plaintext one is refused
  Any,     // `signet key seal|unseal` reading the key set they convert
};

inline constexpr const char* kMasterKeyCredential = "signet-master-key";

Result<std::shared_ptr<const MasterKey>> read_master_key(const std::string& path);
Result<std::string> master_key_path(const std::string& file);
Result<std::shared_ptr<const MasterKey>> load_master_key(const std::string& file);

class MasterKeyKeeper {
 public:
  using Note = std::function<void(std::string_view line)>;
  explicit MasterKeyKeeper(Note note) : note_(std::move(note)) {}
  Result<std::shared_ptr<const MasterKey>> load(const std::string& file);
  void keep(const std::string& file, std::shared_ptr<const MasterKey> key);

 private:
  Note note_;
  std::mutex mu_;  // the signer's first load and a LOAD may overlap
  std::shared_ptr<const MasterKey> kept_;
  std::string kept_from_;  // the path it was read from
  bool said_ = false;      // the note for the current stretch of loads that could not read
};
Status write_master_key(const std::string& path, const MasterKey& key);

bool is_sealed(std::string_view bytes);
Result<std::string> seal_key(std::string_view pem, Algorithm algorithm, const MasterKey& key, std::string_view domain,
                             std::string_view selector);
Result<KeyBytes> open_sealed(std::string_view bytes, const MasterKey& key, std::string_view domain,
                             std::string_view selector, const std::string& path);
Result<KeyBytes> open_stored_key(KeyBytes file, const std::string& path, std::string_view domain,
                                 std::string_view selector, const MasterKey* master, Protection protection);
Status write_sealed_key(const std::string& path, const PrivateKey& key, const MasterKey& master,
                        std::string_view domain, std::string_view selector);

// DOMAIN/SELECTOR.key <-> DOMAIN/SELECTOR.sealed: the name a key file gets
// when it is sealed or unsealed (another suffix gets one appended).
std::string sealed_file_name(const std::string& file);
std::string plain_file_name(const std::string& file);

}  // namespace signet::keystore
