#pragma once
// weightsctl exit codes (sysexits-style; documented in `weightsctl --help` and docs/).
#include "core/util/error.hpp"

namespace weights::cli {

enum class Exit : int {
  ok = 0,
  failure = 1,         // generic failure
  usage = 64,          // bad command line
  data = 65,           // malformed input (manifest, metadata, JSON)
  not_found = 66,      // file, feed, release or key does not exist
  unavailable = 69,    // daemon or feed unreachable
  internal = 70,       // a bug
  cant_create = 73,    // refusing to overwrite / cannot create output
  io = 74,             // I/O error
  verification = 75,   // a failed trust check (api::is_verification_error)
  license = 76,        // the release's licence must be accepted first (--accept-license)
  no_permission = 77,  // weightsd refused to act on a path for this user
};

Exit exit_code_for(Errc code);

inline constexpr const char* exit_codes_help =
    "Exit codes: 0 ok, 1 failure, 64 usage error, 65 malformed input, 66 not found,\n"
    "69 daemon or feed unreachable, 70 internal error, 73 cannot create output,\n"
    "74 I/O error, 75 verification failed (signature, threshold, hash, rollback, expiry),\n"
    "76 licence not accepted (fetch again with --accept-license),\n"
    "77 permission denied (weightsd would not use that path for you).";

}  // namespace weights::cli
