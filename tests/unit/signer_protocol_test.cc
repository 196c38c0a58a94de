// The signer protocol's codec (privsep/protocol.h): every frame the encoders
// make parses back to the same fields, and every malformed frame is refused
// with its reason.
#include "privsep/protocol.h"

#include <gtest/gtest.h>

#include <string>

namespace signet::privsep {
namespace {

Request sign_request(std::uint32_t id, std::uint64_t key) {
  Request r;
  r.type = RequestType::Sign;
  r.id = id;
  r.key_id = key;
  for (std::size_t i = 0; i < kDigestSize; ++i) r.digest[i] = static_cast<std::uint8_t>(i * 7 + 1);
  return r;
}

std::string refusal(std::string_view frame) {
  auto r = parse_request(frame);
  EXPECT_FALSE(r.ok()) << "accepted a malformed request";
  return r.ok() ? std::string() : r.error().message;
}

TEST(SignerProtocol, SignRequestRoundTrips) {
  const Request r = sign_request(77, 0x0000000500000003ull);
  const std::string f = encode_request(r);
  EXPECT_EQ(f.size(), kSignRequestSize);
  auto p = parse_request(f);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->type, RequestType::Sign);
  EXPECT_EQ(p->id, 77u);
  EXPECT_EQ(p->key_id, 0x0000000500000003ull);
  EXPECT_EQ(p->digest, r.digest);
}

TEST(SignerProtocol, LoadRequestRoundTrips) {
  Request r;
  r.type = RequestType::Load;
  r.id = 9;
  auto p = parse_request(encode_request(r));
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->type, RequestType::Load);
  EXPECT_EQ(p->id, 9u);
}

TEST(SignerProtocol, RefusesShortRequests) {
  const std::string f = encode_request(sign_request(1, 1));
  EXPECT_NE(refusal("").find("shorter than the 20-byte header"), std::string::npos);
  EXPECT_NE(refusal(f.substr(0, 19)).find("shorter"), std::string::npos);
  EXPECT_NE(refusal(f.substr(0, kSignRequestSize - 1)).find("31 digest bytes"), std::string::npos);
}

TEST(SignerProtocol, RefusesLongRequests) {
  const std::string f = encode_request(sign_request(1, 1));
  EXPECT_NE(refusal(f + "x").find("33 digest bytes"), std::string::npos);
  EXPECT_NE(refusal(f + std::string(kMaxRequest - kSignRequestSize + 1, 'x')).find("longer than any valid request"),
            std::string::npos);
  EXPECT_NE(refusal(std::string(1 << 16, 'A')).find("longer"), std::string::npos);
}

Request sign_many_request(std::uint32_t id, std::size_t n) {
  Request r;
  r.type = RequestType::SignMany;
  r.id = id;
  for (std::size_t k = 0; k < n; ++k) {
    SignItem it;
    it.key_id = (std::uint64_t{3} << 32) | k;
    for (std::size_t i = 0; i < kDigestSize; ++i) it.digest[i] = static_cast<std::uint8_t>(i * 5 + k);
    r.items.push_back(it);
  }
  return r;
}

TEST(SignerProtocol, SignManyRequestRoundTrips) {
  for (std::size_t n = 2; n <= kMaxBatch; ++n) {
    const Request r = sign_many_request(78, n);
    const std::string f = encode_request(r);
    EXPECT_EQ(f.size(), kRequestHeader + n * kSignItemSize);
    auto p = parse_request(f);
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->type, RequestType::SignMany);
    EXPECT_EQ(p->id, 78u);
    ASSERT_EQ(p->items.size(), n);
    for (std::size_t k = 0; k < n; ++k) {
      EXPECT_EQ(p->items[k].key_id, r.items[k].key_id);
      EXPECT_EQ(p->items[k].digest, r.items[k].digest);
    }
  }
}

TEST(SignerProtocol, RefusesASignManyWhoseCountOrLengthIsWrong) {
  // A count outside 2..kMaxBatch, even with the bytes to match it.
  std::string one = encode_request(sign_request(1, 1));
  one[5] = static_cast<char>(RequestType::SignMany);
  std::string zero = one;
  for (int i = 12; i < 20; ++i) one[i] = i == 19 ? 1 : 0, zero[i] = 0;
  one += std::string(8, '\0');  // 20 + 40: one whole item
  EXPECT_NE(refusal(one).find("counts 1 items"), std::string::npos);
  EXPECT_NE(refusal(zero.substr(0, kRequestHeader)).find("counts 0 items"), std::string::npos);
  std::string five = encode_request(sign_many_request(1, kMaxBatch));
  five[19] = static_cast<char>(kMaxBatch + 1);
  EXPECT_NE(refusal(five).find("counts 5 items"), std::string::npos);
  // The count and the bytes must agree: one item short, one byte over, a digest cut.
  const std::string three = encode_request(sign_many_request(2, 3));
  EXPECT_NE(refusal(three.substr(0, three.size() - kSignItemSize)).find("of 3 items carries 80 bytes"), std::string::npos);
  EXPECT_NE(refusal(three + "x").find("carries 121 bytes"), std::string::npos);
  EXPECT_NE(refusal(three.substr(0, three.size() - 1)).find("carries 119 bytes"), std::string::npos);
  std::string wide = encode_request(sign_many_request(2, 2));
  wide[12] = 1;  // a count over 32 bits is no count
  EXPECT_FALSE(parse_request(wide).ok());
}

TEST(SignerProtocol, SignedManyRoundTripsAndIsStrict) {
  const std::vector<std::string> sigs{std::string(256, '\x11'), std::string(64, '\x22'), std::string(kMaxSignature, '\x33'),
                                      std::string(1, '\x44')};
  const std::string f = encode_signed_many(9, sigs);
  EXPECT_LE(f.size(), kMaxSignResponse);
  auto p = parse_response(f);
  ASSERT_TRUE(p.ok()) << p.error().message;
  EXPECT_EQ(p->type, ResponseType::SignedMany);
  EXPECT_EQ(p->id, 9u);
  EXPECT_EQ(p->signatures, sigs);

  const std::string two = encode_signed_many(3, {"ab", "cd"});
  auto with_length = [](std::string frame, std::size_t payload) {
    frame[12] = static_cast<char>(payload >> 24);
    frame[13] = static_cast<char>(payload >> 16);
    frame[14] = static_cast<char>(payload >> 8);
    frame[15] = static_cast<char>(payload);
    return frame;
  };
  auto reason = [](const std::string& frame) {
    auto r = parse_response(frame);
    EXPECT_FALSE(r.ok()) << "accepted a malformed SIGNED_MANY";
    return r.ok() ? std::string() : r.error().message;
  };
  // Trailing bytes, a cut signature, a count out of bounds, an empty signature.
  EXPECT_NE(reason(with_length(two + "z", two.size() + 1 - kResponseHeader)).find("1 bytes after its 2 signatures"), std::string::npos);
  EXPECT_NE(reason(with_length(two.substr(0, two.size() - 1), two.size() - 1 - kResponseHeader)).find("signature 1 at byte 21 ends early"),
            std::string::npos);
  std::string count = two;
  count[16] = 1;
  EXPECT_NE(reason(count).find("counts 1 signatures"), std::string::npos);
  count[16] = static_cast<char>(kMaxBatch + 1);
  EXPECT_NE(reason(count).find("counts 5 signatures"), std::string::npos);
  EXPECT_NE(reason(encode_signed_many(3, {"ab", ""})).find("signature 1 at byte 21 holds 0 bytes"), std::string::npos);
  EXPECT_NE(reason(with_length(two.substr(0, kResponseHeader), 0)).find("counts 0 signatures"), std::string::npos);
  // One signature over the bound.
  EXPECT_NE(reason(encode_signed_many(3, {"ab", std::string(kMaxSignature + 1, 'x')})).find("2049 bytes"), std::string::npos);
}

TEST(SignerProtocol, RefusesAWrongDigestLength) {
  // A SHA-1 (20 bytes) digest in place of SHA-256: never signed.
  std::string f = encode_request(sign_request(1, 1)).substr(0, kRequestHeader) + std::string(20, '\x11');
  EXPECT_NE(refusal(f).find("20 digest bytes"), std::string::npos);
  EXPECT_NE(refusal(f.substr(0, kRequestHeader)).find("0 digest bytes"), std::string::npos);
}

TEST(SignerProtocol, RefusesUnknownTypesVersionsAndMagic) {
  std::string f = encode_request(sign_request(1, 1));
  std::string t = f;
  t[5] = 9;
  EXPECT_NE(refusal(t).find("request type 9 (byte 5) is unknown"), std::string::npos);
  t[5] = 0;
  EXPECT_NE(refusal(t).find("request type 0 (byte 5) is unknown"), std::string::npos);
  std::string rt = encode_signed(1, "sig");
  rt[5] = static_cast<char>(0x85);
  EXPECT_NE(parse_response(rt).error().message.find("response type 133 (byte 5) is unknown"), std::string::npos);
  std::string v = f;
  v[4] = 2;
  EXPECT_NE(refusal(v).find("version 2"), std::string::npos);
  std::string m = f;
  m[0] = 'X';
  EXPECT_NE(refusal(m).find("magic"), std::string::npos);
  std::string res = f;
  res[7] = 1;
  EXPECT_NE(refusal(res).find("reserved"), std::string::npos);
}

TEST(SignerProtocol, RefusesALoadWithAPayloadOrAWideGeneration) {
  Request r;
  r.type = RequestType::Load;
  std::string f = encode_request(r);
  f[12] = 1;
  EXPECT_NE(refusal(f).find("generation over 32 bits"), std::string::npos);
  Request l;
  l.type = RequestType::Load;
  EXPECT_NE(refusal(encode_request(l) + "zz").find("2 bytes after its header"), std::string::npos);
}

TEST(SignerProtocol, RefusesGarbage) {
  std::string g;
  for (int i = 0; i < 52; ++i) g.push_back(static_cast<char>(i * 37 + 11));
  EXPECT_NE(refusal(g).find("magic"), std::string::npos);
  EXPECT_FALSE(parse_response(g).ok());
}

TEST(SignerProtocol, ResponsesRoundTrip) {
  auto s = parse_response(encode_signed(5, std::string(256, '\x7f')));
  ASSERT_TRUE(s.ok()) << s.error().message;
  EXPECT_EQ(s->type, ResponseType::Signed);
  EXPECT_EQ(s->id, 5u);
  EXPECT_EQ(s->signature, std::string(256, '\x7f'));
  auto r = parse_response(encode_refused(6, true, "unknown key"));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->type, ResponseType::Refused);
  EXPECT_TRUE(r->temporary);
  EXPECT_EQ(r->reason, "unknown key");
  auto e = parse_response(encode_table_end(7, 3, 2));
  ASSERT_TRUE(e.ok()) << e.error().message;
  EXPECT_EQ(e->generation, 3u);
  EXPECT_EQ(e->count, 2u);
}

TEST(SignerProtocol, TableSplitsIntoBoundedFramesAndRoundTrips) {
  std::vector<TableEntry> entries;
  for (int i = 0; i < 2000; ++i) {
    entries.push_back(TableEntry{static_cast<std::uint64_t>(i), i % 2 ? Algorithm::Ed25519Sha256 : Algorithm::RsaSha256,
                                 i % 2 ? 256 : 2048, "d" + std::to_string(i) + ".example", "s" + std::to_string(i),
                                 std::string(i % 2 ? 44 : 392, 'A')});
  }
  auto frames = encode_table(1, entries);
  ASSERT_TRUE(frames.ok()) << frames.error().message;
  EXPECT_GT(frames->size(), 1u);
  std::vector<TableEntry> back;
  for (const std::string& f : frames.value()) {
    EXPECT_LE(f.size(), kMaxResponse);
    auto p = parse_response(f);
    ASSERT_TRUE(p.ok()) << p.error().message;
    for (auto& e : p->entries) back.push_back(std::move(e));
  }
  ASSERT_EQ(back.size(), entries.size());
  EXPECT_EQ(back[1999].domain, "d1999.example");
  EXPECT_EQ(back[1999].algorithm, Algorithm::Ed25519Sha256);
  EXPECT_EQ(back[1998].bits, 2048);
  EXPECT_EQ(back[1998].public_key_base64.size(), 392u);
}

TEST(SignerProtocol, RefusesResponsesWhoseLengthLies) {
  std::string f = encode_signed(5, "sig");
  EXPECT_FALSE(parse_response(f + "x").ok());
  EXPECT_FALSE(parse_response(f.substr(0, f.size() - 1)).ok());
  EXPECT_NE(parse_response(encode_signed(5, "")).error().message.find("0 signature bytes"), std::string::npos);
  auto frames = encode_table(1, {TableEntry{1, Algorithm::RsaSha256, 2048, "d", "s", "AAAA"}});
  ASSERT_TRUE(frames.ok());
  std::string t = frames->front();
  t[kResponseHeader + 8] = 5;  // the algorithm byte
  EXPECT_NE(parse_response(t).error().message.find("unknown algorithm 5"), std::string::npos);
  std::string cut = t.substr(0, t.size() - 2);
  cut[15] = static_cast<char>(cut.size() - kResponseHeader);  // a length that matches the shorter frame
  EXPECT_NE(parse_response(cut).error().message.find("ends early"), std::string::npos);
}

}  // namespace
}  // namespace signet::privsep
