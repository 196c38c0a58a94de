// keystore/key_directory.h — the key directory as a transaction: what every
// command that changes keys goes through, so a failed command changes nothing
// and two commands at once take turns.
//
// KeyDirectory::open(dir, mode, options): reads DIR/manifest (syntax only:
// a key set with a bad schedule can still be listed and repaired) and
// DIR/delegated. Mode::Write also takes an exclusive flock on DIR/.lock,
// held until the KeyDirectory is destroyed. Fails when DIR is not a
// directory, the lock cannot be taken, or a file does not parse.
//
// A change is built in memory, then applied:
//   KeyChange c(dir.manifest());         // becomes the key set after the change
//   auto record = dir.create_key(c, row);   // a new key file (0600, never over
//                                           // an existing one) for a planned row
//   record = dir.adopt_key(c, row, source);  // or an existing key (OpenDKIM's),
//                                           // copied in the same way; the source
//                                           // is only read, never moved or changed
//   c.destroy.push_back(path);           // key files to destroy once committed
//   dir.apply(c);
// A KeyChange that is dropped without a successful apply() removes the key
// files it created: whatever fails on the way, nothing has changed.
// apply(): validates the whole resulting key set as the daemon would load it
// (schedules, every key file: keystore/snapshot.h) and writes the manifest
// atomically (keystore/atomic_file.h); the error says which row (rows built
// in memory are named "DIR/manifest (new):LINE").
// After the commit it destroys the listed files (retired or revoked keys:
// overwritten with zeros, synced, removed) and returns a warning for each it
// could not. REQUIRES: opened with Mode::Write.
//
// used_selectors(domain): every name the register holds for the domain
// (every manifest row, retired included, and every delegated selector): a
// selector is never used twice.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "base/result.h"
#include "keystore/delegated.h"
#include "keystore/manifest.h"
#include "keystore/sealed.h"
#include "keystore/snapshot.h"
#include "signer/key.h"

namespace signet::keystore {

class KeyChange {
 public:
  explicit KeyChange(Manifest start) : manifest(std::move(start)) {}
  KeyChange(const KeyChange&) = delete;
  KeyChange& operator=(const KeyChange&) = delete;
  ~KeyChange();  // removes the created key files unless the change was applied

  Manifest manifest;                 // the key set after the change
  std::vector<std::string> destroy;  // key files (or pkcs11: URIs) to destroy once it is committed
  const std::vector<std::string>& created() const { return created_; }

 private:
  friend class KeyDirectory;
  std::vector<std::string> created_;  // key files written for it, and pkcs11: URIs of keys made in a token
  bool committed_ = false;
};

class KeyDirectory {
 public:
  enum class Mode { Read, Write };
  static Result<KeyDirectory> open(const std::string& dir, Mode mode, const LoadOptions& options = {});

  KeyDirectory(KeyDirectory&& o) noexcept;
  KeyDirectory& operator=(KeyDirectory&&) = delete;
  ~KeyDirectory();

  const std::string& path() const { return dir_; }
  const Manifest& manifest() const { return manifest_; }
  const std::vector<Delegated>& delegated() const { return delegated_; }
  // A row's key file, or its pkcs11: URI as it is (in_token(): no file).
  std::string key_path(const KeyRow& row) const { return key_path(row.file); }
  std::string key_path(const std::string& file) const { return hsm::is_pkcs11_uri(file) ? file : dir_ + "/" + file; }
  Result<PrivateKey> load_key(const KeyRow& row) const;
  std::set<std::string> used_selectors(const std::string& domain) const;

  // Generates the row's key, writes its file (0600, sealed under
  // key-protection = sealed; run as root, owned by
  // the key directory's owner, so the daemon's user can read it) and records
  // it in the change; returns the DNS TXT value to publish ("v=DKIM1; k=…; p=…").
  // A row whose file is a pkcs11: URI (in_token()) gets its key pair made
  // inside the token (hsm::generate_key: sensitive, not extractable) and
  // the record from the token's public key; a dropped change destroys it.
  Result<std::string> create_key(KeyChange& change, const KeyRow& row) const;
  // The pkcs11: URI a new key of `row` gets in the token `token_uri` names:
  // object= the row's DNS name (SELECTOR._domainkey.DOMAIN, unique in the
  // register) unless the URI gives object= or id= itself; pin-value= is
  // refused (the manifest is readable by everyone: use pin-source=).
  static Result<std::string> token_key_uri(const std::string& token_uri, const KeyRow& row);
  // The same for a key that exists: reads `source` (group-readable is fine,
  // it is not the daemon's file; readable by others is refused, as OpenDKIM's
  // RequireSafeKeys does), refuses a key that is not the row's algorithm (or
  // bits, when the row gives them), writes it as the row's file like create_key.
  Result<std::string> adopt_key(KeyChange& change, const KeyRow& row, const std::string& source) const;
  Result<std::vector<std::string>> apply(KeyChange& change);
  // `signet key seal|unseal`: writes the key of `row` (a row of
  // change.manifest, or a configuration selector's) in the form `to` (Sealed
  // or Plain) as a new file (DOMAIN/SELECTOR.sealed or .key), points the row
  // at it and lists the old file to destroy after the commit; false when the
  // row is retired or already in that form (then row.file names the file as
  // it is). Reads either form (a sealed one needs the master key). The
  // validation in apply() uses the directory's protection: open it with the
  // target. Rows outside the manifest are not validated by apply(): load them
  // (KeySnapshot::load) before it.
  Result<bool> convert_key(KeyChange& change, KeyRow& row, Protection to) const;
  // The protection apply() validates with and new keys are written in, and
  // the file name a planned row's key gets under it (DOMAIN/SELECTOR.sealed
  // when sealed, so the name says the form).
  Protection protection() const { return options_.protection; }
  std::string stored_file(const std::string& file) const {
    return options_.protection == Protection::Sealed ? sealed_file_name(file) : file;
  }
  Status replace_delegated(const std::vector<Delegated>& list);

 private:
  KeyDirectory() = default;
  Result<std::string> install_key(KeyChange& change, const KeyRow& row, const PrivateKey& key) const;
  Status install_as(KeyChange& change, const KeyRow& row, const PrivateKey& key, Protection form) const;
  Result<PrivateKey> load_key_as(const KeyRow& row, Protection protection) const;

  std::string dir_;
  LoadOptions options_;
  Manifest manifest_;
  std::vector<Delegated> delegated_;
  int lock_fd_ = -1;
};

// Overwrites a private-key file with zeros, syncs it and removes it: retiring
// destroys the key; its register row stays. A file already gone is fine.
Status destroy_key_file(const std::string& path);
// destroy_key_file, or for a pkcs11: URI the token's objects destroyed
// (hsm::destroy_key); an object already gone is fine.
Status destroy_stored_key(const std::string& path_or_uri);

}  // namespace signet::keystore
