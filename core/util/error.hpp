#pragma once
// Error type shared by all of weights_core: low-level code returns Result<T>; the top level of
// each program maps an Error to an exit code and a one-line message with a hint.
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace weights {

// Stable machine-readable codes; their names (code_name) appear in the control API and in
// `--json` output, so never renumber or rename them.
enum class Errc {
  invalid_argument,   // a caller passed something unusable (usage error)
  parse_error,        // malformed JSON/base64/hex/manifest/torrent
  schema_error,       // well-formed but missing/wrong-typed/out-of-range fields
  io_error,           // filesystem or OS failure
  not_found,          // a file, feed, release or key does not exist
  already_exists,     // refusing to overwrite
  too_large,          // input exceeds a size or depth limit
  bad_signature,      // a signature did not verify or a signing key is unusable
  threshold_not_met,  // fewer distinct valid keys than the role's threshold
  expired,            // metadata past its expiry at the fixed `now`
  rollback,           // a version went backwards (or a target/release_seq decreased)
  version_mismatch,   // a version differs from what the referring metadata pinned
  hash_mismatch,      // bytes differ from the pinned SHA-256
  length_mismatch,    // bytes longer/shorter than the pinned length
  path_policy,        // a path violates the path policy
  wrong_target,       // content does not belong where it was found (model A served as model B)
  unsupported,        // a feature or format we do not implement
  database_error,     // SQLite failure
  internal,           // a bug: should never happen
  unavailable,        // a service (weightsd, a feed) could not be reached or is busy
  no_space,           // a disk budget or the filesystem has no room for it
  permission_denied,  // the caller may not have this done for it (docs/threat-model.md)
  // The release's licence or gated repository needs the user's acceptance first.
  license_not_accepted,
};
inline constexpr Errc errc_last = Errc::license_not_accepted;  // for loops over every code

std::string_view code_name(Errc code) noexcept;

struct Error {
  Errc code = Errc::internal;
  std::string message;  // one line, says what happened and to what
  std::string hint;     // optional: what the user can do about it

  // "message (hint)" style rendering for logs and CLI output.
  std::string to_string() const;
};

template <class T>
using Result = tl::expected<T, Error>;
using Status = tl::expected<void, Error>;

inline tl::unexpected<Error> fail(Errc code, std::string message, std::string hint = {}) {
  return tl::unexpected<Error>(Error{code, std::move(message), std::move(hint)});
}

// Prefixes an error's message with context ("root v3: " + message), keeping code and hint.
Error with_context(Error e, std::string_view context);

}  // namespace weights
