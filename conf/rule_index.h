// conf/rule_index.h — the routing rules indexed by what a message can be
// matched on, so route() (conf/router.h) costs the same with 100 000 rules as
// with 10.
//
// RuleIndex(cfg) files every rule under ONE of its criteria, the most
// selective it has: a literal sasl-login (no glob character), else
// from-domain, else envelope-domain, else client networks, else daemon-name;
// a rule with none of these (or only glob logins) is kept in a list every
// message considers. Exact keys are hash maps (domains lowercased, as
// domain_matches folds ASCII case); "*.example.com" is keyed on
// "example.com" and found by trying each proper suffix of the message's
// domain that follows a dot; networks are one hash map per prefix length
// (at most 129), keyed on the masked address.
//
// candidates(facts, out) replaces out with the positions of the rules that
// may match, ascending, without duplicates: a superset of the rules whose
// every criterion matches (the indexed criterion is necessary for a match),
// so testing them in order with the full match keeps "first match wins"
// exactly. Cost: one hash lookup per key the message has, one per dot in
// each domain, one per distinct prefix length, plus the size of the buckets.
// target(i): rule i's stream and also-stream as positions in cfg.streams
// (kNone: not set), resolved once here rather than per message; `sure`: the
// rule has no criterion besides the one it is filed under, so being a
// candidate means it matches (every hit of a bucket is an exact match of
// that criterion); `open`/`also_open`: the stream binds no sender
// (Stream::bound), so may_use() holds for everyone. With 100 000 rules the
// cost of a route is its cache misses: these let route() decide from the
// index alone, touching the Rule only for its name.
// Fails: never (a rule naming no known stream resolves to kNone).
// Thread safety: immutable after construction; concurrent calls are safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "conf/router.h"

namespace signet::conf {

class RuleIndex {
 public:
  static constexpr std::uint32_t kNone = 0xffffffffu;

  explicit RuleIndex(const Config& cfg);

  struct Target {
    std::uint32_t stream = kNone, also = kNone;
    bool sure = false, open = false, also_open = false;
  };

  void candidates(const MessageFacts& facts, std::vector<std::uint32_t>& out) const;
  std::size_t size() const { return targets_.size(); }
  const Target& target(std::size_t rule) const { return targets_[rule]; }

 private:
  using Bucket = std::vector<std::uint32_t>;
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using TextMap = std::unordered_map<std::string, Bucket, TextHash, std::equal_to<>>;
  struct NetKey {
    std::uint64_t hi = 0, lo = 0;
    bool operator==(const NetKey&) const = default;
  };
  struct NetHash {
    std::size_t operator()(const NetKey& k) const { return std::hash<std::uint64_t>{}(k.hi * 0x9e3779b97f4a7c15ull ^ k.lo); }
  };
  struct DomainIndex {
    TextMap exact, wildcard;  // "a.example" / "*.a.example" keyed "a.example"
  };
  static NetKey masked(const CidrSet::Bytes& addr, int prefix);
  static void add_domains(DomainIndex& index, const std::vector<std::string>& patterns, std::uint32_t rule);
  static void find_domain(const DomainIndex& index, std::string_view domain, std::vector<const Bucket*>& hits);

  TextMap logins_, services_;
  DomainIndex from_, envelope_;
  std::vector<std::pair<int, std::unordered_map<NetKey, Bucket, NetHash>>> nets_;  // by prefix length
  Bucket always_;
  std::vector<Target> targets_;  // per rule
};

}  // namespace signet::conf
