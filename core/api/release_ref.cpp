#include "core/api/release_ref.hpp"

#include <fmt/format.h>

namespace weights::api {

Result<ReleaseRef> ReleaseRef::parse(std::string_view text) {
  ReleaseRef ref;
  const auto at = text.find('@');
  ref.name = std::string(text.substr(0, at));
  if (at != std::string_view::npos) ref.revision = std::string(text.substr(at + 1));
  if (ref.name.empty() || (ref.revision && ref.revision->empty())) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not NAME or NAME@REVISION", text),
                "e.g. gemma-4, google/gemma-4-12b-it or google/gemma-4-12b-it@0123abcd");
  }
  return ref;
}

std::string ReleaseRef::id() const {
  return revision ? name + "@" + *revision : name;
}

}  // namespace weights::api
