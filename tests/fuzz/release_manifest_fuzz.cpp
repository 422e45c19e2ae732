// Fuzzes parse_release_manifest (and, through it, the path policy). Beyond "no crash / no
// sanitizer report", checks that anything accepted is internally consistent and round-trips:
// serialize -> parse gives the same manifest, and serialising is deterministic.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/trust/release_manifest.hpp"

using weights::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  auto parsed = weights::parse_release_manifest(text);
  if (!parsed) return 0;
  check(weights::validate_release_manifest(*parsed).has_value());
  std::uint64_t total = 0;
  for (const auto& f : parsed->files) total += f.length;
  check(total == parsed->total_length);
  auto bytes = weights::serialize_release_manifest(*parsed, weights::JsonStyle::compact);
  check(bytes.has_value());
  auto again = weights::parse_release_manifest(*bytes);
  check(again.has_value() && *again == *parsed);
  auto bytes2 = weights::serialize_release_manifest(*again, weights::JsonStyle::compact);
  check(bytes2.has_value() && *bytes2 == *bytes);
  return 0;
}
