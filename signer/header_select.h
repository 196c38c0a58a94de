// signer/header_select.h — which header fields a signature covers (h=).
//
// HeaderPolicy: the names to sign (each occurrence) and the names to
// oversign (each occurrence plus one more, so an absent or added field breaks
// the signature; RFC 6376 §5.4.2 and §8.15). From, Subject, To and Date are
// always oversigned, whatever the policy says: normalize_policy() adds them.
// Names are compared case-insensitively and kept lowercase.
//
// build_h_list(fields, policy): the h= list for a message, in policy order.
// Fails (permanent) unless the message has exactly one From field (§6.1.1;
// RFC 5322 §3.6: one From, and a second From is how spoofing hides).
//
// pick_fields(fields, h): for each h= name, the field it covers, chosen
// bottom-up (§5.4.2: the last unused instance first), or nullptr where no
// instance is left (an oversigned name contributes nothing, §5.4).
// O(fields + h), so 100 000 fields cost no more than reading them.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

namespace signet {

struct HeaderPolicy {
  std::vector<std::string> sign;
  std::vector<std::string> oversign;

  bool operator==(const HeaderPolicy&) const = default;
};

// The signed set most signers use (RFC 6376 §5.4.1's list, less the ones
// that routinely change in transit), and the oversigned set From, Reply-To,
// Subject, Date, To, Cc.
HeaderPolicy default_header_policy();

// Lowercases names, drops duplicates, adds the four always-oversigned names.
HeaderPolicy normalize_policy(HeaderPolicy policy);

Result<std::vector<std::string>> build_h_list(const std::vector<std::string_view>& fields,
                                              const HeaderPolicy& policy);

std::vector<const std::string_view*> pick_fields(const std::vector<std::string_view>& fields,
                                                 const std::vector<std::string>& h);

}  // namespace signet
