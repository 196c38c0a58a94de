#include "keystore/manifest.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <limits>
#include <fstream>
#include <sstream>

#include "base/time.h"
#include "keystore/snapshot.h"

namespace signet::keystore {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

Status write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return permanent_error(std::strerror(errno));
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return Ok{};
}

}  // namespace

bool KeyEntry::operator==(const KeyEntry& o) const {
  return stream == o.stream && domain == o.domain && selector == o.selector && algorithm == o.algorithm &&
         bits == o.bits && owner == o.owner && file == o.file && created == o.created &&
         published_at == o.published_at && active_from == o.active_from && active_until == o.active_until &&
         retire_at == o.retire_at && retired_at == o.retired_at;
}

Result<Manifest> parse_manifest(std::string_view text, const std::string& path) {
  if (!text.empty() && text.back() != '\n') {
    // The manifest is always written whole with a final newline: a file that
    // stops mid-line was truncated (a crashed hand edit, a full disk).
    const auto lines = std::count(text.begin(), text.end(), '\n') + 1;
    return permanent_error(path + ":" + std::to_string(lines) +
                           ": truncated (the last line has no newline); restore the manifest or rewrite it whole");
  }
  Manifest m;
  KeyEntry* cur = nullptr;
  std::size_t line_no = 0;
  std::vector<std::string> seen;  // options seen in the current entry
  auto where = [&] { return path + ":" + std::to_string(line_no) + ": "; };
  auto finish_entry = [&]() -> Status {
    if (!cur) return Ok{};
    const std::string at = path + ":" + std::to_string(cur->line) + ": ";
    for (const char* required : {"stream", "domain", "selector", "algorithm", "file", "created", "published-at"}) {
      bool found = false;
      for (const auto& s : seen) found |= s == required;
      if (!found) return permanent_error(at + "[key] without " + required + " =; every key needs it");
    }
    return Ok{};
  };
  std::size_t pos = 0;
  while (pos < text.size()) {
    ++line_no;
    std::size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    const std::string_view line = trim(text.substr(pos, eol - pos));
    pos = eol + 1;
    if (line.empty() || line.front() == '#') continue;
    if (line == "[key]") {
      if (Status s = finish_entry(); !s) return s.error();
      cur = &m.keys.emplace_back();
      cur->line = line_no;
      seen.clear();
      continue;
    }
    if (line.front() == '[') return permanent_error(where() + "unknown section " + std::string(line) + "; only [key]");
    if (!cur) return permanent_error(where() + "option outside a [key] section");
    const std::size_t eq = line.find('=');
    if (eq == std::string_view::npos) return permanent_error(where() + "expected \"name = value\"");
    const std::string name(trim(line.substr(0, eq)));
    const std::string value(trim(line.substr(eq + 1)));
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
      if (value == "rsa") {
        cur->algorithm = Algorithm::RsaSha256;
      } else if (value == "ed25519") {
        cur->algorithm = Algorithm::Ed25519Sha256;
      } else {
        return permanent_error(where() + "unknown algorithm " + value + "; use rsa or ed25519");
      }
    } else if (name == "bits") {
      if (value.empty() || value.size() > 5 || value.find_first_not_of("0123456789") != std::string::npos)
        return permanent_error(where() + "bits = " + value + ": expected a number");
      cur->bits = std::stoi(value);
    } else if (name == "owner") {
      cur->owner = value;
    } else if (name == "file") {
      if (value.empty() || value.front() == '/' || value.find("..") != std::string::npos)
        return permanent_error(where() + "file = " + value + ": a path inside the key directory");
      cur->file = value;
    } else if (name == "created") {
      st = time_value(cur->created);
    } else if (name == "published-at") {
      st = time_value(cur->published_at);
    } else if (name == "active-from") {
      st = optional_time(cur->active_from);
    } else if (name == "active-until") {
      st = optional_time(cur->active_until);
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
  for (const KeyEntry& k : m.keys) {
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
    out += "active-from = " + opt(k.active_from) + "\n";
    out += "active-until = " + opt(k.active_until) + "\n";
    out += "retire-at = " + opt(k.retire_at) + "\n";
    out += "retired-at = " + opt(k.retired_at) + "\n";
  }
  return out;
}

Status write_file_atomic(const std::string& dir, const std::string& name, std::string_view text) {
  const std::string final_path = dir + "/" + name;
  const std::string tmp = dir + "/." + name + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return permanent_error("cannot write " + tmp + ": " + std::strerror(errno));
  Status st = write_all(fd, text);
  if (st && ::fsync(fd) != 0) st = permanent_error(std::string("fsync: ") + std::strerror(errno));
  ::close(fd);
  if (st && ::rename(tmp.c_str(), final_path.c_str()) != 0) st = permanent_error(std::string("rename: ") + std::strerror(errno));
  if (!st) {
    ::unlink(tmp.c_str());
    return permanent_error("writing " + final_path + " failed (" + st.error().message + "); it is unchanged");
  }
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);  // the rename itself must survive a crash
    ::close(dfd);
  }
  return Ok{};
}

Status write_manifest(const std::string& dir, const Manifest& m) {
  return write_file_atomic(dir, kManifestName, format_manifest(m));
}

Result<std::vector<Delegated>> read_delegated(const std::string& dir) {
  const std::string path = dir + "/" + kDelegatedName;
  std::ifstream in(path, std::ios::binary);
  std::vector<Delegated> out;
  if (!in) return out;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    const std::string_view l = trim(line);
    if (l.empty() || l.front() == '#') continue;
    if (l == "[delegated]") {
      out.emplace_back();
      continue;
    }
    const std::size_t eq = l.find('=');
    if (out.empty() || eq == std::string_view::npos) {
      return permanent_error(path + ":" + std::to_string(line_no) + ": expected [delegated] blocks of name = value");
    }
    const std::string k(trim(l.substr(0, eq))), v(trim(l.substr(eq + 1)));
    Delegated& d = out.back();
    if (k == "domain") d.domain = v;
    else if (k == "selector") d.selector = v;
    else if (k == "target") d.target = v;
    else if (k == "owner") d.owner = v;
    else if (k == "added" && rfc3339::parse(v)) d.added = *rfc3339::parse(v);
    else return permanent_error(path + ":" + std::to_string(line_no) + ": unknown option " + k);
  }
  return out;
}

Status write_delegated(const std::string& dir, const std::vector<Delegated>& list) {
  std::string text = "# signet: selectors a vendor signs for (CNAME to its record); register rows, no keys here.\n";
  for (const Delegated& d : list) {
    text += "\n[delegated]\ndomain = " + d.domain + "\nselector = " + d.selector + "\ntarget = " + d.target +
            "\nowner = " + d.owner + "\nadded = " + rfc3339::format(d.added) + "\n";
  }
  return write_file_atomic(dir, kDelegatedName, text);
}

Result<std::vector<KeySpec>> specs_from_manifest(const std::string& dir) {
  const std::string path = dir + "/" + kManifestName;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0 && errno == ENOENT) return std::vector<KeySpec>{};
    return permanent_error(path + ": cannot read the key set manifest");
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return specs_from_manifest_text(dir, ss.str(), path);
}

Result<std::vector<KeySpec>> specs_from_manifest_text(const std::string& dir, std::string_view text,
                                                      const std::string& path) {
  auto m = parse_manifest(text, path);
  if (!m) return m.error();
  std::vector<KeySpec> specs;
  for (const KeyEntry& k : m->keys) {
    const std::string at = path + ":" + std::to_string(k.line);
    auto bad = [&](const std::string& why) { return permanent_error(at + ": " + k.selector + ": " + why); };
    if (k.algorithm == Algorithm::RsaSha256 && k.bits != 0 && k.bits < kMinRsaBits) {
      return bad("an RSA key of " + std::to_string(k.bits) + " bits; DKIM needs at least 1024 (RFC 8301)");
    }
    if (k.published_at < k.created) return bad("published-at is before created");
    if (k.active_from && *k.active_from < k.published_at) {
      return bad("active-from is before published-at: a key must be in DNS before it signs");
    }
    if (k.active_until && !k.active_from) return bad("active-until without active-from");
    if (k.active_until && *k.active_until <= *k.active_from) return bad("active-until is not after active-from");
    if (k.retire_at && k.active_until && *k.retire_at < *k.active_until) {
      return bad("retire-at is before active-until: the record would vanish while the key signs");
    }
    KeySpec spec;
    spec.stream = k.stream;
    spec.domain = k.domain;
    spec.selector = k.selector;
    spec.path = dir + "/" + k.file;
    spec.origin = at;
    spec.algorithm = k.algorithm;
    spec.bits = k.bits;
    // A standby key (no active-from) is loaded and checked but never signs.
    spec.active_from = k.active_from.value_or(std::numeric_limits<std::int64_t>::max());
    spec.active_until = k.active_until;
    spec.retire_at = k.retire_at;
    spec.retired = k.retired_at.has_value();
    specs.push_back(std::move(spec));
  }
  return specs;
}

}  // namespace signet::keystore
