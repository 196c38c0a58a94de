#include "milter/callbacks.h"

#include <arpa/inet.h>
#include <fmt/core.h>
#include <libmilter/mfapi.h>
#include <netinet/in.h>

#include <atomic>
#include <ctime>
#include <optional>
#include <string>

#include "milter/clock.h"
#include "milter/header_text.h"
#include "milter/log.h"
#include "milter/negotiate.h"
#include "milter/session.h"

namespace signet::milter {
namespace {

RuntimeHolder* g_holder = nullptr;
std::atomic<int> g_active{0};

struct Connection {
  Session session;
  bool leading_space = false;  // SMFIP_HDR_LEADSPC negotiated
  bool body_no_reply = false;  // SMFIP_NR_BODY negotiated
  // A body verdict other than continue under SMFIP_NR_BODY (the MTA reads no
  // reply to a body chunk): given at end of message (milter/negotiate.h).
  std::optional<sfsistat> held;
};

// The clock the Session signs by (milter/clock.h: the test clock when on).
std::int64_t now() { return Clock::now(); }

// The connection's state, created by whichever of negotiate/connect comes first.
Connection* ensure_conn(SMFICTX* ctx) {
  auto* c = static_cast<Connection*>(smfi_getpriv(ctx));
  if (!c) {
    c = new Connection();
    smfi_setpriv(ctx, c);
    g_active.fetch_add(1);
  }
  return c;
}

Connection* conn(SMFICTX* ctx) { return static_cast<Connection*>(smfi_getpriv(ctx)); }

std::string macro(SMFICTX* ctx, const char* name) {
  const char* v = smfi_getsymval(ctx, const_cast<char*>(name));
  return v ? std::string(v) : std::string();
}

std::string address_text(const sockaddr* sa) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (!sa) return {};
  if (sa->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, buf, sizeof buf);
  } else if (sa->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

sfsistat to_status(Verdict v) {
  switch (v) {
    case Verdict::Continue: return SMFIS_CONTINUE;
    case Verdict::Accept: return SMFIS_ACCEPT;
    case Verdict::Tempfail: return SMFIS_TEMPFAIL;
  }
  return SMFIS_ACCEPT;
}

// Runs a callback body; an escaping exception is a bug, logged, and the
// message is accepted unsigned rather than the milter dying.
template <typename F>
sfsistat guarded(const char* where, F&& f) {
  try {
    return f();
  } catch (const std::exception& e) {
    Log::error(std::string("internal error in ") + where + ": " + e.what() + "; message accepted unsigned");
  } catch (...) {
    Log::error(std::string("internal error in ") + where + "; message accepted unsigned");
  }
  return SMFIS_ACCEPT;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long f0, unsigned long f1, unsigned long, unsigned long,
                      unsigned long* pf0, unsigned long* pf1, unsigned long* pf2, unsigned long* pf3) {
  // What is asked and why: milter/negotiate.h.
  const Negotiated n = negotiate(f0, f1);
  *pf0 = n.actions;
  *pf1 = n.steps;
  *pf2 = 0;
  *pf3 = 0;
  for (const auto& m : n.macros) smfi_setsymlist(ctx, m.stage, const_cast<char*>(m.names.data()));
  try {
    Connection* c = ensure_conn(ctx);
    c->leading_space = n.leading_space;
    c->body_no_reply = n.body_no_reply;
    c->session.set_leading_space(c->leading_space);
  } catch (...) {
    return SMFIS_REJECT;  // out of memory: the MTA applies milter_default_action
  }
  return SMFIS_CONTINUE;
}

sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR* addr) {
  return guarded("connect", [&] {
    std::string client = address_text(reinterpret_cast<sockaddr*>(addr));
    if (client.empty()) client = macro(ctx, "{client_addr}");
    Connection* c = ensure_conn(ctx);
    const auto rt = g_holder->current();
    const int open = g_active.load();
    if (open > 0 && static_cast<std::size_t>(open) > rt->config.max_connections) {
      // Bounded like every other input: the MTA's mail on this connection is
      // handled per on-error, and the connection costs nothing more.
      const bool tempfail = rt->config.on_error == conf::OnError::Tempfail;
      if (rt->metrics) rt->metrics->connection_refused();
      Log::warn(fmt::format("connection from {} not served: {} connections open (max-connections {}); its mail is {}",
                            client, open, rt->config.max_connections,
                            tempfail ? "tempfailed" : "accepted unsigned"));
      return tempfail ? SMFIS_TEMPFAIL : SMFIS_ACCEPT;
    }
    c->session.set_client(std::move(client), macro(ctx, "{daemon_name}"));
    return SMFIS_CONTINUE;
  });
}

sfsistat on_envfrom(SMFICTX* ctx, char** argv) {
  return guarded("envfrom", [&] {
    Connection* c = conn(ctx);
    if (!c) return SMFIS_ACCEPT;
    c->held.reset();
    std::string from = macro(ctx, "{mail_addr}");
    if (from.empty() && argv && argv[0]) from = argv[0];
    if (from.size() >= 2 && from.front() == '<' && from.back() == '>') from = from.substr(1, from.size() - 2);
    return to_status(c->session.begin(g_holder->current(), macro(ctx, "{auth_authen}"), from, macro(ctx, "i")));
  });
}

sfsistat on_header(SMFICTX* ctx, char* name, char* value) {
  guarded("header", [&] {
    if (Connection* c = conn(ctx)) c->session.header(name ? name : "", value ? value : "");
    return SMFIS_CONTINUE;
  });
  return SMFIS_NOREPLY;  // SMFIP_NR_HDR: the MTA does not wait for us per header
}

sfsistat on_eoh(SMFICTX* ctx) {
  return guarded("eoh", [&] {
    Connection* c = conn(ctx);
    return c ? to_status(c->session.end_of_headers(macro(ctx, "i"), now(), *g_holder->hidden())) : SMFIS_ACCEPT;
  });
}

sfsistat on_body(SMFICTX* ctx, unsigned char* chunk, size_t len) {
  Connection* c = conn(ctx);
  const sfsistat r = guarded("body", [&] {
    return c ? to_status(c->session.body(std::string_view(reinterpret_cast<char*>(chunk), len))) : SMFIS_CONTINUE;
  });
  if (!c || !c->body_no_reply) return r;
  // SMFIP_NR_BODY: the MTA waits for no reply; the first verdict that ends
  // the message (its log line already written) is held for end of message.
  if (r != SMFIS_CONTINUE && !c->held) c->held = r;
  return SMFIS_NOREPLY;
}

sfsistat on_eom(SMFICTX* ctx) {
  return guarded("eom", [&] {
    Connection* c = conn(ctx);
    if (!c) return SMFIS_ACCEPT;
    if (c->held) {  // a body verdict under SMFIP_NR_BODY: the message ended there
      const sfsistat held = *c->held;
      c->held.reset();
      c->session.reset();
      return held;
    }
    EndResult r = c->session.end_of_message(macro(ctx, "i"), now(), *g_holder->hidden());
    // Inserted at index 0 one after another: insert in reverse so the first
    // signature ends up on top.
    for (auto it = r.headers.rbegin(); it != r.headers.rend(); ++it) {
      std::string value = value_to_mta(it->value, c->leading_space);
      if (smfi_insheader(ctx, 0, const_cast<char*>(it->name.c_str()), value.data()) != MI_SUCCESS) {
        Log::warn(c->session.queue_id() + ": the MTA refused the DKIM-Signature header; message passes unsigned");
        break;
      }
    }
    c->session.reset();
    return r.verdict == Verdict::Tempfail ? SMFIS_TEMPFAIL : SMFIS_CONTINUE;
  });
}

sfsistat on_abort(SMFICTX* ctx) {
  return guarded("abort", [&] {
    if (Connection* c = conn(ctx)) {
      c->held.reset();
      c->session.abandon("aborted (the MTA sent abort or the connection was lost)");
    }
    return SMFIS_CONTINUE;
  });
}

sfsistat on_close(SMFICTX* ctx) {
  Connection* c = conn(ctx);
  smfi_setpriv(ctx, nullptr);
  if (c) {
    try {
      c->session.abandon("connection closed mid-message");
    } catch (...) {
    }
    delete c;
    g_active.fetch_sub(1);
  }
  return SMFIS_CONTINUE;
}

}  // namespace

bool register_callbacks(RuntimeHolder* holder) {
  g_holder = holder;
  smfiDesc desc{};
  desc.xxfi_name = const_cast<char*>("signet");
  desc.xxfi_version = SMFI_VERSION;
  desc.xxfi_flags = SMFIF_ADDHDRS;
  desc.xxfi_connect = on_connect;
  desc.xxfi_envfrom = on_envfrom;
  desc.xxfi_header = on_header;
  desc.xxfi_eoh = on_eoh;
  desc.xxfi_body = on_body;
  desc.xxfi_eom = on_eom;
  desc.xxfi_abort = on_abort;
  desc.xxfi_close = on_close;
  desc.xxfi_negotiate = on_negotiate;
  return smfi_register(desc) == MI_SUCCESS;
}

int active_connections() { return g_active.load(); }

}  // namespace signet::milter
