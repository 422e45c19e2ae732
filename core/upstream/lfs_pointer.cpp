#include "core/upstream/lfs_pointer.hpp"

#include <optional>

#include <fmt/format.h>

#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

namespace weights::upstream {
namespace {

bool is_key_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
}

Error line_error(std::size_t line, std::string_view what) {
  return Error{Errc::parse_error, fmt::format("LFS pointer: line {}: {}", line, what), {}};
}

// Decimal without sign or leading zeros, at most max_lfs_size.
bool parse_size(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 16 || (s.size() > 1 && s[0] == '0')) return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');  // 16 digits cannot overflow
  }
  if (v > max_lfs_size) return false;
  out = v;
  return true;
}

}  // namespace

Result<LfsPointer> parse_lfs_pointer(std::string_view bytes) {
  if (bytes.size() > max_lfs_pointer_bytes) {
    return fail(Errc::too_large, fmt::format("LFS pointer: {} bytes, a pointer is at most {}",
                                             bytes.size(), max_lfs_pointer_bytes));
  }
  if (bytes.empty()) return fail(Errc::parse_error, "LFS pointer: empty");
  if (bytes.back() != '\n') {
    return fail(Errc::parse_error, "LFS pointer: the last line does not end with a newline");
  }
  if (!is_valid_utf8(bytes)) return fail(Errc::parse_error, "LFS pointer: not UTF-8");

  std::optional<std::string> oid;
  std::optional<std::uint64_t> size;
  std::string_view previous_key;
  std::size_t line_no = 0;
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    ++line_no;
    const std::size_t end = bytes.find('\n', pos);  // exists: the input ends with '\n'
    const std::string_view line = bytes.substr(pos, end - pos);
    pos = end + 1;
    if (line.find('\r') != std::string_view::npos) {
      return tl::unexpected(line_error(line_no, "carriage return (lines end with LF only)"));
    }
    const std::size_t space = line.find(' ');
    if (space == std::string_view::npos || space == 0) {
      return tl::unexpected(line_error(
          line_no, fmt::format("not \"key value\": \"{}\"", printable_excerpt(line, 40))));
    }
    const std::string_view key = line.substr(0, space);
    const std::string_view value = line.substr(space + 1);
    for (char c : key) {
      if (!is_key_char(c)) {
        return tl::unexpected(
            line_error(line_no, fmt::format("key \"{}\" has a character outside [a-z0-9.-]",
                                            printable_excerpt(key, 40))));
      }
    }
    if (line_no == 1) {
      if (key != "version") {
        return tl::unexpected(line_error(1, "the first key must be \"version\""));
      }
      if (value != lfs_spec_v1) {
        return tl::unexpected(line_error(
            1, fmt::format("version \"{}\" is not {}", printable_excerpt(value, 60), lfs_spec_v1)));
      }
      continue;
    }
    if (key == "version") return tl::unexpected(line_error(line_no, "\"version\" repeated"));
    if (line_no > 2 && key <= previous_key) {
      return tl::unexpected(
          line_error(line_no, fmt::format("key \"{}\" is not in strictly ascending order after "
                                          "\"{}\"",
                                          printable_excerpt(key, 40), previous_key)));
    }
    previous_key = key;
    if (key.starts_with("ext-")) {
      return fail(Errc::unsupported,
                  fmt::format("LFS pointer: line {}: extension \"{}\" (the file is an LFS "
                              "extension's output, not the object the oid names)",
                              line_no, printable_excerpt(key, 40)));
    }
    if (key == "oid") {
      constexpr std::string_view prefix = "sha256:";
      if (!value.starts_with(prefix) || !is_lower_hex(value.substr(prefix.size()), 32)) {
        return tl::unexpected(
            line_error(line_no, fmt::format("oid \"{}\" is not sha256:<64 lowercase hex>",
                                            printable_excerpt(value, 80))));
      }
      oid = std::string(value.substr(prefix.size()));
    } else if (key == "size") {
      std::uint64_t v = 0;
      if (!parse_size(value, v)) {
        return tl::unexpected(line_error(
            line_no, fmt::format("size \"{}\" is not a decimal number of bytes without leading "
                                 "zeros, at most 2^53",
                                 printable_excerpt(value, 40))));
      }
      size = v;
    }
    // Any other key: unknown to spec v1's readers, kept by writers; it changes nothing here.
  }
  if (!oid) return fail(Errc::parse_error, "LFS pointer: no oid line");
  if (!size) return fail(Errc::parse_error, "LFS pointer: no size line");
  return LfsPointer{std::move(*oid), *size};
}

std::string format_lfs_pointer(const LfsPointer& pointer) {
  return fmt::format("version {}\noid sha256:{}\nsize {}\n", lfs_spec_v1, pointer.sha256,
                     pointer.size);
}

bool looks_like_lfs_pointer(std::string_view bytes) {
  return bytes.size() <= max_lfs_pointer_bytes && bytes.starts_with("version ");
}

}  // namespace weights::upstream
