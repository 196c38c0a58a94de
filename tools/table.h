// tools/table.h — the three output formats of the listing commands
// (`signet register`, `signet ledger`): an aligned table for people, CSV
// (RFC 4180 quoting) and JSON (an array of objects) for programs.
//
// print_rows(format, cols, rows, numeric): format is "table", "csv" or
// "json" (the caller has checked it); rows hold one string per column;
// columns whose numeric[i] is true are JSON numbers, the others strings.
// Writes to stdout; never fails.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace signet::tools {

void print_rows(std::string_view format, const std::vector<std::string>& cols,
                const std::vector<std::vector<std::string>>& rows, const std::vector<bool>& numeric = {});

}  // namespace signet::tools
