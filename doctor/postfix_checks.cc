#include "doctor/postfix_checks.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <map>

namespace signet::doctor {
namespace {

bool contains(const std::vector<std::string>& v, std::string_view x) { return std::find(v.begin(), v.end(), x) != v.end(); }

std::string join(const std::vector<std::string>& v, std::string_view sep = ", ") {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : std::string(sep)) + s;
  return out;
}

std::optional<long> to_number(std::string_view text) {
  long n = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return n;
}

// milter_protocol "6" or "6 no_header_reply": the version token (milter8.c).
int protocol_version(std::string_view text) {
  for (std::string_view item : split_postfix_list(text)) {
    if (auto n = to_number(item)) return static_cast<int>(*n);
  }
  return 0;
}

// One entry of a milter list, as one Postfix process would connect to it.
struct Use {
  MilterEntry entry;
  std::size_t index = 0;
  std::optional<MilterSocket> parsed;  // nullopt: Postfix cannot read it
  std::string parse_error;
  bool signet_syntax = false;  // unreadable to Postfix, but signet's socket in libmilter syntax
  MilterSocket seen;           // where the process connects (queue_directory, chroot applied)
  bool signet = false;         // seen is signet's socket
  bool chroot_miss = false;    // would be signet's socket but for the chroot
};

// A Postfix process that runs a milter list: an smtpd(8) service with
// smtpd_milters, or cleanup(8) with non_smtpd_milters for pickup's mail.
struct Source {
  const Service* service = nullptr;   // whose list and chroot
  const Service* receiver = nullptr;  // whose receive_override_options and content_filter
  std::string list_param, list, list_where;
  bool chrooted = false;
  std::string disabled_where;  // where no_milters comes from; "" = the milters run
  std::vector<Use> uses;

  const Use* signet_use() const {
    for (const Use& u : uses) {
      if (u.signet) return &u;
    }
    return nullptr;
  }
  bool misses_signet() const {  // signet was meant, but Postfix will not find it
    return std::any_of(uses.begin(), uses.end(), [](const Use& u) { return u.signet_syntax || u.chroot_miss; });
  }
  bool meant_for_signet() const { return signet_use() || misses_signet(); }
  bool runs_signet() const { return disabled_where.empty() && signet_use(); }
};

class Doctor {
 public:
  Doctor(const PostfixConfig& pf, const SignetSettings& st, MilterSocket socket)
      : pf_(pf), st_(st), signet_(std::move(socket)), queue_(normalize_path(pf.param("queue_directory"))) {}

  Diagnosis run() {
    check_signet_socket();
    for (const Service* s : pf_.running("smtpd")) smtpd_.push_back(source(s, s, "smtpd_milters"));
    const Service* cleanup = nullptr;
    for (const Service* s : pf_.running("cleanup")) {
      if (!cleanup || s->name == "cleanup") cleanup = s;
    }
    const auto pickups = pf_.running("pickup");
    pickup_ = pickups.empty() ? nullptr : pickups.front();
    if (cleanup) local_ = source(cleanup, pickup_, "non_smtpd_milters");

    check_syntax_and_chroot();
    check_smtpd_reach();
    check_local_submission();
    check_trusted_services();
    check_protocol_and_default_action();
    check_delivery("smtp_line_length_limit", &Doctor::line_length_finding);
    check_delivery("disable_mime_output_conversion", &Doctor::mime_finding);
    check_content_filter();
    check_order_and_network();
    if (!pf_.param("smtpd_milter_maps").empty()) {
      add(Severity::Info, "main.cf smtpd_milter_maps",
          "= " + pf_.param("smtpd_milter_maps") + " replaces smtpd_milters per client address (postconf(5), Postfix >= 3.2): "
          "a client it matches may skip signet (DISABLE) or get other milters; doctor does not read the table, check that "
          "your senders' addresses keep signet");
    }
    Diagnosis d;
    d.findings = std::move(findings_);
    d.probes = probe_targets();
    return d;
  }

 private:
  void add(Severity sev, std::string where, std::string text) {
    for (const Finding& f : findings_) {
      if (f.severity == sev && f.where == where && f.text == text) return;
    }
    findings_.push_back(Finding{sev, std::move(where), std::move(text)});
  }
  // One finding for every service with the same text: "master.cf a/inet, b/inet".
  void add_for_service(Severity sev, const Service& s, const std::string& text) {
    for (Finding& f : findings_) {
      if (f.severity == sev && f.text == text && f.where.rfind("master.cf ", 0) == 0) {
        f.where += ", " + s.id();
        return;
      }
    }
    findings_.push_back(Finding{sev, "master.cf " + s.id(), text});
  }

  // `name = value` in main.cf, or -o name=value under s where s overrides name.
  std::string fix_line(const Service* s, const std::string& name, const std::string& value) const {
    if (s && pf_.overridden(*s, name)) return "`-o " + name + "=" + value + "` under " + s->id() + " in master.cf";
    return "`" + name + " = " + value + "` in main.cf";
  }
  // "name = value" as Postfix has it for s, noting when that is the default.
  std::string setting(const Service* s, const std::string& name) const {
    const std::string& v = s ? pf_.param(*s, name) : pf_.param(name);
    const bool dflt = !(s && pf_.overridden(*s, name)) && !pf_.in_main_cf.count(name);
    return name + " = " + v + (dflt ? " (the Postfix default)" : "");
  }
  // signet's socket as Postfix should name it: inet:HOST:PORT; a unix path
  // inside queue_directory relative to it (right chrooted or not).
  std::string postfix_name() const {
    const std::string prefix = queue_ + "/";
    if (signet_.unix_domain() && signet_.path.rfind(prefix, 0) == 0) return "unix:" + signet_.path.substr(prefix.size());
    return signet_.postfix_form();
  }
  std::string signet_socket_text() const {
    const std::string name = postfix_name();
    return "signet.conf socket = " + st_.socket + (name == st_.socket ? "" : ", which Postfix writes " + name);
  }
  bool trusted_name(const std::string& daemon_name) const { return contains(st_.trusted_services, daemon_name); }

  // Where a process connects for socket s: Postfix daemons run in
  // queue_directory, and chrooted there an absolute path is under it too
  // (MILTER_README, "unix:pathname").
  MilterSocket seen_by(const MilterSocket& s, bool chrooted) const {
    MilterSocket seen = s;
    if (s.unix_domain()) {
      if (s.path.empty() || s.path[0] != '/') seen.path = normalize_path(queue_ + "/" + s.path);
      else seen.path = normalize_path(chrooted ? queue_ + s.path : s.path);
    }
    return seen;
  }

  Source source(const Service* s, const Service* receiver, const std::string& list_param) const {
    Source src;
    src.service = s;
    src.receiver = receiver;
    src.list_param = list_param;
    src.list = pf_.param(*s, list_param);
    src.list_where = pf_.where(s, list_param);
    src.chrooted = pf_.chrooted(*s);
    if (receiver && has_no_milters(pf_.param(*receiver, "receive_override_options"))) {
      src.disabled_where = pf_.where(receiver, "receive_override_options");
    }
    std::size_t i = 0;
    for (MilterEntry& e : parse_milter_list(src.list)) {
      Use u;
      u.index = i++;
      auto parsed = parse_postfix_socket(e.socket);
      if (parsed) {
        u.parsed = *parsed;
        u.seen = seen_by(*parsed, src.chrooted);
        u.signet = reaches(u.seen, signet_);
        u.chroot_miss = !u.signet && src.chrooted && parsed->unix_domain() && !parsed->path.empty() &&
                        parsed->path[0] == '/' && reaches(*parsed, signet_);
      } else {
        u.parse_error = parsed.error().message;
        auto as_libmilter = parse_libmilter_socket(e.socket);
        u.signet_syntax = as_libmilter && !as_libmilter->unix_domain() && reaches(*as_libmilter, signet_);
      }
      u.entry = std::move(e);
      src.uses.push_back(std::move(u));
    }
    return src;
  }

  std::vector<const Source*> sources() const {
    std::vector<const Source*> out;
    for (const Source& s : smtpd_) out.push_back(&s);
    if (local_) out.push_back(&*local_);
    return out;
  }

  // -- signet's own socket ---------------------------------------------------
  void check_signet_socket() {
    if (signet_.unix_domain()) {
      if (!signet_.path.empty() && signet_.path[0] != '/') {
        add(Severity::Warning, "signet.conf socket",
            "= " + st_.socket + " is a relative path: signet-milter resolves it from its working directory (/ once it "
            "detaches), Postfix from queue_directory (" + queue_ + "); fix: an absolute path, e.g. `socket = unix:" +
            queue_ + "/signet/signet-milter.sock` in signet.conf");
      }
      return;
    }
    if (is_wildcard(signet_.host) || !is_loopback(signet_.host)) {
      MilterSocket fixed = signet_;
      fixed.host = "127.0.0.1";
      add(Severity::Warning, "signet.conf socket",
          "= " + st_.socket + " listens on " + (is_wildcard(signet_.host) ? "every address" : signet_.host) +
              ": milter traffic (whole messages, SASL logins) crosses the network in the clear, and whoever reaches the "
              "port can have mail signed (signet trusts the macros the MTA sends); fix: `socket = " +
              fixed.libmilter_form() + "` in signet.conf (Postfix: " + fixed.postfix_form() + "), or a unix socket");
    }
  }

  // -- sockets Postfix cannot use --------------------------------------------
  void check_syntax_and_chroot() {
    for (const Source* src : sources()) {
      for (const Use& u : src->uses) {
        if (!u.parsed) {
          std::string text = u.parse_error;
          if (u.signet_syntax) {
            auto m = parse_libmilter_socket(u.entry.socket);
            text += ": Postfix cannot connect, so " + what_signs(*src) + " and milter_default_action applies; fix: " +
                    fix_line(src->service, src->list_param, replaced(src->list, u.entry.socket, m->postfix_form()));
            add(Severity::Error, src->list_where, text);
          } else {
            add(Severity::Warning, src->list_where,
                text + ": Postfix logs a warning and applies milter_default_action to every message");
          }
        }
        if (u.chroot_miss) add_for_service(Severity::Error, *src->service, chroot_text(*src, u));
      }
    }
  }

  static std::string replaced(std::string list, const std::string& old, const std::string& now) {
    const std::size_t at = list.find(old);
    if (at != std::string::npos) list.replace(at, old.size(), now);
    return list;
  }
  static std::string what_signs(const Source& src) {
    return src.list_param == "smtpd_milters" ? "what smtpd receives is never signed"
                                             : "mail submitted with sendmail(1) is never signed";
  }

  std::string chroot_text(const Source& src, const Use& u) const {
    const Service& s = *src.service;
    std::string text = s.command + " runs chrooted in " + queue_ + " (chroot column " + s.chroot +
                       (s.chroot == "-" ? ", y at this compatibility_level" : "") + "), so " + src.list_param + " = " +
                       u.entry.socket + " (" + src.list_where + ") is " + u.seen.path + " to it, where signet does not listen (" +
                       signet_socket_text() + "): " + what_signs(src) + "; fix: ";
    const std::string prefix = queue_ + "/";
    if (signet_.path.rfind(prefix, 0) == 0) {
      const std::string rel = "unix:" + signet_.path.substr(prefix.size());
      return text + fix_line(&s, src.list_param, replaced(src.list, u.entry.socket, rel)) +
             " (relative to queue_directory: right chrooted or not)";
    }
    return text + "`socket = unix:" + queue_ + "/signet/signet-milter.sock` in signet.conf (a directory inside the chroot "
           "that signet's user may write) and " +
           fix_line(&s, src.list_param, replaced(src.list, u.entry.socket, "unix:signet/signet-milter.sock")) +
           ", or run it unchrooted (chroot column n in master.cf)";
  }

  // -- mail over SMTP ----------------------------------------------------------
  // Why an smtpd that does not reach signet does not, as the line that says so.
  std::string why_not(const Source& s) const {
    const Service& svc = *s.service;
    if (!s.disabled_where.empty()) {
      return pf_.overridden(svc, "receive_override_options")
                 ? "-o receive_override_options=" + pf_.param(svc, "receive_override_options")
                 : "no_milters in main.cf receive_override_options";
    }
    return pf_.overridden(svc, "smtpd_milters") ? "-o smtpd_milters=" + s.list : "smtpd_milters = " + s.list;
  }

  void check_smtpd_reach() {
    if (smtpd_.empty()) {
      add(Severity::Error, "master.cf", "no smtpd service: nothing received over SMTP reaches signet");
      return;
    }
    const bool any = std::any_of(smtpd_.begin(), smtpd_.end(), [](const Source& s) { return s.runs_signet(); });
    const bool explained = std::any_of(smtpd_.begin(), smtpd_.end(), [](const Source& s) {
      return s.misses_signet() || (s.signet_use() && s.disabled_where == "main.cf receive_override_options");
    });
    if (!any && !explained) {
      std::vector<std::string> overrides;
      for (const Source& s : smtpd_) {
        if (pf_.overridden(*s.service, "smtpd_milters") || !s.disabled_where.empty()) {
          overrides.push_back(s.service->id() + " (" + why_not(s) + ")");
        }
      }
      const std::string& main_list = pf_.param("smtpd_milters");
      add(Severity::Error, "main.cf smtpd_milters",
          "= " + main_list + (main_list.empty() ? "(empty)" : "") + " names no socket of signet's (" + signet_socket_text() + ")" +
              (overrides.empty() ? "" : "; master.cf sets other milters on " + join(overrides)) +
              ": no smtpd hands mail to signet, nothing received over SMTP is signed; fix: `smtpd_milters = " +
              (main_list.empty() ? "" : main_list + ", ") + postfix_name() + "` in main.cf");
      return;
    }
    std::vector<std::string> quiet;
    for (const Source& s : smtpd_) {
      if (s.runs_signet() || s.misses_signet()) continue;
      const std::string why = why_not(s);
      const std::string& name = pf_.param(*s.service, "milter_macro_daemon_name");
      if (trusted_name(name)) {
        add_for_service(Severity::Warning, *s.service,
                        "milter_macro_daemon_name = " + name + " is in signet's trusted-services, but this smtpd does not run "
                        "signet (" + why + "): the mail it receives is not signed; fix: " +
                        (s.disabled_where.empty() ? fix_line(s.service, "smtpd_milters", postfix_name())
                                                  : "drop no_milters from " + s.disabled_where));
      } else {
        quiet.push_back(s.service->id() + " (" + why + ")");
      }
    }
    if (!quiet.empty()) {
      add(Severity::Info, "master.cf", "smtpd services that do not run signet (what they receive is not signed): " + join(quiet));
    }
  }

  // -- mail from sendmail(1) / pickup ------------------------------------------
  void check_local_submission() {
    if (!local_) return;
    const Source& src = *local_;
    const bool smtpd_list_is_signet = [&] {
      for (const MilterEntry& e : parse_milter_list(pf_.param("smtpd_milters"))) {
        auto p = parse_postfix_socket(e.socket);
        if (p && reaches(seen_by(*p, src.chrooted), signet_)) return true;
      }
      return false;
    }();
    const std::string fix = fix_line(src.service, "non_smtpd_milters",
                                     smtpd_list_is_signet ? "$smtpd_milters" : (src.list.empty() ? "" : src.list + ", ") + postfix_name());
    const std::string unsigned_text =
        "mail submitted with sendmail(1) (cron, scripts, web applications), through qmqpd(8) or re-queued with "
        "`postsuper -r` never reaches signet and leaves unsigned (postconf(5) non_smtpd_milters)";
    if (src.uses.empty()) {
      add(Severity::Warning, src.list_where, "is empty: " + unsigned_text + "; fix: " + fix);
    } else if (!src.meant_for_signet()) {
      add(Severity::Warning, src.list_where, "= " + src.list + " names no socket of signet's (" + signet_socket_text() + "): " +
                                                 unsigned_text + "; fix: " + fix);
    } else if (!src.disabled_where.empty() && src.disabled_where != "main.cf receive_override_options") {
      add(Severity::Warning, src.disabled_where,
          "names no_milters on pickup: " + unsigned_text + "; fix: drop no_milters there");
    } else if (src.runs_signet()) {
      const std::string& name = pf_.param(*src.service, "milter_macro_daemon_name");
      if (!st_.trusts_loopback && !trusted_name(name)) {
        add(Severity::Warning, "signet.conf internal-hosts",
            "non_smtpd_milters hands sendmail(1) mail to signet as a connection from localhost [127.0.0.1] with "
            "{daemon_name} " + name + " (cleanup(8) emulates SMTP), but signet trusts neither (internal-hosts, "
            "trusted-services): that mail passes unsigned; fix, if what local users and programs send is yours: "
            "`internal-hosts = 127.0.0.1/32 ::1/128` in signet.conf, or `trusted-services = " + name + "`");
      }
    }
  }

  void check_trusted_services() {
    std::vector<std::string> used;  // a service that misses signet has its own error
    for (const Source* s : sources()) {
      if (s->runs_signet() || s->misses_signet()) used.push_back(pf_.param(*s->service, "milter_macro_daemon_name"));
    }
    if (used.empty()) return;
    for (const std::string& name : st_.trusted_services) {
      if (contains(used, name)) continue;
      add(Severity::Warning, "signet.conf trusted-services",
          name + ": no service that runs signet has this {daemon_name} (theirs: " + join(used) +
              "), so it trusts nothing; fix: `-o milter_macro_daemon_name=" + name +
              "` under the smtpd whose mail it means, in master.cf");
    }
  }

  // -- protocol and failure handling -------------------------------------------
  void check_protocol_and_default_action() {
    for (const Source* src : sources()) {
      const Use* u = src->signet_use();
      if (!src->runs_signet()) continue;
      const Service* s = src->service;
      // Per-milter settings { socket, protocol=..., default_action=... } win (Postfix >= 3.0).
      const auto attr = [&](const char* name) -> const std::string* {
        auto it = u->entry.attrs.find(name);
        return it == u->entry.attrs.end() ? nullptr : &it->second;
      };
      const std::string in_braces = src->list_where + " { " + u->entry.socket + " }";
      const std::string* proto_attr = attr("protocol");
      const std::string proto = proto_attr ? *proto_attr : pf_.param(*s, "milter_protocol");
      if (const int v = protocol_version(proto); v < 6) {
        // Below 6 there is no SMFIP_HDR_LEADSPC: Postfix drops the space after
        // each header's colon and signet puts one SP back (milter/header_text.h),
        // which simple header canonicalization signs as the bytes that travel.
        const bool simple = !st_.simple_header_streams.empty();
        add(simple ? Severity::Error : Severity::Warning, proto_attr ? in_braces : pf_.where(s, "milter_protocol"),
            (proto_attr ? "protocol = " + proto : setting(s, "milter_protocol")) +
                ": signet-milter speaks milter protocol 6; below it header values arrive without their leading "
                "whitespace (no SMFIP_HDR_LEADSPC) and every header waits for a reply (no SMFIP_NR_HDR), so a field "
                "written without one space after the colon is signed as it does not travel" +
                (simple ? ", which breaks c=simple/ signatures of stream(s) " + join(st_.simple_header_streams)
                        : " (harmless for relaxed header canonicalization, which all streams use)") +
                "; fix: " + (proto_attr ? "`protocol = 6` in those braces" : fix_line(s, "milter_protocol", "6")) +
                " (the default since Postfix 2.6)");
      }
      const std::string* action_attr = attr("default_action");
      const std::string action = action_attr ? *action_attr : pf_.param(*s, "milter_default_action");
      const std::string where = action_attr ? in_braces : pf_.where(s, "milter_default_action");
      const std::string shown = action_attr ? "default_action = " + action : setting(s, "milter_default_action");
      const std::string fix_accept = action_attr ? "`default_action = accept` in those braces"
                                                 : fix_line(s, "milter_default_action", "accept");
      const std::string fix_tempfail = action_attr ? "`default_action = tempfail` in those braces"
                                                   : fix_line(s, "milter_default_action", "tempfail");
      const std::string on_error = std::string("signet.conf on-error = ") + (st_.on_error_tempfail ? "tempfail" : "accept");
      if (action == "accept" && !st_.on_error_tempfail) continue;  // README
      if (action == "tempfail" && st_.on_error_tempfail) continue;
      if (action == "tempfail") {
        add(Severity::Warning, where,
            shown + " with " + on_error + ": while signet-milter is down or does not answer, Postfix defers every "
            "message it would hand to signet, inbound mail included, yet a message signet cannot sign passes unsigned; fix: " + fix_accept +
            " (README: deliver unsigned while signet is down), or `on-error = tempfail` in signet.conf to defer in both cases");
      } else if (action == "accept") {
        add(Severity::Warning, where,
            shown + " with " + on_error + ": while signet-milter is down mail leaves unsigned, yet a message signet "
            "cannot sign is deferred; fix: " + fix_tempfail + " to defer in both cases, or `on-error = accept` in signet.conf");
      } else if (action == "reject") {
        add(Severity::Error, where,
            shown + ": while signet-milter is down or does not answer, Postfix rejects every message it would hand to signet with a "
            "permanent error (5xx): senders get bounces, mail is lost; fix: " + fix_accept + " (README), or " +
            fix_tempfail + " with `on-error = tempfail`");
      } else if (action == "quarantine") {
        add(Severity::Warning, where,
            shown + ": while signet-milter is down every message it would hand to signet goes to the hold queue, unsigned, until "
            "someone releases it (postsuper -H); fix: " + fix_accept + " (README)");
      } else {
        add(Severity::Warning, where, shown + ": not accept, reject, tempfail or quarantine (postconf(5)); fix: " + fix_accept);
      }
    }
  }

  // -- what smtp(8) does to a message after signing ------------------------------
  using DeliveryFinding = std::optional<Finding> (Doctor::*)(const Service* s, const std::string& value) const;

  // The value each smtp(8) service delivers with: one finding per place it is set.
  void check_delivery(const std::string& name, DeliveryFinding finding) {
    for (const Service* s : pf_.running("smtp")) {
      const Service* owner = pf_.overridden(*s, name) ? s : nullptr;
      if (auto f = (this->*finding)(owner, pf_.param(*s, name))) add(f->severity, pf_.where(owner, name), f->text);
    }
  }

  std::optional<Finding> line_length_finding(const Service* s, const std::string& value) const {
    const auto limit = to_number(value);
    const std::string shown = setting(s, "smtp_line_length_limit");
    if (!limit) return Finding{Severity::Warning, "", shown + ": not a number (postconf(5))"};
    if (*limit == 0) {
      return Finding{Severity::Info, "",
                     shown + ": smtp(8) sends long lines as they are, so signatures survive them; receivers may refuse "
                     "lines over 998 bytes (RFC 5322 §2.1.1)"};
    }
    const std::string risk = "lines longer than " + value + " bytes are folded (CRLF SPACE inserted, postconf(5)) by smtp(8) "
                             "after signet signed, which breaks the body hash (bh=) of such messages";
    if (*limit < 998) {
      return Finding{Severity::Warning, "",
                     shown + ": " + risk + ", and lines up to 998 bytes are legal (RFC 5322 §2.1.1); fix: " +
                         fix_line(s, "smtp_line_length_limit", "998") + " (the default)"};
    }
    return Finding{Severity::Info, "",
                   shown + ": " + risk + "; MIME-encoded mail has no such lines; fix, if a sender of yours writes them: "
                   "have it send quoted-printable or base64, or " + fix_line(s, "smtp_line_length_limit", "0") +
                   " (no folding; some receivers refuse such lines)"};
  }

  std::optional<Finding> mime_finding(const Service* s, const std::string& value) const {
    if (value == "yes") return std::nullopt;
    return Finding{Severity::Warning, "",
                   setting(s, "disable_mime_output_conversion") +
                       ": smtp(8) converts an 8-bit body to quoted-printable after signing when the next hop does not "
                       "announce 8BITMIME, and the signature, made over the 8-bit body, fails (RFC 6376 §5.3); fix: " +
                       fix_line(s, "disable_mime_output_conversion", "yes") + " (8-bit mail then goes out as it was signed)"};
  }

  // -- content filters (FILTER_README) -------------------------------------------
  void check_content_filter() {
    bool any_filter = false;
    for (const Source* src : sources()) {
      const Service* r = src->receiver;
      if (!r || !src->runs_signet()) continue;
      const std::string& filter = pf_.param(*r, "content_filter");
      if (filter.empty()) continue;
      any_filter = true;
      const std::string after = src->list_param == "smtpd_milters"
                                    ? "sign after it: `-o smtpd_milters=` here and signet on the re-injection smtpd, "
                                      "named in trusted-services (-o milter_macro_daemon_name=NAME)"
                                    : "`-o content_filter=` under " + r->id() + " in master.cf, so sendmail(1) mail "
                                      "skips the filter";
      add_for_service(Severity::Warning, *r,
                      "signet signs here before content_filter = " + filter + " (" + pf_.where(r, "content_filter") +
                          ") gets the message: a filter that changes the body or a signed header field (From, To, "
                          "Subject, Date; disclaimers, subject tags, MIME rewrites) breaks the signature; fix: have the "
                          "filter leave outgoing mail unchanged, or " + after);
    }
    for (const Service* r : pf_.running("smtpd")) any_filter = any_filter || !pf_.param(*r, "content_filter").empty();
    if (pickup_) any_filter = any_filter || !pf_.param(*pickup_, "content_filter").empty();
    if (any_filter) {
      for (const Source& src : smtpd_) {
        const Service& s = *src.service;
        if (!src.runs_signet() || !pf_.overridden(s, "content_filter") || !pf_.param(s, "content_filter").empty()) continue;
        // FILTER_README's re-injection smtpd: `-o content_filter=` (empty).
        const bool trusted = st_.trusts_loopback || trusted_name(pf_.param(s, "milter_macro_daemon_name"));
        const std::string fix = "; fix: `-o smtpd_milters=` under " + s.id() +
                                " in master.cf, or `-o receive_override_options=no_unknown_recipient_checks,"
                                "no_header_body_checks,no_milters` (FILTER_README)";
        if (trusted) {
          add_for_service(Severity::Warning, s,
                          "re-injects what the content filter returns (-o content_filter=), through signet a second "
                          "time, and signet trusts it here (internal-hosts or trusted-services): a key whose d=/s= the "
                          "message already carries does not sign again, but any other stream the rules pick does "
                          "(signed twice), and a signature the filter broke stays broken" + fix);
        } else {
          add_for_service(Severity::Info, s,
                          "re-injects what the content filter returns (-o content_filter=) through signet again, which "
                          "passes it untouched (not trusted here)" + fix + " (saves the round trip)");
        }
      }
    }
    const std::string& main_options = pf_.param("receive_override_options");
    if (pf_.in_main_cf.count("receive_override_options") && has_no_milters(main_options)) {
      std::vector<std::string> blocked;
      for (const Source* src : sources()) {
        if (src->meant_for_signet() && src->disabled_where == "main.cf receive_override_options") {
          blocked.push_back(src->receiver ? src->receiver->id() : src->service->id());
        }
      }
      if (!blocked.empty()) {
        add(Severity::Error, "main.cf receive_override_options",
            "= " + main_options + ": no_milters here applies to every smtpd and to pickup, not only after the content "
            "filter, so signet never runs on " + join(blocked) + " and their mail is never signed; fix: drop no_milters "
            "from main.cf and put `-o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,"
            "no_milters` under the re-injection smtpd in master.cf (postconf(5): the AFTER-filter setting goes in master.cf)");
      }
    }
  }

  // -- milter order, milter traffic over the network ---------------------------
  void check_order_and_network() {
    for (const Source* src : sources()) {
      const Use* u = src->signet_use();
      if (!src->runs_signet()) continue;
      std::vector<std::string> after;
      for (const Use& v : src->uses) {
        if (v.index > u->index && !v.signet) after.push_back(v.entry.socket);
      }
      if (!after.empty()) {
        add(Severity::Info, src->list_where,
            join(after) + " comes after signet: Postfix hands each milter the message as the ones before it left it "
            "(cleanup_milter.c), so one after signet that changes the body or a signed header field breaks the "
            "signature; fix, if it edits mail: list signet last");
      }
      if (!u->seen.unix_domain() && !is_loopback(u->seen.host) && !is_wildcard(u->seen.host)) {
        add(Severity::Warning, src->list_where,
            u->entry.socket + ": milter traffic to " + u->seen.host + " (whole messages, SASL logins) crosses the network in "
            "the clear; fix: run signet-milter on this host, on 127.0.0.1 or a unix socket");
      }
    }
  }

  // -- where to connect ----------------------------------------------------------
  std::vector<ProbeTarget> probe_targets() const {
    std::vector<ProbeTarget> out;
    for (const Source* src : sources()) {
      if (!src->disabled_where.empty()) continue;
      for (const Use& u : src->uses) {
        if (!u.signet && !u.chroot_miss) continue;
        auto it = std::find_if(out.begin(), out.end(), [&](const ProbeTarget& t) { return reaches(t.socket, u.seen); });
        if (it == out.end()) {
          ProbeTarget t;
          t.socket = u.seen;
          t.named = u.entry.socket;
          auto proto = u.entry.attrs.find("protocol");
          t.version = protocol_version(proto != u.entry.attrs.end() ? proto->second : pf_.param(*src->service, "milter_protocol"));
          auto action = u.entry.attrs.find("default_action");
          t.default_action = action != u.entry.attrs.end() ? action->second : pf_.param(*src->service, "milter_default_action");
          out.push_back(std::move(t));
          it = out.end() - 1;
        }
        it->via.push_back(src->service->id() + (src->chrooted ? " (chrooted)" : ""));
      }
    }
    if (out.empty()) {  // Postfix does not name signet: does signet answer where signet.conf says?
      ProbeTarget t;
      t.socket = signet_;
      t.named = st_.socket;
      t.default_action = pf_.param("milter_default_action");
      out.push_back(std::move(t));
    }
    return out;
  }

  const PostfixConfig& pf_;
  const SignetSettings& st_;
  MilterSocket signet_;
  std::string queue_;
  std::vector<Source> smtpd_;
  std::optional<Source> local_;
  const Service* pickup_ = nullptr;
  std::vector<Finding> findings_;
};

}  // namespace

std::string_view severity_name(Severity s) {
  switch (s) {
    case Severity::Info: return "info";
    case Severity::Warning: return "warning";
    case Severity::Error: return "error";
  }
  return "error";
}

std::optional<Severity> parse_severity(std::string_view name) {
  for (Severity s : {Severity::Info, Severity::Warning, Severity::Error}) {
    if (severity_name(s) == name) return s;
  }
  return std::nullopt;
}

Result<Diagnosis> diagnose_postfix(const PostfixConfig& postfix, const SignetSettings& signet) {
  auto socket = parse_libmilter_socket(signet.socket);
  if (!socket) return permanent_error(signet.config_file + ": " + socket.error().message);
  return Doctor(postfix, signet, *socket).run();
}

Finding probe_finding(const ProbeTarget& t, const ProbeResult& r, const std::string& as_user) {
  const std::string where = "milter " + t.named;
  const std::string at = t.socket.unix_domain() ? "unix:" + t.socket.path : t.socket.postfix_form();
  const std::string as = as_user.empty() ? "" : " as user " + as_user;
  const std::string via = t.via.empty() ? " (signet.conf's socket: no Postfix service names it)" : " for " + join(t.via);
  if (r.answered) {
    std::string wrong;
    if (static_cast<int>(r.version) > t.version) {
      wrong = "it replies protocol version " + std::to_string(r.version) + " to Postfix's " + std::to_string(t.version) +
              ", which Postfix refuses (milter8.c)";
    } else if ((r.actions & kPostfixActions) != r.actions) {
      wrong = "it asks for actions Postfix does not offer (" + action_names(r.actions) + "), which Postfix refuses (milter8.c)";
    } else if (!(r.actions & kAddHeaders)) {
      wrong = "it does not ask to add header fields (SMFIF_ADDHDRS), so it cannot insert DKIM-Signature: is this signet-milter?";
    }
    const std::string reply = "protocol " + std::to_string(r.version) + ", actions " + action_names(r.actions) +
                              ", steps " + step_names(r.steps);
    if (!wrong.empty()) {
      return Finding{Severity::Error, where, "a milter answers on " + at + as + " (" + reply + "), but " + wrong};
    }
    return Finding{Severity::Info, where, "signet-milter answers on " + at + as + via + " (" + reply + ")"};
  }
  std::string fix;
  switch (r.error_number) {
    case ECONNREFUSED:
      fix = "start signet-milter (`systemctl start signet-milter`), and check that it listens where signet.conf's socket says";
      break;
    case ENOENT:
      fix = t.socket.unix_domain()
                ? "start signet-milter; if it runs, make Postfix's path and signet.conf's socket the same file (under a "
                  "chrooted smtpd or cleanup, inside queue_directory)"
                : "check the user and the host";
      break;
    case EACCES:
    case EPERM:
      fix = "signet-milter makes its socket mode 0660 owned by signet.conf's user:group: add " +
            (as_user.empty() ? std::string("postfix") : as_user) + " to that group (`adduser " +
            (as_user.empty() ? std::string("postfix") : as_user) + " GROUP`) and let it search the directories above the socket";
      break;
    case ETIMEDOUT:
      fix = "something takes the connection but does not negotiate: signet-milter stuck (its log), or another program on that socket";
      break;
    case ENAMETOOLONG:
      fix = "a unix socket's path holds at most 107 bytes (sun_path in unix(7)): a shorter one for signet.conf's socket "
            "and Postfix's name for it";
      break;
    case EPROTO:
      fix = "another program listens there: give signet-milter and Postfix a socket of their own";
      break;
    default:
      fix = "check that signet-milter runs and listens where signet.conf's socket says";
  }
  return Finding{Severity::Error, where,
                 "signet-milter does not answer on " + at + via + ": " + r.error + "; meanwhile Postfix applies " +
                     "milter_default_action = " + (t.default_action.empty() ? std::string("tempfail") : t.default_action) +
                     " to every message that needs it; fix: " + fix};
}

}  // namespace signet::doctor
