#include "daemon/engine/seed_intake.hpp"

#include <vector>

#include <fmt/format.h>

#include "daemon/engine/release_registry.hpp"

namespace weights::daemon {

Result<tuf::TargetInfo> seed_target(const FeedState& feed, const SeedRequest& request) {
  const tuf::TargetInfo* target = nullptr;
  for (const auto& t : feed.trusted_targets) {
    if (t.kind == tuf::TargetKind::release && t.model == request.model &&
        t.revision == request.revision) {
      target = &t;
    }
  }
  if (!target) {
    return fail(Errc::not_found,
                fmt::format("{}@{} is not in feed {}'s trusted targets", request.model,
                            request.revision, request.feed),
                "publish the release, then refresh the feed (weightsctl feed refresh)");
  }
  return *target;
}

SeedPath seed_path(const Release* existing) {
  if (!existing) return SeedPath::start;
  if (state_of(*existing) == ReleaseState::complete || existing->intake == Intake::preparing) {
    return SeedPath::answer;
  }
  if (valid(existing->handle)) return SeedPath::refused;
  return SeedPath::start;
}

Error seed_refused(const std::string& id) {
  return Error{Errc::already_exists, fmt::format("{} is being fetched", id),
               "remove it first (weightsctl remove), then seed"};
}

ReleaseRecord seed_record(const SeedRequest& request, const ReleaseManifest& m,
                          const std::string& manifest_bytes, std::int64_t now_ticks) {
  ReleaseRecord rec;
  rec.id = fmt::format("{}@{}", request.model, request.revision);
  rec.feed = request.feed;
  rec.model = request.model;
  rec.revision = request.revision;
  rec.release_seq = m.release_seq;
  rec.v2_infohash = m.torrent.v2_infohash;
  rec.manifest = manifest_bytes;
  rec.origin = Origin::seeded;
  rec.added_at = now_ticks;
  rec.last_requested = now_ticks;
  return rec;
}

Status take_publisher_files(const std::filesystem::path& dir, const ReleaseManifest& m,
                            const std::filesystem::path& staging, unsigned threads) {
  std::vector<SourceFile> sources;
  for (const auto& f : m.files) sources.push_back(SourceFile{f.path, f.length, f.sha256});
  return take_files(dir, sources, staging, threads);
}

Status adopt_taken(Release& r, const Store& store) {
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    const auto& f = r.manifest.files[i];
    Status ok =
        f.length == 0
            ? store.adopt_empty()
            : store.adopt(store.staging_file(r.rec.v2_infohash, r.rec.revision, f.path), f.sha256);
    if (!ok) return ok;
    r.files[i].verified = true;
  }
  return {};
}

}  // namespace weights::daemon
