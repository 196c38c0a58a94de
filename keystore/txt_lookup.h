// keystore/txt_lookup.h — where the verifier finds public keys (signer/verifier.h
// KeyLookup).
//
// FileTxtLookup: a file of records, one per line, for tests and offline checks:
//   brisbane._domainkey.example.com TXT "v=DKIM1; k=ed25519; p=..."
//   sel._domainkey.example.com IN TXT "v=DKIM1; k=rsa; p=MIIB..." "...rest"
//   sel2._domainkey.example.com TXT v=DKIM1; k=rsa; p=...   (unquoted: rest of line)
// '#' starts a comment line; names compare case-insensitively, trailing dot
// ignored; quoted strings are joined (RFC 6376 §3.6.2.2). load() fails with the
// file and line of the first malformed record.
//
// DnsTxtLookup: TXT queries through glibc's libresolv, optionally against one
// server (ADDR[:PORT], loopback in tests). NXDOMAIN/NODATA give an empty list;
// timeouts and SERVFAIL give a temporary error.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "signer/verifier.h"

namespace signet::keystore {

class FileTxtLookup final : public KeyLookup {
 public:
  static Result<FileTxtLookup> load(const std::string& path);
  static Result<FileTxtLookup> parse(std::string_view text, const std::string& origin);
  Result<std::vector<std::string>> txt(std::string_view name) override;

 private:
  std::map<std::string, std::vector<std::string>> records_;
};

class DnsTxtLookup final : public KeyLookup {
 public:
  explicit DnsTxtLookup(std::string server = {}) : server_(std::move(server)) {}
  Result<std::vector<std::string>> txt(std::string_view name) override;

 private:
  std::string server_;
};

}  // namespace signet::keystore
