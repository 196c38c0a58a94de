#include "tools/table.h"

#include <fmt/core.h>

#include <algorithm>

namespace signet::tools {

std::string json_string(std::string_view s);

void print_rows(std::string_view format, const std::vector<std::string>& cols,
                const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& numeric) {
  if (format == "csv") {
    auto csv = [](const std::string& v) {
      return v.find_first_of(",\"\n") == std::string::npos ? v : "\"" + v + "\"";  // RFC 4180
    };
    for (std::size_t i = 0; i < cols.size(); ++i) fmt::print("{}{}", i ? "," : "", cols[i]);
    fmt::print("\n");
    for (const auto& r : rows) {
      for (std::size_t i = 0; i < r.size(); ++i) fmt::print("{}{}", i ? "," : "", csv(r[i]));
      fmt::print("\n");
    }
  } else if (format == "json") {
    fmt::print("[");
    for (std::size_t j = 0; j < rows.size(); ++j) {
      fmt::print("{}\n  {{", j ? "," : "");
      for (std::size_t i = 0; i < cols.size(); ++i) {
        const bool number = i < numeric.size() && numeric[i];
        fmt::print("{}{}: {}", i ? ", " : "", json_string(cols[i]), number ? rows[j][i] : json_string(rows[j][i]));
      }
      fmt::print("}}");
    }
    fmt::print("\n]\n");
  } else {
    std::vector<std::size_t> w(cols.size());
    for (std::size_t i = 0; i < cols.size(); ++i) w[i] = cols[i].size();
    for (const auto& r : rows)
      for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string>& r) {
      for (std::size_t i = 0; i < r.size(); ++i) fmt::print("{}{:<{}}", i ? "  " : "", r[i], w[i]);
      fmt::print("\n");
    };
    line(cols);
    for (const auto& r : rows) line(r);
  }
}

}  // namespace signet::tools
