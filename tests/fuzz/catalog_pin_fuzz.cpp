// Fuzzes what `weightsctl catalog pin|check` parse besides the catalog itself
// (core/catalog/pin.cpp): the hub's model API JSON (parse_hub_hints, untrusted) and the textual
// rewrite of a catalog entry (rewrite_entry) on any file parse_catalog accepts. The input is one
// document, read both ways. A rewrite either refuses with a documented code or yields a file
// whose entry is exactly the old one plus the pinned fields, and a second rewrite changes nothing.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/catalog/pin.hpp"
#include "core/util/encoding.hpp"

using weights::fuzz::check;

namespace {

constexpr const char* fuzz_sha256 =
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
constexpr const char* fuzz_git = "0123456789abcdef0123456789abcdef01234567";

void fuzz_hints(std::string_view text) {
  using namespace weights;
  auto h = catalog::parse_hub_hints(text);
  if (!h) {
    const auto c = h.error().code;
    check(c == Errc::parse_error || c == Errc::schema_error || c == Errc::too_large);
    return;
  }
  check(is_lower_hex(h->sha, 20));
}

void fuzz_rewrite(std::string_view text) {
  using namespace weights;
  auto f = catalog::parse_catalog(text, "fuzz.toml");
  if (!f) return;
  const catalog::Entry& e = f->entries.front();
  // Pinned fields that agree with everything the entry records, plus one file it lacks.
  catalog::PinnedFields p;
  p.commit = e.commit;
  bool has_added = false;
  for (const auto& r : e.files) {
    p.files.push_back({r.path, r.size.value_or(1), r.sha256.empty() ? fuzz_sha256 : r.sha256,
                       r.git_sha1.empty() ? fuzz_git : r.git_sha1});
    has_added = has_added || r.path == "fuzz-added.bin";
  }
  if (!e.files_complete && !has_added) {
    p.files.push_back({"fuzz-added.bin", 7, fuzz_sha256, ""});
  }
  p.info_hash_v2 = e.info_hash_v2.empty() ? std::string(fuzz_sha256) : e.info_hash_v2;
  check(catalog::compare_with_pin(e, p).empty());
  auto r = catalog::rewrite_entry(text, "fuzz.toml", e.id, p);
  if (!r) {
    check(r.error().code == Errc::unsupported);
    return;
  }
  check(r->changed == (r->text != text));
  auto again = catalog::parse_catalog(r->text, "fuzz.toml");
  check(again.has_value() && again->entries.size() == f->entries.size());
  catalog::Entry got = again->entries.front();
  catalog::Entry want = catalog::with_pinned_fields(e, p);
  got.where.line = want.where.line = 0;
  check(got == want);
  auto twice = catalog::rewrite_entry(r->text, "fuzz.toml", e.id, p);
  check(twice.has_value() && !twice->changed);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  fuzz_hints(text);
  fuzz_rewrite(text);
  return 0;
}
