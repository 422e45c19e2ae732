#pragma once
// Small file helpers for unit tests: write a file (creating its parents) and read one back,
// failing the current test (REQUIRE) when it cannot be read.
#include <cstddef>
#include <filesystem>
#include <string>

namespace weights::testing {

// Writes DATA to P (binary, truncating), creating P's parent directories first.
void write_text(const std::filesystem::path& p, const std::string& data);

// The whole content of P; fails the current test when P is missing, unreadable or larger than
// MAX_BYTES.
std::string slurp(const std::filesystem::path& p, std::size_t max_bytes = 64 << 20);

}  // namespace weights::testing
