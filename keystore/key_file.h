// keystore/key_file.h — reading and writing private-key files safely.
//
// load_private_key(path): reads and parses the key once (signer/key.h).
// Refuses, with what/where/what-to-do, a file that is not a regular file, is
// group- or world-accessible (mode & 077), is owned by someone other than
// root, this process's user or the key directory's owner (the owner of the
// file's directory or of its parent), is larger than 64 KiB, or does not
// parse. The file's bytes are zeroized after parsing; no error names them.
//
// write_private_key(path, key, overwrite): creates the file mode 0600
// (O_EXCL unless overwrite), writes the PKCS#8 PEM, fsyncs, and on any
// failure removes what it created: a failed write leaves nothing behind.
#pragma once

#include <string>
#include <string_view>

#include "base/result.h"
#include "signer/key.h"
#include "signer/secure_memory.h"

namespace signet::keystore {

// allow_group_readable: mode 0640 is accepted too (for deployments where a
// group, not the daemon's user, owns the key files); world access never is.
Result<PrivateKey> load_private_key(const std::string& path, bool allow_group_readable = false);

// The checks of load_private_key, returning the file's bytes unparsed (for
// callers that parse many keys in parallel). They are read straight into the
// secure heap (signer/secure_memory.h), locked and never dumped, and
// cleansed when dropped; a full heap fails the read with its own message.
class KeyBytes {
 public:
  KeyBytes() = default;
  explicit KeyBytes(SecretBuffer b) : bytes_(std::move(b)) {}
  std::string_view bytes() const { return bytes_.view(); }
  unsigned char* data() { return bytes_.data(); }

 private:
  SecretBuffer bytes_;
};
// any_owner: skip the owner check (reading another program's key to adopt it).
Result<KeyBytes> read_key_file(const std::string& path, bool allow_group_readable = false, bool any_owner = false);

Status write_private_key(const std::string& path, const PrivateKey& key, bool overwrite = false);

// What write_private_key does with the encoded bytes (also for sealed key
// files and the master key): 0600, O_EXCL unless overwrite, fsync, removed
// on failure. The caller zeroizes its bytes.
Status write_secret_file(const std::string& path, std::string_view bytes, bool overwrite = false);

}  // namespace signet::keystore
