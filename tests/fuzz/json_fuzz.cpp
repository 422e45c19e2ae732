// Fuzzes json::parse_strict. Beyond "no crash / no sanitizer report", checks that:
//  - anything accepted is also accepted by nlohmann's plain parser with the same value (our
//    strict parser may only be stricter, never more lenient);
//  - dump_compact output re-parses strictly to the same value, and dumping is idempotent;
//  - the typed accessors never misbehave on arbitrary values.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/util/json.hpp"

using weights::fuzz::check;

namespace {

void poke_accessors(const weights::json::Json& v) {
  if (!v.is_object()) return;
  for (const auto& [key, value] : v.items()) {
    (void)weights::json::get_uint(v, key, "fuzz");
    (void)weights::json::get_string(v, key, "fuzz");
    (void)weights::json::get_object(v, key, "fuzz");
    (void)weights::json::get_array(v, key, "fuzz");
    check(weights::json::has_field(v, key));
    if (auto n = weights::json::get_uint(v, key, "fuzz")) {
      check(*n <= weights::json::max_safe_integer);
      check(value.is_number_unsigned() || value.is_number_integer());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  weights::json::Limits limits;
  limits.max_bytes = 1 << 20;
  auto parsed = weights::json::parse_strict(text, limits);
  if (!parsed) return 0;

  const auto reference = weights::json::Json::parse(text, nullptr, /*allow_exceptions=*/false);
  check(!reference.is_discarded());
  check(reference == *parsed);

  const std::string once = weights::json::dump_compact(*parsed);
  // Dumping may grow the text (1e5 -> 100000.0), so only the depth limit applies here.
  weights::json::Limits unbounded = limits;
  unbounded.max_bytes = SIZE_MAX;
  auto again = weights::json::parse_strict(once, unbounded);
  check(again.has_value());
  check(*again == *parsed);
  check(weights::json::dump_compact(*again) == once);

  poke_accessors(*parsed);
  return 0;
}
