#pragma once
// Small file helpers for unit tests: write a file (creating its parents), read one back, make
// test bytes, look at an inode; a helper that cannot do its job fails the current test (REQUIRE).
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

#include <sys/types.h>

#include "core/trust/release_manifest.hpp"

namespace weights::testing {

// Writes DATA to P (binary, truncating), creating P's parent directories first.
void write_text(const std::filesystem::path& p, const std::string& data);

// The whole content of P; fails the current test when P is missing, unreadable or larger than
// MAX_BYTES.
std::string slurp(const std::filesystem::path& p, std::size_t max_bytes = 64 << 20);

// N pseudo-random bytes, the same for the same SEED.
std::string random_bytes(std::size_t n, std::uint32_t seed);

// A manifest entry for a file at PATH holding CONTENT (length and SHA-256; no bt_root).
ReleaseFile release_file(const std::string& path, const std::string& content);

// P's inode number (of the file a symlink names); fails the current test if P is missing.
ino_t inode_of(const std::filesystem::path& p);

}  // namespace weights::testing
