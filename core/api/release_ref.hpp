#pragma once
// The one parser of "name@revision" (weightsctl arguments, fetch requests, follow plans): the
// name is a model id ("org/name") or an alias, the revision a commit or tag. The split is at the
// first '@': model ids and aliases never contain one, a revision may.
#include <optional>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace weights::api {

struct ReleaseRef {
  std::string name;
  std::optional<std::string> revision;

  // "org/name", "alias", "org/name@rev". An empty name, or an '@' with nothing after it, is
  // invalid_argument.
  static Result<ReleaseRef> parse(std::string_view text);
  // "name@revision", or the name alone without a revision.
  std::string id() const;
};

}  // namespace weights::api
