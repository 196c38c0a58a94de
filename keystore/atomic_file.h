// keystore/atomic_file.h — replacing a file so that a reader, a crash or a
// full disk never sees half of it (docs/design.md: the key set on disk is written
// only atomically).
//
// write_file_atomic(dir, name, text, mode): DIR/.NAME.tmp.PID is written
// whole, fsynced and renamed over DIR/NAME, then DIR itself is fsynced so
// the rename survives a crash. Fails (permanent) naming the file and the
// system error; on failure DIR/NAME is unchanged and the temporary is gone.
// read_small_file(path, max_bytes): the whole file; nullopt when it does not
// exist; an error when it cannot be read or is larger than max_bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace signet::keystore {

Status write_file_atomic(const std::string& dir, const std::string& name, std::string_view text);

Result<std::optional<std::string>> read_small_file(const std::string& path, std::size_t max_bytes);

}  // namespace signet::keystore
