#include "cli/exit_codes.hpp"

#include "core/api/api.hpp"

namespace weights::cli {

Exit exit_code_for(Errc code) {
  if (api::is_verification_error(code)) return Exit::verification;
  switch (code) {
    case Errc::invalid_argument:
      return Exit::usage;
    case Errc::parse_error:
    case Errc::schema_error:
    case Errc::path_policy:
    case Errc::too_large:
      return Exit::data;
    case Errc::not_found:
      return Exit::not_found;
    case Errc::already_exists:
      return Exit::cant_create;
    case Errc::io_error:
    case Errc::database_error:
    case Errc::no_space:
      return Exit::io;
    case Errc::unsupported:
      return Exit::failure;
    case Errc::internal:
      return Exit::internal;
    case Errc::unavailable:
      return Exit::unavailable;
    case Errc::permission_denied:
      return Exit::no_permission;
    case Errc::license_not_accepted:
      return Exit::license;
    default:  // api::is_verification_error, above
      break;
  }
  return Exit::failure;
}

}  // namespace weights::cli
