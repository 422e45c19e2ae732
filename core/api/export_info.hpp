#pragma once
// weights-export.json: the unsigned note in an export bundle naming its release (written by
// weightsd's export, read by `weightsctl import`). It only says what to look for: the release
// must still be in the feed's signed targets, which the import's refresh and seed check.
#include <cstddef>
#include <string>
#include <string_view>

#include "core/api/types.hpp"
#include "core/util/error.hpp"

namespace weights {

inline constexpr std::string_view export_format = "weights-export/v1";
inline constexpr std::size_t max_export_info_bytes = 64 * 1024;

struct ExportInfo {
  std::string model;     // passes is_valid_model_id
  std::string revision;  // passes is_valid_revision
  std::string feed;      // the feed's name on the exporting machine
};

// weights-export.json for an export: the result's fields but `id` and `dir` (which only the
// exporting machine knows), format export_format.
std::string export_info_json(const api::ExportResult& result);

// Parses weights-export.json strictly. Errors: parse_error (JSON), schema_error (a missing or
// malformed field), unsupported (another format).
Result<ExportInfo> parse_export_info(std::string_view bytes);

}  // namespace weights
