// Fuzzes the path policy (every relative path from a manifest, targets metadata, a torrent or an
// HF listing goes through it). Input: one path per line; each line is checked alone (posix and
// windows), the lines as a set, and escape_path_for_message on the raw bytes.
//
// Checks: an accepted path cannot escape a directory (no absolute path, no "." or ".." or
// empty component, no backslash, NUL or control byte); windows acceptance implies posix
// acceptance; collision_key is idempotent and the set check refuses two paths with one key;
// escaped messages hold printable ASCII only and stay short.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/util/path_policy.hpp"

using weights::fuzz::check;

namespace {

using namespace weights;

void check_accepted(std::string_view path) {
  check(!path.empty() && path.size() <= max_path_bytes);
  check(path.front() != '/' && path.back() != '/');
  std::size_t start = 0;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view part = path.substr(start, end - start);
    check(!part.empty() && part != "." && part != ".." && part.size() <= 255);
    start = end + 1;
  }
  for (const unsigned char c : path) check(c >= 0x20 && c != 0x7f && c != '\\' && c != ':');
  const std::string key = collision_key(path);
  check(collision_key(key) == key);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  const std::string shown = escape_path_for_message(text);
  for (const unsigned char c : shown) check(c >= 0x20 && c < 0x7f);
  check(shown.size() <= 4 * 200 + 16);

  std::vector<std::string> paths;
  std::size_t start = 0;
  while (start <= text.size() && paths.size() < 64) {
    auto end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    paths.emplace_back(text.substr(start, end - start));
    start = end + 1;
  }
  bool all_ok = true;
  for (const auto& p : paths) {
    const bool posix = check_path(p, Portability::posix).has_value();
    const bool windows = check_path(p, Portability::windows).has_value();
    check(!windows || posix);
    if (posix) check_accepted(p);
    all_ok = all_ok && posix;
  }
  const bool set_ok = check_path_set(paths).has_value();
  (void)check_path_set(paths, Portability::windows);
  if (set_ok) {
    check(all_ok);
    std::set<std::string> keys;
    for (const auto& p : paths) check(keys.insert(collision_key(p)).second);
  }
  return 0;
}
