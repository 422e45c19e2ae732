#include "daemon/engine/seed_intake.hpp"

#include <vector>

#include <fmt/format.h>

#include "daemon/engine/startup_loader.hpp"
#include "daemon/log.hpp"

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

Result<SeedIntake::Target> SeedIntake::target(const SeedRequest& req) {
  auto fs = host_.feed(req.feed, req.model);
  if (!fs) return tl::unexpected(fs.error());
  auto target = seed_target(*fs, req);
  if (!target) return tl::unexpected(target.error());
  auto m = host_.manifest(*fs, *target);
  if (!m) return tl::unexpected(m.error());
  return Target{std::move(*fs), std::move(m->first), std::move(m->second)};
}

Result<std::vector<std::string>> SeedIntake::paths(const SeedRequest& req) {
  auto t = target(req);
  if (!t) return tl::unexpected(t.error());
  std::vector<std::string> out;
  for (const auto& f : t->manifest.files) out.push_back(f.path);
  return out;
}

Result<Release*> SeedIntake::seed(const SeedRequest& req) {
  if (host_.shutting_down()) return fail(Errc::unavailable, "weightsd is shutting down");
  auto t = target(req);
  if (!t) return tl::unexpected(t.error());
  const std::string id = fmt::format("{}@{}", req.model, req.revision);
  if (Release* known = registry_.find(id)) {
    if (auto st = not_loading(*known); !st) return tl::unexpected(st.error());
    switch (seed_path(known)) {
      case SeedPath::answer:
        return known;
      case SeedPath::refused:
        return tl::unexpected(seed_refused(id));
      case SeedPath::start:
        registry_.erase(id);  // a failed earlier attempt
        break;
    }
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(req.dir, ec)) {
    return fail(Errc::not_found, fmt::format("{} is not a directory", req.dir.string()));
  }

  Release& r = registry_.add(
      registry_.make(seed_record(req, t->manifest, t->bytes, host_.now_ticks()), t->manifest));
  r.intake = Intake::preparing;
  registry_.persist(r);
  // First the torrents (from the feed, on the resolver's workers), then the files.
  if (auto st = host_.acquire(r, t->feed, t->manifest,
                              [this, id, gen = r.generation, dir = req.dir](Status got) {
                                torrents_here(id, gen, dir, std::move(got));
                              });
      !st) {
    r.intake = Intake::ready;
    r.error = st.error();
    registry_.persist(r);
    return tl::unexpected(st.error());
  }
  return &r;
}

// The torrents are here (or not): take the publisher's files into staging on the hashing pool,
// by descriptor (store.hpp take_files: no link followed, no FIFO opened, foreign inodes copied).
void SeedIntake::torrents_here(const std::string& id, std::uint64_t gen,
                               const std::filesystem::path& dir, Status got) {
  Release* r = registry_.find(id);
  if (!r || r->generation != gen || host_.shutting_down()) return;
  if (!got) return failed(*r, got.error());
  host_.on_pool(
      [manifest = r->manifest, dir,
       staging = store_.staging_dir(r->rec.v2_infohash) / r->rec.revision,
       threads = hashing_threads_] {
        return take_publisher_files(dir, manifest, staging, threads);
      },
      [this, id, gen](Status taken) { files_taken(id, gen, std::move(taken)); });
}

// Every byte matched: into the store, then into the session as a seed.
void SeedIntake::files_taken(const std::string& id, std::uint64_t gen, Status taken) {
  Release* r = registry_.find(id);
  if (!r || r->generation != gen) return;
  if (!taken) return failed(*r, taken.error());
  r->intake = Intake::ready;
  if (auto st = adopt_taken(*r, store_); !st) {
    r->error = st.error();
    registry_.persist(*r);
    return;
  }
  if (auto added = host_.add_seed(*r); !added) {
    r->error = added.error();
    registry_.persist(*r);
    return;
  }
  log::info("{}: seeding from {}", id, r->rec.feed);
  registry_.persist(*r);
  host_.check_complete(*r);
}

void SeedIntake::failed(Release& r, const Error& e) {
  r.intake = Intake::ready;
  r.error = e;
  log::error("seed {}: {}", r.rec.id, e.message);
  registry_.persist(r);
}

}  // namespace weights::daemon
