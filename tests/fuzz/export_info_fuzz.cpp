// Fuzzes the reader of an export bundle's weights-export.json (weightsctl import), which comes
// from whoever handed over the bundle. Checks that an accepted note names a well-formed model
// and revision (they become target paths and API ids) and that the same fields written back
// as the exporter writes them parse to the same note.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"
#include <nlohmann/json.hpp>

#include "core/api/export_info.hpp"
#include "core/trust/release_manifest.hpp"

using weights::fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  auto info = weights::parse_export_info(text);
  if (!info) return 0;
  check(weights::is_valid_model_id(info->model) && weights::is_valid_revision(info->revision));
  const nlohmann::json again = {{"format", weights::export_format},
                                {"model", info->model},
                                {"revision", info->revision},
                                {"feed", info->feed}};
  auto back = weights::parse_export_info(
      again.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n");
  check(back.has_value() && back->model == info->model && back->revision == info->revision);
  return 0;
}
