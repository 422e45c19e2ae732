#include "core/api/export_info.hpp"

#include <fmt/core.h>

#include "core/trust/release_manifest.hpp"
#include "core/util/json.hpp"

namespace weights {

std::string export_info_json(const api::ExportResult& r) {
  const nlohmann::json info = {{"format", export_format},
                               {"feed", r.feed},
                               {"model", r.model},
                               {"revision", r.revision},
                               {"release_seq", r.release_seq},
                               {"files", r.files},
                               {"total_length", r.total_length}};
  return info.dump(2) + "\n";
}

Result<ExportInfo> parse_export_info(std::string_view bytes) {
  auto info = json::parse_strict(bytes);
  if (!info) return tl::unexpected(with_context(info.error(), "weights-export.json"));
  auto format = json::get_string(*info, "format", "weights-export.json");
  auto model = json::get_string(*info, "model", "weights-export.json");
  auto revision = json::get_string(*info, "revision", "weights-export.json");
  auto feed = json::get_string(*info, "feed", "weights-export.json");
  for (const auto* r : {&format, &model, &revision, &feed}) {
    if (!*r) return tl::unexpected(r->error());
  }
  if (*format != export_format) {
    return fail(Errc::unsupported, fmt::format("export format '{}'", *format));
  }
  if (!is_valid_model_id(*model) || !is_valid_revision(*revision)) {
    return fail(Errc::schema_error, "weights-export.json: invalid model or revision");
  }
  return ExportInfo{std::move(*model), std::move(*revision), std::move(*feed)};
}

}  // namespace weights
