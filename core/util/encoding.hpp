#pragma once
// Hex and base64 codecs. Decoders are strict: hex is lowercase-or-uppercase pairs only;
// base64 is RFC 4648 standard alphabet with required '=' padding, no whitespace, and
// non-zero trailing bits rejected (so each byte string has exactly one accepted encoding).
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.hpp"

namespace weights {

using Bytes = std::vector<std::uint8_t>;

std::string to_hex(std::span<const std::uint8_t> data);
Result<Bytes> from_hex(std::string_view hex);
// Lowercase hex of exactly `n` bytes (e.g. 32 for SHA-256); anything else is a parse_error.
Result<Bytes> from_hex_exact(std::string_view hex, std::size_t n);
bool is_lower_hex(std::string_view s, std::size_t n_bytes);

std::string base64_encode(std::span<const std::uint8_t> data);
Result<Bytes> base64_decode(std::string_view text);

// Length of the strict UTF-8 sequence (RFC 3629: shortest form, no surrogates, <= U+10FFFF) at
// the start of `s`, with its code point in `cp`; 0 when `s` does not start with one. ASCII is 1.
std::size_t utf8_sequence(std::string_view s, char32_t& cp);

// Renders untrusted bytes for a one-line error message: printable ASCII kept, '\\' and every
// other byte as \xNN, cut to at most max_chars input bytes with "..." appended.
std::string printable_excerpt(std::string_view s, std::size_t max_chars = 64);

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace weights
