#pragma once
// What every fuzz target shares: a property that does not hold is a crash libFuzzer reports.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace weights::fuzz {

inline void check(bool ok) {
  if (!ok) std::abort();
}

inline std::string_view text_of(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace weights::fuzz
