#include "bench/milterclient/milter_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "base/big_endian.h"

namespace signet::bench {
namespace {

// SMFIM_* macro classes (milter8.c) and Postfix 3.7's default lists for each
// (postconf(5) milter_connect_macros ... milter_end_of_data_macros).
constexpr int kConnect = 0, kHelo = 1, kEnvFrom = 2, kEnvRcpt = 3, kData = 4, kEom = 5, kEoh = 6;
const std::map<int, std::string>& postfix_default_macros() {
  static const std::map<int, std::string> m = {
      {kConnect, "j {daemon_name} {daemon_addr} v _"},
      {kHelo, "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer}"},
      {kEnvFrom, "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}"},
      {kEnvRcpt, "i {rcpt_addr} {rcpt_host} {rcpt_mailer}"},
      {kData, "i"},
      {kEoh, "i"},
      {kEom, "i"}};
  return m;
}

std::string domain_of(const std::string& addr) {
  const auto at = addr.rfind('@');
  return at == std::string::npos ? std::string() : addr.substr(at + 1);
}

// What Postfix's smtpd defines for a macro in a plaintext, unauthenticated
// session (MILTER_README "Macros"); nullopt is a macro it leaves undefined,
// which it does not send.
std::optional<std::string> macro_value(const std::string& name, const Envelope& env, bool queue_id_known,
                                       const std::string& rcpt) {
  if (name == "i") return queue_id_known ? std::optional<std::string>(env.queue_id) : std::nullopt;
  if (name == "j") return env.myhostname;
  if (name == "_") return env.client_name + " [" + env.client_addr + "]";
  if (name == "v") return std::string("Postfix 3.7.11");
  if (name == "{daemon_name}") return env.daemon_name;
  if (name == "{daemon_addr}") return std::string("127.0.0.1");
  if (name == "{daemon_port}") return std::string("25");
  if (name == "{client_addr}") return env.client_addr;
  if (name == "{client_name}" || name == "{client_ptr}") return env.client_name;
  if (name == "{client_port}") return std::to_string(env.client_port);
  if (name == "{client_connections}") return std::string("1");
  if (name == "{mail_addr}") return env.sender;
  if (name == "{mail_host}") return domain_of(env.sender);
  if (name == "{mail_mailer}" || name == "{rcpt_mailer}") return std::string("smtp");
  if (name == "{rcpt_addr}") return rcpt;
  if (name == "{rcpt_host}") return domain_of(rcpt);
  return std::nullopt;  // TLS and AUTH macros: no TLS, no AUTH in this session
}


bool iequals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

// NUL-separated strings of a reply's data.
std::vector<std::string> split_nul(const std::string& data, std::size_t from) {
  std::vector<std::string> out;
  while (from < data.size()) {
    const auto nul = data.find('\0', from);
    out.push_back(data.substr(from, nul == std::string::npos ? std::string::npos : nul - from));
    if (nul == std::string::npos) break;
    from = nul + 1;
  }
  return out;
}

constexpr std::size_t kChunk = 65535;     // milter8.c MILTER_CHUNK_SIZE
constexpr std::size_t kStreamBuf = 4096;  // VSTREAM_BUFSIZE: Postfix's milter stream buffer

}  // namespace

int Outcome::count(const std::string& name) const {
  int n = 0;
  for (const auto& [i, f] : inserted) n += iequals(f.first, name);
  for (const auto& f : added) n += iequals(f.first, name);
  return n;
}

Result<Message> read_message_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return permanent_error("cannot read message file " + path + ": " + std::strerror(errno));
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  Message m;
  std::size_t pos = 0;
  if (text.rfind("From ", 0) == 0) pos = text.find('\n') == std::string::npos ? text.size() : text.find('\n') + 1;
  int line_no = 0;
  for (;;) {
    if (pos >= text.size()) break;
    std::size_t nl = text.find('\n', pos);
    std::string line = text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? text.size() : nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) break;  // the empty line ends the header
    if (line[0] == ' ' || line[0] == '\t') {
      if (m.headers.empty()) {
        return permanent_error(path + ":" + std::to_string(line_no) +
                               ": a continuation line before any header field: give an RFC 5322 message");
      }
      m.headers.back().second += "\n" + line;  // Postfix passes folded fields with LF inside
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      return permanent_error(path + ":" + std::to_string(line_no) +
                             ": not a header field (no name and colon): give an RFC 5322 message");
    }
    m.headers.emplace_back(line.substr(0, colon), line.substr(colon + 1));
  }
  if (m.headers.empty()) return permanent_error(path + ": no header fields: give an RFC 5322 message");
  // The body with CRLF line ends, as Postfix sends it to milters.
  m.body.reserve(text.size() - pos + text.size() / 32);
  while (pos < text.size()) {
    std::size_t nl = text.find('\n', pos);
    std::size_t end = nl == std::string::npos ? text.size() : nl;
    std::size_t stop = end > pos && text[end - 1] == '\r' ? end - 1 : end;
    m.body.append(text, pos, stop - pos).append("\r\n");
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return m;
}

Message generated_message(std::size_t bytes, const std::string& id) {
  Message m;
  m.headers = {{"From", " Bench Sender <sender@example.com>"},
               {"To", " Recipient <rcpt@example.org>"},
               {"Subject", " benchmark message " + id},
               {"Date", " Thu, 26 Nov 2026 10:00:00 +0000"},
               {"Message-ID", " <" + id + "@example.com>"},
               {"MIME-Version", " 1.0"},
               {"Content-Type", " text/plain; charset=us-ascii"}};
  std::size_t header_bytes = 0;
  for (const auto& [n, v] : m.headers) header_bytes += n.size() + v.size() + 3;
  const std::string line = "The quick brown fox jumps over the lazy dog; a benchmark line of 76 chars..\r\n";
  while (header_bytes + 2 + m.body.size() < bytes) m.body += line;
  return m;
}

Result<std::unique_ptr<MilterConnection>> MilterConnection::open(const std::string& spec, const Offer& offer) {
  std::unique_ptr<MilterConnection> c(new MilterConnection());
  c->spec_ = spec;
  if (spec.rfind("unix:", 0) == 0 || spec.rfind("local:", 0) == 0) {
    const std::string path = spec.substr(spec.find(':') + 1);
    sockaddr_un sa{};
    if (path.size() >= sizeof sa.sun_path) return permanent_error("milter socket path too long: " + spec);
    c->fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sa.sun_family = AF_UNIX;
    std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
    if (c->fd_ < 0 || ::connect(c->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      return temporary_error("cannot connect to milter " + spec + ": " + std::strerror(errno));
    }
  } else if (spec.rfind("inet:", 0) == 0 && spec.find('@') != std::string::npos) {
    const std::size_t at = spec.find('@');
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    int port = 0;
    try {
      port = std::stoi(spec.substr(5, at - 5));
    } catch (...) {
    }
    if (port <= 0 || port > 65535 || inet_pton(AF_INET, spec.substr(at + 1).c_str(), &sa.sin_addr) != 1) {
      return permanent_error("milter socket " + spec + ": give inet:PORT@IPv4-ADDRESS");
    }
    sa.sin_port = htons(static_cast<std::uint16_t>(port));
    c->fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd_ < 0 || ::connect(c->fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
      return temporary_error("cannot connect to milter " + spec + ": " + std::strerror(errno));
    }
  } else {
    return permanent_error("milter socket " + spec + ": give unix:PATH or inet:PORT@ADDRESS");
  }
  std::string opt;
  append_u32_be(opt, offer.version);
  append_u32_be(opt, offer.actions);
  append_u32_be(opt, offer.protocol);
  char cmd = 0;
  std::string data;
  if (!c->send('O', opt) || !c->recv(cmd, data)) return temporary_error(c->error_);
  if (cmd != 'O' || data.size() < 12) {
    return permanent_error("milter " + spec + ": answered option negotiation with '" + std::string(1, cmd) +
                           "' (" + std::to_string(data.size()) + " bytes), not SMFIC_OPTNEG");
  }
  c->neg_.version = read_u32_be(data, 0);
  c->neg_.actions = read_u32_be(data, 4) & offer.actions;
  c->neg_.protocol = read_u32_be(data, 8);
  // SMFIF_SETSYMLIST: (class, names) pairs after the 12 bytes (libmilter's
  // mi_sendsymlist; milter8.c milter8_connect replaces its lists with them).
  std::size_t at = 12;
  while (at + 4 < data.size()) {
    const int cls = static_cast<int>(read_u32_be(data, at));
    const auto nul = data.find('\0', at + 4);
    c->neg_.symlists[cls] = data.substr(at + 4, nul == std::string::npos ? std::string::npos : nul - at - 4);
    at = nul == std::string::npos ? data.size() : nul + 1;
  }
  return c;
}

MilterConnection::~MilterConnection() {
  quit();
  if (fd_ >= 0) ::close(fd_);
}

bool MilterConnection::fail(const std::string& what) {
  if (ok_) error_ = "milter " + spec_ + ": " + what;
  ok_ = false;
  return false;
}

bool MilterConnection::send(char cmd, const std::string& data) {
  if (!ok_) return false;
  std::string pkt;
  append_u32_be(pkt, static_cast<std::uint32_t>(data.size() + 1));
  pkt.push_back(cmd);
  pkt += data;
  // Buffered like Postfix's VSTREAM: small packets go out together, the
  // buffer is flushed when full and before each wait for a reply.
  if (out_.size() + pkt.size() <= kStreamBuf) {
    out_ += pkt;
    return true;
  }
  if (!flush()) return false;
  if (pkt.size() < kStreamBuf) {
    out_ = std::move(pkt);
    return true;
  }
  return write_all(pkt);
}

bool MilterConnection::write_all(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(std::string("write: ") + std::strerror(errno));
    off += static_cast<std::size_t>(n);
  }
  return true;
}

bool MilterConnection::flush() {
  if (out_.empty()) return ok_;
  const bool r = ok_ && write_all(out_);
  out_.clear();
  return r;
}

bool MilterConnection::fill(std::size_t n) {
  while (in_.size() - in_pos_ < n) {
    if (in_pos_ > 0) {
      in_.erase(0, in_pos_);
      in_pos_ = 0;
    }
    char buf[16384];
    const ssize_t r = ::read(fd_, buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return fail("the milter closed the connection");
    if (r < 0) return fail(std::string("read: ") + std::strerror(errno));
    in_.append(buf, static_cast<std::size_t>(r));
  }
  return true;
}

bool MilterConnection::recv(char& cmd, std::string& data) {
  if (!flush() || !fill(5)) return false;
  const std::uint32_t len = read_u32_be(in_, in_pos_);
  if (len < 1 || len > (1u << 26)) return fail("bad reply packet length " + std::to_string(len));
  if (!fill(4 + len)) return false;
  cmd = in_[in_pos_ + 4];
  data.assign(in_, in_pos_ + 5, len - 1);
  in_pos_ += 4 + len;
  return true;
}

char MilterConnection::reply() {
  char cmd = 0;
  std::string data;
  for (;;) {
    if (!recv(cmd, data)) return 0;
    if (cmd != 'p') return cmd;  // SMFIR_PROGRESS: keep waiting
  }
}

void MilterConnection::macros(char for_cmd, int smfim_class, const Envelope& env, bool queue_id_known,
                              const std::string& rcpt) {
  const auto set = neg_.symlists.find(smfim_class);
  const std::string& names =
      set != neg_.symlists.end() ? set->second : postfix_default_macros().at(smfim_class);
  std::string d(1, for_cmd);
  std::istringstream in(names);
  std::string name;
  bool any = false;
  while (in >> name) {
    // A milter may list "{name}" or "name" for one-letter macros; Postfix
    // looks both up (milter_macro_lookup).
    const auto v = macro_value(name, env, queue_id_known, rcpt);
    if (!v) continue;
    d += name + '\0' + *v + '\0';
    any = true;
  }
  if (any) send('D', d);
}

bool MilterConnection::session(const Envelope& env) {
  const std::uint32_t p = neg_.protocol;
  if (!(p & kSmfipNoConnect)) {
    macros('C', kConnect, env, false, {});
    std::string c = env.client_name;
    c.push_back('\0');
    c.push_back('4');
    const std::uint16_t port = htons(env.client_port);
    c.append(reinterpret_cast<const char*>(&port), 2);
    c += env.client_addr;
    c.push_back('\0');
    if (!send('C', c)) return false;
    if (!(p & kSmfipNrConn) && reply() != 'c') return false;
  }
  if (!(p & kSmfipNoHelo)) {
    macros('H', kHelo, env, false, {});
    if (!send('H', env.helo + '\0')) return false;
    if (!(p & kSmfipNrHelo) && reply() != 'c') return false;
  }
  return ok_;
}

Outcome MilterConnection::message(const Envelope& env, const Message& msg) {
  Outcome o;
  const std::uint32_t p = neg_.protocol;
  o.leading_space = (p & kSmfipHdrLeadspc) != 0;
  // One step: send, then (unless the milter skips it or said it will not
  // reply) wait for a reply; anything but continue ends the message.
  auto step = [&](char cmd, const std::string& data, std::uint32_t no_send, std::uint32_t no_reply) -> bool {
    if (p & no_send) return true;
    if (!send(cmd, data)) return false;
    if (p & no_reply) return true;
    const char r = reply();
    if (r == 'c') return true;
    o.reply = r;
    return false;
  };
  macros('M', kEnvFrom, env, false, {});
  if (!step('M', "<" + env.sender + ">" + '\0', kSmfipNoMail, kSmfipNrMail)) return o;
  for (std::size_t i = 0; i < env.recipients.size(); ++i) {
    if (p & kSmfipNoRcpt) break;
    macros('R', kEnvRcpt, env, i > 0, env.recipients[i]);
    if (!step('R', "<" + env.recipients[i] + ">" + '\0', kSmfipNoRcpt, kSmfipNrRcpt)) return o;
  }
  if (!(p & kSmfipNoData)) macros('T', kData, env, true, {});
  if (!step('T', {}, kSmfipNoData, kSmfipNrData)) return o;
  for (const auto& [name, value] : msg.headers) {
    // Without SMFIP_HDR_LEADSPC Postfix drops the one space after the colon,
    // as Sendmail does (milter8.c milter8_header).
    const bool strip = !(p & kSmfipHdrLeadspc) && !value.empty() && value[0] == ' ';
    std::string d = name;
    d.push_back('\0');
    d.append(value, strip ? 1 : 0);
    d.push_back('\0');
    if (!step('L', d, kSmfipNoHdrs, kSmfipNrHdr)) return o;
  }
  if (!(p & kSmfipNoEoh)) macros('N', kEoh, env, true, {});
  if (!step('N', {}, kSmfipNoEoh, kSmfipNrEoh)) return o;
  if (!(p & kSmfipNoBody)) {
    for (std::size_t at = 0; at < msg.body.size(); at += kChunk) {
      if (!send('B', msg.body.substr(at, kChunk))) return o;
      if (p & kSmfipNrBody) continue;
      const char r = reply();
      if (r == 's') break;  // SMFIR_SKIP: the milter has seen enough body
      if (r != 'c') return o.reply = r, o;
    }
  }
  macros('E', kEom, env, true, {});
  if (!send('E', {})) return o;
  char cmd = 0;
  std::string data;
  while (recv(cmd, data)) {
    switch (cmd) {
      case 'i': {  // SMFIR_INSHEADER: index, name, value
        if (data.size() < 4) {
          fail("short SMFIR_INSHEADER");
          return o;
        }
        auto parts = split_nul(data, 4);
        parts.resize(2);
        o.inserted.push_back({read_u32_be(data, 0), {parts[0], parts[1]}});
        break;
      }
      case 'h': {  // SMFIR_ADDHEADER: name, value
        auto parts = split_nul(data, 0);
        parts.resize(2);
        o.added.emplace_back(parts[0], parts[1]);
        break;
      }
      case 'p':
        break;
      case 'm': case '+': case '-': case '2': case 'b': case 'e': case 'q':
        ++o.other_modifications;
        break;
      default:
        o.reply = cmd;
        return o;
    }
  }
  return o;
}

void MilterConnection::quit() {
  if (quit_ || fd_ < 0) return;
  quit_ = true;
  if (ok_) {
    send('Q', {});
    flush();
  }
}

std::string rebuild(const Message& msg, const Outcome& outcome) {
  const bool leading_space = outcome.leading_space;
  std::vector<std::pair<std::string, std::string>> fields = msg.headers;
  for (const auto& [index, f] : outcome.inserted) {
    // Postfix adds "name: value", or "name:value" when the milter negotiated
    // SMFIP_HDR_LEADSPC and so supplies its own leading space.
    const auto at = std::min<std::size_t>(index, fields.size());
    fields.insert(fields.begin() + static_cast<std::ptrdiff_t>(at),
                  {f.first, (leading_space ? "" : " ") + f.second});
  }
  for (const auto& f : outcome.added) fields.emplace_back(f.first, (leading_space ? "" : " ") + f.second);
  std::string out;
  out.reserve(msg.body.size() + 4096);
  for (const auto& [name, value] : fields) {
    out += name;
    out += ':';
    for (std::size_t i = 0; i < value.size(); ++i) {
      if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r')) out += '\r';
      out += value[i];
    }
    out += "\r\n";
  }
  out += "\r\n";
  out += msg.body;
  return out;
}

}  // namespace signet::bench
