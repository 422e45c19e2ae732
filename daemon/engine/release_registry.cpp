#include "daemon/engine/release_registry.hpp"

#include <filesystem>
#include <string_view>
#include <unordered_set>

#include <fmt/format.h>

#include "daemon/log.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

ReleaseState state_of(const Release& r) {
  ReleaseStateInput in;
  in.loading = r.intake == Intake::loading;
  in.has_torrent = valid(r.handle);
  in.has_error = r.error.has_value();
  in.preparing = r.intake == Intake::preparing;
  in.upstream = r.upstream_phase;
  in.verifying = r.verify_outstanding > 0;
  in.all_wanted_verified = all_wanted_verified(r.files);
  in.disk_full = r.disk_full;
  in.degraded = r.degraded;
  if (r.status) {
    in.torrent_paused = r.status->paused;
    in.torrent_checking = r.status->checking();
  }
  in.any_hashing = any_hashing(r.files);
  return release_state(in);
}

Errc errc_from(const std::string& name) {
  for (int c = 0; c <= static_cast<int>(errc_last); ++c) {
    if (code_name(static_cast<Errc>(c)) == name) return static_cast<Errc>(c);
  }
  return Errc::internal;
}

StoredRelease stored_of(const Release& r, const std::vector<bool>& wanted, bool held) {
  StoredRelease s;
  s.id = r.rec.id;
  s.pinned = r.rec.pinned;
  s.held = held;
  s.upstream_refused = r.hub && r.hub->answer == HubAnswer::refused;
  s.last_requested = r.rec.last_requested != 0 ? r.rec.last_requested : r.rec.added_at;
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    if (wanted[i]) s.content.push_back({r.manifest.files[i].sha256, r.manifest.files[i].length});
  }
  return s;
}

Release* ReleaseRegistry::find(const std::string& id) {
  const auto it = releases_.find(id);
  return it == releases_.end() ? nullptr : it->second.get();
}

const Release* ReleaseRegistry::find(const std::string& id) const {
  const auto it = releases_.find(id);
  return it == releases_.end() ? nullptr : it->second.get();
}

Result<Release*> ReleaseRegistry::require(const std::string& id) {
  if (auto* r = find(id)) return r;
  Release* best = nullptr;
  for (auto& [rid, r] : releases_) {
    if (r->rec.model == id && (!best || r->rec.release_seq > best->rec.release_seq)) {
      best = r.get();
    }
  }
  if (best) return best;
  return fail(Errc::not_found, fmt::format("no release '{}'", id),
              "ids look like org/name@revision; see GET /v1/releases (weightsctl list)");
}

std::unique_ptr<Release> ReleaseRegistry::make(ReleaseRecord rec, ReleaseManifest manifest) {
  auto r = std::make_unique<Release>();
  r->rec = std::move(rec);
  r->manifest = std::move(manifest);
  r->generation = next_generation_++;
  const auto n = r->manifest.files.size();
  std::vector<std::string> paths;
  for (const auto& f : r->manifest.files) paths.push_back(f.path);
  const auto wanted = select_files(paths, r->rec.include);
  r->files.assign(n, FileEntry{});
  for (std::size_t i = 0; i < n; ++i) {
    r->files[i].length = r->manifest.files[i].length;
    r->files[i].wanted = wanted[i];
  }
  const std::set<std::string> verified(r->rec.verified.begin(), r->rec.verified.end());
  for (std::size_t i = 0; i < n; ++i) {
    if (verified.count(paths[i])) r->files[i].verified = true;
  }
  if (!r->rec.error_code.empty()) {
    r->error = Error{errc_from(r->rec.error_code), r->rec.error_message, r->rec.error_hint};
  }
  return r;
}

Release& ReleaseRegistry::add(std::unique_ptr<Release> r) {
  r->generation = next_generation_++;
  Release& out = *r;
  releases_[out.rec.id] = std::move(r);
  return out;
}

void ReleaseRegistry::erase(const std::string& id) {
  releases_.erase(id);
}

Status ReleaseRegistry::remove(const std::string& id) {
  if (auto st = store_.remove(id); !st) return st;
  releases_.erase(id);
  return {};
}

void ReleaseRegistry::persist(Release& r) {
  if (r.intake != Intake::loading) r.rec.state = std::string(to_string(state_of(r)));
  r.rec.verified.clear();
  // While the v1 companion downloads, verified files are not in the store yet (check_complete
  // adopts them after a final pass): after a crash they are hashed again instead.
  for (std::size_t i = 0; i < r.manifest.files.size() && !r.v1_active() && !r.staging_pass; ++i) {
    if (r.files[i].verified) r.rec.verified.push_back(r.manifest.files[i].path);
  }
  r.rec.error_code = r.error ? std::string(code_name(r.error->code)) : "";
  r.rec.error_message = r.error ? r.error->message : "";
  r.rec.error_hint = r.error ? r.error->hint : "";
  // A release still coming from its upstream has no manifest yet, so nothing to restart from:
  // it gets its row once it is taken in (daemon/engine/pinned_fetch.hpp).
  if (r.rec.origin == Origin::upstream && r.rec.manifest.empty()) return;
  if (auto st = store_.put(r.rec); !st) log::error("{}", st.error().message);
}

void ReleaseRegistry::remove_files(const std::string& id, const Store& store) const {
  const Release* r = find(id);
  if (!r) return;
  for (const auto& sha : unshared_content(id)) (void)store.remove_store_entry(sha);
  // A release still coming from its upstream has no torrent (nor v2 info-hash) yet: its staging
  // is the upstream fetch's to clean, and staging_dir("") would be every release's.
  if (torrent_shared(id) || r->rec.v2_infohash.empty()) return;
  const auto& v2 = r->rec.v2_infohash;
  std::error_code ec;
  std::filesystem::remove_all(store.staging_dir(v2), ec);
  for (const auto& f : {store.resume_file(v2), store.torrent_file(v2), store.torrent_v1_file(v2),
                        store.git_objects_file(v2)}) {
    std::filesystem::remove(f, ec);
  }
}

std::vector<std::string> ReleaseRegistry::unshared_content(const std::string& id) const {
  const Release* r = find(id);
  if (!r) return {};
  std::set<std::string> used;
  for (const auto& [oid, other] : releases_) {
    if (oid == id) continue;
    for (std::size_t i = 0; i < other->manifest.files.size(); ++i) {
      if (other->files[i].verified) used.insert(other->manifest.files[i].sha256);
    }
  }
  std::vector<std::string> out;
  for (std::size_t i = 0; i < r->manifest.files.size(); ++i) {
    const auto& sha = r->manifest.files[i].sha256;
    if (r->files[i].verified && !used.count(sha)) out.push_back(sha);
  }
  return out;
}

bool ReleaseRegistry::torrent_shared(const std::string& id) const {
  const Release* r = find(id);
  if (!r) return false;
  for (const auto& [oid, other] : releases_) {
    if (oid != id && other->rec.v2_infohash == r->rec.v2_infohash) return true;
  }
  return false;
}

std::vector<StoredRelease> ReleaseRegistry::stored_releases(
    const std::set<std::string>& held) const {
  std::vector<StoredRelease> existing;
  for (const auto& [id, r] : releases_) {
    auto s = stored_of(*r, wanted_mask(r->files), held.count(id) > 0);
    // Releases still downloading or hashing are a request in progress, unless only a follow
    // asked and no longer holds them (fetch_protected).
    const auto st = state_of(*r);
    s.protect = st != ReleaseState::complete && st != ReleaseState::failed &&
                fetch_protected({r->rec.last_requested != 0 ? FetchRequester::user
                                                            : FetchRequester::follow_only,
                                 s.held});
    existing.push_back(std::move(s));
  }
  return existing;
}

// reserved_bytes() over every release's stored_of(), without copying ids and hashes: GET
// /v1/status, STATUS= (every second) and the policy tick ask for it.
std::uint64_t ReleaseRegistry::reserved() const {
  std::unordered_set<std::string_view> seen;
  std::uint64_t total = 0;
  for (const auto& [id, r] : releases_) {
    for (std::size_t i = 0; i < r->manifest.files.size(); ++i) {
      const auto& f = r->manifest.files[i];
      if (r->files[i].wanted && seen.insert(f.sha256).second) total += f.length;
    }
  }
  return total;
}

RoomCounts ReleaseRegistry::room_counts() const {
  RoomCounts c;
  for (const auto& [id, r] : releases_) {
    const auto st = state_of(*r);
    c.active += st != ReleaseState::complete && st != ReleaseState::failed;
    c.pinned += r->rec.pinned;
  }
  return c;
}

Result<std::vector<std::string>> ReleaseRegistry::scrub_ids(const std::optional<std::string>& id) {
  std::vector<std::string> ids;
  if (id) {
    auto found = require(*id);
    if (!found) return tl::unexpected(found.error());
    if (const auto st = state_of(**found); st != ReleaseState::complete) {
      return fail(Errc::invalid_argument,
                  fmt::format("{} is {}; only complete releases are scrubbed", (*found)->rec.id,
                              to_string(st)));
    }
    ids.push_back((*found)->rec.id);
    return ids;
  }
  for (const auto& [rid, r] : releases_) {
    if (state_of(*r) == ReleaseState::complete) ids.push_back(rid);
  }
  return ids;
}

}  // namespace weights::daemon
