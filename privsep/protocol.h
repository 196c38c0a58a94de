// privsep/protocol.h — the frames between signet-milter (the network-facing
// process) and its signer process (privsep/signer_service.h), over a
// SOCK_SEQPACKET socketpair: one frame per packet, so a frame's length is the
// packet's and nothing is ever reassembled.
//
// Request (milter -> signer), fixed 20-byte header, network byte order:
//   magic "SGNP" | version 1 | type | reserved 0 (u16) | request id (u32) | key id (u64)
//   SIGN  header + exactly 32 bytes: the SHA-256 digest to sign (RFC 6376
//         §3.7 data-hash for rsa-sha256, RFC 8463 §3 for ed25519-sha256)
//   SIGN_MANY  the key id field holds a count N (2..kMaxBatch), then N items
//         of key id (u64) + 32-byte digest, nothing after: the signatures of
//         one message whose keys are all this signer's, in one round trip
//         (one per message instead of one per signature: privsep/client.h)
//   LOAD  header alone: load the key set anew (the signer's own
//         configuration) and answer with its table; the key id field holds
//         the generation the milter still signs with (< 2^32, 0: none), which
//         the signer keeps next to the new one for messages in flight
// Response (signer -> milter), 16-byte header:
//   magic | version | type | reserved 0 | request id | payload length (u32)
//   SIGNED     the signature bytes (1..kMaxSignature)
//   SIGNED_MANY  count N (u8, 2..kMaxBatch), then N signatures in request
//              order, each u16 length (1..kMaxSignature) + bytes; a batch
//              with any item refused is answered by one REFUSED instead (the
//              first item that failed, in order: nothing after it is signed)
//   TABLE      entries (below), as many frames as needed, each <= kMaxPayload
//   TABLE_END  generation (u32), entry count (u32)
//   REFUSED    temporary flag (u8), then the reason (text, <= kMaxReason)
// Table entry: key id (u64), algorithm (u8: 0 rsa-sha256, 1 ed25519-sha256),
//   bits (u16), then domain, selector, public key base64, each u16 length + bytes.
//   Never key bytes: the table is what the milter builds PrivateKey::external
//   from (signer/external_key.h).
//
// parse_request / parse_response read strictly to the last byte: a frame
// short, long, with a bad magic, version, type, reserved field, length, or
// trailing bytes is refused with a reason naming what and where (byte
// offsets), never a crash, never an allocation beyond the frame's size. The
// encoders produce exactly what the parsers accept. Pure functions, no I/O.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"
#include "signer/key.h"

namespace signet::privsep {

inline constexpr std::size_t kRequestHeader = 20;
inline constexpr std::size_t kResponseHeader = 16;
inline constexpr std::size_t kDigestSize = 32;
inline constexpr std::size_t kSignRequestSize = kRequestHeader + kDigestSize;
inline constexpr std::size_t kMaxBatch = 4;                   // SIGN_MANY items at most (signatures per message)
inline constexpr std::size_t kSignItemSize = 8 + kDigestSize;
inline constexpr std::size_t kMaxRequest = kRequestHeader + kMaxBatch * kSignItemSize;  // the largest valid request
inline constexpr std::size_t kMaxSignature = 2048;            // RSA-16384; ed25519 is 64
inline constexpr std::size_t kMaxReason = 1024;
inline constexpr std::size_t kMaxPayload = 60 * 1024;         // under the socket's send buffer
inline constexpr std::size_t kMaxResponse = kResponseHeader + kMaxPayload;
// The largest answer to a SIGN or SIGN_MANY (SIGNED_MANY of kMaxBatch
// maximal signatures is the longest; a REFUSED is shorter).
inline constexpr std::size_t kMaxSignResponse = kResponseHeader + 1 + kMaxBatch * (2 + kMaxSignature);
static_assert(kMaxSignResponse <= kMaxResponse && kResponseHeader + 1 + kMaxReason <= kMaxSignResponse);

enum class RequestType : std::uint8_t { Sign = 1, Load = 2, SignMany = 3 };
enum class ResponseType : std::uint8_t { Signed = 0x81, Table = 0x82, TableEnd = 0x83, SignedMany = 0x84, Refused = 0xFF };

struct SignItem {
  std::uint64_t key_id = 0;
  std::array<std::uint8_t, kDigestSize> digest{};
};

struct Request {
  RequestType type = RequestType::Sign;
  std::uint32_t id = 0;
  std::uint64_t key_id = 0;                        // SIGN, LOAD (generation); SIGN_MANY: unused (0)
  std::array<std::uint8_t, kDigestSize> digest{};  // SIGN only
  std::vector<SignItem> items;                     // SIGN_MANY only: 2..kMaxBatch
};

struct TableEntry {
  std::uint64_t key_id = 0;
  Algorithm algorithm = Algorithm::RsaSha256;
  int bits = 0;
  std::string domain, selector, public_key_base64;
};

struct Response {
  ResponseType type = ResponseType::Signed;
  std::uint32_t id = 0;
  std::string signature;            // SIGNED
  std::vector<std::string> signatures;  // SIGNED_MANY, in request order
  std::vector<TableEntry> entries;  // TABLE
  std::uint32_t generation = 0;     // TABLE_END
  std::uint32_t count = 0;          // TABLE_END
  bool temporary = false;           // REFUSED
  std::string reason;               // REFUSED
};

// REQUIRES: a SIGN_MANY holds 2..kMaxBatch items.
std::string encode_request(const Request& r);
Result<Request> parse_request(std::string_view frame);

// REQUIRES: signature/reason within their bounds (longer reasons are cut).
std::string encode_signed(std::uint32_t id, std::string_view signature);
// REQUIRES: 2..kMaxBatch signatures, each 1..kMaxSignature bytes.
std::string encode_signed_many(std::uint32_t id, const std::vector<std::string>& signatures);
std::string encode_refused(std::uint32_t id, bool temporary, std::string_view reason);
std::string encode_table_end(std::uint32_t id, std::uint32_t generation, std::uint32_t count);
// The entries split into TABLE frames of at most kMaxPayload bytes each.
// Fails when one entry alone would not fit (a name over the u16 bound).
Result<std::vector<std::string>> encode_table(std::uint32_t id, const std::vector<TableEntry>& entries);
Result<Response> parse_response(std::string_view frame);

// A SIGN request's (or SIGN_MANY item's) digest as the signer's type.
inline Sha256Digest to_digest(const std::array<std::uint8_t, kDigestSize>& digest) {
  Sha256Digest d{};
  static_assert(sizeof(d) == kDigestSize);
  for (std::size_t i = 0; i < kDigestSize; ++i) d[i] = digest[i];
  return d;
}
inline Sha256Digest to_digest(const Request& r) { return to_digest(r.digest); }

}  // namespace signet::privsep
