#include "keystore/txt_lookup.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "base/ascii.h"
#include "canon/header.h"

namespace signet::keystore {
namespace {

std::string normalize_name(std::string_view n) {
  std::string s = ascii::to_lower(n);
  while (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

std::string_view next_word(std::string_view& s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  std::size_t n = 0;
  while (n < s.size() && s[n] != ' ' && s[n] != '\t') ++n;
  std::string_view w = s.substr(0, n);
  s.remove_prefix(n);
  return w;
}

}  // namespace

Result<FileTxtLookup> FileTxtLookup::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return permanent_error("keys file " + path + ": cannot open");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse(ss.str(), path);
}

Result<FileTxtLookup> FileTxtLookup::parse(std::string_view text, const std::string& origin) {
  FileTxtLookup out;
  for (ascii::LineReader lines(text); lines.next();) {
    const std::size_t line_no = lines.number();
    std::string_view line = lines.line();
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::string_view rest = line;
    const std::string_view name = next_word(rest);
    if (name.empty() || name.front() == '#') continue;
    const auto where = origin + ":" + std::to_string(line_no) + ": ";
    std::string_view type = next_word(rest);
    if (ascii::iequals(type, "IN")) type = next_word(rest);
    if (!ascii::iequals(type, "TXT")) {
      return permanent_error(where + "expected \"NAME [IN] TXT VALUE\"");
    }
    while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
    std::string value;
    if (!rest.empty() && rest.front() == '"') {
      // One or more quoted character-strings, joined.
      while (!rest.empty()) {
        if (rest.front() != '"') return permanent_error(where + "text between quoted strings");
        const std::size_t close = rest.find('"', 1);
        if (close == std::string_view::npos) return permanent_error(where + "unterminated quoted string");
        value.append(rest.substr(1, close - 1));
        rest.remove_prefix(close + 1);
        while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      }
    } else {
      value = std::string(rest);
    }
    out.records_[normalize_name(name)].push_back(std::move(value));
  }
  return out;
}

Result<std::vector<std::string>> FileTxtLookup::txt(std::string_view name) {
  const auto it = records_.find(normalize_name(name));
  if (it == records_.end()) return std::vector<std::string>{};
  return it->second;
}

Result<std::vector<std::string>> DnsTxtLookup::txt(std::string_view name) {
  struct __res_state res {};
  if (res_ninit(&res) != 0) return temporary_error("resolver initialisation failed");
  struct Closer {
    struct __res_state* r;
    ~Closer() { res_nclose(r); }
  } closer{&res};
  if (!server_.empty()) {
    std::string host = server_;
    int port = 53;
    if (const std::size_t colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
      port = std::atoi(host.c_str() + colon + 1);
      host.resize(colon);
    }
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &sin.sin_addr) != 1) {
      return permanent_error("DNS server " + server_ + " is not an IPv4 ADDR[:PORT]");
    }
    res.nsaddr_list[0] = sin;
    res.nscount = 1;
  }
  std::vector<unsigned char> answer(65535);
  const std::string qname(name);
  const int len = res_nquery(&res, qname.c_str(), ns_c_in, ns_t_txt, answer.data(), static_cast<int>(answer.size()));
  if (len < 0) {
    switch (res.res_h_errno) {
      case HOST_NOT_FOUND:
      case NO_DATA:
        return std::vector<std::string>{};
      default:
        return temporary_error("DNS query for " + qname + " failed (timeout or server failure)");
    }
  }
  ns_msg msg;
  if (ns_initparse(answer.data(), len, &msg) != 0) return temporary_error("malformed DNS answer for " + qname);
  std::vector<std::string> out;
  for (int i = 0; i < ns_msg_count(msg, ns_s_an); ++i) {
    ns_rr rr;
    if (ns_parserr(&msg, ns_s_an, i, &rr) != 0 || ns_rr_type(rr) != ns_t_txt) continue;
    const unsigned char* p = ns_rr_rdata(rr);
    const unsigned char* end = p + ns_rr_rdlen(rr);
    std::string value;  // RFC 6376 §3.6.2.2: the strings are concatenated
    while (p < end) {
      const std::size_t n = *p++;
      if (static_cast<std::size_t>(end - p) < n) break;
      value.append(reinterpret_cast<const char*>(p), n);
      p += n;
    }
    out.push_back(std::move(value));
  }
  return out;
}

}  // namespace signet::keystore
