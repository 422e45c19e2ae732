#include "daemon/engine/fetch_request.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "daemon/engine/peer_dialer.hpp"
#include "daemon/engine/startup_loader.hpp"
#include "daemon/log.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

std::string release_id(const ReleaseManifest& m) {
  return fmt::format("{}@{}", m.model, m.revision);
}

std::vector<std::string> manifest_paths(const ReleaseManifest& m) {
  std::vector<std::string> paths;
  for (const auto& f : m.files) paths.push_back(f.path);
  return paths;
}

Status check_peers(const std::vector<std::string>& peers) {
  for (const auto& p : peers) {
    if (auto ep = parse_peer(p); !ep) return tl::unexpected(ep.error());
  }
  return {};
}

Status check_includes(const ReleaseManifest& m, const std::vector<std::string>& include) {
  const auto paths = manifest_paths(m);
  for (const auto& g : include) {
    const std::vector<std::string> one{g};
    const auto sel = select_files(paths, one);
    if (std::find(sel.begin(), sel.end(), true) == sel.end()) {
      return fail(Errc::invalid_argument,
                  fmt::format("--include '{}' matches no file of {}@{}", g, m.model, m.revision),
                  "patterns are shell globs over the release's paths; '*' also matches '/'");
    }
  }
  return {};
}

FetchPath fetch_path(const Release* existing, bool acquiring) {
  if (!existing) return FetchPath::start;
  if (valid(existing->handle)) return FetchPath::widen;
  if (acquiring) return FetchPath::join;
  return FetchPath::restart;
}

bool fetch_would_start(const Release* existing) {
  return !existing || (!valid(existing->handle) && existing->intake == Intake::ready);
}

bool awaiting_torrents(const Release& r) {
  return r.intake == Intake::ready && !valid(r.handle) && !r.error &&
         r.rec.origin == Origin::fetched;
}

std::vector<std::string> widened_include(const std::vector<std::string>& current,
                                         const std::vector<std::string>& requested) {
  if (requested.empty()) return {};
  std::vector<std::string> wider = current;
  merge_unique(wider, requested);
  return wider;
}

std::optional<Selection> widen_selection(const Release& r, const FetchRequest& request) {
  if (r.rec.include.empty()) return std::nullopt;
  Selection s;
  s.include = widened_include(r.rec.include, request.include);
  s.wanted = select_files(manifest_paths(r.manifest), s.include);
  return s;
}

void apply_selection(Release& r, Selection selection) {
  r.rec.include = std::move(selection.include);
  for (std::size_t i = 0; i < r.files.size() && i < selection.wanted.size(); ++i) {
    r.files[i].wanted = selection.wanted[i];
  }
}

void merge_unique(std::vector<std::string>& into, const std::vector<std::string>& more) {
  for (const auto& x : more) {
    if (std::find(into.begin(), into.end(), x) == into.end()) into.push_back(x);
  }
}

void note_request(ReleaseRecord& rec, Requester by, std::int64_t now_ticks) {
  if (by == Requester::user) rec.last_requested = now_ticks;
}

ReleaseRecord fetch_record(const ReleaseManifest& m, const std::string& manifest_bytes,
                           const std::string& feed, const FetchRequest& request,
                           std::int64_t now_ticks) {
  ReleaseRecord rec;
  rec.id = release_id(m);
  rec.feed = feed;
  rec.model = m.model;
  rec.revision = m.revision;
  rec.release_seq = m.release_seq;
  rec.v2_infohash = m.torrent.v2_infohash;
  rec.manifest = manifest_bytes;
  rec.origin = Origin::fetched;
  rec.include = request.include;
  rec.peers = request.peers;
  rec.added_at = now_ticks;
  note_request(rec, request.requested_by, now_ticks);
  return rec;
}

Result<Release*> FetchIntake::fetch(const FetchRequest& req) {
  if (host_.shutting_down()) return fail(Errc::unavailable, "weightsd is shutting down");
  if (auto st = check_peers(req.peers); !st) return tl::unexpected(st.error());
  auto resolved = host_.resolve(req);
  if (!resolved) return tl::unexpected(resolved.error());
  const auto& m = resolved->manifest;
  if (auto st = check_includes(m, req.include); !st) return tl::unexpected(st.error());
  const std::string id = release_id(m);
  Release* known = registry_.find(id);
  if (known) {
    if (auto st = not_loading(*known); !st) return tl::unexpected(st.error());
  }
  switch (fetch_path(known, known && host_.acquiring(*known))) {
    case FetchPath::widen:
      if (auto st = again(*known, req); !st) return tl::unexpected(st.error());
      return known;
    case FetchPath::join:
      if (auto st = join(*known, req); !st) return tl::unexpected(st.error());
      return known;
    case FetchPath::restart:
      registry_.erase(id);
      break;
    case FetchPath::start:
      break;
  }

  auto owned = registry_.make(
      fetch_record(m, resolved->bytes, resolved->feed.name, req, host_.now_ticks()), m);
  // Room under the disk budget and on the filesystem before any byte is requested.
  if (auto st = host_.make_room(*owned, wanted_mask(owned->files)); !st) {
    return tl::unexpected(st.error());
  }
  owned->hf_cache = req.hf_cache;
  Release& r = registry_.add(std::move(owned));
  // Nothing is persisted until the torrents are here (or could not be had).
  if (auto st = host_.acquire(r, resolved->feed, m); !st) {
    r.error = st.error();
    registry_.persist(r);
    return tl::unexpected(st.error());
  }
  log::info("{}: resolving: fetching its torrents from feed {}", id, r.rec.feed);
  return &r;
}

void FetchIntake::torrents_arrived(const std::string& id, std::uint64_t generation,
                                   const std::string& v2_infohash, Status got) {
  Release* r = registry_.find(id);
  if (!r || r->generation != generation || host_.shutting_down()) {
    const bool used = std::any_of(registry_.begin(), registry_.end(), [&](const auto& e) {
      return e.second->rec.v2_infohash == v2_infohash;
    });
    if (got && !used) host_.discard_torrents(v2_infohash);
    if (!host_.shutting_down())
      log::info("{}: removed while its torrents were fetched: dropped", id);
    return;
  }
  if (!got) {
    log::error("{}: {}", id, got.error().message);
    r->error = got.error();
    registry_.persist(*r);
    return;
  }
  if (auto st = host_.add(*r); !st) {
    r->error = st.error();
    registry_.persist(*r);
    return;
  }
  log::info("{}: fetching from feed {} ({} files, {} bytes)", id, r->rec.feed,
            r->manifest.files.size(), r->manifest.total_length);
  registry_.persist(*r);
  host_.check_complete(*r);
}

void FetchIntake::resume_resolutions() {
  for (auto& [id, r] : registry_) {
    if (!awaiting_torrents(*r)) continue;
    auto fs = host_.feed(r->rec.feed);
    Status st = fs ? host_.acquire(*r, *fs, r->manifest) : Status(tl::unexpected(fs.error()));
    if (!st) {
      r->error = st.error();
      registry_.persist(*r);
      continue;
    }
    log::info("{}: resolving: fetching its torrents from feed {}", id, r->rec.feed);
  }
}

// A release in the session: widen its selection (an empty include means every file), add its
// peers and HF cache request; a complete one answers at once.
Status FetchIntake::again(Release& r, const FetchRequest& req) {
  note_request(r.rec, req.requested_by, host_.now_ticks());
  if (auto sel = widen_selection(r, req)) {
    if (auto st = host_.make_room(r, sel->wanted); !st) return st;
    apply_selection(r, std::move(*sel));
    host_.selection_changed(r);
  }
  if (auto st = host_.add_peers(r, req.peers); !st) return st;
  if (req.hf_cache) {
    r.hf_cache = req.hf_cache;
    r.hf_snapshot.clear();
  }
  registry_.persist(r);
  host_.check_complete(r);
  return {};
}

// A release whose torrents are still being fetched: the same, into its record only (the
// session takes it when they are here).
Status FetchIntake::join(Release& r, const FetchRequest& req) {
  note_request(r.rec, req.requested_by, host_.now_ticks());
  if (auto sel = widen_selection(r, req)) {
    if (auto st = host_.make_room(r, sel->wanted); !st) return st;
    apply_selection(r, std::move(*sel));
  }
  merge_unique(r.rec.peers, req.peers);
  if (req.hf_cache) r.hf_cache = req.hf_cache;
  return {};
}

}  // namespace weights::daemon
