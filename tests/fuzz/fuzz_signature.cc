// The DKIM-Signature tag list (signer/tag_list.h, RFC 6376 §3.2), the field's
// parser and §6.1.1 checks (signer/signature.h), and the verifier on top.
//
// Input: a DKIM-Signature value (what follows "DKIM-Signature:"). Checks:
//   - parse_tag_list: every tag's span lies inside the text, right after its
//     '=' and up to its ';' (or the end), in order and not overlapping; the
//     value is the span without surrounding FWS; names are valid and unique;
//     writing the tags back as "n=v;" parses to the same tags;
//   - parse_signature fails exactly when the tag list does, and its typed
//     fields are the tags' values (FWS removed where §3.5 says so);
//   - a signature check_signature() accepts, written again by format_unsigned
//     and append_b, parses to the same typed fields and is accepted again;
//     deleting its b= value (the span) gives format_unsigned's text back
//     exactly (§3.5, what a verifier hashes);
//   - verify_message on tests/corpus/01-plain.eml with that field on top,
//     keys from tests/golden in the DNS map: one result, never a crash; a
//     signature whose defect check_signature reports is never a pass.
// The seeds are signet's own signatures of that message with the golden keys.
#include <cstdint>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_lookup.h"
#include "fuzz_util.h"
#include "signer/key.h"
#include "signer/key_record.h"
#include "signer/message.h"
#include "signer/signature.h"
#include "signer/tag_list.h"
#include "signer/verifier.h"

using namespace signet;
using signet::fuzz::MapLookup;

namespace {

bool is_fws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }
bool has_fws(std::string_view s) {
  for (char c : s) {
    if (is_fws(c)) return true;
  }
  return false;
}
std::string_view trim_fws(std::string_view s) {
  while (!s.empty() && is_fws(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_fws(s.back())) s.remove_suffix(1);
  return s;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct World {
  std::string message;  // 01-plain.eml, CRLF
  MapLookup lookup;
  World() {
    message = normalize_line_endings(read_file(std::string(SIGNET_SOURCE_DIR) + "/tests/corpus/01-plain.eml"));
    for (auto [sel, file] : {std::pair{"golden-rsa", "golden-rsa.key"}, std::pair{"golden-ed", "golden-ed25519.key"}}) {
      auto key = PrivateKey::parse(read_file(std::string(SIGNET_SOURCE_DIR) + "/tests/golden/" + file));
      FUZZ_CHECK(key.ok(), "a golden key does not parse");
      lookup.records[std::string(sel) + "._domainkey.example.com"] = {format_key_record(key.value())};
    }
  }
};

void check_tag_list(std::string_view text, const TagList& list) {
  std::size_t prev_end = 0;
  bool first = true;
  for (const Tag& t : list.tags) {
    FUZZ_CHECK(t.span_begin >= 1 && t.span_begin <= t.span_end && t.span_end <= text.size(), "span outside the text");
    FUZZ_CHECK(text[t.span_begin - 1] == '=', "span does not start after '='");
    FUZZ_CHECK(t.span_end == text.size() || text[t.span_end] == ';', "span does not end at ';' or the end");
    FUZZ_CHECK(first || t.span_begin > prev_end, "spans overlap or are out of order");
    FUZZ_CHECK(t.value == trim_fws(text.substr(t.span_begin, t.span_end - t.span_begin)), "value is not the span trimmed");
    FUZZ_CHECK(t.value.find(';') == std::string::npos, "a value holds ';'");
    FUZZ_CHECK(!t.name.empty() && ((t.name[0] | 0x20) >= 'a' && (t.name[0] | 0x20) <= 'z'), "tag name start");
    FUZZ_CHECK(list.find(t.name) == &t, "a tag name occurs twice");
    prev_end = t.span_end;
    first = false;
  }
  std::string again;
  for (const Tag& t : list.tags) again += t.name + "=" + t.value + ";";
  auto back = parse_tag_list(again);
  FUZZ_CHECK(back.ok(), "tags written back do not parse");
  FUZZ_CHECK(back->tags.size() == list.tags.size(), "tags written back: another count");
  for (std::size_t i = 0; i < list.tags.size(); ++i) {
    FUZZ_CHECK(back->tags[i].name == list.tags[i].name && back->tags[i].value == list.tags[i].value,
               "tags written back: another tag");
  }
}

// A signature the checks accept, written by signet's own formatter.
void check_round_trip(const ParsedSignature& sig) {
  const std::string identity = sig.identity.value_or("");
  for (const std::string* v : {&sig.domain, &sig.selector, &identity}) {
    if (has_fws(*v)) return;  // the formatter folds at FWS: not the same text again
  }
  for (const std::string& h : sig.headers) {
    if (has_fws(h)) return;
  }
  SignatureFields f;
  f.algorithm = *sig.algorithm;
  f.header_canon = sig.canon->first;
  f.body_canon = sig.canon->second;
  f.domain = sig.domain;
  f.selector = sig.selector;
  f.identity = sig.identity;
  f.timestamp = sig.timestamp.value_or(0);
  f.expiration = sig.expiration;
  f.headers = sig.headers;
  f.body_hash = sig.body_hash;
  const std::string unsigned_field = format_unsigned(f);
  const std::string field = append_b(unsigned_field, sig.signature);
  const std::size_t name_len = kSignatureHeaderName.size() + 1;  // "DKIM-Signature:"
  FUZZ_CHECK(field.compare(0, name_len, std::string(kSignatureHeaderName) + ":") == 0, "formatted name");
  auto again = parse_signature(std::string_view(field).substr(name_len));
  FUZZ_CHECK(again.ok(), "a formatted signature does not parse");
  FUZZ_CHECK(!check_signature(again.value()), "a formatted signature fails the checks");
  FUZZ_CHECK(again->domain == sig.domain && again->selector == sig.selector && again->identity == sig.identity &&
                 again->algorithm == sig.algorithm && again->canon == sig.canon && again->headers == sig.headers &&
                 again->timestamp.value_or(0) == sig.timestamp.value_or(0) && again->expiration == sig.expiration &&
                 again->body_hash == sig.body_hash && again->signature == sig.signature,
             "format/parse round trip changed a field");
  const Tag* b = again->tag("b");
  FUZZ_CHECK(b != nullptr, "formatted signature without b=");
  const std::string deleted =
      field.substr(0, name_len + b->span_begin) + field.substr(name_len + b->span_end);
  FUZZ_CHECK(deleted == unsigned_field, "deleting b= does not give format_unsigned's text");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static World world;
  const std::string_view text = signet::fuzz::as_text(data, size);

  auto list = parse_tag_list(text);
  auto sig = parse_signature(text);
  FUZZ_CHECK(list.ok() == sig.ok(), "parse_signature and parse_tag_list disagree");
  if (list) check_tag_list(text, list.value());
  std::optional<SignatureDefect> defect;
  if (sig) {
    auto value = [&](const char* n) { return sig->tag(n) ? sig->tag(n)->value : std::string(); };
    FUZZ_CHECK(sig->domain == value("d") && sig->selector == value("s") && sig->version == value("v"), "typed d= s= v=");
    FUZZ_CHECK(sig->body_hash == strip_fws(value("bh")) && sig->signature == strip_fws(value("b")), "bh= b=");
    defect = check_signature(sig.value());
    if (!defect) check_round_trip(sig.value());
  }

  const std::string field = std::string(kSignatureHeaderName) + ":" + std::string(text);
  if (field.find('\0') != std::string::npos) return 0;
  std::string msg = field + "\r\n" + world.message;
  auto parsed = parse_message(msg);
  if (!parsed || parsed->fields.empty() || parsed->fields.front() != field) return 0;  // the field is not one field
  const auto results = verify_message(parsed->fields, parsed->body, world.lookup, VerifyOptions{1764150000, 300});
  FUZZ_CHECK(results.size() == 1, "one DKIM-Signature field, not one result");
  FUZZ_CHECK(!(results[0].pass() && (!sig || defect)), "a signature with a defect verified");
  return 0;
}
