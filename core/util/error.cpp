#include "core/util/error.hpp"

namespace weights {

std::string_view code_name(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_argument:
      return "invalid_argument";
    case Errc::parse_error:
      return "parse_error";
    case Errc::schema_error:
      return "schema_error";
    case Errc::io_error:
      return "io_error";
    case Errc::not_found:
      return "not_found";
    case Errc::already_exists:
      return "already_exists";
    case Errc::too_large:
      return "too_large";
    case Errc::bad_signature:
      return "bad_signature";
    case Errc::threshold_not_met:
      return "threshold_not_met";
    case Errc::expired:
      return "expired";
    case Errc::rollback:
      return "rollback";
    case Errc::version_mismatch:
      return "version_mismatch";
    case Errc::hash_mismatch:
      return "hash_mismatch";
    case Errc::length_mismatch:
      return "length_mismatch";
    case Errc::path_policy:
      return "path_policy";
    case Errc::wrong_target:
      return "wrong_target";
    case Errc::unsupported:
      return "unsupported";
    case Errc::database_error:
      return "database_error";
    case Errc::internal:
      return "internal";
    case Errc::unavailable:
      return "unavailable";
    case Errc::no_space:
      return "no_space";
    case Errc::permission_denied:
      return "permission_denied";
    case Errc::license_not_accepted:
      return "license_not_accepted";
  }
  return "internal";
}

std::string Error::to_string() const {
  if (hint.empty()) return message;
  return message + " (hint: " + hint + ")";
}

Error with_context(Error e, std::string_view context) {
  e.message = std::string(context) + ": " + e.message;
  return e;
}

}  // namespace weights
