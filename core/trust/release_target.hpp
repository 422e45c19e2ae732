#pragma once
// Binds a release manifest to the signed targets entry that carries it: the TUF client only
// proves the bytes are the ones a threshold of targets keys signed; this checks that what they
// say matches where they were listed (model A's manifest cannot be served as model B's).
#include <string>
#include <string_view>

#include "core/trust/release_manifest.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"
#include "core/util/path_policy.hpp"

namespace weights {

// Target path of a release's manifest and torrents (docs/manifest-format.md §1).
std::string release_target_path(std::string_view model, std::string_view revision);
std::string torrent_target_path(std::string_view model, std::string_view revision);
std::string torrent_v1_target_path(std::string_view model, std::string_view revision);

// Parses `bytes` as a release manifest and checks that its model, revision and release_seq
// equal the target entry's custom fields and that the entry's path is the canonical one for
// them, then that its file paths pass `policy` (the manifest parser already applied the
// standard one). Errors: those of parse_release_manifest, Errc::wrong_target naming both sides,
// or Errc::path_policy.
Result<ReleaseManifest> validate_release_target(const tuf::TargetInfo& target,
                                                std::string_view bytes,
                                                PathPolicy policy = PathPolicy::standard);

// The manifest's file paths under `policy` (PathPolicy::standard always passes for a parsed
// manifest). Errc::path_policy naming the release and the path.
Status check_release_paths(const ReleaseManifest& manifest, PathPolicy policy);

}  // namespace weights
