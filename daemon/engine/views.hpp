#pragma once
// What a complete release looks like outside the store: its view (views/<model>/<revision>,
// hard links to the store), a Hugging Face cache snapshot, and an air-gap export bundle. Plain
// data in (the manifest, the per-file record, the store), no Release and no session.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/api/types.hpp"
#include "core/db/state_store.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/util/error.hpp"
#include "daemon/engine/release_state.hpp"
#include "daemon/release_db.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

// The view of a release whose wanted files are all verified: those files, in manifest order.
// Nothing while a wanted file is not verified.
std::optional<std::vector<ViewFile>> complete_view(const ReleaseManifest& manifest,
                                                   const std::vector<FileEntry>& files);

// True if the release's recorded view can be kept as it is: the record says complete, and
// rec.view_path is the view dir, which holds exactly `view` (Store::view_is_current). At start-up
// every complete release passes here; rebuilding, persisting and saving cost ~3 fsyncs each.
bool view_intact(const Store& store, const ReleaseRecord& rec, const std::vector<ViewFile>& view);

// Builds the view (Store::build_view) and records its dir in rec.view_path. Returns whether
// the recorded path changed.
Result<bool> publish_view(const Store& store, ReleaseRecord& rec,
                          const std::vector<ViewFile>& view);

// The release's wanted files as a Hugging Face cache snapshot under target.dir (hard links to
// the store; Store::materialise_hf_cache), moving the refs hf_cache_refs allows: none unless
// every file of the release is wanted. Returns the snapshot directory.
Result<std::filesystem::path> make_hf_snapshot(const Store& store, const HfCacheTarget& target,
                                               const ReleaseManifest& manifest,
                                               std::string_view revision,
                                               const std::vector<FileEntry>& files);

// The repository a Hugging Face cache snapshot is filed under: the upstream hub repo when the
// manifest names a valid one, else the release's model id.
std::string hf_cache_repo(const ReleaseManifest& manifest);
// The wanted files, with the hub's blob names.
std::vector<HfCacheFile> hf_cache_files(const ReleaseManifest& manifest,
                                        const std::vector<FileEntry>& files);

// Refused unless every file of the release (not only the wanted ones) is verified.
Status check_exportable(const ReleaseRecord& rec, const ReleaseManifest& manifest,
                        const std::vector<FileEntry>& files);

// Writes the bundle into `dir` (absent or empty): the feed's trusted metadata as verified (root
// chain when reachable, timestamp, snapshot, targets), the release's manifest and torrents as
// targets (each checked against its pinned hash), the files under files/ (hard links to the
// store when possible) and weights-export.json. Everything below `dir` is created by
// descriptor: a link planted there is refused, not followed. Returns what was exported.
Result<api::ExportResult> export_bundle(const FeedState& feed, const ReleaseRecord& rec,
                                        const ReleaseManifest& manifest, const Store& store,
                                        const std::filesystem::path& dir);

}  // namespace weights::daemon
