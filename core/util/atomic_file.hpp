#pragma once
// Crash-safe file writes: data goes to a temp file in the same directory, is fsynced, renamed
// over the target, and the directory is fsynced. Readers see the old file or the new one, never
// a mix (kill -9 at any point).
#include <filesystem>
#include <string_view>

#include "core/util/error.hpp"

namespace weights {

enum class Overwrite { allow, refuse };

Status write_file_atomic(const std::filesystem::path& path, std::string_view data,
                         unsigned mode = 0644, Overwrite overwrite = Overwrite::allow);

// Reads a whole regular file, refusing (too_large) anything over max_bytes without reading
// more than max_bytes + 1 bytes.
Result<std::string> read_file(const std::filesystem::path& path, std::size_t max_bytes);

// fsyncs a directory so a rename or create inside it is durable.
Status fsync_dir(const std::filesystem::path& dir);

}  // namespace weights
