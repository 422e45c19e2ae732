// Fuzzes the model catalog's TOML parser (parse_catalog, core/catalog/catalog.cpp) and the
// layering of what it accepts (Catalog::from_parsed). Checks that a refusal names the file and
// carries a documented code, and that an accepted file keeps every promise of docs/catalog.md:
// valid ids, full commits, valid unique aliases, one default variant, and every alias and id
// resolving to its own entry.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/catalog/catalog.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/encoding.hpp"

using weights::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace weights;
  const std::string_view text = weights::fuzz::text_of(data, size);
  auto f = catalog::parse_catalog(text, "fuzz.toml");
  if (!f) {
    const auto& e = f.error();
    check(e.code == Errc::parse_error || e.code == Errc::schema_error || e.code == Errc::too_large);
    check(e.message.rfind("fuzz.toml", 0) == 0);
    return 0;
  }
  check(catalog::is_valid_family(f->family));
  check(!f->entries.empty());
  std::set<std::string> aliases;
  int defaults = 0;
  for (const auto& e : f->entries) {
    check(is_valid_model_id(e.id) && is_valid_model_id(e.repo));
    check(is_lower_hex(e.commit, 20));
    check(e.upstream == "huggingface");
    check(!e.sources.empty() && !e.license.empty());
    check(e.family == f->family);
    defaults += e.is_default ? 1 : 0;
    for (const auto& a : e.all_aliases()) {
      check(catalog::is_valid_alias(a));
      check(aliases.insert(a).second);
    }
    for (const auto& file : e.files) {
      check(!file.path.empty());
      check(file.size || !file.sha256.empty() || !file.git_sha1.empty());
    }
  }
  check(defaults == 1);
  const auto cat = catalog::Catalog::from_parsed({*f}, "fuzz");
  check(cat.problems().empty());
  check(cat.entries().size() == f->entries.size());
  for (const auto& e : f->entries) {
    auto by_id = cat.lookup(e.id);
    check(by_id && (*by_id)->id == e.id);
    for (const auto& a : e.all_aliases()) {
      auto hit = cat.lookup(a);
      check(hit.has_value());
      // Aliases never contain a slash, so no alias is also an id.
      check((*hit)->id == e.id);
    }
    check(!cat.search(e.variant).empty());
  }
  return 0;
}
