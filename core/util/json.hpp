#pragma once
// Strict JSON for everything that crosses a trust boundary (metadata, manifests, API bodies).
// parse_strict rejects: duplicate object keys, invalid UTF-8, lone surrogates (\ud800 alone),
// trailing data after the value, nesting deeper than limits.max_depth, input larger than
// limits.max_bytes. Numbers are kept as parsed; the get_* accessors below enforce that integer
// fields are non-negative integers <= 2^53 (never floats like 1.0 or 1e3).
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/util/error.hpp"

namespace weights::json {

using Json = nlohmann::json;

struct Limits {
  std::size_t max_bytes = 16 * 1024 * 1024;
  std::size_t max_depth = 32;
};

Result<Json> parse_strict(std::string_view text, Limits limits = {});

// Largest integer accepted by get_uint: 2^53, the exact-integer range of IEEE doubles, so any
// JSON implementation reads the same value.
inline constexpr std::uint64_t max_safe_integer = 9007199254740992ULL;

// Typed field access with precise errors naming the field ("signed.version: expected a
// non-negative integer"). `where` is the dotted path of `obj` used in messages.
Result<const Json*> get_field(const Json& obj, std::string_view key, std::string_view where);
Result<std::string> get_string(const Json& obj, std::string_view key, std::string_view where);
Result<std::uint64_t> get_uint(const Json& obj, std::string_view key, std::string_view where);
Result<const Json*> get_object(const Json& obj, std::string_view key, std::string_view where);
Result<const Json*> get_array(const Json& obj, std::string_view key, std::string_view where);
// Optional variants: a missing key yields std::nullopt-like empty result via has_field first.
bool has_field(const Json& obj, std::string_view key);

// Deterministic serialisation used when *we* produce bytes (sorted keys, no spaces, UTF-8 kept).
// Signatures never depend on it: DSSE signs exact bytes.
std::string dump_compact(const Json& value);
// Human-friendly output for files people read (2-space indent, sorted keys, trailing newline).
std::string dump_pretty(const Json& value);

}  // namespace weights::json
