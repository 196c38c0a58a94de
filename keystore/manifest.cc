#include "keystore/manifest.h"

#include <algorithm>

#include "base/ascii.h"
#include "base/time.h"
#include "keystore/atomic_file.h"

namespace signet::keystore {

Result<Manifest> parse_manifest(std::string_view text, const std::string& path) {
  if (!text.empty() && text.back() != '\n') {
    // The manifest is always written whole with a final newline: a file that
    // stops mid-line was truncated (a crashed hand edit, a full disk).
    const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
    return permanent_error(path + ":" + std::to_string(lines) +
                           ": truncated (the last line has no newline); restore the manifest or rewrite it whole");
  }
  Manifest m;
  KeyRow* cur = nullptr;
  std::size_t cur_line = 0;
  std::size_t line_no = 0;
  std::vector<std::string> seen;  // options seen in the current entry
  auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
  auto finish_entry = [&]() -> Status {
    if (!cur) return Ok{};
    const std::string at = path + ":" + std::to_string(cur_line) + ": ";
    for (const char* required : {"stream", "domain", "selector", "algorithm", "file", "created", "published-at"}) {
      bool found = false;
      for (const auto& s : seen) found |= s == required;
      if (!found) return permanent_error(at + "[key] without " + required + " =; every key needs it");
    }
    return Ok{};
  };
  for (ascii::LineReader lines(text); lines.next();) {
    line_no = lines.number();
    const std::string_view line = ascii::trim(lines.line());
    if (line.empty() || line.front() == '#') continue;
    if (line == "[key]") {
      if (Status s = finish_entry(); !s) return s.error();
      cur = &m.keys.emplace_back();
      cur_line = line_no;
      cur->origin = path + ":" + std::to_string(line_no);
      seen.clear();
      continue;
    }
    if (line.front() == '[') return permanent_error(where() + "unknown section " + std::string(line) + "; only [key]");
    if (!cur) return permanent_error(where() + "option outside a [key] section");
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return permanent_error(where() + "expected \"name = value\"");
    const std::string name(ascii::trim(line.substr(0, eq)));
    const std::string value(ascii::trim(line.substr(eq + 1)));
    for (const auto& s : seen) {
      if (s == name) return permanent_error(where() + name + " given twice in one [key]");
    }
    seen.push_back(name);
    auto time_value = [&](std::int64_t& into) -> Status {
      auto t = rfc3339::parse(value);
      if (!t) return permanent_error(where() + name + " = " + value + ": expected a time like 2026-11-26T14:00:00Z");
      into = *t;
      return Ok{};
    };
    auto optional_time = [&](std::optional<std::int64_t>& into) -> Status {
      if (value.empty()) return Ok{};
      std::int64_t t = 0;
      if (Status s = time_value(t); !s) return s;
      into = t;
      return Ok{};
    };
    Status st = Ok{};
    if (name == "stream") {
      cur->stream = value;
    } else if (name == "domain") {
      cur->domain = value;
    } else if (name == "selector") {
      cur->selector = value;
    } else if (name == "algorithm") {
      const auto a = parse_key_type(value);
      if (!a) return permanent_error(where() + "unknown algorithm " + value + "; use rsa or ed25519");
      cur->algorithm = *a;
    } else if (name == "bits") {
      if (value.empty() || value.size() > 5 || value.find_first_not_of("0123456789") != std::string::npos)
        return permanent_error(where() + "bits = " + value + ": expected a number");
      cur->bits = std::stoi(value);
    } else if (name == "owner") {
      cur->owner = value;
    } else if (name == "file") {
      if (hsm::is_pkcs11_uri(value)) {
        // A key in a token (docs/key-custody.md "PKCS#11"). The manifest is
        // world-readable (0644): a PIN written in it would be published.
        auto uri = hsm::Pkcs11Uri::parse(value);
        if (!uri) return permanent_error(where() + uri.error().message);
        if (!uri->pin_value.empty()) {
          return permanent_error(where() + "file = pkcs11:… with pin-value=: the manifest is readable by everyone; "
                                 "put the PIN in a file (mode 0600) and name it with pin-source=");
        }
      } else if (value.empty() || value.front() == '/' || value.find("..") != std::string::npos) {
        return permanent_error(where() + "file = " + value + ": a path inside the key directory, or a pkcs11: URI");
      }
      cur->file = value;
    } else if (name == "created") {
      st = time_value(cur->created);
    } else if (name == "published-at") {
      st = time_value(cur->published_at);
    } else if (name == "active-from") {
      std::optional<std::int64_t> from;
      st = optional_time(from);
      if (from) cur->window = Window::scheduled(*from, cur->window.until);
      else cur->window.kind = Window::Kind::Standby;
    } else if (name == "active-until") {
      st = optional_time(cur->window.until);
    } else if (name == "retire-at") {
      st = optional_time(cur->retire_at);
    } else if (name == "retired-at") {
      st = optional_time(cur->retired_at);
    } else {
      return permanent_error(where() + "unknown option " + name);
    }
    if (!st) return st.error();
  }
  if (Status s = finish_entry(); !s) return s.error();
  return m;
}

std::string format_manifest(const Manifest& m) {
  std::string out =
      "# signet key set: one [key] block per key. Written by `signet key`; hand edits\n"
      "# are validated whole on load. Retired keys stay forever: their selectors are\n"
      "# never used again.\n";
  auto opt = [](const std::optional<std::int64_t>& t) { return t ? rfc3339::format(*t) : std::string(); };
  for (const KeyRow& k : m.keys) {
    out += "\n[key]\n";
    out += "stream = " + k.stream + "\n";
    out += "domain = " + k.domain + "\n";
    out += "selector = " + k.selector + "\n";
    out += "algorithm = " + std::string(key_type_name(k.algorithm)) + "\n";
    out += "bits = " + std::to_string(k.bits) + "\n";
    out += "owner = " + k.owner + "\n";
    out += "file = " + k.file + "\n";
    out += "created = " + rfc3339::format(k.created) + "\n";
    out += "published-at = " + rfc3339::format(k.published_at) + "\n";
    out += "active-from = " + opt(k.window.start()) + "\n";
    out += "active-until = " + opt(k.window.until) + "\n";
    out += "retire-at = " + opt(k.retire_at) + "\n";
    out += "retired-at = " + opt(k.retired_at) + "\n";
  }
  return out;
}

Status check_manifest(const Manifest& m) {
  for (const KeyRow& k : m.keys) {
    auto bad = [&](const std::string& why) { return permanent_error(k.origin + ": " + k.selector + ": " + why); };
    if (k.algorithm == Algorithm::RsaSha256 && k.bits != 0 && k.bits < kMinRsaBits) {
      return bad("an RSA key of " + std::to_string(k.bits) + " bits; DKIM needs at least 1024 (RFC 8301)");
    }
    if (k.published_at < k.created) return bad("published-at is before created");
    const auto from = k.window.start();
    if (from && *from < k.published_at) {
      return bad("active-from is before published-at: a key must be in DNS before it signs");
    }
    if (k.window.until && !from) return bad("active-until without active-from");
    if (k.window.until && *k.window.until <= *from) return bad("active-until is not after active-from");
    if (k.retire_at && k.window.until && *k.retire_at < *k.window.until) {
      return bad("retire-at is before active-until: the record would vanish while the key signs");
    }
  }
  return Ok{};
}

Result<Manifest> read_manifest(const std::string& dir) {
  const std::string path = dir + "/" + kManifestName;
  auto text = read_small_file(path, 256u << 20);
  if (!text) return permanent_error(path + ": cannot read the key set manifest");
  if (!text->has_value()) return Manifest{};
  return parse_manifest(**text, path);
}

}  // namespace signet::keystore
