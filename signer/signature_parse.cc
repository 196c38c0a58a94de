// Reading a DKIM-Signature value (RFC 6376 §3.5) and the syntax checks of
// §6.1.1: the one parser the verifier, the inspector and the milter share.
#include "base/ascii.h"
#include "signer/signature.h"

namespace signet {
namespace {

// §3.5: t= and x= are 1*12DIGIT, seconds since the epoch.
std::optional<std::int64_t> parse_timestamp(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// d= and i= compare case-insensitively (domain names).
bool is_same_or_subdomain(std::string_view sub, std::string_view dom) {
  if (ascii::iequals(sub, dom)) return true;
  return sub.size() > dom.size() && sub[sub.size() - dom.size() - 1] == '.' &&
         ascii::iequals(sub.substr(sub.size() - dom.size()), dom);
}

SignatureDefect perm(std::string message) { return SignatureDefect{false, std::move(message)}; }

}  // namespace

Result<ParsedSignature> parse_signature(std::string_view value) {
  auto tags = parse_tag_list(value);
  if (!tags) return tags.error();
  ParsedSignature sig;
  sig.tags = std::move(tags.value());
  auto text = [&](std::string_view n) -> std::string {
    const Tag* t = sig.tags.find(n);
    return t ? t->value : std::string();
  };
  sig.version = text("v");
  sig.algorithm_text = text("a");
  sig.algorithm = parse_algorithm(sig.algorithm_text);
  sig.domain = text("d");
  sig.selector = text("s");
  if (const Tag* i = sig.tags.find("i")) sig.identity = i->value;
  sig.canon_text = sig.tags.find("c") ? strip_fws(text("c")) : "simple/simple";
  sig.canon = canon::parse_canonicalization(sig.canon_text);
  if (const Tag* h = sig.tags.find("h")) sig.headers = split_colon_list(h->value);
  if (const Tag* t = sig.tags.find("t")) sig.timestamp = parse_timestamp(t->value);
  if (const Tag* x = sig.tags.find("x")) sig.expiration = parse_timestamp(x->value);
  sig.body_hash = strip_fws(text("bh"));
  sig.signature = strip_fws(text("b"));
  return sig;
}

std::optional<SignatureDefect> check_signature(const ParsedSignature& sig) {
  // §6.1.1: required tags and their syntax, in the order a verifier meets them.
  for (const char* required : {"v", "a", "b", "bh", "d", "h", "s"}) {
    if (!sig.tag(required)) return perm(std::string("signature missing required tag ") + required + "=");
  }
  if (sig.version != "1") return perm("incompatible version v=" + sig.version.substr(0, 10));
  if (sig.algorithm_text == "rsa-sha1") return SignatureDefect{true, "rsa-sha1 is not accepted (RFC 8301)"};
  if (!sig.algorithm) return perm("unknown algorithm a=" + sig.algorithm_text.substr(0, 30));
  if (sig.tag("l")) return SignatureDefect{true, "l= body length limit is refused: content may have been appended"};
  if (const Tag* q = sig.tag("q"); q && strip_fws(q->value) != "dns/txt") {
    return perm("unsupported query method q=" + q->value.substr(0, 20));
  }
  if (!sig.canon) return perm("unknown canonicalization c=" + sig.canon_text.substr(0, 30));
  bool signs_from = false;
  for (const std::string& name : sig.headers) {
    if (name.empty()) return perm("empty header name in h=");
    if (ascii::iequals(name, "from")) signs_from = true;
  }
  if (!signs_from) return perm("h= does not include From (RFC 6376 §5.4)");
  if (sig.domain.empty()) return perm("empty d=");
  if (sig.identity) {
    const std::size_t at = sig.identity->rfind('@');
    const std::string_view idom =
        at == std::string::npos ? std::string_view() : std::string_view(*sig.identity).substr(at + 1);
    if (!is_same_or_subdomain(idom, sig.domain)) return perm("i= is not in the d= domain");
  }
  if (sig.tag("t") && !sig.timestamp) return perm("t= is not a timestamp");
  if (sig.tag("x") && !sig.expiration) return perm("x= is not a timestamp");
  if (sig.timestamp && sig.expiration && *sig.expiration < *sig.timestamp) return perm("x= is before t=");
  return std::nullopt;
}

}  // namespace signet
