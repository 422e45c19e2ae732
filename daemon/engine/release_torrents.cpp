#include "daemon/engine/release_torrents.hpp"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "core/util/atomic_file.hpp"
#include "daemon/engine/file_progress.hpp"
#include "daemon/engine/peer_dialer.hpp"
#include "daemon/engine/resume_policy.hpp"
#include "daemon/log.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

ReleaseTorrents::ReleaseTorrents(TorrentBackend& backend, Lookup find, AddPath add)
    : backend_(backend), find_(std::move(find)), add_(std::move(add)) {}

Status ReleaseTorrents::add(Release& r, AddMode mode, AddHow how) {
  const auto& v2 = r.rec.v2_infohash;
  auto loaded = load_hybrid(r, add_.store.torrent_file(v2));
  if (!loaded) return tl::unexpected(loaded.error());
  auto t = std::move(*loaded);
  std::optional<ResumeData> resume;
  r.resumed = false;
  r.resume.current = false;
  if (mode == AddMode::normal) {
    if (auto buf = read_file(add_.store.resume_file(v2), max_torrent_bytes * 4); buf) {
      if (auto rd = backend_.read_resume(*t, *buf)) {
        r.resume_have = rd->have;
        r.downloaded_base = rd->downloaded;
        r.uploaded_base = rd->uploaded;
        r.resumed = true;
        resume = std::move(*rd);
      } else {
        log::warning("{}: ignoring resume data ({})", r.rec.id, rd.error().message);
      }
    }
    // Verified by us, but resume data is missing (e.g. killed before the first save).
    const bool all =
        std::all_of(r.files.begin(), r.files.end(), [](const FileEntry& f) { return f.verified; });
    if (!resume && all) mode = AddMode::seed;
    // A partial download: recover what is on disk first (run_disk_scan). At start-up the scan
    // runs on the hashing pool and the add continues when it is done; the release stays
    // `loading` meanwhile.
    if (mode == AddMode::normal && !all_wanted_verified(r.files) && t->has_v1) {
      auto d = disk_scan_of(r, *t, resume);
      if (how == AddHow::sync) {
        add_.scan.run(d);
        resume = apply_disk_scan(r, d);
      } else {
        auto job = std::make_shared<DiskScan>(std::move(d));
        add_.pool.run(
            [job, run = add_.scan.run] {
              run(*job);
              return job;
            },
            [this, id = r.rec.id, gen = r.generation, t](auto done) {
              Release* rr = find_(id);
              if (!rr || rr->generation != gen || add_.shutting_down()) return;
              auto scanned = apply_disk_scan(*rr, *done);
              if (auto st = submit(*rr, AddMode::normal, AddHow::async, t, std::move(scanned));
                  !st) {
                add_.failed(*rr, st.error());
              }
            });
        return {};
      }
    }
  }
  return submit(r, mode, how, std::move(t), std::move(resume));
}

// BEP 16 for a release this node published, when configured: each downloader is offered only
// pieces the others do not hold yet, so the origin uploads about one copy and the fetchers
// trade the rest (bench/fanout: ~1.0x the release for 2-8 fetchers instead of 1.7-3x). Set when
// the hybrid is added: a peer that was first sent the full bitfield keeps requesting pieces a
// super-seeder does not serve. v1-only clients on the companion get plain seeding. Off by
// default: with libtorrent 2.0.8 a lone downloader gets nothing from a super-seeding hybrid and
// falls back to the companion after v1_stall_with_peers.
Status ReleaseTorrents::submit(Release& r, AddMode mode, AddHow how,
                               std::shared_ptr<const TorrentMeta> t,
                               std::optional<ResumeData> resume) {
  HybridAdd how_added;
  how_added.save_path = add_.store.staging_dir(r.rec.v2_infohash);
  how_added.as = mode == AddMode::seed ? AddAs::seed_mode : AddAs::download;
  const bool super_seed =
      add_.super_seeding == SuperSeeding::published && r.rec.origin == Origin::seeded;
  how_added.super_seed = super_seed ? SuperSeed::on : SuperSeed::off;
  how_added.resume = std::move(resume);
  return add_hybrid(r, std::move(t), std::move(how_added), how);
}

DiskScan ReleaseTorrents::disk_scan_of(const Release& r, const TorrentMeta& t,
                                       const std::optional<ResumeData>& resume) const {
  DiskScan d = add_.scan.make(t, resume, add_.store.staging_dir(r.rec.v2_infohash),
                              add_.store.resume_file(r.rec.v2_infohash));
  d.id = r.rec.id;
  d.wanted_lt.assign(static_cast<std::size_t>(t.num_files()), false);
  for (std::size_t i = 0; i < r.files.size(); ++i) {
    if (r.files[i].lt_index >= 0 && r.files[i].wanted) {
      d.wanted_lt[static_cast<std::size_t>(r.files[i].lt_index)] = true;
    }
  }
  d.had_resume = r.resumed;
  return d;
}

// The torrent is added with the scan's bitfield (libtorrent then checks nothing).
ResumeData ReleaseTorrents::apply_disk_scan(Release& r, const DiskScan& d) {
  for (const auto& w : d.warnings) log::warning("resume data for {}: {}", r.rec.id, w);
  auto resume = add_.scan.result(d);
  r.resume_have = resume.have;
  r.resumed = true;  // libtorrent trusts this bitfield: the torrent counts as resumed
  const auto have = std::count(resume.have.begin(), resume.have.end(), true);
  if (have > 0) {
    log::info(
        "{}: resuming the download with {} of {} pieces on disk ({} from the resume file, {} "
        "found by hashing {} piece(s) in {} ms{})",
        r.rec.id, have, resume.have.size(), d.claimed - d.dropped, d.found, d.hashed, d.ms,
        d.dropped > 0 ? fmt::format(", {} claimed but missing", d.dropped) : std::string());
  }
  return resume;
}

void ReleaseTorrents::add_v1(Release& r, V1Mode mode, AddHow when) {
  add_v1(r, mode, when, add_.store.torrent_v1_file(r.rec.v2_infohash),
         add_.store.staging_dir(r.rec.v2_infohash));
}

void ReleaseTorrents::add_v1_download(Release& r, AddHow how) {
  const auto origin =
      r.rec.origin == Origin::fetched ? ReleaseOrigin::fetched : ReleaseOrigin::seeded;
  if (v1_download_wanted(origin, all_wanted_verified(r.files))) add_v1(r, V1Mode::download, how);
}

void ReleaseTorrents::selection_changed(Release& r) {
  if (r.ti) {
    backend_.prioritize_files(r.handle, priorities(r, r.ti->num_files()));
    if (r.v1_downloading())
      backend_.prioritize_files(r.v1_handle, priorities(r, r.ti->num_files()));
  }
  add_v1_download(r);
}

Result<std::shared_ptr<const TorrentMeta>> ReleaseTorrents::load_hybrid(
    Release& r, const std::filesystem::path& file) {
  auto t = backend_.load_torrent(file);
  if (!t) return tl::unexpected(t.error());
  // The torrent's files are under "<revision>/"; the manifest's paths are not.
  const std::string prefix = r.rec.revision + "/";
  std::map<std::string, int> index_of;
  for (const auto& [path, index] : (*t)->file_index) {
    index_of[path.rfind(prefix, 0) == 0 ? path.substr(prefix.size()) : path] = index;
  }
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    const auto it = index_of.find(r.manifest.files[i].path);
    r.files[i].lt_index = it == index_of.end() ? -1 : it->second;
  }
  return t;
}

std::vector<boost::asio::ip::tcp::endpoint> ReleaseTorrents::peers_of(const Release& r) const {
  std::vector<boost::asio::ip::tcp::endpoint> out;
  for (const auto& p : r.rec.peers) {
    if (auto ep = parse_peer(p)) out.push_back(*ep);
  }
  return out;
}

Status ReleaseTorrents::add_hybrid(Release& r, std::shared_ptr<const TorrentMeta> t, HybridAdd how,
                                   AddHow when) {
  AddRequest req;
  req.torrent = t;
  req.save_path = std::move(how.save_path);
  req.as = how.as;
  req.super_seed = how.super_seed;
  // Priorities only for a partial selection: setting any on a seed_mode torrent makes
  // libtorrent leave seed mode.
  if (!everything_wanted(r.files)) req.priorities = priorities(r, t->num_files());
  req.web_seeds = r.manifest.torrent.web_seeds;
  req.trackers = r.manifest.torrent.trackers;
  req.peers = peers_of(r);
  req.resume = std::move(how.resume);
  r.ti = std::move(t);
  const auto have =
      req.resume ? std::count(req.resume->have.begin(), req.resume->have.end(), true) : 0;
  resume_added(r.resume, static_cast<int>(have));
  if (when == AddHow::async) {
    pending_[backend_.add_async(req)] = PendingAdd{r.rec.id, r.generation, Role::hybrid};
    return {};
  }
  auto added = backend_.add(req);
  if (!added) {
    return fail(Errc::internal,
                fmt::format("libtorrent refused {}: {}", r.rec.id, added.error().message));
  }
  r.handle = *added;
  refs_[r.handle] = TorrentRef{r.rec.id, false};
  return {};
}

void ReleaseTorrents::add_v1(Release& r, V1Mode mode, AddHow when,
                             const std::filesystem::path& file,
                             const std::filesystem::path& save_path) {
  if (valid(r.v1_handle) || r.v1_adding || !valid(r.handle)) return;
  std::error_code fec;
  if (!std::filesystem::exists(file, fec)) return;
  const bool all_wanted = everything_wanted(r.files);
  // A partial selection cannot seed the v1 torrent's whole piece space.
  if (mode == V1Mode::seed && !v1_seed_allowed(all_wanted)) return;
  auto loaded = backend_.load_torrent(file);
  if (!loaded) {
    log::warning("{}: v1 companion: {}", r.rec.id, loaded.error().message);
    return;
  }
  const auto& t = *loaded;
  if (!r.ti || r.ti->layout != t->layout) {
    log::warning("{}: v1 companion: piece layout differs from the hybrid torrent; not used",
                 r.rec.id);
    return;
  }
  AddRequest req;
  req.torrent = t;
  req.save_path = save_path;
  if (mode == V1Mode::seed) {
    // Every byte was SHA-256-verified against the manifest; same files, same layout.
    req.as = AddAs::seed_mode;
  } else {
    req.as = AddAs::upload_mode;  // standby until maybe_activate_v1
    if (!all_wanted) req.priorities = priorities(r, t->num_files());  // same indices
    // Pieces the hybrid had verified (SHA-1 and Merkle) before a restart: libtorrent only
    // checks that the files are there, and the companion can serve them to v1 peers.
    if (r.resume_have.size() == static_cast<std::size_t>(t->num_pieces())) {
      req.resume = ResumeData{std::move(r.resume_have), 0, 0, nullptr};
    }
    r.resume_have.clear();
  }
  req.trackers = r.manifest.torrent.trackers;
  if (mode == V1Mode::download) req.peers = peers_of(r);
  if (when == AddHow::async) {
    r.v1_adding = true;
    pending_[backend_.add_async(req)] = PendingAdd{
        r.rec.id, r.generation, mode == V1Mode::seed ? Role::v1_seed : Role::v1_download};
    return;
  }
  auto added = backend_.add(req);
  if (!added) {
    log::warning("{}: v1 companion: {}", r.rec.id, added.error().message);
    return;
  }
  adopt_v1(r, *added, mode);
}

void ReleaseTorrents::adopt_v1(Release& r, TorrentId t, V1Mode mode) {
  r.v1_handle = t;
  r.v1_mode = mode == V1Mode::download ? CompanionMode::standby : CompanionMode::seeding;
  r.v1_watch.last_progress = std::chrono::steady_clock::now();
  refs_[r.v1_handle] = TorrentRef{r.rec.id, true};
}

// The release may have been removed meanwhile (then the torrent goes too).
Added ReleaseTorrents::on_added(const TorrentAdded& e) {
  const auto it = pending_.find(e.cookie);
  if (it == pending_.end()) return {};
  const auto p = std::move(it->second);
  pending_.erase(it);
  Release* r = find_(p.id);
  if (!r || r->generation != p.generation) {
    if (valid(e.torrent)) backend_.remove(e.torrent);
    return {AddOutcome::stale, nullptr, {}};
  }
  if (p.role != Role::hybrid) {
    r->v1_adding = false;
    if (!valid(e.torrent)) return {AddOutcome::v1_refused, r, e.error};
    adopt_v1(*r, e.torrent, p.role == Role::v1_seed ? V1Mode::seed : V1Mode::download);
    return {AddOutcome::v1_added, r, {}};
  }
  if (!valid(e.torrent)) return {AddOutcome::hybrid_refused, r, e.error};
  r->handle = e.torrent;
  refs_[r->handle] = TorrentRef{r->rec.id, false};
  r->resume.current = r->resumed && all_wanted_verified(r->files);
  return {AddOutcome::hybrid_added, r, {}};
}

Release* ReleaseTorrents::by_torrent(TorrentId t, bool* is_v1) const {
  const auto it = refs_.find(t);
  if (it == refs_.end()) return nullptr;
  if (is_v1) *is_v1 = it->second.v1;
  return find_(it->second.id);
}

Release* ReleaseTorrents::hybrid_of(TorrentId t) const {
  bool v1 = false;
  Release* r = by_torrent(t, &v1);
  return v1 ? nullptr : r;
}

std::vector<std::pair<TorrentId, const Release*>> ReleaseTorrents::hybrids() const {
  std::vector<std::pair<TorrentId, const Release*>> out;
  for (const auto& [t, ref] : refs_) {
    if (!ref.v1) out.emplace_back(t, find_(ref.id));
  }
  return out;
}

void ReleaseTorrents::remove(TorrentId& t) {
  if (!valid(t)) return;
  refs_.erase(t);
  backend_.remove(t);
  t = no_torrent;
}

// The hybrid's bitfield lacks what the companion fetched, and the companion's what the hybrid
// fetched. With the whole release wanted, the hybrid is re-added in seed mode: libtorrent then
// checks each piece (SHA-1, and the v2 Merkle tree) the first time it uploads it, instead of
// re-reading everything now. A partial selection cannot be seeded as a whole: the companion
// goes away and the hybrid re-checks its files.
V1FinishPlan ReleaseTorrents::finish_v1_download(Release& r) {
  if (!r.v1_downloading()) return {};
  const auto plan = v1_finish_plan(r.v1_mode, everything_wanted(r.files));
  // Keep this session's payload counters across the re-add.
  if (r.status && plan.keep_hybrid_counters) {
    r.downloaded_base += r.status->total_payload_download;
    r.uploaded_base += r.status->total_payload_upload;
  }
  if (r.v1_status) {
    r.downloaded_base += r.v1_status->total_payload_download;
    r.uploaded_base += r.v1_status->total_payload_upload;
  }
  if (plan.keep_hybrid_counters) r.status.reset();
  r.v1_status.reset();
  remove(r.v1_handle);
  r.v1_mode = CompanionMode::none;
  for (auto& f : r.files) f.v1_done = 0;
  r.flush_outstanding = 0;
  r.flush_pending.clear();
  if (plan.action == V1Finish::drop_standby) return plan;
  if (plan.action == V1Finish::recheck_hybrid) {
    if (r.ti) {
      backend_.prioritize_files(r.handle, priorities(r, r.ti->num_files()));  // undo deselect
      backend_.force_recheck(r.handle);
      resume_check_started(r.resume);
    }
    return plan;
  }
  // remove_torrent and add_torrent run in order on the session's thread, so the same
  // info-hash can be added again right away.
  remove(r.handle);
  if (auto st = add(r, AddMode::seed); !st) {
    r.error = st.error();
    log::error("{}: re-adding for seeding: {}", r.rec.id, st.error().message);
  }
  return plan;
}

ReleaseTorrents::StatusSeen ReleaseTorrents::record_status(const TorrentUpdate& u) {
  bool v1 = false;
  Release* r = by_torrent(u.torrent, &v1);
  if (!r) return {};
  const bool finished =
      u.status.state == TorrentPhase::finished || u.status.state == TorrentPhase::seeding;
  if (v1) {
    r->v1_status = u.status;
    r->sources.observe(u.connections, 1);
    if (!r->v1_downloading()) return {};
    if (valid(r->handle)) apply_file_done(r->files, u.file_done, DownloadSource::v1);
    return {r, DownloadSource::v1, finished};
  }
  r->status = u.status;
  r->sources.observe(u.connections);
  if (valid(r->handle)) apply_file_done(r->files, u.file_done, DownloadSource::hybrid);
  return {r, DownloadSource::hybrid, finished};
}

void ReleaseTorrents::follow_status(Release& r, SteadyTime now) {
  maybe_redial(r, *r.status, now);
  maybe_activate_v1(r, *r.status, now);
  connect_pending(r);
}

void ReleaseTorrents::maybe_activate_v1(Release& r, const TorrentStatus& hybrid, SteadyTime now) {
  HybridSample h;
  h.downloading = hybrid.state == TorrentPhase::downloading;
  h.total_wanted_done = hybrid.total_wanted_done;
  h.total_payload_download = hybrid.total_payload_download;
  h.num_peers = hybrid.num_peers;
  h.num_seeds = hybrid.num_seeds;
  h.list_peers = hybrid.list_peers;
  h.list_seeds = hybrid.list_seeds;
  CompanionSample c;
  c.mode = r.v1_status ? companion_mode(r) : CompanionMode::none;
  c.list_peers = r.v1_status ? r.v1_status->list_peers : 0;
  const auto step = v1_watch(r.v1_watch, h, c, now);
  r.v1_watch = step.watch;
  if (step.action != V1Action::activate) return;
  backend_.leave_upload_mode(r.v1_handle);
  r.v1_mode = CompanionMode::active;
  log::info(
      "{}: no progress in the hybrid swarm; downloading through the v1 companion ({} "
      "known peer(s))",
      r.rec.id, r.v1_status->list_peers);
}

void ReleaseTorrents::maybe_redial(Release& r, const TorrentStatus& st, SteadyTime now) {
  r.peers.maybe_redial(backend_, r.handle, st, r.rec.peers, !r.manifest.torrent.trackers.empty(),
                       now);
}

void ReleaseTorrents::connect_pending(Release& r) {
  r.peers.connect_pending(backend_, r.handle, r.v1_downloading() ? r.v1_handle : no_torrent,
                          r.status ? &*r.status : nullptr);
}

Status ReleaseTorrents::merge_peers(Release& r, const std::vector<std::string>& peers) {
  std::vector<PeerEndpoint> eps;
  for (const auto& p : peers) {
    auto ep = parse_peer(p);
    if (!ep) return tl::unexpected(ep.error());
    eps.push_back(*ep);
  }
  for (std::size_t i = 0; i < peers.size(); ++i) {
    if (std::find(r.rec.peers.begin(), r.rec.peers.end(), peers[i]) == r.rec.peers.end()) {
      r.rec.peers.push_back(peers[i]);
    }
    r.peers.queue(eps[i]);
  }
  connect_pending(r);
  return {};
}

std::vector<FilePriority> ReleaseTorrents::priorities(const Release& r, int num_files) {
  return file_priorities(r.files, num_files,
                         r.v1_active() ? VerifiedFiles::skip : VerifiedFiles::download);
}

CompanionMode ReleaseTorrents::companion_mode(const Release& r) {
  if (!valid(r.v1_handle)) return CompanionMode::none;
  return r.v1_downloading() ? r.v1_mode : CompanionMode::seeding;
}

}  // namespace weights::daemon
