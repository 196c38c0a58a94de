#include "privsep/protocol.h"

#include <cstring>

namespace signet::privsep {
namespace {

constexpr char kMagic[4] = {'S', 'G', 'N', 'P'};
constexpr std::uint8_t kVersion = 1;

void put8(std::string& s, std::uint8_t v) { s.push_back(static_cast<char>(v)); }
void put16(std::string& s, std::uint16_t v) {
  put8(s, static_cast<std::uint8_t>(v >> 8));
  put8(s, static_cast<std::uint8_t>(v));
}
void put32(std::string& s, std::uint32_t v) {
  put16(s, static_cast<std::uint16_t>(v >> 16));
  put16(s, static_cast<std::uint16_t>(v));
}
void put64(std::string& s, std::uint64_t v) {
  put32(s, static_cast<std::uint32_t>(v >> 32));
  put32(s, static_cast<std::uint32_t>(v));
}

// Reads fields in order; the first read past the end makes ok() false and
// remembers where, so a parser checks once and names the offset.
class Reader {
 public:
  explicit Reader(std::string_view b) : b_(b) {}
  std::uint64_t get(std::size_t n) {
    if (!ok_ || b_.size() - at_ < n) {
      if (ok_) short_at_ = at_;
      ok_ = false;
      return 0;
    }
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < n; ++i) v = (v << 8) | static_cast<unsigned char>(b_[at_ + i]);
    at_ += n;
    return v;
  }
  std::string_view bytes(std::size_t n) {
    if (!ok_ || b_.size() - at_ < n) {
      if (ok_) short_at_ = at_;
      ok_ = false;
      return {};
    }
    std::string_view v = b_.substr(at_, n);
    at_ += n;
    return v;
  }
  bool ok() const { return ok_; }
  std::size_t at() const { return at_; }
  std::size_t short_at() const { return short_at_; }
  std::size_t left() const { return b_.size() - at_; }

 private:
  std::string_view b_;
  std::size_t at_ = 0, short_at_ = 0;
  bool ok_ = true;
};

Error refuse(std::string what) { return permanent_error("signer protocol: " + what); }

// magic, version, type, reserved: the first 8 bytes of either direction.
// The checks every frame starts with, requests and responses alike: its size
// within [header, largest], then magic, version and the reserved field.
// Returns the type byte; r is left after the reserved field.
Result<std::uint8_t> parse_prefix(Reader& r, std::string_view frame, const char* direction, std::size_t header,
                                  std::size_t largest) {
  if (frame.size() < header) {
    return refuse(std::string(direction) + " of " + std::to_string(frame.size()) + " bytes is shorter than the " +
                  std::to_string(header) + "-byte header");
  }
  if (frame.size() > largest) {
    return refuse(std::string(direction) + " of " + std::to_string(frame.size()) +
                  " bytes is longer than any valid " + direction + " (" + std::to_string(largest) + ")");
  }
  if (frame.substr(0, 4) != std::string_view(kMagic, 4)) {
    return refuse(std::string(direction) + " does not start with the magic \"SGNP\" (bytes 0..3): not a signer frame");
  }
  r.bytes(4);
  if (const auto v = r.get(1); v != kVersion) {
    return refuse(std::string(direction) + " has version " + std::to_string(v) + " (byte 4); this build speaks " +
                  std::to_string(kVersion) + ": the milter and its signer are not the same binary");
  }
  const auto type = static_cast<std::uint8_t>(r.get(1));
  if (const auto reserved = r.get(2); reserved != 0) {
    return refuse(std::string(direction) + " has a non-zero reserved field (bytes 6..7)");
  }
  return type;
}

std::string response_header(ResponseType type, std::uint32_t id, std::size_t payload) {
  std::string s(kMagic, 4);
  s.reserve(kResponseHeader + payload);
  put8(s, kVersion);
  put8(s, static_cast<std::uint8_t>(type));
  put16(s, 0);
  put32(s, id);
  put32(s, static_cast<std::uint32_t>(payload));
  return s;
}

std::size_t entry_size(const TableEntry& e) {
  return 8 + 1 + 2 + 6 + e.domain.size() + e.selector.size() + e.public_key_base64.size();
}

}  // namespace

std::string encode_request(const Request& r) {
  std::string s(kMagic, 4);
  s.reserve(kMaxRequest);
  put8(s, kVersion);
  put8(s, static_cast<std::uint8_t>(r.type));
  put16(s, 0);
  put32(s, r.id);
  put64(s, r.type == RequestType::SignMany ? r.items.size() : r.key_id);
  if (r.type == RequestType::Sign) s.append(reinterpret_cast<const char*>(r.digest.data()), kDigestSize);
  if (r.type == RequestType::SignMany) {
    for (const SignItem& it : r.items) {
      put64(s, it.key_id);
      s.append(reinterpret_cast<const char*>(it.digest.data()), kDigestSize);
    }
  }
  return s;
}

Result<Request> parse_request(std::string_view frame) {
  Reader r(frame);
  auto type = parse_prefix(r, frame, "request", kRequestHeader, kMaxRequest);
  if (!type) return type.error();
  Request q;
  q.id = static_cast<std::uint32_t>(r.get(4));
  q.key_id = r.get(8);
  switch (type.value()) {
    case static_cast<std::uint8_t>(RequestType::Sign): {
      q.type = RequestType::Sign;
      // RFC 6376 §3.3 / RFC 8463 §3: the signer signs a SHA-256 digest and
      // nothing else, so anything but 32 bytes is refused, not truncated or padded.
      if (r.left() != kDigestSize) {
        return refuse("SIGN request " + std::to_string(q.id) + " carries " + std::to_string(r.left()) +
                      " digest bytes (from byte 20); a SHA-256 digest is exactly 32");
      }
      std::memcpy(q.digest.data(), r.bytes(kDigestSize).data(), kDigestSize);
      return q;
    }
    case static_cast<std::uint8_t>(RequestType::Load):
      q.type = RequestType::Load;
      if (r.left() != 0) {
        return refuse("LOAD request " + std::to_string(q.id) + " has " + std::to_string(r.left()) +
                      " bytes after its header; it has none");
      }
      if (q.key_id > 0xFFFFFFFFull) {
        return refuse("LOAD request " + std::to_string(q.id) + " names a generation over 32 bits (bytes 12..19)");
      }
      return q;
    case static_cast<std::uint8_t>(RequestType::SignMany): {
      q.type = RequestType::SignMany;
      // The count is on the wire as well as implied by the length, so a
      // frame cut or padded by whole items is refused, not read as fewer.
      const std::uint64_t count = q.key_id;
      q.key_id = 0;
      if (count < 2 || count > kMaxBatch) {
        return refuse("SIGN_MANY request " + std::to_string(q.id) + " counts " + std::to_string(count) +
                      " items (bytes 12..19); it carries 2.." + std::to_string(kMaxBatch));
      }
      if (r.left() != count * kSignItemSize) {
        return refuse("SIGN_MANY request " + std::to_string(q.id) + " of " + std::to_string(count) + " items carries " +
                      std::to_string(r.left()) + " bytes after its header (from byte 20); each item is a key id and a " +
                      "32-byte SHA-256 digest, " + std::to_string(count * kSignItemSize) + " in all");
      }
      q.items.resize(count);
      for (SignItem& it : q.items) {
        it.key_id = r.get(8);
        std::memcpy(it.digest.data(), r.bytes(kDigestSize).data(), kDigestSize);
      }
      return q;
    }
    default:
      return refuse("request type " + std::to_string(type.value()) + " (byte 5) is unknown: 1 SIGN, 2 LOAD, 3 SIGN_MANY");
  }
}

std::string encode_signed(std::uint32_t id, std::string_view signature) {
  std::string s = response_header(ResponseType::Signed, id, signature.size());
  s += signature;
  return s;
}

std::string encode_signed_many(std::uint32_t id, const std::vector<std::string>& signatures) {
  std::size_t payload = 1;
  for (const std::string& sig : signatures) payload += 2 + sig.size();
  std::string s = response_header(ResponseType::SignedMany, id, payload);
  put8(s, static_cast<std::uint8_t>(signatures.size()));
  for (const std::string& sig : signatures) {
    put16(s, static_cast<std::uint16_t>(sig.size()));
    s += sig;
  }
  return s;
}

std::string encode_refused(std::uint32_t id, bool temporary, std::string_view reason) {
  reason = reason.substr(0, kMaxReason);
  std::string s = response_header(ResponseType::Refused, id, 1 + reason.size());
  put8(s, temporary ? 1 : 0);
  s += reason;
  return s;
}

std::string encode_table_end(std::uint32_t id, std::uint32_t generation, std::uint32_t count) {
  std::string s = response_header(ResponseType::TableEnd, id, 8);
  put32(s, generation);
  put32(s, count);
  return s;
}

Result<std::vector<std::string>> encode_table(std::uint32_t id, const std::vector<TableEntry>& entries) {
  std::vector<std::string> frames;
  std::string payload;
  auto flush = [&] {
    if (payload.empty()) return;
    frames.push_back(response_header(ResponseType::Table, id, payload.size()) + payload);
    payload.clear();
  };
  for (const TableEntry& e : entries) {
    for (const std::string* f : {&e.domain, &e.selector, &e.public_key_base64}) {
      if (f->size() > 0xFFFF) return refuse("table entry " + e.domain + "/" + e.selector + ": a field over 65535 bytes");
    }
    if (entry_size(e) > kMaxPayload) return refuse("table entry " + e.domain + "/" + e.selector + " over one frame");
    if (payload.size() + entry_size(e) > kMaxPayload) flush();
    put64(payload, e.key_id);
    put8(payload, e.algorithm == Algorithm::RsaSha256 ? 0 : 1);
    put16(payload, static_cast<std::uint16_t>(e.bits));
    for (const std::string* f : {&e.domain, &e.selector, &e.public_key_base64}) {
      put16(payload, static_cast<std::uint16_t>(f->size()));
      payload += *f;
    }
  }
  flush();
  return frames;
}

Result<Response> parse_response(std::string_view frame) {
  Reader r(frame);
  auto type = parse_prefix(r, frame, "response", kResponseHeader, kMaxResponse);
  if (!type) return type.error();
  Response p;
  p.id = static_cast<std::uint32_t>(r.get(4));
  const std::size_t length = r.get(4);
  if (length != r.left()) {
    return refuse("response " + std::to_string(p.id) + " says " + std::to_string(length) + " payload bytes (bytes 12..15) and has " +
                  std::to_string(r.left()));
  }
  switch (type.value()) {
    case static_cast<std::uint8_t>(ResponseType::Signed):
      p.type = ResponseType::Signed;
      if (length == 0 || length > kMaxSignature) {
        return refuse("SIGNED response " + std::to_string(p.id) + " holds " + std::to_string(length) +
                      " signature bytes (1.." + std::to_string(kMaxSignature) + ")");
      }
      p.signature = std::string(r.bytes(length));
      return p;
    case static_cast<std::uint8_t>(ResponseType::SignedMany): {
      p.type = ResponseType::SignedMany;
      if (length > kMaxSignResponse - kResponseHeader) {
        return refuse("SIGNED_MANY response " + std::to_string(p.id) + " of " + std::to_string(length) +
                      " payload bytes is over the bound (" + std::to_string(kMaxSignResponse - kResponseHeader) + ")");
      }
      const auto count = r.get(1);
      if (!r.ok() || count < 2 || count > kMaxBatch) {
        return refuse("SIGNED_MANY response " + std::to_string(p.id) + " counts " + std::to_string(count) +
                      " signatures (byte 16); it carries 2.." + std::to_string(kMaxBatch));
      }
      for (std::uint64_t i = 0; i < count; ++i) {
        const std::size_t start = r.at();
        const auto n = r.get(2);
        const std::string_view sig = r.bytes(n);
        if (!r.ok()) {
          return refuse("SIGNED_MANY response " + std::to_string(p.id) + ": signature " + std::to_string(i) + " at byte " +
                        std::to_string(start) + " ends early");
        }
        if (n == 0 || n > kMaxSignature) {
          return refuse("SIGNED_MANY response " + std::to_string(p.id) + ": signature " + std::to_string(i) + " at byte " +
                        std::to_string(start) + " holds " + std::to_string(n) + " bytes (1.." +
                        std::to_string(kMaxSignature) + ")");
        }
        p.signatures.emplace_back(sig);
      }
      if (r.left() != 0) {
        return refuse("SIGNED_MANY response " + std::to_string(p.id) + " has " + std::to_string(r.left()) +
                      " bytes after its " + std::to_string(count) + " signatures");
      }
      return p;
    }
    case static_cast<std::uint8_t>(ResponseType::Refused): {
      p.type = ResponseType::Refused;
      if (length == 0 || length > 1 + kMaxReason) {
        return refuse("REFUSED response " + std::to_string(p.id) + " of " + std::to_string(length) + " payload bytes (1.." +
                      std::to_string(1 + kMaxReason) + ")");
      }
      const auto flag = r.get(1);
      if (flag > 1) return refuse("REFUSED response " + std::to_string(p.id) + ": temporary flag (byte 16) is not 0 or 1");
      p.temporary = flag == 1;
      p.reason = std::string(r.bytes(r.left()));
      return p;
    }
    case static_cast<std::uint8_t>(ResponseType::TableEnd):
      p.type = ResponseType::TableEnd;
      if (length != 8) return refuse("TABLE_END response " + std::to_string(p.id) + " of " + std::to_string(length) + " payload bytes (8)");
      p.generation = static_cast<std::uint32_t>(r.get(4));
      p.count = static_cast<std::uint32_t>(r.get(4));
      return p;
    case static_cast<std::uint8_t>(ResponseType::Table):
      p.type = ResponseType::Table;
      while (r.left() > 0) {
        const std::size_t start = r.at();
        TableEntry e;
        e.key_id = r.get(8);
        const auto alg = r.get(1);
        e.bits = static_cast<int>(r.get(2));
        std::string* fields[] = {&e.domain, &e.selector, &e.public_key_base64};
        for (std::string* f : fields) *f = std::string(r.bytes(r.get(2)));
        if (!r.ok()) {
          return refuse("TABLE response " + std::to_string(p.id) + ": the entry at byte " + std::to_string(start) +
                        " ends early (byte " + std::to_string(r.short_at()) + ")");
        }
        if (alg > 1) return refuse("TABLE response " + std::to_string(p.id) + ": unknown algorithm " + std::to_string(alg) + " at byte " + std::to_string(start + 8));
        e.algorithm = alg == 0 ? Algorithm::RsaSha256 : Algorithm::Ed25519Sha256;
        if (e.domain.empty() || e.selector.empty() || e.public_key_base64.empty()) {
          return refuse("TABLE response " + std::to_string(p.id) + ": the entry at byte " + std::to_string(start) +
                        " has an empty domain, selector or public key");
        }
        p.entries.push_back(std::move(e));
      }
      if (p.entries.empty()) return refuse("TABLE response " + std::to_string(p.id) + " holds no entry");
      return p;
    default:
      return refuse("response type " + std::to_string(type.value()) + " (byte 5) is unknown");
  }
}

}  // namespace signet::privsep
