// Fuzzes the Git LFS pointer parser (parse_lfs_pointer, core/upstream/lfs_pointer.cpp), which
// reads pointer blobs of a pinned commit. Checks the contract of lfs_pointer.hpp: a refusal
// has a documented code and a printable one-line message; an accepted pointer is small, starts
// with the v1 version line, ends with a newline, names a 64-hex SHA-256 and a size of at most
// 2^53, and its canonical form parses back to the same pointer.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/upstream/lfs_pointer.hpp"
#include "core/util/encoding.hpp"

using weights::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weights;
  using namespace weights::upstream;
  const std::string_view text = weights::fuzz::text_of(data, size);
  auto p = parse_lfs_pointer(text);
  if (!p) {
    const auto& e = p.error();
    check(e.code == Errc::parse_error || e.code == Errc::too_large || e.code == Errc::unsupported);
    check(e.message.rfind("LFS pointer: ", 0) == 0);
    for (unsigned char c : e.message) check(c >= 0x20 && c < 0x7f);
    return 0;
  }
  check(size <= max_lfs_pointer_bytes && looks_like_lfs_pointer(text));
  check(text.starts_with("version https://git-lfs.github.com/spec/v1\n") && text.back() == '\n');
  check(is_lower_hex(p->sha256, 32));
  check(p->size <= max_lfs_size);
  const std::string canonical = format_lfs_pointer(*p);
  auto again = parse_lfs_pointer(canonical);
  check(again && *again == *p);
  return 0;
}
