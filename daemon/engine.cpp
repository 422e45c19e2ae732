// The engine coordinates; the rules live in daemon/engine/ (tests/unit/<name>_test.cpp each,
// but lt_backend and disk_scan, which the integration tests cover):
//   release         the engine's record of one release (Release)
//   release_state   per-file record (FileEntry) and the release's state (pure)
//   v1_companion    when the v1 companion downloads, and how its download ends (pure)
//   resume_policy   when a resume file may be written, the shutdown gate, start-up queue
//   resume_saver    resume saves and the shutdown's; startup_loader: start-up adds in batches
//   verifier        SHA-256 checks on the hashing pool (WorkPool), scrub, quarantine (events)
//   peer_dialer     --peer endpoints and redials, over TorrentBackend
//   disk_guard      full-disk pause/resume rules
//   file_progress   per-file bytes done, completed files, files due for a hash (pure)
//   views           view files (kept or rebuilt), Hugging Face snapshots, export bundles
//   torrent_backend the seam over the session (commands); torrent_events what it reports;
//                   lt_backend (libtorrent: adds, alerts -> events), disk_scan (start-up)
//   resolver        name -> feed target -> manifest (cache), torrents fetched on the feed
//                   poller's workers and checked against the manifest (events on the io thread)
//   seed_executor   follow policies and the disk budget (eviction), over SeedHost
// This file keeps the registry of Release records, building torrent adds, the event handlers
// (on_event), and the API methods.
#include "daemon/engine.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>
#include <unordered_map>
#include <variant>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include "core/db/state_store.hpp"
#include "core/feed/tuf_client.hpp"
#include "core/net/fetcher.hpp"
#include "core/net/hf_hub.hpp"
#include "core/net/http_fetcher.hpp"
#include "core/publish/torrent_builder.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/trust/release_target.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/encoding.hpp"
#include "core/util/safe_fs.hpp"
#include "core/util/units.hpp"
#include "daemon/engine/disk_guard.hpp"
#include "daemon/engine/disk_scan.hpp"
#include "daemon/engine/file_progress.hpp"
#include "daemon/engine/lt_backend.hpp"
#include "daemon/engine/peer_dialer.hpp"
#include "daemon/engine/release.hpp"
#include "daemon/engine/release_state.hpp"
#include "daemon/engine/resolver.hpp"
#include "daemon/engine/resume_policy.hpp"
#include "daemon/engine/resume_saver.hpp"
#include "daemon/engine/seed_executor.hpp"
#include "daemon/engine/startup_loader.hpp"
#include "daemon/engine/v1_companion.hpp"
#include "daemon/engine/verifier.hpp"
#include "daemon/engine/views.hpp"
#include "daemon/engine/work_pool.hpp"
#include "daemon/feed_poller.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/policy.hpp"
#include "daemon/release_db.hpp"
#include "daemon/store.hpp"
#include "daemon/torrent_session.hpp"

namespace weights::daemon {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

enum class FileState { pending, downloading, verifying, verified, failed };

std::string_view file_state_name(FileState s) {
  switch (s) {
    case FileState::pending:
      return "pending";
    case FileState::downloading:
      return "downloading";
    case FileState::verifying:
      return "verifying";
    case FileState::verified:
      return "verified";
    case FileState::failed:
      return "failed";
  }
  return "pending";
}

api::Follow follow_json(const FollowView& v) {
  const Follow& f = v.follow;
  api::Follow j;
  j.id = f.id;
  j.feed = f.feed;
  if (!f.model_glob.empty()) j.model = f.model_glob;
  if (!f.alias.empty()) j.alias = f.alias;
  j.latest = f.latest;
  j.max_size = f.max_size;
  j.created = format_utc(TimePoint(TimePoint::duration(f.created_at)));
  if (v.last_applied) j.last_applied = format_utc(*v.last_applied);
  j.mirroring.assign(v.mirroring.begin(), v.mirroring.end());
  for (const auto& [id, why] : v.skipped) j.skipped.push_back({id, why});
  for (const auto& [id, why] : v.refused) j.refused.push_back({id, why});
  return j;
}

}  // namespace

struct Engine::Impl {
  Impl(asio::io_context& io, Config cfg, WallClock clk)
      : ioc(io),
        config(std::move(cfg)),
        clock(std::move(clk)),
        store(config.state_dir),
        work(io, std::max(1u, config.hashing_threads)),
        update_timer(io),
        resume_timer(io),
        shutdown_timer(io),
        policy_timer(io),
        alive(std::make_shared<bool>(true)) {
    VerifierEvents events;
    events.checked = [this](const FileChecked& c) { on_checked(c); };
    events.scrub_finished = [this](const ScrubFinished& f) { on_scrub_finished(f); };
    verifier =
        std::make_unique<Verifier>(work, std::move(events), scrub_source(), config.scrub_rate);
  }

  ~Impl() {
    *alive = false;
    work.stop();
    lt_backend.reset();  // aborts libtorrent before the state it reports into goes away
  }

  asio::io_context& ioc;
  Config config;
  WallClock clock;
  Store store;
  std::optional<StateStore> state;
  std::optional<ReleaseDb> db;
  std::unique_ptr<FeedPoller> poller;  // after `state` and `db`: destroyed before them
  // Name resolution and torrent acquisition, on the poller's workers: after `poller`, so it is
  // destroyed first (its outcomes in flight are dropped).
  std::optional<StateStoreFeeds> trusted_feeds;
  std::optional<ReleaseDbManifestCache> manifest_cache;
  std::unique_ptr<Resolver> resolver;
  std::unique_ptr<LtBackend> lt_backend;
  TorrentBackend* torrents = nullptr;  // lt_backend, as the rules see it
  WorkPool work;                       // the hashing pool
  std::unique_ptr<Verifier> verifier;
  asio::steady_timer update_timer, resume_timer, shutdown_timer, policy_timer;
  Engine* owner = nullptr;
  // Seed node: the follows are applied by the SeedExecutor (daemon/engine/seed_executor.hpp),
  // which reaches the engine through this host and reports the releases they hold.
  struct SeedHostImpl final : SeedHost {
    explicit SeedHostImpl(Impl& impl) : I(impl) {}
    Result<std::vector<Follow>> follows() override { return I.db->follows(); }
    Result<std::int64_t> add_follow(const Follow& f) override { return I.db->add_follow(f); }
    Result<bool> remove_follow(std::int64_t id) override { return I.db->remove_follow(id); }
    bool has_feed(const std::string& feed) override {
      return I.state->load_feed(feed, FeedDetail::summary).has_value();
    }
    Result<FeedState> feed(const std::string& feed) override { return I.state->load_feed(feed); }
    Result<ReleaseManifest> manifest(const FeedState& fs, const tuf::TargetInfo& t) override {
      auto m = I.manifest_for(fs, t);
      if (!m) return tl::unexpected(m.error());
      return std::move(m->first);
    }
    bool needs_fetch(const std::string& id) override {
      const Release* have = I.find(id);
      return !have || (!valid(have->handle) && have->intake == Intake::ready);
    }
    Status fetch(const FetchRequest& request) override {
      auto r = I.owner->fetch(request);
      if (!r) return tl::unexpected(r.error());
      return {};
    }
    void hold(const std::set<std::string>& held) override { I.held = held; }
    RoomKey room_key() override { return I.room_key(); }
    TimePoint now() override { return I.clock(); }
    std::vector<StoredRelease> stored_releases() override {
      std::vector<StoredRelease> existing;
      for (const auto& [id, r] : I.releases) {
        auto s = I.stored_of(*r, wanted_mask(r->files));
        // Releases still downloading or hashing are a request in progress, unless only a follow
        // asked and no longer holds them (fetch_protected).
        const auto st = I.state_of(*r);
        s.protect = st != ReleaseState::complete && st != ReleaseState::failed &&
                    fetch_protected({r->rec.last_requested != 0 ? FetchRequester::user
                                                                : FetchRequester::follow_only,
                                     s.held});
        existing.push_back(std::move(s));
      }
      return existing;
    }
    std::uint64_t bytes_to_write(const StoredRelease& incoming) override {
      std::uint64_t n = 0;
      for (const auto& c : incoming.content) {
        std::error_code ec;
        if (c.length == 0 || std::filesystem::exists(I.store.store_file(c.sha256), ec)) continue;
        n += c.length;
      }
      return n;
    }
    std::optional<std::uint64_t> free_disk() override { return I.free_disk(); }
    Status evict(const std::string& id) override {
      auto st = I.owner->remove_release(id, DeleteFiles::yes);
      if (!st) return tl::unexpected(st.error());
      return {};
    }
    void evicted() override { ++I.counters.evictions; }
    void refused_for_room() override { ++I.counters.no_space_refusals; }
    Impl& I;
  };
  SeedHostImpl seed_host{*this};
  SeedExecutor seeds{seed_host};
  std::set<std::string> held;  // releases a follow holds (SeedHost::hold)
  struct Counters {
    std::uint64_t evictions = 0;
    std::uint64_t no_space_refusals = 0;
    std::uint64_t scrub_files = 0;
    std::uint64_t scrub_bytes = 0;
    std::uint64_t scrub_mismatches = 0;
    std::uint64_t scrub_passes = 0;
  } counters;
  std::optional<TimePoint> last_scrub_finished;
  Rates applied_rates{};
  std::shared_ptr<bool> alive;
  std::map<std::string, std::unique_ptr<Release>> releases;
  struct HandleRef {
    std::string id;
    bool v1 = false;
  };
  std::unordered_map<TorrentId, HandleRef> handles;
  // Adds in flight (add_async), by the cookie their TorrentAdded carries.
  enum class Role { hybrid, v1_seed, v1_download };
  struct PendingAdd {
    std::string id;
    std::uint64_t generation = 0;
    Role role = Role::hybrid;
  };
  std::map<std::uint64_t, PendingAdd> pending_adds;
  std::uint64_t next_generation = 1;
  // Resume data and the shutdown gate (ResumeSaver), start-up loading (StartupLoader) and the
  // full-disk pause (DiskGuard) reach the engine through this host.
  struct LifecycleHostImpl final : ResumeHost, LoadHost, DiskGuardHost {
    explicit LifecycleHostImpl(Impl& impl) : I(impl) {}
    TorrentBackend& backend() override { return *I.torrents; }
    Release* hybrid_release(TorrentId t) override {
      bool v1 = false;
      Release* r = I.by_torrent(t, &v1);
      return v1 ? nullptr : r;
    }
    std::vector<std::pair<TorrentId, const Release*>> hybrid_torrents() override {
      std::vector<std::pair<TorrentId, const Release*>> out;
      for (const auto& [h, ref] : I.handles) {
        if (!ref.v1) out.emplace_back(h, I.find(ref.id));
      }
      return out;
    }
    bool complete(const Release& r) override { return state_of(r) == ReleaseState::complete; }
    std::filesystem::path resume_file(const Release& r) override {
      return I.store.resume_file(r.rec.v2_infohash);
    }
    bool shutting_down() override { return I.gate.shutting_down(); }
    Release* find(const std::string& id) override { return I.find(id); }
    Status start_add(Release& r) override {
      I.verify_empty_files(r);
      return I.add_to_session(r, AddMode::normal, AddHow::async);
    }
    void persist(Release& r) override { I.persist(r); }
    std::size_t release_count() override { return I.releases.size(); }
    std::optional<std::uint64_t> free_disk() override { return I.free_disk(); }
    std::vector<Release*> all_releases() override {
      std::vector<Release*> out;
      for (auto& [id, r] : I.releases) out.push_back(r.get());
      return out;
    }
    Impl& I;
  };
  LifecycleHostImpl lifecycle_host{*this};
  ResumeSaver resume_saver{ioc, lifecycle_host};
  StartupLoader loader{ioc, lifecycle_host};
  DiskGuard disk_guard{lifecycle_host, config.min_free_disk};
  const ShutdownGate& gate = resume_saver.gate();  // read by every region
  const LoadQueue& load = loader.queue();          // start-up: releases still loading

  // ---- helpers ---------------------------------------------------------------------------------

  // Runs `w` on the hashing pool and `then(result)` back on the io thread (if still alive).
  template <class Work, class Then>
  void on_pool(Work w, Then then) {
    work.run(std::move(w), std::move(then));
  }

  Release* find(const std::string& id) {
    const auto it = releases.find(id);
    return it == releases.end() ? nullptr : it->second.get();
  }

  Release* by_torrent(TorrentId t, bool* is_v1 = nullptr) {
    const auto it = handles.find(t);
    if (it == handles.end()) return nullptr;
    if (is_v1) *is_v1 = it->second.v1;
    return find(it->second.id);
  }

  Result<Release*> require(const std::string& id) {
    if (auto* r = find(id)) return r;
    // "org/name" without a revision: the newest release of that model we have.
    Release* best = nullptr;
    for (auto& [rid, r] : releases) {
      if (r->rec.model == id && (!best || r->rec.release_seq > best->rec.release_seq)) {
        best = r.get();
      }
    }
    if (best) return best;
    return fail(Errc::not_found, fmt::format("no release '{}'", id),
                "ids look like org/name@revision; see GET /v1/releases (weightsctl list)");
  }

  static ReleaseState state_of(const Release& r) {
    ReleaseStateInput in;
    in.loading = r.intake == Intake::loading;
    in.has_torrent = valid(r.handle);
    in.has_error = r.error.has_value();
    in.preparing = r.intake == Intake::preparing;
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

  void persist(Release& r) {
    // (A release still loading keeps its stored state: `loading` is not a state to restart in.)
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
    if (auto st = db->put(r.rec); !st) log::error("{}", st.error().message);
  }

  // The API's release object (docs/protocol.md "Releases").
  api::Release release_json(const Release& r) const {
    api::Release out;
    std::uint64_t wanted_len = 0, verified_len = 0;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      const auto& f = r.manifest.files[i];
      if (r.files[i].wanted) wanted_len += f.length;
      if (r.files[i].verified) verified_len += f.length;
      FileState fs = FileState::pending;
      if (r.files[i].verified) {
        fs = FileState::verified;
      } else if (r.files[i].hashing) {
        fs = FileState::verifying;
      } else if (r.files[i].failed) {
        fs = FileState::failed;
      } else if (r.files[i].wanted && valid(r.handle) &&
                 (r.files[i].done > 0 || r.files[i].v1_done > 0)) {
        fs = FileState::downloading;
      }
      const std::int64_t done = r.files[i].verified ? static_cast<std::int64_t>(f.length)
                                                    : std::max(r.files[i].done, r.files[i].v1_done);
      out.files.push_back({f.path, f.length, static_cast<bool>(r.files[i].wanted),
                           std::string(file_state_name(fs)), done});
    }
    const ReleaseState st = state_of(r);
    const bool seeding =
        valid(r.handle) && st == ReleaseState::complete && !(r.status && r.status->paused);
    auto time_of = [](std::int64_t ticks) -> std::optional<std::string> {
      if (ticks == 0) return std::nullopt;
      return format_utc(TimePoint(TimePoint::duration(ticks)));
    };
    auto error_info = [](const std::optional<Error>& e) -> std::optional<api::ErrorInfo> {
      if (!e) return std::nullopt;
      return api::ErrorInfo::from(*e);
    };
    out.id = r.rec.id;
    out.feed = r.rec.feed;
    out.model = r.rec.model;
    out.revision = r.rec.revision;
    out.aliases = r.manifest.aliases;
    out.release_seq = r.rec.release_seq;
    out.origin = r.rec.origin == Origin::seeded ? "seeded" : "fetched";
    out.state = std::string(to_string(st));
    out.seeding = seeding;
    out.pinned = r.rec.pinned;
    out.held = held.count(r.rec.id) > 0;
    out.last_requested = time_of(r.rec.last_requested);
    out.last_scrubbed = time_of(r.rec.last_scrubbed);
    out.total_length = r.manifest.total_length;
    out.wanted_length = wanted_len;
    out.verified_length = verified_len;
    out.downloaded_bytes = r.downloaded_base + (r.status ? r.status->total_payload_download : 0) +
                           (r.v1_status ? r.v1_status->total_payload_download : 0);
    out.uploaded_bytes = r.uploaded_base + (r.status ? r.status->total_payload_upload : 0) +
                         (r.v1_status ? r.v1_status->total_payload_upload : 0);
    out.download_rate = (r.status ? r.status->download_payload_rate : 0) +
                        (r.v1_status ? r.v1_status->download_payload_rate : 0);
    out.upload_rate = (r.status ? r.status->upload_payload_rate : 0) +
                      (r.v1_status ? r.v1_status->upload_payload_rate : 0);
    out.peers = (r.status ? r.status->num_peers : 0) + (r.v1_status ? r.v1_status->num_peers : 0);
    out.seeds = (r.status ? r.status->num_seeds : 0) + (r.v1_status ? r.v1_status->num_seeds : 0);
    out.hash_failures = static_cast<std::int64_t>(r.hash_failures);
    out.banned_peers = static_cast<std::int64_t>(r.banned_peers);
    out.error = error_info(r.error);
    if (!r.rec.view_path.empty()) out.path = r.rec.view_path;
    out.v2_infohash = r.rec.v2_infohash;
    out.include = r.rec.include;
    out.v1_seeding = valid(r.v1_handle) && !r.v1_downloading();
    out.v1_downloading = r.v1_downloading() && r.v1_active();
    if (r.hf_cache) {
      auto& hc = out.hf_cache.emplace();
      hc.dir = r.hf_cache->string();
      if (!r.hf_snapshot.empty()) hc.snapshot = r.hf_snapshot;
      hc.error = error_info(r.hf_cache_error);
    }
    return out;
  }

  // ---- feeds -----------------------------------------------------------------------------------

  // The API's feed object (docs/protocol.md "Feeds").
  Result<api::Feed> feed_json(const std::string& name) {
    auto fs = state->load_feed(name, FeedDetail::summary);
    if (!fs) return tl::unexpected(fs.error());
    const auto summary = tuf::summarize(*fs);
    auto ok = state->last_success(name);
    if (!ok) return tl::unexpected(ok.error());
    auto refused = state->last_refusal(name);
    if (!refused) return tl::unexpected(refused.error());
    api::Feed out;
    out.result = "never";
    if (*ok && (!*refused || (*ok)->time >= (*refused)->time)) {
      out.result = std::string(refresh_result_name((*ok)->result));
    } else if (*refused) {
      out.result = "refused";
    }
    const TimePoint now = clock();
    auto role = [](const tuf::RoleSummary& s) {
      api::RoleInfo info{s.version, std::nullopt};
      if (s.version != 0) info.expires = format_utc(s.expires);
      return info;
    };
    auto count = state->count_targets(name, tuf::TargetKind::release);
    if (!count) return tl::unexpected(count.error());
    if (*refused) {
      out.last_refusal = api::FeedRefusal{format_utc((*refused)->time), (*refused)->error_code,
                                          (*refused)->message};
    }
    auto refresh = api::from_json<api::FeedRefresh>(poller->status(name),
                                                    api::UnknownFields::reject, "feed refresh");
    if (!refresh) return tl::unexpected(Error{Errc::internal, refresh.error().message, ""});
    const auto stale_since = tuf::stale_since(*fs, now);
    out.name = fs->name;
    out.location = fs->location;
    out.mirrors = fs->mirrors;
    out.refresh = std::move(*refresh);
    if (*ok) out.last_success = format_utc((*ok)->time);
    out.stale = tuf::is_stale(*fs, now);
    if (stale_since) out.stale_since = format_utc(*stale_since);
    out.roles = {role(summary.root), role(summary.timestamp), role(summary.snapshot),
                 role(summary.targets)};
    out.releases = static_cast<std::uint64_t>(*count);
    return out;
  }

  // Refreshes run on the FeedPoller's workers and commit back on this thread; the API
  // answers with the ticket of the refresh that will include the request.
  Result<api::Feed> feed_json_with_ticket(const std::string& name, std::uint64_t ticket) {
    auto f = feed_json(name);
    if (f) f->ticket = ticket;
    return f;
  }

  // Name resolution and torrent acquisition live in the Resolver (daemon/engine/resolver.hpp).
  Result<std::pair<ReleaseManifest, std::string>> manifest_for(const FeedState& fs,
                                                               const tuf::TargetInfo& t) {
    return resolver->manifest_for(fs, t);
  }

  Result<Resolved> resolve(std::string name, std::optional<std::string> revision,
                           const std::optional<std::string>& only_feed = std::nullopt) {
    return resolver->resolve(std::move(name), std::move(revision), only_feed);
  }

  // Start-up: a fetched release recorded before its torrents arrived (its record was written
  // meanwhile, e.g. pinned) goes on resolving from the feed it was resolved from.
  void resume_resolutions() {
    for (auto& [id, r] : releases) {
      if (r->intake != Intake::ready || valid(r->handle) || r->error ||
          r->rec.origin != Origin::fetched) {
        continue;
      }
      auto fs = state->load_feed(r->rec.feed);
      Status st =
          fs ? resolver->acquire(
                   acquisition_key(*r), *fs, r->manifest, torrent_paths(r->manifest),
                   [this, id = id, gen = r->generation, v2 = r->rec.v2_infohash](
                       Result<V1Companion> got) { on_torrents(id, gen, v2, std::move(got)); })
             : Status(tl::unexpected(fs.error()));
      if (!st) {
        r->error = st.error();
        persist(*r);
        continue;
      }
      log::info("{}: resolving: fetching its torrents from feed {}", id, r->rec.feed);
    }
  }

  // Per release generation: a release removed and fetched again never joins the acquisition
  // of its predecessor (whose outcome on_torrents drops).
  static std::string acquisition_key(const Release& r) {
    return fmt::format("{}#{}", r.rec.id, r.generation);
  }

  TorrentPaths torrent_paths(const ReleaseManifest& m) const {
    return {store.torrent_file(m.torrent.v2_infohash),
            store.torrent_v1_file(m.torrent.v2_infohash)};
  }

  // The torrents of a release resolved by fetch() are here (or could not be had): add it to the
  // session, or fail it. Dropped if the release was removed (or replaced) meanwhile.
  void on_torrents(const std::string& id, std::uint64_t gen, const std::string& v2,
                   Result<V1Companion> got) {
    Release* r = find(id);
    if (!r || r->generation != gen || gate.shutting_down()) {
      // Removed meanwhile: what the worker wrote belongs to no release (unless another one
      // shares the torrent).
      const bool used = std::any_of(releases.begin(), releases.end(),
                                    [&](const auto& e) { return e.second->rec.v2_infohash == v2; });
      if (got && !used) {
        std::error_code ec;
        std::filesystem::remove(store.torrent_file(v2), ec);
        std::filesystem::remove(store.torrent_v1_file(v2), ec);
      }
      if (!gate.shutting_down())
        log::info("{}: removed while its torrents were fetched: dropped", id);
      return;
    }
    if (!got) {
      log::error("{}: {}", id, got.error().message);
      r->error = got.error();
      persist(*r);
      return;
    }
    verify_empty_files(*r);
    if (auto st = add_to_session(*r, AddMode::normal); !st) {
      r->error = st.error();
      persist(*r);
      return;
    }
    add_v1_download(*r);
    log::info("{}: fetching from feed {} ({} files, {} bytes)", id, r->rec.feed,
              r->manifest.files.size(), r->manifest.total_length);
    persist(*r);
    check_complete(*r);
  }

  // A second fetch of a release whose torrents are still being fetched: widen its selection
  // (an empty include means every file), add its peers and HF cache request.
  Status join_resolving(Release& r, const FetchRequest& req,
                        const std::vector<std::string>& paths) {
    if (req.requested_by == Requester::user) r.rec.last_requested = now_ticks();
    if (!r.rec.include.empty()) {
      std::vector<std::string> wider = r.rec.include;
      if (req.include.empty()) wider.clear();
      for (const auto& g : req.include) {
        if (std::find(wider.begin(), wider.end(), g) == wider.end()) wider.push_back(g);
      }
      if (auto st = make_room(stored_of(r, select_files(paths, wider))); !st) return st;
      r.rec.include = std::move(wider);
      const auto wanted = select_files(paths, r.rec.include);
      for (std::size_t i = 0; i < r.files.size(); ++i) r.files[i].wanted = wanted[i];
    }
    for (const auto& p : req.peers) {
      if (std::find(r.rec.peers.begin(), r.rec.peers.end(), p) == r.rec.peers.end()) {
        r.rec.peers.push_back(p);
      }
    }
    if (req.hf_cache) r.hf_cache = req.hf_cache;
    return {};
  }

  std::unique_ptr<Release> make_release(ReleaseRecord rec, ReleaseManifest manifest) {
    auto r = std::make_unique<Release>();
    r->rec = std::move(rec);
    r->manifest = std::move(manifest);
    r->generation = next_generation++;
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

  static Errc errc_from(const std::string& name) {
    for (int c = 0; c <= static_cast<int>(errc_last); ++c) {
      if (code_name(static_cast<Errc>(c)) == name) return static_cast<Errc>(c);
    }
    return Errc::internal;
  }

  // Empty files have no pieces: verified (and stored) as soon as they are wanted.
  void verify_empty_files(Release& r) {
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (r.files[i].wanted && !r.files[i].verified && r.manifest.files[i].length == 0) {
        if (store.adopt_empty()) r.files[i].verified = true;
      }
    }
  }

  // Per libtorrent file (num_files of the torrent, pad files included).
  static std::vector<FilePriority> priorities(const Release& r, int num_files) {
    return file_priorities(r.files, num_files,
                           r.v1_active() ? VerifiedFiles::skip : VerifiedFiles::download);
  }

  // A partial download being added: its pieces on disk are recovered first (disk_scan.hpp).
  DiskScan disk_scan_of(const Release& r, const lt::add_torrent_params& atp) const {
    DiskScan d = make_disk_scan(atp, store.staging_dir(r.rec.v2_infohash),
                                store.resume_file(r.rec.v2_infohash));
    d.id = r.rec.id;
    d.wanted_lt.assign(static_cast<std::size_t>(atp.ti->num_files()), false);
    for (std::size_t i = 0; i < r.files.size(); ++i) {
      if (r.files[i].lt_index >= 0 && r.files[i].wanted) {
        d.wanted_lt[static_cast<std::size_t>(r.files[i].lt_index)] = true;
      }
    }
    d.had_resume = r.resumed;
    return d;
  }

  // Back on the io thread: `atp` gets the scan's bitfield (libtorrent then checks nothing).
  void apply_disk_scan(Release& r, lt::add_torrent_params& atp, const DiskScan& d) {
    for (const auto& w : d.warnings) log::warning("resume data for {}: {}", r.rec.id, w);
    atp.have_pieces = d.resume.have_pieces;
    atp.unfinished_pieces = d.resume.unfinished_pieces;
    r.resume_have = atp.have_pieces;
    r.resumed = true;  // libtorrent trusts this bitfield: the torrent counts as resumed
    const auto have = atp.have_pieces.count();
    if (have > 0) {
      log::info(
          "{}: resuming the download with {} of {} pieces on disk ({} from the resume file, {} "
          "found by hashing {} piece(s) in {} ms{})",
          r.rec.id, have, atp.ti->num_pieces(), d.claimed - d.dropped, d.found, d.hashed, d.ms,
          d.dropped > 0 ? fmt::format(", {} claimed but missing", d.dropped) : std::string());
    }
  }

  // Adds the hybrid torrent from torrents/<v2>.torrent. With resume data this is the "slim
  // restart" (libtorrent notes §2.4): the piece layers come from the .torrent and only the have
  // bitfield and counters from the resume file, so nothing is rehashed and no block-level
  // Merkle tree is loaded for finished files.
  // AddHow::async (start-up): the add is queued with async_add_torrent and the handle set by
  // on_added; no round trip to libtorrent's thread per release. AddHow::sync: `handle` is valid
  // on return (requests that act on the torrent right away).
  enum class AddMode { normal, seed };
  enum class AddHow { sync, async };
  Status add_to_session(Release& r, AddMode mode, AddHow how = AddHow::sync) {
    const auto& v2 = r.rec.v2_infohash;
    auto loaded = LtBackend::load_torrent(store.torrent_file(v2));
    if (!loaded) return tl::unexpected(loaded.error());
    lt::add_torrent_params atp = std::move(*loaded);
    const auto index_of = LtBackend::file_indices(*atp.ti, r.rec.revision + "/");
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      const auto it = index_of.find(r.manifest.files[i].path);
      r.files[i].lt_index = it == index_of.end() ? -1 : it->second;
    }
    bool resumed = false;
    r.resumed = false;
    r.resume.current = false;
    if (mode == AddMode::normal) {
      if (auto buf = read_file(store.resume_file(v2), max_torrent_bytes * 4); buf) {
        if (auto payload = LtBackend::apply_resume(atp, *buf)) {
          r.resume_have = atp.have_pieces;
          r.downloaded_base = payload->downloaded;
          r.uploaded_base = payload->uploaded;
          resumed = true;
          r.resumed = true;
        } else {
          log::warning("{}: ignoring resume data ({})", r.rec.id, payload.error().message);
        }
      }
      // Verified by us, but resume data is missing (e.g. killed before the first save).
      const bool all = std::all_of(r.files.begin(), r.files.end(),
                                   [](const FileEntry& f) { return f.verified; });
      if (!resumed && all) mode = AddMode::seed;
      // A partial download: recover what is on disk first (run_disk_scan). At start-up the
      // scan runs on the hashing pool and the add continues when it is done; the release stays
      // `loading` meanwhile.
      if (mode == AddMode::normal && !all_wanted_verified(r.files) &&
          atp.ti->info_hashes().has_v1()) {
        auto d = disk_scan_of(r, atp);
        if (how == AddHow::sync) {
          run_disk_scan(d);
          apply_disk_scan(r, atp, d);
        } else {
          auto job = std::make_shared<std::pair<DiskScan, lt::add_torrent_params>>(std::move(d),
                                                                                   std::move(atp));
          on_pool(
              [job] {
                run_disk_scan(job->first);
                return job;
              },
              [this, id = r.rec.id, gen = r.generation](auto done) {
                Release* rr = find(id);
                if (!rr || rr->generation != gen || gate.shutting_down()) return;
                apply_disk_scan(*rr, done->second, done->first);
                if (auto st =
                        submit_add(*rr, AddMode::normal, AddHow::async, std::move(done->second));
                    !st) {
                  set_loaded(*rr);
                  rr->error = st.error();
                  persist(*rr);
                }
              });
          return {};
        }
      }
    }
    return submit_add(r, mode, how, std::move(atp));
  }

  // The rest of add_to_session: flags, selection, peers; adds the torrent.
  Status submit_add(Release& r, AddMode mode, AddHow how, lt::add_torrent_params atp) {
    const auto& v2 = r.rec.v2_infohash;
    atp.save_path = store.staging_dir(v2).string();
    LtBackend::set_flags(atp, {mode == AddMode::seed ? AddFlag::seed_mode : AddFlag::none,
                               super_seed_at_add(r) ? AddFlag::super_seeding : AddFlag::none});
    // Priorities only for a partial selection: setting any on a seed_mode torrent makes
    // libtorrent leave seed mode.
    if (!everything_wanted(r.files)) {
      atp.file_priorities = LtBackend::to_lt(priorities(r, atp.ti->num_files()));
    }
    atp.url_seeds = r.manifest.torrent.web_seeds;
    atp.trackers = r.manifest.torrent.trackers;
    for (const auto& p : r.rec.peers) {
      if (auto ep = parse_peer(p)) atp.peers.push_back(*ep);
    }
    r.ti = atp.ti;
    resume_added(r.resume, static_cast<int>(atp.have_pieces.count()));
    if (how == AddHow::async) {
      pending_adds[lt_backend->add_async(std::move(atp))] =
          PendingAdd{r.rec.id, r.generation, Role::hybrid};
      return {};
    }
    auto added = lt_backend->add(std::move(atp));
    if (!added) {
      return fail(Errc::internal,
                  fmt::format("libtorrent refused {}: {}", r.rec.id, added.error().message));
    }
    r.handle = *added;
    handles[r.handle] = HandleRef{r.rec.id, false};
    return {};
  }

  // Adds the v1 companion (torrents/<v2>.v1.torrent, checked against the manifest when it came
  // from the feed) on the hybrid's save path. V1Mode::seed: every wanted file is verified and
  // the whole release is wanted; seed_mode, libtorrent checks each piece's SHA-1 on first upload.
  // V1Mode::download: a second download source for a fetch, with the hybrid's file selection.
  enum class V1Mode { seed, download };
  void add_v1_companion(Release& r, V1Mode mode = V1Mode::seed, AddHow how = AddHow::sync) {
    if (valid(r.v1_handle) || r.v1_adding || !valid(r.handle)) return;
    const auto path = store.torrent_v1_file(r.rec.v2_infohash);
    std::error_code fec;
    if (!std::filesystem::exists(path, fec)) return;
    const bool all_wanted = everything_wanted(r.files);
    // A partial selection cannot seed the v1 torrent's whole piece space.
    if (mode == V1Mode::seed && !v1_seed_allowed(all_wanted)) return;
    auto loaded = LtBackend::load_torrent(path);
    if (!loaded) {
      log::warning("{}: v1 companion: {}", r.rec.id, loaded.error().message);
      return;
    }
    lt::add_torrent_params atp = std::move(*loaded);
    const auto hybrid = r.ti ? r.ti : lt_backend->handle(r.handle).torrent_file();
    if (!hybrid || !LtBackend::same_layout(*hybrid, *atp.ti)) {
      log::warning("{}: v1 companion: piece layout differs from the hybrid torrent; not used",
                   r.rec.id);
      return;
    }
    atp.save_path = store.staging_dir(r.rec.v2_infohash).string();
    if (mode == V1Mode::seed) {
      // Every byte was SHA-256-verified against the manifest; same files, same layout.
      LtBackend::set_flags(atp, {AddFlag::seed_mode});
    } else {
      LtBackend::set_flags(atp, {AddFlag::upload_mode});  // standby until maybe_activate_v1
      if (!all_wanted) {
        atp.file_priorities = LtBackend::to_lt(priorities(r, atp.ti->num_files()));  // same indices
      }
      // Pieces the hybrid had verified (SHA-1 and Merkle) before a restart: libtorrent only
      // checks that the files are there, and the companion can serve them to v1 peers.
      if (r.resume_have.size() == atp.ti->num_pieces()) atp.have_pieces = std::move(r.resume_have);
      r.resume_have.clear();
    }
    atp.trackers = r.manifest.torrent.trackers;
    if (mode == V1Mode::download) {
      for (const auto& p : r.rec.peers) {
        if (auto ep = parse_peer(p)) atp.peers.push_back(*ep);
      }
    }
    if (how == AddHow::async) {
      r.v1_adding = true;
      pending_adds[lt_backend->add_async(std::move(atp))] = PendingAdd{
          r.rec.id, r.generation, mode == V1Mode::seed ? Role::v1_seed : Role::v1_download};
      return;
    }
    auto added = lt_backend->add(std::move(atp));
    if (!added) {
      log::warning("{}: v1 companion: {}", r.rec.id, added.error().message);
      return;
    }
    adopt_v1(r, *added, mode);
  }

  void adopt_v1(Release& r, TorrentId t, V1Mode mode) {
    r.v1_handle = t;
    r.v1_mode = mode == V1Mode::download ? CompanionMode::standby : CompanionMode::seeding;
    r.v1_watch.last_progress = std::chrono::steady_clock::now();
    handles[r.v1_handle] = HandleRef{r.rec.id, true};
  }

  static CompanionMode companion_mode(const Release& r) {
    if (!valid(r.v1_handle)) return CompanionMode::none;
    return r.v1_downloading() ? r.v1_mode : CompanionMode::seeding;
  }

  // Called on every status update while fetching: the companion leaves upload mode when the
  // companion rule says so (v1_watch: the hybrid stalled and the companion's swarm has peers).
  void maybe_activate_v1(Release& r, const TorrentStatus& hybrid) {
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
    const auto step = v1_watch(r.v1_watch, h, c, std::chrono::steady_clock::now());
    r.v1_watch = step.watch;
    if (step.action != V1Action::activate) return;
    torrents->leave_upload_mode(r.v1_handle);
    r.v1_mode = CompanionMode::active;
    log::info(
        "{}: no progress in the hybrid swarm; downloading through the v1 companion ({} "
        "known peer(s))",
        r.rec.id, r.v1_status->list_peers);
  }

  // A download with no peer connected dials its known peers again (PeerDialer::maybe_redial).
  void maybe_redial(Release& r, const TorrentStatus& st) {
    r.peers.maybe_redial(*torrents, r.handle, st, r.rec.peers, !r.manifest.torrent.trackers.empty(),
                         std::chrono::steady_clock::now());
  }

  // BEP 16 for a release this node published, when configured: each downloader is offered
  // only pieces the others do not hold yet, so the origin uploads about one copy and the
  // fetchers trade the rest (bench/fanout: ~1.0x the release for 2-8 fetchers instead of
  // 1.7-3x). Set when the hybrid is added: a peer that was first sent the full bitfield keeps
  // requesting pieces a super-seeder does not serve. v1-only clients on the companion get plain
  // seeding. Off by default: with libtorrent 2.0.8 a lone downloader gets nothing from a
  // super-seeding hybrid and falls back to the companion after v1_stall_with_peers.
  bool super_seed_at_add(const Release& r) const {
    return config.super_seeding == SuperSeeding::published && r.rec.origin == Origin::seeded;
  }

  // A fetch that is not complete also joins the companion's (v1-only) swarm.
  void add_v1_download(Release& r, AddHow how = AddHow::sync) {
    const auto origin =
        r.rec.origin == Origin::fetched ? ReleaseOrigin::fetched : ReleaseOrigin::seeded;
    if (v1_download_wanted(origin, all_wanted_verified(r.files))) {
      add_v1_companion(r, V1Mode::download, how);
    }
  }

  void remove_handle(TorrentId& h) {
    if (!valid(h)) return;
    handles.erase(h);
    torrents->remove(h);
    h = no_torrent;
  }

  // The release is complete (every wanted file SHA-256-verified) and the companion was a
  // download source. The hybrid's bitfield lacks what the companion fetched, and the companion's
  // what the hybrid fetched. With the whole release wanted, both are re-added in seed mode:
  // libtorrent then checks each piece (SHA-1, and for the hybrid the v2 Merkle tree) the first
  // time it uploads it, instead of re-reading everything now. A partial selection cannot be
  // seeded as a whole: the companion goes away and the hybrid re-checks its files.
  V1FinishPlan finish_v1_download(Release& r) {
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
    remove_handle(r.v1_handle);
    r.v1_mode = CompanionMode::none;
    for (auto& f : r.files) f.v1_done = 0;
    r.flush_outstanding = 0;
    r.flush_pending.clear();
    if (plan.action == V1Finish::drop_standby) return plan;
    if (plan.action == V1Finish::recheck_hybrid) {
      if (r.ti) {
        torrents->prioritize_files(r.handle, priorities(r, r.ti->num_files()));  // undo deselect
        torrents->force_recheck(r.handle);
        resume_check_started(r.resume);
      }
      return plan;
    }
    // remove_torrent and add_torrent run in order on libtorrent's thread, so the same
    // info-hash can be added again right away.
    remove_handle(r.handle);
    if (auto st = add_to_session(r, AddMode::seed); !st) {
      r.error = st.error();
      log::error("{}: re-adding for seeding: {}", r.rec.id, st.error().message);
    }
    return plan;
  }

  void connect_pending(Release& r) {
    r.peers.connect_pending(*torrents, r.handle, r.v1_downloading() ? r.v1_handle : no_torrent,
                            r.status ? &*r.status : nullptr);
  }

  Status merge_peers(Release& r, const std::vector<std::string>& peers) {
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

  // ---- verification ----------------------------------------------------------------------------

  void request_hash(Release& r, std::size_t i) {
    if (r.files[i].hashing || r.files[i].verified) return;
    r.flush_pending.insert(i);
    if (r.flush_outstanding > 0) return;
    // Both download sources write the same files: wait until both have flushed.
    for (auto* h : {&r.handle, &r.v1_handle}) {
      if (valid(*h) && (h == &r.handle || r.v1_active())) {
        torrents->flush_cache(*h);  // answered by cache_flushed_alert
        ++r.flush_outstanding;
      }
    }
  }

  void on_flushed(Release& r) {
    r.flush_outstanding = 0;
    const auto pending = std::move(r.flush_pending);
    r.flush_pending.clear();
    for (const auto i : pending) hash_file_async(r, i);
  }

  void hash_file_async(Release& r, std::size_t i) {
    if (r.files[i].hashing || r.files[i].verified) return;
    r.files[i].hashing = true;
    const auto path =
        store.staging_file(r.rec.v2_infohash, r.rec.revision, r.manifest.files[i].path);
    verifier->check(FileKey{r.rec.id, r.generation, i}, path, expected_of(r, i),
                    CheckPurpose::downloaded);
  }

  static ExpectedFile expected_of(const Release& r, std::size_t i) {
    return ExpectedFile{r.manifest.files[i].length, r.manifest.files[i].sha256};
  }

  // The verifier's reports, by purpose.
  void on_checked(const FileChecked& c) {
    switch (c.purpose) {
      case CheckPurpose::downloaded:
        on_hashed(c);
        return;
      case CheckPurpose::reverify_store:
      case CheckPurpose::reverify_staging:
        on_reverified(c);
        return;
      case CheckPurpose::scrub:
        on_scrubbed(c);
        return;
    }
  }

  void on_hashed(const FileChecked& c) {
    Release* r = find(c.key.release);
    if (!r || r->generation != c.key.generation) return;
    const auto i = c.key.index;
    r->files[i].hashing = false;
    const auto& f = r->manifest.files[i];
    const auto path = store.staging_file(r->rec.v2_infohash, r->rec.revision, f.path);
    const bool mismatch = c.outcome == CheckOutcome::mismatch;
    if ((c.error && c.error->code == Errc::io_error && r->files[i].io_retries < 20) ||
        (mismatch && r->files[i].io_retries < 2)) {
      // Not readable yet (libtorrent may report a piece before the file is on disk): try
      // again shortly; only a readable file with other content is a verification failure.
      r->files[i].io_retries++;
      auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(500));
      const std::string rid = r->rec.id;
      const auto g = r->generation;
      timer->async_wait([this, timer, rid, g, i](const boost::system::error_code& ec) {
        Release* again = find(rid);
        if (ec || gate.shutting_down() || !again || again->generation != g) return;
        hash_file_async(*again, i);
      });
      return;
    }
    if (c.outcome == CheckOutcome::match) {
      // With two download sources the file may still be written to (see check_complete): it
      // is linked into the store, which other releases share, only after the final pass.
      if (auto st = r->v1_active() ? Status{} : store.adopt(path, f.sha256); !st) {
        r->error = st.error();
        persist(*r);
        return;
      }
      r->files[i].verified = true;
      r->files[i].failed = false;
      deselect_verified(*r, i);
      persist(*r);
      check_complete(*r);
      return;
    }
    r->files[i].failed = true;
    r->files[i].attempts++;
    const std::string why =
        c.error ? c.error->message
                : fmt::format("SHA-256 {} (length {}) differs from the manifest's {} (length {})",
                              c.sha256, c.length, f.sha256, f.length);
    r->error = Error{c.error ? c.error->code : Errc::hash_mismatch,
                     fmt::format("{}: file {}: {}", r->rec.id, f.path, why),
                     r->files[i].attempts < max_hash_attempts
                         ? "the file is being downloaded again"
                         : "giving up on this file; remove the release and fetch it again"};
    log::error("{}", r->error->message);
    persist(*r);
    if (r->files[i].attempts < max_hash_attempts && valid(r->handle)) {
      // libtorrent's Merkle check passed but the full-file hash did not: have libtorrent
      // re-check what is on disk so bad pieces are downloaded again.
      recheck(*r);
    }
  }

  // With two download sources, a file verified from one is not downloaded again by the other.
  // Blocks already requested may still be written into it (libtorrent uses its part file only
  // for files that do not exist yet); the final pass in check_complete catches bad ones.
  void deselect_verified(Release& r, std::size_t i) {
    if (!r.v1_active() || r.files[i].lt_index < 0) return;
    torrents->file_priority(r.handle, r.files[i].lt_index, FilePriority::skip);
    torrents->file_priority(r.v1_handle, r.files[i].lt_index, FilePriority::skip);
  }

  // Re-check what is on disk so that bad pieces are downloaded again (by both sources).
  void recheck(Release& r) {
    r.resume_have.clear();
    r.resume.current = false;
    if (valid(r.handle)) {
      torrents->force_recheck(r.handle);
      resume_check_started(r.resume);
    }
    if (r.v1_active() && valid(r.v1_handle)) torrents->force_recheck(r.v1_handle);
    // A seed dropped its connections to other seeds; once it misses pieces again it must find
    // them: the known peers are dialled again after the check, and trackers asked anew. The peer
    // list still marks them as seeds seen while we were finished, which keeps them from being
    // connect candidates, so it starts over.
    if (valid(r.handle)) torrents->clear_peers(r.handle);
    r.peers.queue_known(r.rec.peers);
    if (valid(r.handle)) torrents->force_reannounce(r.handle);
  }

  // Files that libtorrent has completely (per the piece bitfield) and we have not verified yet.
  void hash_completed_files(Release& r) {
    if (r.intake == Intake::preparing) return;
    for (const auto i : files_to_hash(r.files)) request_hash(r, i);
  }

  void check_complete(Release& r, AddHow how = AddHow::sync) {
    const auto complete = complete_view(r.manifest, r.files);
    if (!complete) return;
    const auto& view = *complete;
    if (r.verify_outstanding > 0) return;
    if (r.v1_downloading()) {
      // Final counters of both sources before they are removed or re-added.
      if (valid(r.v1_handle)) r.v1_status = torrents->status(r.v1_handle);
      if (valid(r.handle)) r.status = torrents->status(r.handle);
      const auto plan = finish_v1_download(r);
      // Both torrents wrote into the same files: a block of one may have landed in a file
      // already verified through the other (in flight when it was deselected, or from a peer
      // that sent bad data). Hash everything once more before the release is complete.
      if (plan.staging_pass) {
        r.staging_pass = true;
        verify_all(r, VerifySource::staging);
        return;
      }
    }
    // At start-up every complete release passes here: an intact view, record and resume file
    // are kept as they are (rebuilding, persisting and saving cost ~3 fsyncs per release).
    if (!r.error && !r.degraded && !r.v1_downloading() && view_intact(store, r.rec, view)) {
      add_v1_companion(r, V1Mode::seed, how);
      materialise_hf_cache(r);
      return;
    }
    const bool was_clean = !r.error && !r.degraded;
    auto moved = publish_view(store, r.rec, view);
    if (!moved) {
      r.error = moved.error();
      persist(r);
      return;
    }
    const bool changed = *moved || !was_clean;
    r.error.reset();
    r.degraded = false;
    if (changed || release_state_from_string(r.rec.state) != ReleaseState::complete) {
      log::info("{}: complete, view at {}", r.rec.id, r.rec.view_path);
    }
    // The cached status comes from the last state_update (every 500 ms): refresh it so that a
    // release reported "complete" also reports every byte it downloaded.
    if (valid(r.handle)) r.status = torrents->status(r.handle);
    persist(r);
    if (valid(r.handle)) torrents->save_resume(r.handle, ResumeSave::flush_disk_cache);
    add_v1_companion(r, V1Mode::seed, how);
    materialise_hf_cache(r);
  }

  // The wanted files as a Hugging Face cache snapshot (hard links to the store), once.
  void materialise_hf_cache(Release& r) {
    if (!r.hf_cache || !r.hf_snapshot.empty()) return;
    auto snap = make_hf_snapshot(store, *r.hf_cache, r.manifest, r.rec.revision, r.files);
    if (!snap) {
      r.hf_cache_error = snap.error();
      log::error("{}: Hugging Face cache at {}: {}", r.rec.id, r.hf_cache->string(),
                 snap.error().message);
      return;
    }
    r.hf_cache_error.reset();
    r.hf_snapshot = snap->string();
    log::info("{}: Hugging Face cache snapshot at {}", r.rec.id, r.hf_snapshot);
  }

  // Hashes every verified file again: from the store, or (VerifySource::staging, after a
  // download through two torrents) the staging copy, which is then adopted into the store. A
  // mismatch takes the file out of the store and the view, and libtorrent re-checks and
  // downloads the bad pieces again; success calls check_complete.
  enum class VerifySource { store, staging };
  void verify_all(Release& r, VerifySource source = VerifySource::store) {
    if (r.verify_outstanding > 0) return;
    r.verify_failures.clear();
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (!r.files[i].verified) continue;
      const auto& f = r.manifest.files[i];
      // Empty files are never written by libtorrent; the store's is adopted without staging.
      if (source == VerifySource::staging && f.length == 0) continue;
      ++r.verify_outstanding;
      const auto path = source == VerifySource::store
                            ? store.store_file(f.sha256)
                            : store.staging_file(r.rec.v2_infohash, r.rec.revision, f.path);
      verifier->check(FileKey{r.rec.id, r.generation, i}, path, expected_of(r, i),
                      source == VerifySource::store ? CheckPurpose::reverify_store
                                                    : CheckPurpose::reverify_staging);
    }
    if (r.verify_outstanding == 0) {
      r.staging_pass = false;
      check_complete(r);
    }
  }

  void on_reverified(const FileChecked& c) {
    Release* rr = find(c.key.release);
    if (!rr || rr->generation != c.key.generation) return;
    const auto i = c.key.index;
    const auto source =
        c.purpose == CheckPurpose::reverify_store ? VerifySource::store : VerifySource::staging;
    rr->verify_outstanding--;
    const auto& file = rr->manifest.files[i];
    bool good = c.outcome == CheckOutcome::match;
    if (good && source == VerifySource::staging && file.length > 0) {
      const auto path = store.staging_file(rr->rec.v2_infohash, rr->rec.revision, file.path);
      if (auto st = store.adopt(path, file.sha256); !st) {
        log::error("{}: {}", rr->rec.id, st.error().message);
        good = false;
      }
    }
    if (!good) {
      rr->verify_failures.push_back(file.path);
      if (source == VerifySource::store) {
        // Damaged on disk after it was verified: quarantine (a copy kept, the store entry and
        // the view removed), degraded; the re-check runs once every file was hashed.
        quarantine(*rr, i, c.found(), "verify", Recheck::later);
      } else {
        // (A staging copy was never adopted: the store's entry is another release's.)
        rr->files[i].verified = false;
        rr->files[i].failed = true;
        (void)store.remove_view(rr->rec.model, rr->rec.revision);
        rr->rec.view_path.clear();
      }
    }
    if (rr->verify_outstanding > 0) return;
    rr->staging_pass = false;
    if (!rr->verify_failures.empty()) {
      std::string list;
      for (const auto& p : rr->verify_failures) list += (list.empty() ? "" : ", ") + p;
      rr->error = Error{Errc::hash_mismatch,
                        fmt::format("{}: verify: {} file(s) differ from the manifest: {}",
                                    rr->rec.id, rr->verify_failures.size(), list),
                        "the damaged files are being downloaded again"};
      log::error("{}", rr->error->message);
      recheck(*rr);
      persist(*rr);
    } else {
      log::info("{}: verify: every stored file matches the manifest", rr->rec.id);
      persist(*rr);
      check_complete(*rr);
    }
  }

  // ---- torrent events --------------------------------------------------------------------------

  void on_event(const TorrentEvent& e) {
    std::visit([this](const auto& ev) { handle_event(ev); }, e);
  }

  void handle_event(const TorrentAdded& e) {
    const auto it = pending_adds.find(e.cookie);
    if (it == pending_adds.end()) return;
    auto p = std::move(it->second);
    pending_adds.erase(it);
    on_added(p, e);
  }

  void handle_event(const UpdatesLost&) { resume_saver.updates_lost(); }

  void handle_event(const StatusBatch& batch) {
    for (const auto& u : batch.updates) {
      bool v1 = false;
      Release* r = by_torrent(u.torrent, &v1);
      if (!r) continue;
      if (v1) {
        r->v1_status = u.status;
        if (!r->v1_downloading()) continue;
        if (valid(r->handle)) apply_file_done(r->files, u.file_done, DownloadSource::v1);
        if (u.status.state == TorrentPhase::finished || u.status.state == TorrentPhase::seeding) {
          hash_completed_files(*r);
        }
        continue;
      }
      r->status = u.status;
      if (valid(r->handle)) apply_file_done(r->files, u.file_done, DownloadSource::hybrid);
      resume_saver.maybe_save_progress(*r);
      maybe_redial(*r, *r->status);
      maybe_activate_v1(*r, *r->status);
      connect_pending(*r);
      // Per-file completion comes from FileCompleted; once the torrent is finished (also right
      // after a restart) every wanted file is on disk.
      if (u.status.state == TorrentPhase::finished || u.status.state == TorrentPhase::seeding) {
        hash_completed_files(*r);
      }
    }
    resume_saver.updates_answered();
  }

  void handle_event(const FileCompleted& e) {
    bool v1 = false;
    Release* r = by_torrent(e.torrent, &v1);
    if (!r || (v1 && !r->v1_downloading())) return;
    const auto source = v1 ? DownloadSource::v1 : DownloadSource::hybrid;
    for (const auto i : mark_file_completed(r->files, e.file_index, source)) request_hash(*r, i);
  }

  void handle_event(const TorrentFinished& e) {
    bool v1 = false;
    Release* r = by_torrent(e.torrent, &v1);
    if (!r || v1) return;
    if (!r->resume.current) torrents->save_resume(e.torrent, ResumeSave::flush_disk_cache);
    request_updates();
  }

  void handle_event(const CacheFlushed& e) {
    Release* r = by_torrent(e.torrent);
    if (r && r->flush_outstanding > 0 && --r->flush_outstanding == 0) on_flushed(*r);
  }

  void handle_event(const PieceHashFailed& e) {
    if (Release* r = by_torrent(e.torrent)) r->hash_failures++;
  }

  void handle_event(const PeerBanned& e) {
    if (Release* r = by_torrent(e.torrent)) r->banned_peers++;
    log::warning("banned peer {}", e.message);
  }

  void handle_event(const TorrentChecked& e) {
    bool v1 = false;
    Release* r = by_torrent(e.torrent, &v1);
    if (!r || v1) return;
    // A check we started is over: its result is what is on disk, persist it now (a kill
    // before the next save would otherwise lose the check). At start-up (resume data checked)
    // only partial downloads are saved: complete releases keep their resume file.
    // The check's result stands, even below the floor: libtorrent either took the have
    // bitfield we gave it or, having rejected it, hashed the files.
    const bool was_checking = resume_checked(r->resume);
    if (was_checking || !all_wanted_verified(r->files)) {
      // The cached status may still say checking_files, which would veto the save.
      r->status = torrents->status(e.torrent);
      request_progress_save(*r);
    }
  }

  void handle_event(const ResumeSaved& e) { resume_saver.on_saved(e); }

  void handle_event(const ResumeSaveFailed& e) { resume_saver.on_save_failed(e); }

  void handle_event(const TorrentError& e) {
    bool v1 = false;
    Release* r = by_torrent(e.torrent, &v1);
    if (r && !v1) disk_guard.on_disk_error(*r, e.no_space, e.message);
    log::error("{}", e.message);
  }

  // An async add answered. The release may have been removed meanwhile (then the torrent goes
  // too); a refused hybrid fails the release like a synchronous add.
  void on_added(const PendingAdd& p, const TorrentAdded& e) {
    Release* r = find(p.id);
    if (!r || r->generation != p.generation) {
      if (valid(e.torrent)) torrents->remove(e.torrent);
      return;
    }
    if (p.role != Role::hybrid) {
      r->v1_adding = false;
      if (!valid(e.torrent)) {
        log::warning("{}: v1 companion: {}", r->rec.id, e.error);
        return;
      }
      adopt_v1(*r, e.torrent, p.role == Role::v1_seed ? V1Mode::seed : V1Mode::download);
      return;
    }
    set_loaded(*r);
    if (!valid(e.torrent)) {
      r->error =
          Error{Errc::internal, fmt::format("libtorrent refused {}: {}", r->rec.id, e.error), ""};
      persist(*r);
      return;
    }
    r->handle = e.torrent;
    handles[r->handle] = HandleRef{r->rec.id, false};
    r->resume.current = r->resumed && all_wanted_verified(r->files);
    if (gate.shutting_down()) return;
    add_v1_download(*r, AddHow::async);
    check_complete(*r, AddHow::async);
  }

  // Start-up loading is the StartupLoader's, resume saves the ResumeSaver's.
  void set_loaded(Release& r) { loader.loaded(r); }

  Status not_loading(const Release& r) const { return daemon::not_loading(r); }

  void request_progress_save(Release& r) { resume_saver.request_progress_save(r); }

  // ---- timers ----------------------------------------------------------------------------------

  void request_updates() { resume_saver.request_updates(); }

  void schedule_updates() {
    update_timer.expires_after(std::chrono::milliseconds(500));
    update_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || gate.shutting_down()) return;
      request_updates();
      schedule_updates();
    });
  }

  void schedule_resume_saves() {
    resume_timer.expires_after(config.resume_save_interval);
    resume_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || gate.shutting_down()) return;
      resume_saver.save_changed();
      schedule_resume_saves();
    });
  }

  void schedule_refresh() {
    poller = std::make_unique<FeedPoller>(
        ioc, *state, config, clock,
        [this](const std::vector<std::pair<std::string, std::string>>& manifests) {
          // Only verified bytes are cached (keyed by their pinned hash), so a cache hit is as
          // good as a fetch.
          if (auto st = db->cache_manifests(manifests); !st) {
            log::warning("manifest cache: {}", st.error().message);
          }
          // New trusted targets: follows may have something new to mirror.
          apply_follows();
        },
        [this]() -> std::vector<std::string> {
          auto hashes = db->cached_manifest_hashes();
          if (!hashes) {
            log::warning("manifest cache: {}", hashes.error().message);
            return {};
          }
          return std::move(*hashes);
        });
    trusted_feeds.emplace(*state);
    manifest_cache.emplace(*db);
    resolver = std::make_unique<Resolver>(
        ioc, poller->workers(), *trusted_feeds, *manifest_cache,
        [this](const FeedState& fs) { return poller->fetcher_for(fs); }, config.path_policy);
    // Manifests fetched because the cache missed them: follows may select those releases.
    resolver->on_filled([this] {
      if (resolver->filling() == 0) apply_follows();
    });
    resolver->fill_missing();
    resume_resolutions();
    poller->start();
  }

  // ---- policy: disk budget, follows, rate windows, full disk, scrub
  // ------------------------------

  std::int64_t now_ticks() { return clock().time_since_epoch().count(); }

  StoredRelease stored_of(const Release& r, const std::vector<bool>& wanted) const {
    StoredRelease s;
    s.id = r.rec.id;
    s.pinned = r.rec.pinned;
    s.held = held.count(r.rec.id) > 0;
    s.last_requested = r.rec.last_requested != 0 ? r.rec.last_requested : r.rec.added_at;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (wanted[i]) s.content.push_back({r.manifest.files[i].sha256, r.manifest.files[i].length});
    }
    return s;
  }

  std::uint64_t reserved_now() const {
    std::vector<StoredRelease> all;
    for (const auto& [id, r] : releases) all.push_back(stored_of(*r, wanted_mask(r->files)));
    return reserved_bytes(all);
  }

  // Free bytes on the state dir's filesystem for an unprivileged writer.
  std::optional<std::uint64_t> free_disk() const { return free_disk_bytes(config.state_dir); }

  // The disk budget is the SeedExecutor's (daemon/engine/seed_executor.hpp).
  Status make_room(const StoredRelease& incoming) {
    return seeds.make_room(incoming,
                           {config.max_disk, config.min_free_disk, config.state_dir.string()});
  }

  void apply_follows() {
    if (gate.shutting_down()) return;
    seeds.apply();
  }

  // What a refusal for room depends on: the bytes releases reserve, how many fetches are in
  // progress (protected), pins, and free space (MiB).
  using RoomKey = std::tuple<std::uint64_t, std::size_t, std::size_t, std::uint64_t>;
  RoomKey room_key() const {
    std::size_t active = 0, pinned = 0;
    for (const auto& [id, r] : releases) {
      const auto st = state_of(*r);
      active += st != ReleaseState::complete && st != ReleaseState::failed;
      pinned += r->rec.pinned;
    }
    return {reserved_now(), active, pinned, free_disk().value_or(0) >> 20};
  }

  // Time-of-day windows: the limits in force now (local time of the daemon).
  void apply_rate_windows() {
    const std::time_t t = std::chrono::system_clock::to_time_t(clock());
    std::tm local{};
    localtime_r(&t, &local);
    const Rates rates = rates_at(Rates{config.download_rate, config.upload_rate},
                                 config.rate_windows, local.tm_hour * 60 + local.tm_min);
    if (rates == applied_rates) return;
    applied_rates = rates;
    lt_backend->set_rate_limits(rates.download, rates.upload);
    log::info("rate limits now: download {} B/s, upload {} B/s (0 = unlimited)", rates.download,
              rates.upload);
  }

  void schedule_policy() {
    policy_timer.expires_after(std::chrono::seconds(2));
    policy_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || gate.shutting_down()) return;
      apply_rate_windows();
      disk_guard.check();
      disk_guard.resume_where_room();
      seeds.tick();  // follows refused for lack of room are tried again
      queue_due_scrubs();
      schedule_policy();
    });
  }

  void queue_due_scrubs() {
    if (config.scrub != Toggle::on || !verifier->scrub_idle()) return;
    const auto now = now_ticks();
    const auto interval = config.scrub_interval.count();
    const Release* oldest = nullptr;
    for (const auto& [id, r] : releases) {
      if (state_of(*r) != ReleaseState::complete) continue;
      // Never scrubbed: count from when it was added, so a fresh node does not re-hash
      // everything it just verified.
      const auto since = r->rec.last_scrubbed != 0 ? r->rec.last_scrubbed : r->rec.added_at;
      if (now - since < interval) continue;
      if (!oldest ||
          since < (oldest->rec.last_scrubbed ? oldest->rec.last_scrubbed : oldest->rec.added_at)) {
        oldest = r.get();
      }
    }
    if (oldest) verifier->queue_scrub(oldest->rec.id);
  }

  // The scrub (Verifier) walks a complete release's verified files one at a time, read at most
  // at scrub_rate. A mismatch quarantines the file (out of the store and the view), marks the
  // release degraded and has libtorrent re-check and re-download the bad pieces.
  ScrubSource scrub_source() {
    ScrubSource src;
    src.start = [this](const std::string& id) -> std::optional<std::uint64_t> {
      const Release* r = find(id);
      if (!r || state_of(*r) != ReleaseState::complete) return std::nullopt;
      return r->generation;
    };
    src.next = [this](const std::string& id, std::uint64_t gen, std::size_t i) {
      ScrubSource::Next next;
      const Release* r = find(id);
      if (!r || r->generation != gen) return next;  // gone
      while (i < r->manifest.files.size() &&
             (!r->files[i].verified || r->manifest.files[i].length == 0)) {
        ++i;
      }
      if (i >= r->manifest.files.size()) {
        next.kind = ScrubSource::Next::Kind::done;
        return next;
      }
      next.kind = ScrubSource::Next::Kind::file;
      next.index = i;
      next.path = store.store_file(r->manifest.files[i].sha256);
      next.expected = expected_of(*r, i);
      return next;
    };
    return src;
  }

  void on_scrubbed(const FileChecked& c) {
    Release* r = find(c.key.release);
    if (!r || r->generation != c.key.generation) return;
    ++counters.scrub_files;
    if (c.outcome != CheckOutcome::unreadable) counters.scrub_bytes += c.length;
    if (c.outcome != CheckOutcome::match) {
      ++counters.scrub_mismatches;
      quarantine(*r, c.key.index, c.found(), "scrub");
    }
  }

  void on_scrub_finished(const ScrubFinished& f) {
    Release* r = find(f.release);
    if (!r || r->generation != f.generation) return;
    r->rec.last_scrubbed = now_ticks();
    ++counters.scrub_passes;
    last_scrub_finished = clock();
    if (f.mismatches == 0) {
      log::info("{}: scrub: every stored file matches the manifest", f.release);
    }
    persist(*r);
  }

  // Takes damaged content out of the store and the view; the staging copy (the same inode)
  // is re-checked by libtorrent, which downloads the bad pieces again.
  enum class Recheck { now, later };
  void quarantine(Release& r, std::size_t i, const std::string& found, std::string_view by,
                  Recheck when = Recheck::now) {
    const auto& file = r.manifest.files[i];
    // libtorrent re-downloads into the staging name (see quarantine_stored_file).
    quarantine_stored_file(store, config.state_dir / "quarantine", file.sha256,
                           store.staging_file(r.rec.v2_infohash, r.rec.revision, file.path),
                           now_ticks());
    (void)store.remove_view(r.rec.model, r.rec.revision);
    r.rec.view_path.clear();
    r.files[i].verified = false;
    r.files[i].failed = true;
    r.degraded = true;
    r.error = Error{Errc::hash_mismatch,
                    fmt::format("{}: {}: file {} is damaged on disk: {} instead of the manifest's "
                                "{}; quarantined",
                                r.rec.id, by, file.path, found, file.sha256),
                    "the damaged pieces are being downloaded again from the swarm"};
    log::error("{}", r.error->message);
    if (when == Recheck::now) recheck(r);
    persist(r);
  }

  // ---- startup ---------------------------------------------------------------------------------

  // Every known release is listed at once (state `loading`); the StartupLoader adds their
  // torrents in batches from the event loop, so the control API answers meanwhile. Each add
  // is asynchronous: libtorrent checks the resume data of the torrents already added while
  // the next batch is read, and on_added carries on with each release.
  void load_releases() {
    auto recs = db->list();
    if (!recs) {
      log::error("cannot load releases: {}", recs.error().message);
      return;
    }
    for (auto& rec : *recs) {
      auto m = parse_release_manifest(rec.manifest);
      if (!m) {
        log::error("release {}: stored manifest unreadable: {}", rec.id, m.error().message);
        continue;
      }
      auto r = make_release(std::move(rec), std::move(*m));
      std::error_code ec;
      if (std::filesystem::exists(store.torrent_file(r->rec.v2_infohash), ec)) loader.enqueue(*r);
      releases[r->rec.id] = std::move(r);
    }
    loader.start();
  }
};

// ---- Engine ------------------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {
  impl_->owner = this;
}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::start(asio::io_context& ioc, const Config& config,
                                              WallClock clock) {
  auto impl = std::make_unique<Impl>(ioc, config, std::move(clock));
  if (auto st = impl->store.ensure_layout(); !st) return tl::unexpected(st.error());
  // One connection to state.sqlite, shared by the trust tables and the release tables.
  auto state_db = db::StateDb::open(config.state_dir, db::StateDb::Lock::held_by_caller);
  if (!state_db) return tl::unexpected(state_db.error());
  impl->state.emplace(*state_db);
  impl->db.emplace(*state_db);
  Impl* raw = impl.get();
  auto session = TorrentSession::start(ioc, config, [raw](lt::alert* a) {
    if (raw->lt_backend) raw->lt_backend->on_alert(a);
  });
  if (!session) return tl::unexpected(session.error());
  impl->lt_backend = std::make_unique<LtBackend>(std::move(*session));
  impl->lt_backend->set_sink([raw](const TorrentEvent& e) { raw->on_event(e); });
  impl->torrents = impl->lt_backend.get();
  impl->load_releases();
  impl->schedule_updates();
  impl->schedule_resume_saves();
  impl->schedule_refresh();
  auto engine = std::unique_ptr<Engine>(new Engine(std::move(impl)));
  engine->impl_->schedule_policy();
  engine->impl_->apply_rate_windows();
  engine->impl_->apply_follows();
  return engine;
}

Result<api::Feed> Engine::add_feed(const std::string& name, const std::string& location,
                                   const std::string& root,
                                   const std::vector<std::string>& mirrors) {
  for (const auto& loc : mirrors) {
    if (loc.empty() || loc == location) {
      return fail(Errc::invalid_argument,
                  fmt::format("mirror '{}' is empty or the feed's location", loc));
    }
  }
  // Malformed URLs are refused now rather than stored and refused on every refresh.
  std::vector<std::string> all{location};
  all.insert(all.end(), mirrors.begin(), mirrors.end());
  for (const auto& loc : all) {
    if (loc.starts_with("http://") || loc.starts_with("https://")) {
      if (auto f = HttpFetcher::create(loc, {}); !f) return tl::unexpected(f.error());
    }
  }
  if (auto st = tuf::add_feed(*impl_->state, name, location, root, impl_->clock(), mirrors); !st) {
    return tl::unexpected(st.error());
  }
  // First refresh right away, off the io thread; a refusal is recorded in the feed's status,
  // not an add failure.
  return impl_->feed_json_with_ticket(name, impl_->poller->request(name));
}

Result<api::FeedList> Engine::list_feeds() {
  auto names = impl_->state->list_feeds();
  if (!names) return tl::unexpected(names.error());
  api::FeedList out;
  for (const auto& n : *names) {
    auto f = impl_->feed_json(n);
    if (!f) return tl::unexpected(f.error());
    out.feeds.push_back(std::move(*f));
  }
  return out;
}

Result<api::Feed> Engine::get_feed(const std::string& name) {
  return impl_->feed_json(name);
}

Result<api::Feed> Engine::refresh_feed(const std::string& name) {
  if (auto f = impl_->state->load_feed(name, FeedDetail::summary); !f) {
    return tl::unexpected(f.error());
  }
  return impl_->feed_json_with_ticket(name, impl_->poller->request(name));
}

Result<api::Removed> Engine::remove_feed(const std::string& name) {
  if (auto st = impl_->state->remove_feed(name); !st) return tl::unexpected(st.error());
  impl_->poller->forget(name);
  return api::Removed{name};
}

Result<api::Release> Engine::fetch(const FetchRequest& req) {
  auto& I = *impl_;
  if (I.gate.shutting_down()) return fail(Errc::unavailable, "weightsd is shutting down");
  for (const auto& p : req.peers) {
    if (auto ep = parse_peer(p); !ep) return tl::unexpected(ep.error());
  }
  auto resolved = I.resolve(req.name, req.revision, req.feed);
  if (!resolved) return tl::unexpected(resolved.error());
  const auto& m = resolved->manifest;
  // Every include pattern must select something: a typo must not silently fetch nothing.
  std::vector<std::string> paths;
  for (const auto& f : m.files) paths.push_back(f.path);
  for (const auto& g : req.include) {
    const std::vector<std::string> one{g};
    const auto sel = select_files(paths, one);
    if (std::find(sel.begin(), sel.end(), true) == sel.end()) {
      return fail(Errc::invalid_argument,
                  fmt::format("--include '{}' matches no file of {}@{}", g, m.model, m.revision),
                  "patterns are shell globs over the release's paths; '*' also matches '/'");
    }
  }
  const std::string id = fmt::format("{}@{}", m.model, m.revision);
  if (Release* r = I.find(id)) {
    if (auto st = I.not_loading(*r); !st) return tl::unexpected(st.error());
  }

  if (Release* r = I.find(id); r && valid(r->handle)) {
    if (req.requested_by == Requester::user) r->rec.last_requested = I.now_ticks();
    // Existing release: widen the selection (an empty include means every file).
    if (!r->rec.include.empty()) {
      std::vector<std::string> wider = r->rec.include;
      if (req.include.empty()) wider.clear();
      for (const auto& g : req.include) wider.push_back(g);
      if (auto st = I.make_room(I.stored_of(*r, select_files(paths, wider))); !st) {
        return tl::unexpected(st.error());
      }
      if (req.include.empty()) {
        r->rec.include.clear();
      } else {
        for (const auto& g : req.include) {
          if (std::find(r->rec.include.begin(), r->rec.include.end(), g) == r->rec.include.end()) {
            r->rec.include.push_back(g);
          }
        }
      }
      const auto wanted = select_files(paths, r->rec.include);
      for (std::size_t i = 0; i < r->files.size(); ++i) r->files[i].wanted = wanted[i];
      r->resume.current = false;
      I.verify_empty_files(*r);
      if (r->ti) {
        I.torrents->prioritize_files(r->handle, I.priorities(*r, r->ti->num_files()));
        if (r->v1_downloading()) {
          I.torrents->prioritize_files(r->v1_handle, I.priorities(*r, r->ti->num_files()));
        }
      }
      I.add_v1_download(*r);
    }
    if (auto st = I.merge_peers(*r, req.peers); !st) return tl::unexpected(st.error());
    if (req.hf_cache) {
      r->hf_cache = req.hf_cache;
      r->hf_snapshot.clear();
    }
    I.persist(*r);
    I.check_complete(*r);
    return I.release_json(*r);
  }
  if (Release* r = I.find(id); r && I.resolver->in_flight(Impl::acquisition_key(*r))) {
    // Its torrents are being fetched for an earlier request: this one joins it.
    if (auto st = I.join_resolving(*r, req, paths); !st) return tl::unexpected(st.error());
    return I.release_json(*r);
  }
  if (Release* r = I.find(id)) {
    // A failed earlier attempt (no torrent added): start over.
    I.releases.erase(r->rec.id);
  }

  ReleaseRecord rec;
  rec.id = id;
  rec.feed = resolved->feed.name;
  rec.model = m.model;
  rec.revision = m.revision;
  rec.release_seq = m.release_seq;
  rec.v2_infohash = m.torrent.v2_infohash;
  rec.manifest = resolved->bytes;
  rec.origin = Origin::fetched;
  rec.include = req.include;
  rec.peers = req.peers;
  rec.added_at = I.now_ticks();
  if (req.requested_by == Requester::user) rec.last_requested = rec.added_at;
  auto owned = I.make_release(std::move(rec), m);
  // Room under the disk budget and on the filesystem before any byte is requested.
  if (auto st = I.make_room(I.stored_of(*owned, wanted_mask(owned->files))); !st) {
    return tl::unexpected(st.error());
  }
  Release& r = *owned;
  r.hf_cache = req.hf_cache;
  I.releases[id] = std::move(owned);

  // The torrents come over the network: fetched on a worker while the release is `resolving`;
  // Impl::on_torrents adds it to the session or fails it. Nothing is persisted until then.
  const auto gen = r.generation;
  if (auto st =
          I.resolver->acquire(Impl::acquisition_key(r), resolved->feed, m, I.torrent_paths(m),
                              [this, id, gen, v2 = m.torrent.v2_infohash](Result<V1Companion> got) {
                                impl_->on_torrents(id, gen, v2, std::move(got));
                              });
      !st) {
    r.error = st.error();
    I.persist(r);
    return tl::unexpected(st.error());
  }
  log::info("{}: resolving: fetching its torrents from feed {}", id, r.rec.feed);
  return I.release_json(r);
}

Result<api::Release> Engine::seed(const SeedRequest& req) {
  auto& I = *impl_;
  if (I.gate.shutting_down()) return fail(Errc::unavailable, "weightsd is shutting down");
  auto fs = I.state->load_feed(req.feed);
  if (!fs) return tl::unexpected(fs.error());
  const tuf::TargetInfo* target = nullptr;
  for (const auto& t : fs->trusted_targets) {
    if (t.kind == tuf::TargetKind::release && t.model == req.model && t.revision == req.revision) {
      target = &t;
    }
  }
  if (!target) {
    return fail(
        Errc::not_found,
        fmt::format("{}@{} is not in feed {}'s trusted targets", req.model, req.revision, req.feed),
        "publish the release, then refresh the feed (weightsctl feed refresh)");
  }
  auto m = I.manifest_for(*fs, *target);
  if (!m) return tl::unexpected(m.error());
  const std::string id = fmt::format("{}@{}", req.model, req.revision);
  if (Release* r = I.find(id)) {
    if (auto st = I.not_loading(*r); !st) return tl::unexpected(st.error());
    if (I.state_of(*r) == ReleaseState::complete || r->intake == Intake::preparing)
      return I.release_json(*r);
    if (valid(r->handle)) {
      return fail(Errc::already_exists, fmt::format("{} is being fetched", id),
                  "remove it first (weightsctl remove), then seed");
    }
    I.releases.erase(id);
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(req.dir, ec)) {
    return fail(Errc::not_found, fmt::format("{} is not a directory", req.dir.string()));
  }

  ReleaseRecord rec;
  rec.id = id;
  rec.feed = req.feed;
  rec.model = req.model;
  rec.revision = req.revision;
  rec.release_seq = m->first.release_seq;
  rec.v2_infohash = m->first.torrent.v2_infohash;
  rec.manifest = m->second;
  rec.origin = Origin::seeded;
  rec.added_at = I.now_ticks();
  rec.last_requested = rec.added_at;
  auto owned = I.make_release(std::move(rec), m->first);
  Release& r = *owned;
  I.releases[id] = std::move(owned);
  r.intake = Intake::preparing;
  I.persist(r);

  // First the torrents (from the feed, on the resolver's workers), then take the publisher's
  // files into staging on a worker, by descriptor (Store::take_files: no
  // link followed, no FIFO opened, foreign inodes copied): nothing from `dir` is seeded unless
  // every byte matches the manifest.
  const auto files = r.manifest.files;
  const auto dir = req.dir;
  const auto staging = I.store.staging_dir(r.rec.v2_infohash) / r.rec.revision;
  const auto threads = I.config.hashing_threads;
  const auto gen = r.generation;
  auto take = [this, id, gen, files, dir, staging, threads] {
    impl_->on_pool(
        [files, dir, staging, threads]() -> Status {
          std::vector<SourceFile> sources;
          for (const auto& f : files) sources.push_back(SourceFile{f.path, f.length, f.sha256});
          return take_files(dir, sources, staging, threads);
        },
        [this, id, gen](Status st) {
          auto& J = *impl_;
          Release* rr = J.find(id);
          if (!rr || rr->generation != gen) return;
          rr->intake = Intake::ready;
          if (!st) {
            rr->error = st.error();
            log::error("seed {}: {}", id, st.error().message);
            J.persist(*rr);
            return;
          }
          for (std::size_t i = 0; i < rr->manifest.files.size(); ++i) {
            const auto& f = rr->manifest.files[i];
            Status ok = f.length == 0
                            ? J.store.adopt_empty()
                            : J.store.adopt(J.store.staging_file(rr->rec.v2_infohash,
                                                                 rr->rec.revision, f.path),
                                            f.sha256);
            if (!ok) {
              rr->error = ok.error();
              J.persist(*rr);
              return;
            }
            rr->files[i].verified = true;
          }
          if (auto added = J.add_to_session(*rr, Impl::AddMode::seed); !added) {
            rr->error = added.error();
            J.persist(*rr);
            return;
          }
          log::info("{}: seeding from {}", id, rr->rec.feed);
          J.persist(*rr);
          J.check_complete(*rr);
        });
  };
  if (auto st =
          I.resolver->acquire(Impl::acquisition_key(r), *fs, m->first, I.torrent_paths(m->first),
                              [this, id, gen, take](Result<V1Companion> got) {
                                auto& J = *impl_;
                                Release* rr = J.find(id);
                                if (!rr || rr->generation != gen || J.gate.shutting_down()) return;
                                if (!got) {
                                  rr->intake = Intake::ready;
                                  rr->error = got.error();
                                  log::error("seed {}: {}", id, got.error().message);
                                  J.persist(*rr);
                                  return;
                                }
                                take();
                              });
      !st) {
    r.intake = Intake::ready;
    r.error = st.error();
    I.persist(r);
    return tl::unexpected(st.error());
  }
  return I.release_json(r);
}

Result<api::ReleaseList> Engine::list_releases() {
  api::ReleaseList out;
  for (const auto& [id, r] : impl_->releases) out.releases.push_back(impl_->release_json(*r));
  return out;
}

Result<api::Release> Engine::get_release(const std::string& id) {
  auto r = impl_->require(id);
  if (!r) return tl::unexpected(r.error());
  return impl_->release_json(**r);
}

Result<api::Release> Engine::set_pinned(const std::string& id, bool pinned) {
  auto r = impl_->require(id);
  if (!r) return tl::unexpected(r.error());
  (*r)->rec.pinned = pinned;
  impl_->persist(**r);
  return impl_->release_json(**r);
}

Result<api::Removed> Engine::remove_release(const std::string& id_in, DeleteFiles files) {
  auto& I = *impl_;
  auto found = I.require(id_in);
  if (!found) return tl::unexpected(found.error());
  Release& r = **found;
  if (auto st = I.not_loading(r); !st) return tl::unexpected(st.error());
  const std::string id = r.rec.id;
  for (auto* h : {&r.handle, &r.v1_handle}) {
    if (valid(*h)) {
      I.handles.erase(*h);
      I.torrents->remove(*h);
    }
  }
  if (auto st = I.store.remove_view(r.rec.model, r.rec.revision); !st) {
    log::warning("{}", st.error().message);
  }
  if (files == DeleteFiles::yes) {
    std::set<std::string> used;
    for (const auto& [oid, other] : I.releases) {
      if (oid == id) continue;
      for (std::size_t i = 0; i < other->manifest.files.size(); ++i) {
        if (other->files[i].verified) used.insert(other->manifest.files[i].sha256);
      }
    }
    bool shared_torrent = false;
    for (const auto& [oid, other] : I.releases) {
      if (oid != id && other->rec.v2_infohash == r.rec.v2_infohash) shared_torrent = true;
    }
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      const auto& sha = r.manifest.files[i].sha256;
      if (r.files[i].verified && !used.count(sha)) (void)I.store.remove_store_entry(sha);
    }
    if (!shared_torrent) {
      std::error_code ec;
      std::filesystem::remove_all(I.store.staging_dir(r.rec.v2_infohash), ec);
      std::filesystem::remove(I.store.resume_file(r.rec.v2_infohash), ec);
      std::filesystem::remove(I.store.torrent_file(r.rec.v2_infohash), ec);
      std::filesystem::remove(I.store.torrent_v1_file(r.rec.v2_infohash), ec);
    }
  }
  if (auto st = I.db->remove(id); !st) return tl::unexpected(st.error());
  I.releases.erase(id);
  log::info("{}: removed{}", id, files == DeleteFiles::yes ? " with its files" : "");
  return api::Removed{id};
}

Result<api::Release> Engine::verify(const std::string& id) {
  auto& I = *impl_;
  auto found = I.require(id);
  if (!found) return tl::unexpected(found.error());
  if (auto st = I.not_loading(**found); !st) return tl::unexpected(st.error());
  I.verify_all(**found);
  return I.release_json(**found);
}

Result<api::ExportResult> Engine::export_release(const std::string& id,
                                                 const std::filesystem::path& dir) {
  auto& I = *impl_;
  auto found = I.require(id);
  if (!found) return tl::unexpected(found.error());
  const Release& r = **found;
  if (auto st = check_exportable(r.rec, r.manifest, r.files); !st) {
    return tl::unexpected(st.error());
  }
  auto fsr = I.state->load_feed(r.rec.feed);
  if (!fsr) {
    return tl::unexpected(with_context(fsr.error(), fmt::format("feed {}", r.rec.feed)));
  }
  auto info = export_bundle(*fsr, r.rec, r.manifest, I.store, dir);
  if (!info) return tl::unexpected(info.error());
  return api::ExportResult{r.rec.id,
                           dir.string(),
                           (*info)["format"].get<std::string>(),
                           fsr->name,
                           r.rec.model,
                           r.rec.revision,
                           r.rec.release_seq,
                           r.manifest.files.size(),
                           r.manifest.total_length};
}

Result<api::Release> Engine::add_peers(const std::string& id,
                                       const std::vector<std::string>& peers) {
  auto found = impl_->require(id);
  if (!found) return tl::unexpected(found.error());
  if (auto st = impl_->merge_peers(**found, peers); !st) return tl::unexpected(st.error());
  impl_->persist(**found);
  return impl_->release_json(**found);
}

Result<api::Follow> Engine::add_follow(const FollowSpec& spec) {
  auto v = impl_->seeds.add(spec);
  if (!v) return tl::unexpected(v.error());
  return follow_json(*v);
}

Result<api::FollowList> Engine::list_follows() {
  auto all = impl_->seeds.list();
  if (!all) return tl::unexpected(all.error());
  api::FollowList out;
  for (const auto& v : *all) out.follows.push_back(follow_json(v));
  return out;
}

Result<api::FollowRemoved> Engine::remove_follow(std::int64_t id) {
  if (auto st = impl_->seeds.remove(id); !st) return tl::unexpected(st.error());
  return api::FollowRemoved{id};
}

Result<api::ScrubResult> Engine::scrub(const std::optional<std::string>& id) {
  auto& I = *impl_;
  std::vector<std::string> ids;
  if (id) {
    auto found = I.require(*id);
    if (!found) return tl::unexpected(found.error());
    if (I.state_of(**found) != ReleaseState::complete) {
      return fail(Errc::invalid_argument,
                  fmt::format("{} is {}; only complete releases are scrubbed", (*found)->rec.id,
                              to_string(I.state_of(**found))));
    }
    ids.push_back((*found)->rec.id);
  } else {
    for (const auto& [rid, r] : I.releases) {
      if (I.state_of(*r) == ReleaseState::complete) ids.push_back(rid);
    }
  }
  for (const auto& rid : ids) I.verifier->queue_scrub(rid);
  return api::ScrubResult{ids, I.config.scrub_rate};
}

std::string Engine::metrics_text() {
  auto& I = *impl_;
  MetricsWriter m;
  m.family("weightsd_build_info", "weightsd version", MetricType::gauge);
  m.sample({{"version", WEIGHTS_VERSION}}, 1);

  m.family("weightsd_releases", "releases known to the node", MetricType::gauge);
  m.sample({}, static_cast<double>(I.releases.size()));
  std::vector<std::pair<std::string, const Release*>> rs;
  for (const auto& [id, r] : I.releases) rs.emplace_back(id, r.get());
  auto per_release = [&](std::string_view name, std::string_view help, MetricType type,
                         auto value) {
    m.family(name, help, type);
    for (const auto& [id, r] : rs) m.sample({{"release", id}}, static_cast<double>(value(*r)));
  };
  per_release("weightsd_release_size_bytes", "bytes of the release's wanted files",
              MetricType::gauge, [](const Release& r) {
                std::uint64_t n = 0;
                for (std::size_t i = 0; i < r.files.size(); ++i) {
                  if (r.files[i].wanted) n += r.manifest.files[i].length;
                }
                return n;
              });
  per_release("weightsd_release_verified_bytes", "bytes SHA-256-verified against the manifest",
              MetricType::gauge, [](const Release& r) {
                std::uint64_t n = 0;
                for (std::size_t i = 0; i < r.files.size(); ++i) {
                  if (r.files[i].verified) n += r.manifest.files[i].length;
                }
                return n;
              });
  per_release("weightsd_release_downloaded_bytes_total", "payload bytes downloaded",
              MetricType::counter, [](const Release& r) {
                return r.downloaded_base + (r.status ? r.status->total_payload_download : 0);
              });
  per_release("weightsd_release_uploaded_bytes_total", "payload bytes uploaded",
              MetricType::counter, [](const Release& r) {
                return r.uploaded_base + (r.status ? r.status->total_payload_upload : 0);
              });
  per_release("weightsd_release_peers", "connected peers", MetricType::gauge,
              [](const Release& r) { return r.status ? r.status->num_peers : 0; });
  per_release("weightsd_release_seeding", "1 when complete and seeding", MetricType::gauge,
              [&](const Release& r) { return I.release_json(r).seeding ? 1 : 0; });
  per_release("weightsd_release_pinned", "1 when pinned (never evicted)", MetricType::gauge,
              [](const Release& r) { return r.rec.pinned ? 1 : 0; });
  per_release("weightsd_release_held", "1 when a follow holds it (not evicted)", MetricType::gauge,
              [&](const Release& r) { return I.held.count(r.rec.id) ? 1 : 0; });
  m.family("weightsd_release_state", "the release's state (1 for the current one)",
           MetricType::gauge);
  for (const auto& [id, r] : rs)
    m.sample({{"release", id}, {"state", std::string(to_string(I.state_of(*r)))}}, 1);

  auto feeds = I.state->list_feeds();
  std::vector<api::Feed> fj;
  if (feeds) {
    for (const auto& n : *feeds) {
      if (auto f = I.feed_json(n)) fj.push_back(std::move(*f));
    }
  }
  auto ts = [](const std::optional<std::string>& t) -> std::optional<double> {
    if (!t) return std::nullopt;
    auto p = parse_utc(*t);
    if (!p) return std::nullopt;
    return static_cast<double>(p->time_since_epoch().count());
  };
  m.family("weightsd_feed_stale", "1 when the feed's metadata expired and nothing fresher came",
           MetricType::gauge);
  for (const auto& f : fj) m.sample({{"feed", f.name}}, f.stale ? 1 : 0);
  m.family("weightsd_feed_stale_since_timestamp_seconds", "when the feed became stale",
           MetricType::gauge);
  for (const auto& f : fj) {
    if (auto t = ts(f.stale_since)) m.sample({{"feed", f.name}}, *t);
  }
  m.family("weightsd_feed_last_success_timestamp_seconds", "last successful refresh",
           MetricType::gauge);
  for (const auto& f : fj) {
    if (auto t = ts(f.last_success)) m.sample({{"feed", f.name}}, *t);
  }
  m.family("weightsd_feed_last_refresh_failed",
           "1 when the most recent refresh was refused (reason in weightsctl feed status)",
           MetricType::gauge);
  for (const auto& f : fj) m.sample({{"feed", f.name}}, f.result == "refused" ? 1 : 0);
  m.family("weightsd_feed_last_refusal_info", "the code of the feed's last refusal",
           MetricType::gauge);
  for (const auto& f : fj) {
    if (f.last_refusal) m.sample({{"feed", f.name}, {"code", f.last_refusal->code}}, 1);
  }
  m.family("weightsd_feed_releases", "releases in the feed's trusted targets", MetricType::gauge);
  for (const auto& f : fj) m.sample({{"feed", f.name}}, static_cast<double>(f.releases));

  m.family("weightsd_disk_reserved_bytes", "bytes reserved by releases (shared content once)",
           MetricType::gauge);
  m.sample({}, static_cast<double>(I.reserved_now()));
  m.family("weightsd_disk_budget_bytes", "max_disk (0 = no budget)", MetricType::gauge);
  m.sample({}, static_cast<double>(I.config.max_disk));
  if (auto free = I.free_disk()) {
    m.family("weightsd_disk_free_bytes", "free bytes on the state dir's filesystem",
             MetricType::gauge);
    m.sample({}, static_cast<double>(*free));
  }
  m.family("weightsd_evictions_total", "releases evicted to stay within the budget",
           MetricType::counter);
  m.sample({}, static_cast<double>(I.counters.evictions));
  m.family("weightsd_no_space_refusals_total", "fetches refused for lack of room",
           MetricType::counter);
  m.sample({}, static_cast<double>(I.counters.no_space_refusals));
  m.family("weightsd_scrub_files_total", "stored files re-hashed by the scrubber",
           MetricType::counter);
  m.sample({}, static_cast<double>(I.counters.scrub_files));
  m.family("weightsd_scrub_bytes_total", "bytes re-hashed by the scrubber", MetricType::counter);
  m.sample({}, static_cast<double>(I.counters.scrub_bytes));
  m.family("weightsd_scrub_mismatches_total", "stored files found damaged and quarantined",
           MetricType::counter);
  m.sample({}, static_cast<double>(I.counters.scrub_mismatches));
  m.family("weightsd_scrub_passes_total", "releases scrubbed completely", MetricType::counter);
  m.sample({}, static_cast<double>(I.counters.scrub_passes));
  if (I.last_scrub_finished) {
    m.family("weightsd_scrub_last_finished_timestamp_seconds", "when the last scrub pass ended",
             MetricType::gauge);
    m.sample({}, static_cast<double>(I.last_scrub_finished->time_since_epoch().count()));
  }
  m.family("weightsd_rate_limit_bytes_per_second", "limits in force now (0 = unlimited)",
           MetricType::gauge);
  m.sample({{"direction", "download"}}, static_cast<double>(I.applied_rates.download));
  m.sample({{"direction", "upload"}}, static_cast<double>(I.applied_rates.upload));
  auto follows = I.db->follows();
  m.family("weightsd_follows", "follow policies", MetricType::gauge);
  m.sample({}, follows ? static_cast<double>(follows->size()) : 0.0);
  return m.text();
}

api::EngineStatus Engine::status_fields() {
  auto& I = *impl_;
  std::int64_t down = 0, up = 0;
  for (const auto& [id, r] : I.releases) {
    if (r->status) {
      down += r->status->download_payload_rate;
      up += r->status->upload_payload_rate;
    }
  }
  auto feeds = I.state->list_feeds();
  api::EngineStatus out;
  out.listen_port = I.lt_backend->listen_port();
  out.listen_interfaces = I.config.listen_interfaces;
  out.outgoing_interfaces = I.config.outgoing_interfaces;
  out.releases = I.releases.size();
  out.releases_loading = I.load.loading();
  out.feeds = feeds ? feeds->size() : 0;
  out.download_rate = down;
  out.upload_rate = up;
  out.disk = {I.reserved_now(), I.config.max_disk, I.free_disk()};
  out.rate_limits = {I.applied_rates.download, I.applied_rates.upload};
  return out;
}

void Engine::shutdown(std::function<void()> done, std::chrono::milliseconds timeout) {
  auto& I = *impl_;
  if (!I.resume_saver.begin_shutdown([&I, done = std::move(done)] {
        I.shutdown_timer.cancel();
        if (done) done();
      })) {
    return;
  }
  I.update_timer.cancel();
  I.resume_timer.cancel();
  I.policy_timer.cancel();
  I.poller->stop();
  I.verifier->stop();
  I.lt_backend->session().pause();
  // Payload counters as of now first (state_update_alert), then the saves.
  I.request_updates();
  I.shutdown_timer.expires_after(timeout);
  I.shutdown_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) impl_->resume_saver.deadline_passed();
  });
}

Result<std::vector<std::string>> Engine::seed_paths(const SeedRequest& req) {
  auto& I = *impl_;
  auto fs = I.state->load_feed(req.feed);
  if (!fs) return tl::unexpected(fs.error());
  for (const auto& t : fs->trusted_targets) {
    if (t.kind != tuf::TargetKind::release || t.model != req.model || t.revision != req.revision) {
      continue;
    }
    auto m = I.manifest_for(*fs, t);
    if (!m) return tl::unexpected(m.error());
    std::vector<std::string> out;
    for (const auto& f : m->first.files) out.push_back(f.path);
    return out;
  }
  return fail(
      Errc::not_found,
      fmt::format("{}@{} is not in feed {}'s trusted targets", req.model, req.revision, req.feed),
      "publish the release, then refresh the feed (weightsctl feed refresh)");
}

Result<std::pair<std::string, std::string>> Engine::fetch_target(const FetchRequest& req) {
  auto resolved = impl_->resolve(req.name, req.revision, req.feed);
  if (!resolved) return tl::unexpected(resolved.error());
  return std::pair{resolved->manifest.model, resolved->manifest.revision};
}

}  // namespace weights::daemon
