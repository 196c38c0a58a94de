// conf/values.h — parsing the small values options hold, shared by the
// daemon's configuration and the `signet` command's flags.
//
// Each parser returns nullopt (or false) on malformed input; callers say
// which option was bad. None throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>


namespace signet::conf {

// "7d", "12h", "30m", "45s", "3600": seconds; nullopt when malformed or <= 0.
std::optional<std::int64_t> parse_duration(std::string_view text);

// RFC 6376 §3.1/§3.5: d= and s= are dot-separated labels of letters, digits, '-'.
bool valid_dns_name(std::string_view name);

// true/yes/on/1, false/no/off/0.
std::optional<bool> parse_bool(std::string_view text);

// Splits on spaces, tabs and commas, dropping empty items.
std::vector<std::string> split_list(std::string_view list);

// "example.com" matches exactly, "*.example.com" any subdomain (not the apex);
// case-insensitive (domain names).
bool domain_matches(std::string_view pattern, std::string_view domain);

// Shell glob (fnmatch) on a login; case-sensitive.
bool glob_matches(std::string_view pattern, std::string_view text);

// The domain of the first address in a From header value or a MAIL FROM
// argument: "Joe <joe@Example.COM>" -> "example.com"; "" when there is none.
std::string address_domain(std::string_view value);

// A loopback listen address: "127.0.0.1:9465" (any 127.x), "[::1]:9465" or
// "localhost:9465" -> (numeric host, port); nullopt for anything else,
// including every non-loopback address (metrics-listen serves without
// authentication).
std::optional<std::pair<std::string, int>> parse_loopback_listen(std::string_view text);

}  // namespace signet::conf
