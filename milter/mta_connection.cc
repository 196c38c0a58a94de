#include "milter/mta_connection.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <libmilter/mfapi.h>
#include <libmilter/mfdef.h>

#include <algorithm>
#include <exception>

#include "base/big_endian.h"
#include "milter/clock.h"
#include "milter/header_text.h"
#include "milter/log.h"
#include "milter/negotiate.h"

namespace signet::milter {
namespace {

char reply_of(Verdict v) {
  switch (v) {
    case Verdict::Continue: return SMFIR_CONTINUE;
    case Verdict::Accept: return SMFIR_ACCEPT;
    case Verdict::Tempfail: return SMFIR_TEMPFAIL;
  }
  return SMFIR_ACCEPT;
}

// The NUL-terminated strings of a command's data, in order; nullopt when
// the last one is not terminated (a truncated or garbled packet).
std::optional<std::vector<std::string_view>> strings(std::string_view data) {
  std::vector<std::string_view> out;
  while (!data.empty()) {
    const std::size_t nul = data.find('\0');
    if (nul == std::string_view::npos) return std::nullopt;
    out.push_back(data.substr(0, nul));
    data.remove_prefix(nul + 1);
  }
  return out;
}

// "{name}" and "name" name the same macro (smfi_getsymval(3)).
std::string_view bare(std::string_view name) {
  if (name.size() >= 2 && name.front() == '{' && name.back() == '}') return name.substr(1, name.size() - 2);
  return name;
}

// The address as the MTA's connect command gives it, in the form inet_ntop
// writes (Sendmail writes IPv6 addresses as "IPv6:..."); "" when it does not parse.
std::string address_text(char family, std::string_view text) {
  std::string s(text);
  if (family == SMFIA_INET6 && s.rfind("IPv6:", 0) == 0) s.erase(0, 5);
  char buf[INET6_ADDRSTRLEN] = {};
  if (family == SMFIA_INET) {
    in_addr a{};
    if (inet_pton(AF_INET, s.c_str(), &a) == 1 && inet_ntop(AF_INET, &a, buf, sizeof buf)) return buf;
  } else if (family == SMFIA_INET6) {
    in6_addr a{};
    if (inet_pton(AF_INET6, s.c_str(), &a) == 1 && inet_ntop(AF_INET6, &a, buf, sizeof buf)) return buf;
  }
  return {};
}

// Runs a step of the signing path; an escaping exception is a bug, logged,
// and the message is accepted unsigned rather than the milter dying.
template <typename F>
Verdict guarded(const char* where, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    Log::error(std::string("internal error in ") + where + ": " + e.what() + "; message accepted unsigned");
  } catch (...) {
    Log::error(std::string("internal error in ") + where + "; message accepted unsigned");
  }
  return Verdict::Accept;
}

}  // namespace

void append_packet(std::string& out, char cmd, std::string_view data) {
  append_u32_be(out, static_cast<std::uint32_t>(data.size() + 1));
  out.push_back(cmd);
  out.append(data);
}

MtaConnection::Next MtaConnection::malformed(std::string why) {
  why_ = std::move(why);
  return Next::Close;
}

std::string MtaConnection::macro(std::string_view name) const {
  const std::string_view want = bare(name);
  for (int s = kStages - 1; s >= 0; --s) {
    for (const auto& [n, v] : macros_[s]) {
      if (bare(n) == want) return v;
    }
  }
  return {};
}

MtaConnection::Next MtaConnection::handle(char cmd, std::string_view data, std::string& out) {
  switch (cmd) {
    case SMFIC_OPTNEG: return optneg(data, out);
    case SMFIC_MACRO: macros(data); return Next::Read;
    case SMFIC_CONNECT: return connect(data, out);
    case SMFIC_MAIL: return mail(data, out);
    case SMFIC_HEADER: return header(data, out);
    case SMFIC_EOH: {
      const Verdict v = guarded("eoh", [&] {
        return session_.end_of_headers(macro("i"), Clock::now(), *holder_.hidden());
      });
      append_packet(out, reply_of(v), {});
      return Next::Read;
    }
    case SMFIC_BODY:
      body(data);
      if (!body_no_reply_) {
        append_packet(out, reply_of(held_.value_or(Verdict::Continue)), {});
        held_.reset();
      }
      return Next::Read;
    case SMFIC_BODYEOB:
      if (!data.empty()) body(data);
      end_of_message(out);
      return Next::Read;
    case SMFIC_ABORT:
      held_.reset();
      guarded("abort", [&] {
        session_.abandon(kAborted);
        return Verdict::Continue;
      });
      for (int s = kMail; s < kStages; ++s) macros_[s].clear();
      return Next::Read;
    case SMFIC_QUIT_NC:
      reset_connection();
      return Next::Read;
    case SMFIC_QUIT:
      return Next::Close;
    case SMFIC_HELO:
    case SMFIC_RCPT:
    case SMFIC_DATA:
    case SMFIC_UNKNOWN:
      // Only an MTA that cannot skip these sends them; it waits for a reply.
      append_packet(out, SMFIR_CONTINUE, {});
      return Next::Read;
    default:
      return malformed(fmt::format("unknown milter command 0x{:02x}", static_cast<unsigned char>(cmd)));
  }
}

MtaConnection::Consumed MtaConnection::consume(std::string_view bytes, std::size_t max_packet, std::string& out) {
  Consumed c;
  while (bytes.size() - c.bytes >= kPacketLengthBytes) {
    const std::uint32_t len = read_u32_be(bytes, c.bytes);
    if (len == 0 || len > max_packet) {
      c.next = malformed(fmt::format("a packet of {} bytes (the limit is {})", len, max_packet));
      return c;
    }
    c.need = kPacketLengthBytes + len;
    if (bytes.size() - c.bytes < c.need) return c;
    const char cmd = bytes[c.bytes + kPacketLengthBytes];
    const std::string_view data = bytes.substr(c.bytes + kPacketLengthBytes + 1, len - 1);
    c.bytes += c.need;
    c.need = kPacketLengthBytes;
    if (handle(cmd, data, out) == Next::Close) {
      c.next = Next::Close;
      return c;
    }
  }
  return c;
}

MtaConnection::Next MtaConnection::optneg(std::string_view data, std::string& out) {
  if (data.size() < 12) return malformed(fmt::format("option negotiation of {} bytes (12 expected)", data.size()));
  const std::uint32_t version = read_u32_be(data, 0);
  if (version < 2) return malformed(fmt::format("milter protocol version {} (signet speaks 2 to 6)", version));
  // What is asked and why: milter/negotiate.h.
  const Negotiated n = negotiate(read_u32_be(data, 4), read_u32_be(data, 8));
  leading_space_ = n.leading_space;
  header_no_reply_ = (n.steps & SMFIP_NR_HDR) != 0;
  body_no_reply_ = n.body_no_reply;
  connect_no_reply_ = n.connect_no_reply;
  session_.set_leading_space(leading_space_);
  std::string reply;
  append_u32_be(reply, std::min<std::uint32_t>(version, SMFI_PROT_VERSION));
  append_u32_be(reply, static_cast<std::uint32_t>(n.actions));
  append_u32_be(reply, static_cast<std::uint32_t>(n.steps));
  for (const auto& m : n.macros) {
    append_u32_be(reply, static_cast<std::uint32_t>(m.stage));
    reply.append(m.names);
    reply.push_back('\0');
  }
  append_packet(out, SMFIC_OPTNEG, reply);
  return Next::Read;
}

void MtaConnection::macros(std::string_view data) {
  if (data.empty()) return;
  Stage stage;
  switch (data[0]) {
    case SMFIC_CONNECT: stage = kConnect; break;
    case SMFIC_HELO: stage = kHelo; break;
    case SMFIC_MAIL: stage = kMail; break;
    case SMFIC_RCPT: stage = kRcpt; break;
    case SMFIC_DATA: stage = kData; break;
    case SMFIC_EOH: stage = kEoh; break;
    case SMFIC_BODY:  // Postfix sends the end-of-message list before each chunk
    case SMFIC_BODYEOB: stage = kEom; break;
    default: return;  // macros for a command signet does not read
  }
  const auto fields = strings(data.substr(1));
  for (int s = stage + 1; s < kStages; ++s) macros_[s].clear();
  auto& list = macros_[stage];
  list.clear();
  if (!fields) return;  // garbled: as if none were sent
  for (std::size_t i = 0; i + 1 < fields->size(); i += 2) list.emplace_back((*fields)[i], (*fields)[i + 1]);
}

MtaConnection::Next MtaConnection::connect(std::string_view data, std::string& out) {
  const std::size_t host_end = data.find('\0');
  if (host_end == std::string_view::npos) return malformed("connect command without a host name");
  std::string client;
  const std::string_view rest = data.substr(host_end + 1);
  if (!rest.empty() && (rest[0] == SMFIA_INET || rest[0] == SMFIA_INET6)) {
    if (rest.size() < 4 || rest.back() != '\0') return malformed("connect command with a truncated address");
    client = address_text(rest[0], rest.substr(3, rest.size() - 4));
  }
  if (client.empty()) client = macro("{client_addr}");
  const Verdict v = guarded("connect", [&] {
    const auto rt = holder_.current();
    const int open = rank_;
    if (open > 0 && static_cast<std::size_t>(open) > rt->config.max_connections) {
      // Bounded like every other input: the MTA's mail on this connection is
      // handled per on-error, and the connection costs nothing more.
      const bool tempfail = rt->config.on_error == conf::OnError::Tempfail;
      if (rt->metrics) rt->metrics->connection_refused();
      Log::warn(fmt::format("connection from {} not served: {} connections open (max-connections {}); its mail is {}",
                            client, open, rt->config.max_connections,
                            tempfail ? "tempfailed" : "accepted unsigned"));
      return tempfail ? Verdict::Tempfail : Verdict::Accept;
    }
    session_.set_client(std::move(client), macro("{daemon_name}"));
    return Verdict::Continue;
  });
  if (!connect_no_reply_) {
    append_packet(out, reply_of(v), {});
  } else if (v != Verdict::Continue) {
    refused_ = v;
  }
  return Next::Read;
}

MtaConnection::Next MtaConnection::mail(std::string_view data, std::string& out) {
  const auto argv = strings(data);
  if (!argv) return malformed("MAIL command with an unterminated argument");
  held_.reset();
  if (refused_) {  // over max-connections (SMFIP_NR_CONN): said at connect
    append_packet(out, reply_of(*refused_), {});
    return Next::Read;
  }
  const Verdict v = guarded("envfrom", [&] {
    std::string from = macro("{mail_addr}");
    if (from.empty() && !argv->empty()) from = std::string((*argv)[0]);
    if (from.size() >= 2 && from.front() == '<' && from.back() == '>') from = from.substr(1, from.size() - 2);
    return session_.begin(holder_.current(), macro("{auth_authen}"), from, macro("i"));
  });
  append_packet(out, reply_of(v), {});
  return Next::Read;
}

MtaConnection::Next MtaConnection::header(std::string_view data, std::string& out) {
  // name NUL value NUL. A NUL inside the value is the message's (an MTA
  // that passes one on): the Session refuses to sign it with the on-error
  // policy and one log line, rather than the connection being dropped.
  const std::size_t name_end = data.find('\0');
  if (name_end == std::string_view::npos || data.back() != '\0' || name_end + 1 == data.size()) {
    return malformed("header command that is not name NUL value NUL");
  }
  const std::string_view name = data.substr(0, name_end);
  const std::string_view value = data.substr(name_end + 1, data.size() - name_end - 2);
  guarded("header", [&] {
    session_.header(name, value);
    return Verdict::Continue;
  });
  if (!header_no_reply_) append_packet(out, SMFIR_CONTINUE, {});
  return Next::Read;
}

void MtaConnection::body(std::string_view chunk) {
  const Verdict v = guarded("body", [&] { return session_.body(chunk); });
  // The first verdict that ends the message (its log line already written)
  // is kept: under SMFIP_NR_BODY the MTA reads it at end of message.
  if (v != Verdict::Continue && !held_) held_ = v;
}

void MtaConnection::end_of_message(std::string& out) {
  if (held_) {  // a body verdict: the message ended there
    const Verdict held = *held_;
    held_.reset();
    session_.reset();
    append_packet(out, reply_of(held), {});
    return;
  }
  std::size_t mark = out.size();
  const Verdict v = guarded("eom", [&] {
    EndResult r = session_.end_of_message(macro("i"), Clock::now(), *holder_.hidden());
    // Each is inserted at index 0, the one after above the one before:
    // insert in reverse so the first signature ends up on top.
    for (auto it = r.headers.rbegin(); it != r.headers.rend(); ++it) {
      std::string field;
      append_u32_be(field, 0);
      field.append(it->name);
      field.push_back('\0');
      field.append(value_to_mta(it->value, leading_space_));
      field.push_back('\0');
      append_packet(out, SMFIR_INSHEADER, field);
    }
    return r.verdict == Verdict::Tempfail ? Verdict::Tempfail : Verdict::Continue;
  });
  if (v == Verdict::Accept) out.resize(mark);  // an internal error: no half set of signatures
  session_.reset();
  append_packet(out, reply_of(v), {});
}

void MtaConnection::reset_connection() {
  held_.reset();
  guarded("quit", [&] {
    session_.abandon("connection closed mid-message");
    return Verdict::Continue;
  });
  session_ = Session();
  session_.set_leading_space(leading_space_);
  refused_.reset();
  rank_ = open_.load(std::memory_order_relaxed);
  for (auto& m : macros_) m.clear();
}

void MtaConnection::closed(std::string_view why) {
  held_.reset();
  try {
    session_.abandon(why);
  } catch (...) {
  }
}

}  // namespace signet::milter
