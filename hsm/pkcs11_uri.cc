// RFC 7512 pkcs11: URIs, the part signet reads (hsm/pkcs11.h).
#include <cctype>
#include <optional>

#include "hsm/pkcs11_uri.h"

namespace signet::hsm {
namespace {

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 7512 §2.3: pct-encoded octets anywhere in a value.
std::optional<std::string> pct_decode(std::string_view v) {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '%') {
      out += v[i];
      continue;
    }
    if (i + 2 >= v.size()) return std::nullopt;
    const int h = hex(v[i + 1]), l = hex(v[i + 2]);
    if (h < 0 || l < 0) return std::nullopt;
    out += static_cast<char>(h * 16 + l);
    i += 2;
  }
  return out;
}

}  // namespace

Result<Pkcs11Uri> Pkcs11Uri::parse(std::string_view text, Names what) {
  const std::string shown(text.substr(0, text.find("pin-value=")));
  auto bad = [&](const std::string& why) {
    return permanent_error("PKCS#11 URI " + shown + (shown.size() < text.size() ? "…" : "") + ": " + why +
                           " (RFC 7512; e.g. pkcs11:token=signet;object=tx-202612-rsa2048?module-path="
                           "/usr/lib/softhsm/libsofthsm2.so&pin-source=/etc/signet/token.pin)");
  };
  if (!is_pkcs11_uri(text)) return bad("does not start with pkcs11:");
  Pkcs11Uri u;
  u.text = std::string(text);
  std::string_view rest = text.substr(kUriScheme.size());
  const std::size_t q = rest.find('?');
  const std::string_view path = rest.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view() : rest.substr(q + 1);
  auto each = [&](std::string_view list, char sep, bool is_query) -> Status {
    while (!list.empty()) {
      const std::size_t end = list.find(sep);
      const std::string_view attr = list.substr(0, end);
      list = end == std::string_view::npos ? std::string_view() : list.substr(end + 1);
      if (attr.empty()) continue;
      const std::size_t eq = attr.find('=');
      if (eq == std::string_view::npos) return bad("attribute " + std::string(attr) + " has no value");
      const std::string name(attr.substr(0, eq));
      auto value = pct_decode(attr.substr(eq + 1));
      if (!value) return bad("bad percent-encoding in " + name);
      std::string* into = nullptr;
      if (!is_query) {
        if (name == "token") into = &u.token;
        else if (name == "object") into = &u.object;
        else if (name == "id") into = &u.id;
        else if (name == "slot-id") into = &u.slot_id;
        else if (name == "type") {
          if (*value != "private") return bad("type=" + *value + ": a signing key is type=private");
          continue;
        } else if (name == "manufacturer" || name == "model" || name == "serial" || name == "library-manufacturer" ||
                   name == "library-description" || name == "library-version" || name == "slot-description" ||
                   name == "slot-manufacturer") {
          continue;  // RFC 7512 §2.3 attributes signet does not select on
        }
      } else {
        if (name == "module-path") into = &u.module_path;
        else if (name == "pin-source") into = &u.pin_source;
        else if (name == "pin-value") into = &u.pin_value;
      }
      if (!into) return bad("unknown attribute " + name);
      if (!into->empty()) return bad(name + " given twice");
      *into = std::move(*value);
    }
    return Ok{};
  };
  if (Status s = each(path, ';', false); !s) return s.error();
  if (Status s = each(query, '&', true); !s) return s.error();
  if (u.token.empty()) return bad("no token= (the token's label)");
  if (what == Names::Key && u.object.empty() && u.id.empty()) return bad("no object= or id= (which key in the token)");
  if (u.module_path.empty()) return bad("no module-path= (the PKCS#11 module, a .so file)");
  if (u.module_path.front() != '/') return bad("module-path= must be an absolute path");
  if (!u.pin_source.empty() && !u.pin_value.empty()) return bad("both pin-source= and pin-value=: give one");
  if (u.pin_source.rfind("file:", 0) == 0) u.pin_source.erase(0, 5);
  if (!u.slot_id.empty() && u.slot_id.find_first_not_of("0123456789") != std::string::npos) {
    return bad("slot-id= is not a number");
  }
  return u;
}

std::string Pkcs11Uri::format() const {
  // RFC 7512 §2.3: unreserved characters and a few others stay; the rest,
  // and every byte of an id, are pct-encoded.
  auto enc = [](const std::string& v, bool all, bool query) {
    static const char* hexd = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : v) {
      const bool plain = !all && (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == ':' ||
                                  c == '@' || c == '!' || c == '$' || c == '\'' || c == '(' || c == ')' || c == '*' ||
                                  c == '+' || c == ',' || (query && (c == '/' || c == '?' || c == '|')));
      if (plain) {
        out += static_cast<char>(c);
      } else {
        out += '%';
        out += hexd[c >> 4];
        out += hexd[c & 15];
      }
    }
    return out;
  };
  std::string out(kUriScheme);
  std::string sep;
  auto path_attr = [&](const char* name, const std::string& v, bool all) {
    if (v.empty()) return;
    out += sep + name + "=" + enc(v, all, false);
    sep = ";";
  };
  path_attr("token", token, false);
  path_attr("object", object, false);
  path_attr("id", id, true);
  path_attr("slot-id", slot_id, false);
  sep = "?";
  auto query_attr = [&](const char* name, const std::string& v) {
    if (v.empty()) return;
    out += sep + name + "=" + enc(v, false, true);
    sep = "&";
  };
  query_attr("module-path", module_path);
  // parse drops one "file:" (a URI reference, RFC 7512 §2.3 pin-source):
  // a path that begins with "file:" itself gets one back.
  query_attr("pin-source", pin_source.rfind("file:", 0) == 0 ? "file:" + pin_source : pin_source);
  query_attr("pin-value", pin_value);
  return out;
}

std::string Pkcs11Uri::redacted() const {
  std::string out = text;
  for (std::size_t p = out.find("pin-value="); p != std::string::npos; p = out.find("pin-value=", p + 1)) {
    const std::size_t start = p + 10;
    const std::size_t end = out.find('&', start);
    out.replace(start, end == std::string::npos ? std::string::npos : end - start, "***");
  }
  return out;
}

}  // namespace signet::hsm
