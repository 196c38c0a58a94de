#include "signer/header_select.h"

#include <algorithm>
#include <unordered_map>

#include "base/ascii.h"
#include "canon/header.h"

namespace signet {
namespace {

constexpr std::string_view kAlwaysOversigned[] = {"from", "subject", "to", "date"};

bool contains(const std::vector<std::string>& v, std::string_view s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

void add_unique_lower(std::vector<std::string>& out, std::string_view name) {
  std::string n = ascii::to_lower(name);
  if (!n.empty() && !contains(out, n)) out.push_back(std::move(n));
}

// Index of fields by lowercase name, in message order.
std::unordered_map<std::string, std::vector<std::size_t>> index_by_name(
    const std::vector<std::string_view>& fields) {
  std::unordered_map<std::string, std::vector<std::size_t>> by_name;
  for (std::size_t i = 0; i < fields.size(); ++i) {
    by_name[ascii::to_lower(canon::header_name(fields[i]))].push_back(i);
  }
  return by_name;
}

}  // namespace

HeaderPolicy default_header_policy() {
  return HeaderPolicy{
      {"from", "sender", "reply-to", "subject", "date", "message-id", "to", "cc",
       "mime-version", "content-type", "content-transfer-encoding", "content-id",
       "content-description", "resent-date", "resent-from", "resent-sender", "resent-to",
       "resent-cc", "resent-message-id", "in-reply-to", "references", "list-id", "list-help",
       "list-unsubscribe", "list-subscribe", "list-post", "list-owner", "list-archive",
       "list-unsubscribe-post"},
      {"from", "reply-to", "subject", "date", "to", "cc"}};
}

HeaderPolicy normalize_policy(HeaderPolicy policy) {
  HeaderPolicy out;
  for (const auto& n : policy.oversign) add_unique_lower(out.oversign, n);
  for (std::string_view n : kAlwaysOversigned) add_unique_lower(out.oversign, n);
  for (std::string_view n : kAlwaysOversigned) add_unique_lower(out.sign, n);
  for (const auto& n : policy.sign) add_unique_lower(out.sign, n);
  for (const auto& n : out.oversign) add_unique_lower(out.sign, n);
  return out;
}

Result<std::vector<std::string>> build_h_list(const std::vector<std::string_view>& fields,
                                              const HeaderPolicy& policy) {
  const auto by_name = index_by_name(fields);
  const auto from = by_name.find("from");
  const std::size_t from_count = from == by_name.end() ? 0 : from->second.size();
  if (from_count != 1) {
    return permanent_error(from_count == 0
                               ? "the message has no From header: refusing to sign (RFC 6376 §5.4.1)"
                               : "the message has " + std::to_string(from_count) +
                                     " From headers: refusing to sign (RFC 5322 §3.6 allows one)");
  }
  std::vector<std::string> h;
  for (const std::string& name : policy.sign) {
    const auto it = by_name.find(name);
    std::size_t count = it == by_name.end() ? 0 : it->second.size();
    if (contains(policy.oversign, name)) ++count;
    for (std::size_t i = 0; i < count; ++i) h.push_back(name);
  }
  return h;
}

std::vector<const std::string_view*> pick_fields(const std::vector<std::string_view>& fields,
                                                 const std::vector<std::string>& h) {
  auto by_name = index_by_name(fields);
  std::vector<const std::string_view*> picked;
  picked.reserve(h.size());
  for (const std::string& name : h) {
    auto it = by_name.find(ascii::to_lower(name));
    if (it == by_name.end() || it->second.empty()) {
      picked.push_back(nullptr);
      continue;
    }
    picked.push_back(&fields[it->second.back()]);  // §5.4.2: bottom-up
    it->second.pop_back();
  }
  return picked;
}

}  // namespace signet
