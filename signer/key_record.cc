#include "signer/key_record.h"

#include "signer/tag_list.h"

namespace signet {

Result<KeyRecord> read_key_record(std::string_view txt) {
  auto tags = parse_tag_list(txt);
  if (!tags) return permanent_error("key record: " + tags.error().message);
  KeyRecord rec;
  if (const Tag* v = tags->find("v")) {
    // §3.6.1: if v= is present it MUST be the first tag and be "DKIM1".
    rec.has_version = true;
    if (v != &tags->tags.front()) rec.errors.push_back("v= is not the first tag");
    if (v->value != "DKIM1") rec.errors.push_back("v=" + v->value.substr(0, 20) + " is not DKIM1");
  }
  if (const Tag* k = tags->find("k")) {
    rec.key_type_text = k->value;
    if (const auto a = parse_key_type(k->value)) {
      rec.key_type = *a;
    } else {
      rec.errors.push_back("unknown key type k=" + k->value.substr(0, 20));
    }
  }
  if (const Tag* p = tags->find("p")) {
    rec.has_public_key = true;
    rec.public_key_base64 = strip_fws(p->value);
  } else {
    rec.errors.push_back("no p= tag");
  }
  if (const Tag* h = tags->find("h")) rec.hash_algorithms = split_colon_list(h->value);
  if (const Tag* s = tags->find("s")) rec.service_types = split_colon_list(s->value);
  if (const Tag* t = tags->find("t")) {
    for (const std::string& flag : split_colon_list(t->value)) {
      if (flag == "y") rec.testing = true;
      if (flag == "s") rec.strict_identity = true;
    }
  }
  return rec;
}

Result<KeyRecord> parse_key_record(std::string_view txt) {
  auto rec = read_key_record(txt);
  if (rec && !rec->errors.empty()) return permanent_error("key record: " + rec->errors.front());
  return rec;
}

std::string format_key_record(const PrivateKey& key) {
  return "v=DKIM1; k=" + std::string(key_type_name(key.algorithm())) + "; p=" + key.public_key_base64();
}

std::string quote_txt_strings(std::string_view value) {
  constexpr std::size_t kMax = 255;  // RFC 1035 §3.3: one character-string
  std::string out;
  for (std::size_t pos = 0; pos < value.size() || pos == 0; pos += kMax) {
    if (!out.empty()) out.push_back(' ');
    out.push_back('"');
    out.append(value.substr(pos, kMax));
    out.push_back('"');
    if (value.empty()) break;
  }
  return out;
}

}  // namespace signet
