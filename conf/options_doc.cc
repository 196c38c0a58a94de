#include "conf/options_doc.h"

namespace signet::conf {
namespace {

// The allowed values, where they say more than the kind (text, paths and
// lists take any value).
std::string range_of(const OptionSpec& o) {
  if (o.kind == Kind::Text || o.kind == Kind::Path || o.kind == Kind::List || o.kind == Kind::Refused) return "";
  return allowed(o);
}

std::string md_cell(std::string s) {
  for (std::size_t p = 0; (p = s.find('|', p)) != std::string::npos; p += 2) s.replace(p, 1, "\\|");
  return s;
}

// mdoc: a text line must not start with '.' or '\'', and backslashes escape.
std::string roff(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\\') {
      out += "\\e";
    } else {
      out.push_back(c);
    }
  }
  // One sentence per source line, broken at 72 columns (mdoc style).
  std::string wrapped, line;
  std::size_t pos = 0;
  while (pos <= out.size()) {
    std::size_t sp = out.find(' ', pos);
    if (sp == std::string::npos) sp = out.size();
    const std::string word = out.substr(pos, sp - pos);
    if (!line.empty() && line.size() + 1 + word.size() > 72) {
      wrapped += line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
    pos = sp + 1;
  }
  wrapped += line;
  // A text line must not start with a control character.
  for (std::size_t p = 0; p < wrapped.size(); p = wrapped.find('\n', p) + 1) {
    if (wrapped[p] == '.' || wrapped[p] == '\'') wrapped.insert(p, "\\&");
    if (wrapped.find('\n', p) == std::string::npos) break;
  }
  return wrapped;
}

void man_options(std::string& out, Scope scope) {
  out += ".Bl -tag -width Ds\n";
  for (const OptionSpec& o : option_table()) {
    if (o.scope != scope) continue;
    out += ".It Cm " + std::string(o.name) + (o.kind == Kind::Refused ? "" : " Ns No \\&= Ns Ar value") + "\n";
    out += roff(o.help) + ".\n";
    if (o.default_value) {
      out += std::string("Default:\n.Ql ") + (*o.default_value ? roff(o.default_value) : "\"\"") + " .\n";
    }
    if (const std::string r = range_of(o); !r.empty()) out += "Allowed:\n" + roff(r) + ".\n";
    if (o.repeatable) out += "May be given more than once; the values accumulate.\n";
  }
  out += ".El\n";
}

}  // namespace

std::string options_markdown(Scope scope) {
  std::string out = "| option | default | allowed | meaning |\n|---|---|---|---|\n";
  for (const OptionSpec& o : option_table()) {
    if (o.scope != scope) continue;
    std::string def = o.default_value ? (*o.default_value ? "`" + std::string(o.default_value) + "`" : "(empty)") : "(none)";
    std::string range = range_of(o);
    if (o.repeatable) range += std::string(range.empty() ? "" : "; ") + "repeatable";
    out += "| `" + std::string(o.name) + "` | " + md_cell(def) + " | " + md_cell(range) + " | " + md_cell(o.help) + " |\n";
  }
  return out;
}

std::string signet_conf_man() {
  std::string out =
      ".\\\" Generated from conf/options.h by `make docs`: edit the table, not this file.\n"
      ".Dd December 1, 2026\n"
      ".Dt SIGNET.CONF 5\n"
      ".Os\n"
      ".Sh NAME\n"
      ".Nm signet.conf\n"
      ".Nd configuration of the signet DKIM signing milter\n"
      ".Sh DESCRIPTION\n"
      ".Xr signet-milter 8\n"
      "reads\n"
      ".Pa /etc/signet/signet.conf\n"
      "(or the file\n"
      ".Fl -config\n"
      "names) at start and on every reload.\n"
      "Lines are\n"
      ".Ql name = value ;\n"
      "a\n"
      ".Ql #\n"
      "starts a comment.\n"
      "Global options come first; then\n"
      ".Ql [stream.NAME]\n"
      "sections, each a signing domain with its keys, and\n"
      ".Ql [rule.NAME]\n"
      "sections, which choose the stream(s) a message is signed with:\n"
      "the first rule whose every criterion matches wins,\n"
      "in file order, then in the order of the\n"
      ".Cm include\n"
      "files.\n"
      "Every global option may also be given on the command line as\n"
      ".Fl -NAME Ar value ,\n"
      "which wins over the file.\n"
      ".Pp\n"
      "Only mail the operator originates is signed:\n"
      "mail from an authenticated (SASL) sender, from a client in\n"
      ".Cm internal-hosts ,\n"
      "or from a Postfix service named in\n"
      ".Cm trusted-services .\n"
      "Everything else passes untouched, with one log line.\n"
      ".Pp\n"
      "Durations are written\n"
      ".Ql 30s ,\n"
      ".Ql 5m ,\n"
      ".Ql 12h ,\n"
      ".Ql 7d\n"
      "or in seconds; lists are separated by spaces or commas.\n"
      "A value of the wrong kind or out of its allowed range is refused\n"
      "with the file, the line and the range, and signet-milter does not start\n"
      "(or keeps its running configuration on a reload).\n"
      ".Sh GLOBAL OPTIONS\n";
  man_options(out, Scope::Global);
  out += ".Sh STREAM OPTIONS\n"
         "In a\n"
         ".Ql [stream.NAME]\n"
         "section.\n"
         "A stream is one sending platform or tenant, with its own domain and keys.\n"
         "Keys come from\n"
         ".Cm selector\n"
         "lines (keys that always sign) or from the key directory's manifest, which\n"
         ".Xr signet 1\n"
         "manages\n"
         ".Pq Cm signet key new , Cm signet key rotate .\n";
  man_options(out, Scope::Stream);
  out += ".Sh RULE OPTIONS\n"
         "In a\n"
         ".Ql [rule.NAME]\n"
         "section.\n"
         "Every criterion given must match;\n"
         "a rule with none matches every trusted message.\n"
         "A rule whose stream the sender may not use (the stream's\n"
         ".Cm sasl-logins\n"
         "or\n"
         ".Cm hosts )\n"
         "does not match,\n"
         "so a tenant cannot sign as another by writing its domain in From.\n";
  man_options(out, Scope::Rule);
  out += ".Sh FILES\n"
         ".Bl -tag -width Ds -compact\n"
         ".It Pa /etc/signet/signet.conf\n"
         "this file\n"
         ".It Pa /etc/signet/streams.d/\n"
         "files of stream and rule sections, for\n"
         ".Cm include\n"
         ".It Pa /var/lib/signet/keys/\n"
         "the key directory: its manifest and the private keys\n"
         ".El\n"
         ".Sh EXAMPLES\n"
         ".Bd -literal -offset indent\n"
         "socket = inet:8891@127.0.0.1\n"
         "internal-hosts = 127.0.0.1/32 ::1/128\n"
         "trusted-services = submission\n"
         "\n"
         "[stream.tx]\n"
         "domain = example.com\n"
         "expire = 7d\n"
         "owner = platform-team\n"
         "\n"
         "[rule.default]\n"
         "stream = tx\n"
         ".Ed\n"
         ".Sh SEE ALSO\n"
         ".Xr signet 1 ,\n"
         ".Xr signet-milter 8\n";
  return out;
}

}  // namespace signet::conf
