#pragma once
// Git LFS pointer files, spec v1 (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md):
//
//   version https://git-lfs.github.com/spec/v1\n
//   oid sha256:<64 lowercase hex>\n
//   size <bytes>\n
//
// The parser is strict, because a pointer pins a large file's SHA-256 and size: `version`
// first with exactly that value (other spec URLs are refused), then keys in strictly ascending
// byte order, each line `key value\n` (one space, LF only, keys of [a-z0-9.-], values of UTF-8
// without CR), `oid` and `size` required, `size` decimal without leading zeros and at most
// 2^53. Unknown keys are accepted and ignored, as the spec asks; `ext-*` keys (LFS extensions:
// the file is a filter's output, not the object the oid names) are refused as unsupported.
// A pointer is smaller than 1024 bytes (git-lfs's own cut-off for pointer candidates).
#include <cstdint>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace weights::upstream {

inline constexpr std::size_t max_lfs_pointer_bytes = 1023;
inline constexpr std::uint64_t max_lfs_size = 1ull << 53;
inline constexpr std::string_view lfs_spec_v1 = "https://git-lfs.github.com/spec/v1";

struct LfsPointer {
  std::string sha256;  // 64 lowercase hex: the large file's SHA-256
  std::uint64_t size = 0;
  friend bool operator==(const LfsPointer&, const LfsPointer&) = default;
};

// Errc::parse_error naming the line and rule ("line 2: oid must be sha256:<64 lowercase
// hex>"), too_large above max_lfs_pointer_bytes, unsupported for extensions. Messages never
// echo more than a short printable excerpt of the input.
Result<LfsPointer> parse_lfs_pointer(std::string_view bytes);

// The canonical pointer text (the three lines above), as git-lfs writes it.
std::string format_lfs_pointer(const LfsPointer& pointer);

// Whether a blob is meant as a pointer: at most max_lfs_pointer_bytes and starting with
// "version ". git-lfs passes any other blob through its smudge filter unchanged, so such a blob
// under `filter=lfs` is a plain file; a blob that claims to be a pointer must parse.
bool looks_like_lfs_pointer(std::string_view bytes);

}  // namespace weights::upstream
