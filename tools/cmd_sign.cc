// signet sign: sign the message on stdin with one or more keys.
#include <boost/program_options.hpp>
#include <fmt/core.h>
#include <unistd.h>

#include <ctime>
#include <iostream>

#include "hsm/pkcs11.h"
#include "keystore/key_file.h"
#include "signer/message.h"
#include "signer/signer.h"
#include "tools/common.h"

namespace po = boost::program_options;

namespace signet::tools {
namespace {

constexpr std::size_t kMaxMessage = 256u << 20;

// --key pkcs11:URI: the token signs (hsm/pkcs11.h; the key never leaves it).
// The PIN comes from pin-source= only: a pin-value= on the command line is
// visible to every user in ps (as `key new --pkcs11` refuses it).
Result<PrivateKey> open_token_key(const std::string& text) {
  auto uri = hsm::Pkcs11Uri::parse(text);
  if (!uri) return permanent_error("--key: " + uri.error().message);  // the message shows no pin-value
  if (!uri->pin_value.empty()) {
    return permanent_error("--key " + uri->redacted() + ": give the PIN with pin-source=FILE, not pin-value= (a command "
                           "line is visible to every user in ps)");
  }
  auto key = hsm::open_key(*uri);
  if (!key) return permanent_error("--key " + uri->redacted() + ": " + key.error().message);
  return key;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t c = s.find(',', pos);
    if (c == std::string::npos) c = s.size();
    if (c > pos) out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

}  // namespace

int sign_main(const std::vector<std::string>& args) {
  po::options_description desc("signet sign [OPTIONS] < message > signed");
  std::string domain, canon_opt = "relaxed/relaxed", expire, identity, sign_headers, oversign_headers;
  std::vector<std::string> selectors, keys;
  std::int64_t now = 0;
  desc.add_options()
      ("help,h", "show this help")
      ("domain,d", po::value(&domain), "signing domain (d=)")
      ("selector,s", po::value(&selectors)->composing(), "selector (s=); one per --key, in the same order")
      ("key,k", po::value(&keys)->composing(),
       "private key file (PEM or base64 Ed25519 seed, mode 0600), or a key in a PKCS#11 token as an RFC 7512 URI "
       "(pkcs11:token=...;object=...?module-path=...&pin-source=FILE), signed through the token; repeat to dual-sign")
      ("canon,c", po::value(&canon_opt), "canonicalization header/body (default relaxed/relaxed)")
      ("expire", po::value(&expire), "signature lifetime for x=, e.g. 7d, 12h, 3600")
      ("identity,i", po::value(&identity), "agent or user identifier (i=), @domain or user@domain")
      ("time", po::value(&now), "signing time t= as a Unix timestamp (default: now)")
      ("sign-headers", po::value(&sign_headers), "comma-separated header names to sign (From/Subject/To/Date always)")
      ("oversign-headers", po::value(&oversign_headers), "comma-separated header names to oversign (From/Subject/To/Date always)");
  po::variables_map vm;
  if (!parse_args(desc, args, vm,
                  "Output: the message as it will travel: CRLF line endings (bare LF becomes CRLF,\n"
                         "as MTAs hand milters), a final CRLF where the last line had none, and the\n"
                         "DKIM-Signature header(s) prepended. No l= is ever produced.\n"))
    return kExitOk;
  if (domain.empty()) return fail("sign", "--domain is required (the d= signing domain)");
  if (!valid_dns_name(domain)) return fail("sign", "--domain " + domain + " is not a valid domain name");
  if (keys.empty()) return fail("sign", "at least one --key is required");
  if (selectors.size() != keys.size()) {
    return fail("sign", "give one --selector per --key (" + std::to_string(selectors.size()) + " selectors, " +
                            std::to_string(keys.size()) + " keys)");
  }
  for (const auto& s : selectors) {
    if (!valid_dns_name(s)) return fail("sign", "--selector " + s + " is not a valid selector (RFC 6376 §3.1)");
  }
  auto canons = canon::parse_canonicalization(canon_opt);
  if (!canons) {
    return fail("sign", "--canon " + canon_opt + ": expected relaxed/relaxed, simple/simple, relaxed/simple or simple/relaxed");
  }

  SignOptions options;
  options.header_canon = canons->first;
  options.body_canon = canons->second;
  if (vm.count("expire")) {
    options.expire_after = parse_duration(expire);
    if (!options.expire_after) return fail("sign", "--expire " + expire + ": expected a duration such as 7d, 12h or 3600");
  }
  if (vm.count("sign-headers")) options.headers.sign = split_commas(sign_headers);
  if (vm.count("oversign-headers")) options.headers.oversign = split_commas(oversign_headers);
  if (!vm.count("time")) now = static_cast<std::int64_t>(std::time(nullptr));

  std::vector<PrivateKey> loaded;
  loaded.reserve(keys.size());
  for (const auto& path : keys) {
    auto k = path.rfind("pkcs11:", 0) == 0 ? open_token_key(path) : keystore::load_private_key(path);
    if (!k) return fail("sign", k.error().message);
    loaded.push_back(std::move(k.value()));
  }
  std::vector<SigningKey> signing;
  for (std::size_t i = 0; i < loaded.size(); ++i) {
    SigningKey sk{&loaded[i], domain, selectors[i], std::nullopt};
    if (vm.count("identity")) {
      const std::size_t at = identity.rfind('@');
      const std::string idom = at == std::string::npos ? "" : identity.substr(at + 1);
      if (at == std::string::npos || !(idom == domain || (idom.size() > domain.size() &&
                                                          idom.compare(idom.size() - domain.size() - 1, std::string::npos, "." + domain) == 0))) {
        return fail("sign", "--identity " + identity + " must be @" + domain + " or user@ a subdomain of it (RFC 6376 §3.5)");
      }
      sk.identity = identity;
    }
    signing.push_back(std::move(sk));
  }

  std::string error;
  auto raw = read_stdin(kMaxMessage, &error);
  if (!raw) return fail("sign", error);
  // Signed and written as it will travel: CRLF line endings, a final CRLF.
  const std::string message = with_final_crlf(normalize_line_endings(*raw));
  auto parsed = parse_message(message);
  if (!parsed) return fail("sign", "input " + parsed.error().message);
  auto sigs = sign_message(parsed->fields, parsed->body, SignProfile(std::move(options)), signing, now);
  if (!sigs) return fail("sign", sigs.error().message);

  std::string out;
  for (const auto& s : *sigs) {
    out += s.wire();
    out += "\r\n";
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fwrite(message.data(), 1, message.size(), stdout);
  if (std::fflush(stdout) != 0) return fail("sign", "writing standard output failed");
  return kExitOk;
}

}  // namespace signet::tools
