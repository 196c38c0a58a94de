// The signer protocol (privsep/protocol.h): the frames the signer process
// reads from the network-facing milter, and the milter reads back.
//
// Input: one frame, read as a request and as a response. Checks:
//   - neither parser crashes or allocates beyond the frame;
//   - a request accepted is exactly 20 (LOAD), 52 (SIGN) or 20 + 40 N
//     (SIGN_MANY of N = 2..kMaxBatch items, N on the wire) bytes, and
//     re-encoding it gives the same bytes back (nothing ignored, nothing
//     defaulted: read to the last byte);
//   - a response accepted re-encodes to the same bytes (SIGNED, SIGNED_MANY
//     with 2..kMaxBatch signatures of 1..kMaxSignature bytes each, REFUSED,
//     TABLE_END; TABLE frame by frame).
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "privsep/protocol.h"

using namespace signet;
using namespace signet::privsep;
using signet::fuzz::as_text;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view frame = as_text(data, size);
  if (auto q = parse_request(frame)) {
    if (q->type == RequestType::SignMany) {
      FUZZ_CHECK(q->items.size() >= 2 && q->items.size() <= kMaxBatch, "accepted a SIGN_MANY count out of bounds");
      FUZZ_CHECK(size == kRequestHeader + q->items.size() * kSignItemSize, "accepted a SIGN_MANY of another length");
    } else {
      FUZZ_CHECK(size == kRequestHeader || size == kSignRequestSize, "accepted a request of another length");
    }
    FUZZ_CHECK(encode_request(q.value()) == frame, "a request accepted does not re-encode to its bytes");
  }
  if (auto p = parse_response(frame)) {
    std::string again;
    switch (p->type) {
      case ResponseType::Signed:
        again = encode_signed(p->id, p->signature);
        break;
      case ResponseType::SignedMany:
        FUZZ_CHECK(p->signatures.size() >= 2 && p->signatures.size() <= kMaxBatch, "accepted a SIGNED_MANY count out of bounds");
        for (const std::string& sig : p->signatures) {
          FUZZ_CHECK(!sig.empty() && sig.size() <= kMaxSignature, "accepted a SIGNED_MANY signature out of bounds");
        }
        again = encode_signed_many(p->id, p->signatures);
        break;
      case ResponseType::Refused:
        again = encode_refused(p->id, p->temporary, p->reason);
        break;
      case ResponseType::TableEnd:
        again = encode_table_end(p->id, p->generation, p->count);
        break;
      case ResponseType::Table: {
        auto frames = encode_table(p->id, p->entries);
        FUZZ_CHECK(frames.ok(), "a table accepted does not encode");
        FUZZ_CHECK(frames->size() == 1, "a one-frame table re-encodes to several frames");
        again = frames->front();
        break;
      }
    }
    FUZZ_CHECK(again == frame, "a response accepted does not re-encode to its bytes");
  }
  return 0;
}
