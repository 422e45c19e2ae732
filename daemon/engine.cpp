// The engine coordinates: it builds the components of daemon/engine/ (each with its unit test;
// the table in docs/architecture.md says which owns what), implements their host interfaces by
// calling the other components, routes the backend's events (on_event) and answers the API.
#include "daemon/engine.hpp"

#include <algorithm>
#include <atomic>
#include <set>
#include <variant>

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "core/db/state_store.hpp"
#include "core/trust/release_manifest.hpp"
#include "daemon/engine/catalog_follow.hpp"
#include "daemon/engine/disk_guard.hpp"
#include "daemon/engine/feed_desk.hpp"
#include "daemon/engine/fetch_request.hpp"
#include "daemon/engine/license_gate.hpp"
#include "daemon/engine/lt_backend.hpp"
#include "daemon/engine/periodic.hpp"
#include "daemon/engine/pin_rendezvous.hpp"
#include "daemon/engine/pin_search.hpp"
#include "daemon/engine/pinned_fetch.hpp"
#include "daemon/engine/release_checks.hpp"
#include "daemon/engine/release_registry.hpp"
#include "daemon/engine/release_torrents.hpp"
#include "daemon/engine/render.hpp"
#include "daemon/engine/resolver.hpp"
#include "daemon/engine/resume_saver.hpp"
#include "daemon/engine/seed_executor.hpp"
#include "daemon/engine/seed_intake.hpp"
#include "daemon/engine/startup_loader.hpp"
#include "daemon/engine/upstream_names.hpp"
#include "daemon/engine/upstream_watch.hpp"
#include "daemon/engine/verifier.hpp"
#include "daemon/engine/views.hpp"
#include "daemon/engine/work_pool.hpp"
#include "daemon/feed_poller.hpp"
#include "daemon/libtorrent_exposure.hpp"
#include "daemon/log.hpp"
#include "daemon/policy.hpp"
#include "daemon/release_db.hpp"
#include "daemon/store.hpp"
#include "daemon/torrent_session.hpp"

namespace weights::daemon {

namespace asio = boost::asio;

struct Engine::Impl {
  Impl(asio::io_context& io, Config cfg, WallClock clk)
      : ioc(io),
        config(std::move(cfg)),
        clock(std::move(clk)),
        store(config.state_dir),
        work(io, std::max(1u, config.hashing_threads)),
        shutdown_timer(io),
        alive(std::make_shared<bool>(true)) {
    VerifierEvents events;
    events.checked = [this](const FileChecked& c) { checks->on_checked(c); };
    events.scrub_finished = [this](const ScrubFinished& f) { checks->on_scrub_finished(f); };
    verifier =
        std::make_unique<Verifier>(work, std::move(events), scrub_source(), config.scrub_rate);
  }

  ~Impl() {
    *alive = false;
    upstream_cancel->store(true);
    pinned.stop_searches();
    pin_asks.stop();
    transfers.stop();
    work.stop();
    rendezvous.reset();  // the pin exchange's thread stops before what it reads goes
    lt_backend.reset();  // aborts libtorrent before the state it reports into goes away
  }

  asio::io_context& ioc;
  Config config;
  WallClock clock;
  Store store;
  std::optional<StateStore> state;
  std::optional<ReleaseDb> db;
  std::unique_ptr<FeedPoller> poller;  // after `state` and `db`: destroyed before them
  std::optional<FeedDesk> feeds;       // the feeds' API (made in start(), over `state`)
  // Name resolution and torrent acquisition, on the poller's workers: after `poller`, so it is
  // destroyed first (its outcomes in flight are dropped).
  std::optional<StateStoreFeeds> trusted_feeds;
  std::optional<ReleaseDbManifestCache> manifest_cache;
  std::unique_ptr<Resolver> resolver;
  std::unique_ptr<LtBackend> lt_backend;
  TorrentBackend* torrents = nullptr;  // lt_backend, as the rules see it
  WorkPool work;                       // the hashing pool
  std::unique_ptr<Verifier> verifier;
  asio::steady_timer shutdown_timer;
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
      auto m = I.resolver->manifest_for(fs, t);
      if (!m) return tl::unexpected(m.error());
      return std::move(m->first);
    }
    bool needs_fetch(const std::string& id) override {
      return fetch_would_start(I.registry.find(id));
    }
    Status fetch(const FetchRequest& request) override {
      auto r = I.owner->fetch(request);
      if (!r) return tl::unexpected(r.error());
      return {};
    }
    void hold(const std::set<std::string>& held) override { I.held = held; }
    // What a refusal for room depends on: the bytes releases reserve, how many fetches are in
    // progress (protected), pins, and free space (MiB).
    RoomKey room_key() override {
      const auto c = I.registry.room_counts();
      return {I.registry.reserved(), c.active, c.pinned, I.free_disk().value_or(0) >> 20};
    }
    TimePoint now() override { return I.clock(); }
    std::vector<StoredRelease> stored_releases() override {
      return I.registry.stored_releases(I.held);
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
    Impl& I;
  };
  SeedHostImpl seed_host{*this};
  // Catalog follows reach the engine through catalog_host, declared below (only its address is
  // taken here).
  SeedExecutor seeds{seed_host, &catalog_host};
  std::set<std::string> held;  // releases a follow holds (SeedHost::hold)
  Rates applied_rates{};
  std::shared_ptr<bool> alive;
  // The Release records (release_registry.hpp); rows written through the ReleaseDb.
  ReleaseRegistry registry{RecordStore{[this](const ReleaseRecord& rec) { return db->put(rec); },
                                       [this](const std::string& id) { return db->remove(id); }}};
  // Fetch requests (fetch_request.hpp), reaching the engine through this host.
  struct FetchHostImpl final : FetchHost {
    explicit FetchHostImpl(Impl& impl) : I(impl) {}
    bool shutting_down() override { return I.gate.shutting_down(); }
    Result<Resolved> resolve(const FetchRequest& q) override {
      return I.resolver->resolve(q.name, q.revision, q.feed);
    }
    bool acquiring(const Release& r) override { return I.resolver->in_flight(acquisition_key(r)); }
    Status make_room(const Release& r, const std::vector<bool>& wanted) override {
      return I.make_room(stored_of(r, wanted, I.held.count(r.rec.id) > 0));
    }
    void selection_changed(Release& r) override {
      r.resume.current = false;
      I.checks->verify_empty_files(r);
      I.release_torrents->selection_changed(r);
    }
    Status add_peers(Release& r, const std::vector<std::string>& peers) override {
      return I.release_torrents->merge_peers(r, peers);
    }
    void check_complete(Release& r) override { I.checks->check_complete(r); }
    Status acquire(Release& r, const FeedState& feed, const ReleaseManifest& m) override {
      return I.resolver->acquire(acquisition_key(r), feed, m, I.torrent_paths(m),
                                 [&I = I, id = r.rec.id, gen = r.generation,
                                  v2 = m.torrent.v2_infohash](Result<V1Companion> got) {
                                   I.fetches.torrents_arrived(
                                       id, gen, v2,
                                       got ? Status{} : Status(tl::unexpected(got.error())));
                                 });
    }
    Result<FeedState> feed(const std::string& name) override { return I.state->load_feed(name); }
    Status add(Release& r) override {
      I.checks->verify_empty_files(r);
      if (auto st = I.release_torrents->add(r, AddMode::normal); !st) return st;
      I.release_torrents->add_v1_download(r);
      return {};
    }
    void discard_torrents(const std::string& v2) override {
      std::error_code ec;
      std::filesystem::remove(I.store.torrent_file(v2), ec);
      std::filesystem::remove(I.store.torrent_v1_file(v2), ec);
    }
    std::int64_t now_ticks() override { return I.now_ticks(); }
    Impl& I;
  };
  FetchHostImpl fetch_host{*this};
  FetchIntake fetches{registry, fetch_host};
  // Seed requests (seed_intake.hpp), reaching the engine through this host.
  struct SeedIntakeHostImpl final : SeedIntakeHost {
    explicit SeedIntakeHostImpl(Impl& impl) : I(impl) {}
    bool shutting_down() override { return I.gate.shutting_down(); }
    Result<FeedState> feed(const std::string& name, const std::string& model) override {
      auto fs = I.state->load_feed(name, FeedDetail::summary);
      if (!fs) return fs;
      auto targets = I.state->model_targets(name, model);
      if (!targets) return tl::unexpected(targets.error());
      fs->trusted_targets = std::move(*targets);
      return fs;
    }
    Result<std::pair<ReleaseManifest, std::string>> manifest(const FeedState& fs,
                                                             const tuf::TargetInfo& t) override {
      return I.resolver->manifest_for(fs, t);
    }
    Status acquire(Release& r, const FeedState& fs, const ReleaseManifest& m,
                   std::function<void(Status)> done) override {
      return I.resolver->acquire(acquisition_key(r), fs, m, I.torrent_paths(m),
                                 [done = std::move(done)](Result<V1Companion> got) {
                                   done(got ? Status{} : Status(tl::unexpected(got.error())));
                                 });
    }
    void on_pool(std::function<Status()> work, std::function<void(Status)> then) override {
      I.work.run(std::move(work), std::move(then));
    }
    Status add_seed(Release& r) override { return I.release_torrents->add(r, AddMode::seed); }
    void check_complete(Release& r) override { I.checks->check_complete(r); }
    std::int64_t now_ticks() override { return I.now_ticks(); }
    Impl& I;
  };
  SeedIntakeHostImpl seed_intake_host{*this};
  SeedIntake seed_intake{registry, seed_intake_host, store, config.hashing_threads};
  // Upstream fetches (pinned_fetch.hpp): git and hub transfers on their own thread, so a long
  // download never holds up a feed refresh; cancelled at destruction.
  WorkPool transfers{ioc, 1};
  std::shared_ptr<std::atomic<bool>> upstream_cancel = std::make_shared<std::atomic<bool>>(false);
  struct PinnedFetchHostImpl final : PinnedFetchHost {
    explicit PinnedFetchHostImpl(Impl& impl) : I(impl) {}
    bool shutting_down() override { return I.gate.shutting_down(); }
    Status not_loading(const Release& r) override { return daemon::not_loading(r); }
    std::unique_ptr<Release> make_release(ReleaseRecord rec, const ReleaseManifest& m) override {
      return I.registry.make(std::move(rec), m);
    }
    void on_transfer(std::function<Status()> work, std::function<void(Status)> then) override {
      I.transfers.run(std::move(work), std::move(then));
    }
    void on_pool(std::function<Status()> work, std::function<void(Status)> then) override {
      I.work.run(std::move(work), std::move(then));
    }
    void post(std::function<void()> fn) override { after({}, std::move(fn)); }
    void after(std::chrono::milliseconds d, std::function<void()> fn) override {
      auto t = std::make_shared<asio::steady_timer>(I.ioc, d);
      t->async_wait([t, weak = std::weak_ptr<bool>(I.alive), fn = std::move(fn)](auto ec) {
        if (auto a = weak.lock(); !ec && a && *a) fn();
      });
    }
    const Store& store() override { return I.store; }
    Status make_room(const Release& r) override {
      return I.make_room(stored_of(r, wanted_mask(r.files), I.held.count(r.rec.id) > 0));
    }
    Status add_seed(Release& r) override { return I.release_torrents->add(r, AddMode::seed); }
    void check_complete(Release& r) override { I.checks->check_complete(r); }
    std::int64_t now_ticks() override { return I.now_ticks(); }
    TorrentBackend& backend() override { return *I.torrents; }
    void hub_answered(const std::string& id, const HubCheck& c) override {
      I.upstream_watch->record(id, c);
    }
    bool dht_enabled() override { return I.config.dht == Toggle::on; }
    PinSearchHost& pin_search_host() override { return I.pin_search_host; }
    std::vector<units::Endpoint> known_pin_peers() override { return pin_exchange_peers(I.config); }
    RecheckBudget& rechecks() override { return I.rechecks; }
    Impl& I;
  };
  // Rechecks after libtorrent's inconsistent-hashes error (hash_recheck.hpp), per release.
  RecheckBudget rechecks;
  PinnedFetchHostImpl pinned_host{*this};
  // The hub-gone search's peer asks (pin_search.hpp): blocking pin exchange requests, several at
  // once, on their own threads (never the io thread, nor the transfer thread a hub download
  // holds); cancelled before the pool stops.
  WorkPool pin_asks{ioc, 12};
  struct PinSearchHostImpl final : PinSearchHost {
    explicit PinSearchHostImpl(Impl& impl) : I(impl) {}
    std::chrono::steady_clock::time_point now() override {
      return std::chrono::steady_clock::now();
    }
    void after(std::chrono::milliseconds d, std::function<void()> fn) override {
      I.pinned_host.after(d, std::move(fn));
    }
    bool lookup(const std::string& key_hex) override { return I.rendezvous->lookup(key_hex); }
    void ask(const units::Endpoint& peer, const weights::UpstreamPin& pin,
             std::shared_ptr<const std::atomic<bool>> cancel,
             std::function<void(Result<upstream::VerifiedPin>)> done) override {
      I.pin_asks.run(
          [peer, pin, cancel = std::move(cancel)] { return ask_pin_peer(peer, pin, cancel); },
          std::move(done));
    }
    Impl& I;
  };
  PinSearchHostImpl pin_search_host{*this};
  // Licence acceptances (license_gate.hpp), kept in the state database.
  LicenseGate licenses{acceptances_in([this]() -> ReleaseDb& { return *db; }, upstream_kind)};
  PinnedFetch pinned{
      registry, pinned_host, licenses,
      upstream_settings(config.upstream_endpoint, hf::hub_options_from_env(), upstream_cancel),
      config.state_dir / "upstream"};
  // Names no feed knows: "org/name@commit", catalog aliases, "org/name" (upstream_names.hpp).
  // The catalog layers the followed feeds carry (feed_catalog.hpp), read by upstream_names.
  catalog::FeedLayers feed_layers{config.state_dir / "feed-catalog"};
  UpstreamNames upstream_names{config.catalog_dirs, &feed_layers};
  EngineCatalogHost catalog_host{upstream_names, registry, pinned,
                                 [this]() -> ReleaseDb& { return *db; },
                                 [this] { return clock(); }};
  // The releases' torrents in the session: which id is which release's, adds in flight
  // (made in start(), over `torrents`).
  std::unique_ptr<ReleaseTorrents> release_torrents;
  // Resume data and the shutdown gate (ResumeSaver) and start-up loading (StartupLoader) reach
  // the engine through this host.
  struct LifecycleHostImpl final : ResumeHost, LoadHost {
    explicit LifecycleHostImpl(Impl& impl) : I(impl) {}
    TorrentBackend& backend() override { return *I.torrents; }
    Release* hybrid_release(TorrentId t) override { return I.release_torrents->hybrid_of(t); }
    std::vector<std::pair<TorrentId, const Release*>> hybrid_torrents() override {
      return I.release_torrents->hybrids();
    }
    bool complete(const Release& r) override { return state_of(r) == ReleaseState::complete; }
    std::filesystem::path resume_file(const Release& r) override {
      return I.store.resume_file(r.rec.v2_infohash);
    }
    bool shutting_down() override { return I.gate.shutting_down(); }
    Status start_add(Release& r) override {
      I.checks->verify_empty_files(r);
      return I.release_torrents->add(r, AddMode::normal, AddHow::async);
    }
    Impl& I;
  };
  LifecycleHostImpl lifecycle_host{*this};
  ResumeSaver resume_saver{ioc, lifecycle_host};
  StartupLoader loader{ioc, registry, lifecycle_host};
  std::optional<DiskGuard> disk_guard;             // made in start(), over the backend
  const ShutdownGate& gate = resume_saver.gate();  // read by every region

  // ---- helpers ---------------------------------------------------------------------------------

  // The API's release object (daemon/engine/render.hpp).
  api::Release release_json(const Release& r) const {
    return render_release(r, context_of(r, held));
  }

  // ---- torrent acquisition (the Resolver's, daemon/engine/resolver.hpp) ------------------------

  // Per release generation: a release removed and fetched again never joins the acquisition
  // of its predecessor (whose outcome torrents_arrived drops).
  static std::string acquisition_key(const Release& r) {
    return fmt::format("{}#{}", r.rec.id, r.generation);
  }

  TorrentPaths torrent_paths(const ReleaseManifest& m) const {
    return {store.torrent_file(m.torrent.v2_infohash),
            store.torrent_v1_file(m.torrent.v2_infohash)};
  }

  // ---- verification ----------------------------------------------------------------------------

  // Release checks (daemon/engine/release_checks.hpp) reach the engine through this host.
  struct ChecksHostImpl final : ChecksHost {
    explicit ChecksHostImpl(Impl& impl) : I(impl) {}
    std::int64_t now_ticks() override { return I.now_ticks(); }
    bool shutting_down() override { return I.gate.shutting_down(); }
    V1FinishPlan finish_v1_download(Release& r) override {
      return I.release_torrents->finish_v1_download(r);
    }
    void add_v1_seed(Release& r, CompanionAdd how) override {
      I.release_torrents->add_v1(r, V1Mode::seed,
                                 how == CompanionAdd::async ? AddHow::async : AddHow::sync);
    }
    void request_updates() override { I.resume_saver.request_updates(); }
    void request_progress_save(Release& r) override { I.resume_saver.request_progress_save(r); }
    Impl& I;
  };
  ChecksHostImpl checks_host{*this};
  std::unique_ptr<ReleaseChecks> checks;  // from start_checks (needs the backend)

  void start_checks() {
    ChecksConfig cc;
    cc.scrub = config.scrub == Toggle::on;
    cc.scrub_interval = config.scrub_interval;
    cc.quarantine_dir = config.state_dir / "quarantine";
    checks = std::make_unique<ReleaseChecks>(registry, checks_host, *torrents, *verifier, store,
                                             ioc, cc);
  }

  // ---- torrent events --------------------------------------------------------------------------

  void on_event(const TorrentEvent& e) {
    if (pinned.on_torrent_event(e)) return;  // a swarm fetch's transient torrent
    std::visit([this](const auto& ev) { handle_event(ev); }, e);
  }

  void handle_event(const TorrentAdded& e) { on_added(e); }
  void handle_event(const MetadataReceived&) {}  // only torrents added by info-hash (pinned)
  void handle_event(const DhtPeers& e) { pinned.on_dht_peers(e); }

  void handle_event(const UpdatesLost&) { resume_saver.updates_lost(); }

  void handle_event(const StatusBatch& batch) {
    const auto now = std::chrono::steady_clock::now();
    for (const auto& u : batch.updates) {
      const auto seen = release_torrents->record_status(u);
      if (!seen.release) continue;
      if (seen.source == DownloadSource::hybrid) {
        resume_saver.maybe_save_progress(*seen.release);
        release_torrents->follow_status(*seen.release, now);
      }
      // Per-file completion comes from FileCompleted; once a torrent is finished (also right
      // after a restart) every wanted file is on disk.
      if (seen.finished) checks->hash_completed_files(*seen.release);
    }
    resume_saver.updates_answered();
  }

  void handle_event(const FileCompleted& e) {
    bool v1 = false;
    Release* r = release_torrents->by_torrent(e.torrent, &v1);
    if (!r || (v1 && !r->v1_downloading())) return;
    checks->file_completed(*r, v1 ? DownloadSource::v1 : DownloadSource::hybrid, e.file_index);
  }

  void handle_event(const TorrentFinished& e) {
    bool v1 = false;
    Release* r = release_torrents->by_torrent(e.torrent, &v1);
    if (r && !v1) checks->torrent_finished(*r, e.torrent);
  }

  void handle_event(const CacheFlushed& e) {
    if (Release* r = release_torrents->by_torrent(e.torrent)) checks->cache_flushed(*r);
  }

  void handle_event(const PieceHashFailed& e) {
    if (Release* r = release_torrents->by_torrent(e.torrent)) r->hash_failures++;
  }

  void handle_event(const PeerBanned& e) {
    if (Release* r = release_torrents->by_torrent(e.torrent)) r->banned_peers++;
    log::warning("banned peer {}", e.message);
  }

  void handle_event(const TorrentChecked& e) {
    bool v1 = false;
    Release* r = release_torrents->by_torrent(e.torrent, &v1);
    if (r && !v1) checks->torrent_checked(*r, e.torrent);
  }

  void handle_event(const ResumeSaved& e) { resume_saver.on_saved(e); }

  void handle_event(const ResumeSaveFailed& e) { resume_saver.on_save_failed(e); }

  void handle_event(const TorrentError& e) {
    bool v1 = false;
    Release* r = release_torrents->by_torrent(e.torrent, &v1);
    log::error("{}", e.message);
    if (r && !v1) disk_guard->on_torrent_error(*r, e, rechecks);
  }

  // An async add answered (ReleaseTorrents::on_added); a refused hybrid fails the release like
  // a synchronous add.
  void on_added(const TorrentAdded& e) {
    const auto a = release_torrents->on_added(e);
    Release* r = a.release;
    switch (a.outcome) {
      case AddOutcome::none:
      case AddOutcome::stale:
      case AddOutcome::v1_added:
        return;
      case AddOutcome::v1_refused:
        log::warning("{}: v1 companion: {}", r->rec.id, a.error);
        return;
      case AddOutcome::hybrid_refused:
        loader.failed(*r, Error{Errc::internal,
                                fmt::format("libtorrent refused {}: {}", r->rec.id, a.error), ""});
        return;
      case AddOutcome::hybrid_added:
        loader.loaded(*r);
        if (gate.shutting_down()) return;
        release_torrents->add_v1_download(*r, AddHow::async);
        checks->check_complete(*r, CompanionAdd::async);
        return;
    }
  }

  // ---- timers ----------------------------------------------------------------------------------

  const std::function<bool()> stopping = [this] { return gate.shutting_down(); };
  // Whether the hub still serves each upstream commit (upstream_watch.hpp; made in start()).
  std::optional<EngineWatchHost> watch_host;
  std::optional<UpstreamWatch> upstream_watch;
  Periodic updates{ioc, std::chrono::milliseconds(500), stopping,
                   [this] { resume_saver.request_updates(); }};
  Periodic resume_saves{ioc, config.resume_save_interval, stopping,
                        [this] { resume_saver.save_changed(); }};
  Periodic policy{ioc, std::chrono::seconds(2), stopping, [this] {
                    apply_rate_windows();
                    disk_guard->check();
                    disk_guard->resume_where_room();
                    seeds.tick();  // follows refused for lack of room are tried again
                    checks->queue_due_scrubs();
                    upstream_watch->tick();  // priorities in line, one due hub check started
                    rendezvous->tick(std::chrono::steady_clock::now());
                  }};
  // The DHT rendezvous and the pin exchange (pin_rendezvous.hpp; made in start()).
  std::optional<PinRendezvous> rendezvous;

  void schedule_refresh() {
    poller = std::make_unique<FeedPoller>(
        ioc, *state, config, clock,
        [this](const std::vector<std::pair<std::string, std::string>>& manifests) {
          // Only verified bytes are cached (keyed by their pinned hash), so a cache hit is as
          // good as a fetch.
          if (auto st = db->cache_manifests(manifests); !st) {
            log::warning("manifest cache: {}", st.error().message);
          }
          resolver->cached(manifests);
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
    // A feed's new catalog layer is read at once: names resolve to it from now on.
    poller->keep_catalogs(feed_layers, [this](const std::string&) { upstream_names.reload(); });
    // The layer of a feed that is no longer followed (a crash between removing the feed and its
    // layer) must not keep naming commits.
    if (auto names = state->list_feeds()) {
      bool pruned = false;
      for (const auto& d : feed_layers.dirs()) {
        const std::string feed = d.layer.substr(std::string_view("feed:").size());
        if (std::find(names->begin(), names->end(), feed) != names->end()) continue;
        if (auto st = feed_layers.remove(feed); !st) log::warning("{}", st.error().message);
        pruned = true;
      }
      if (pruned) upstream_names.reload();
    }
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
    fetches.resume_resolutions();
    poller->start();
  }

  // ---- policy: disk budget, follows, rate windows ----------------------------------------------

  std::int64_t now_ticks() { return clock().time_since_epoch().count(); }

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

  ScrubSource scrub_source() { return ReleaseChecks::scrub_source(registry, store); }

  // ---- startup ---------------------------------------------------------------------------------

  // Every known release is listed at once (state `loading`); the StartupLoader adds their
  // torrents in batches from the event loop, so the control API answers meanwhile.
  void load_releases() {
    auto recs = db->list();
    if (!recs) {
      log::error("cannot load releases: {}", recs.error().message);
      return;
    }
    loader.load(std::move(*recs), [this](const ReleaseRecord& rec) {
      std::error_code ec;
      return std::filesystem::exists(store.torrent_file(rec.v2_infohash), ec);
    });
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
  impl->feeds.emplace(
      *impl->state,
      FeedRefreshes{
          [raw = impl.get()](const std::string& n) { return raw->poller->request(n); },
          [raw = impl.get()](const std::string& n) { return raw->poller->status(n); },
          [raw = impl.get()](const std::string& n) {
            raw->poller->forget(n);
            if (auto st = raw->feed_layers.remove(n); !st) {
              log::warning("feed {}: {}", n, st.error().message);
            }
            raw->upstream_names.reload();
          },
          [raw = impl.get()](const std::string& n) { return raw->poller->catalog_status(n); }},
      impl->clock);
  Impl* raw = impl.get();
  auto session = TorrentSession::start(ioc, config, [raw](lt::alert* a) {
    if (raw->lt_backend) raw->lt_backend->on_alert(a);
  });
  if (!session) return tl::unexpected(session.error());
  impl->lt_backend = std::make_unique<LtBackend>(std::move(*session));
  impl->lt_backend->set_sink([raw](const TorrentEvent& e) { raw->on_event(e); });
  impl->torrents = impl->lt_backend.get();
  impl->release_torrents = std::make_unique<ReleaseTorrents>(
      *impl->torrents, [raw](const std::string& id) { return raw->registry.find(id); },
      AddPath{impl->store, impl->work, [raw] { return raw->gate.shutting_down(); },
              config.super_seeding,
              [raw](Release& r, const Error& e) { raw->loader.failed(r, e); }});
  impl->disk_guard.emplace(
      *impl->torrents, impl->registry, [raw] { return raw->free_disk(); }, config.min_free_disk);
  impl->start_checks();
  impl->watch_host.emplace(impl->transfers, *impl->torrents, *impl->db,
                           [raw] { return raw->now_ticks(); });
  impl->upstream_watch.emplace(
      impl->registry, *impl->watch_host,
      make_upstream_hub(upstream_settings(config.upstream_endpoint, hf::hub_options_from_env(),
                                          impl->upstream_cancel)
                            .hub),
      WatchSettings{config.upstream_check_interval});
  if (auto known = impl->db->hub_statuses()) impl->upstream_watch->restore(std::move(*known));
  impl->rendezvous.emplace(
      *impl->torrents, impl->registry, impl->config,
      [raw] { return raw->lt_backend->listen_port(); },
      [raw](const std::string& v2) { return raw->store.git_objects_file(v2); });
  impl->rendezvous->start();
  impl->load_releases();
  impl->updates.start();
  impl->resume_saves.start();
  impl->schedule_refresh();
  auto engine = std::unique_ptr<Engine>(new Engine(std::move(impl)));
  engine->impl_->policy.start();
  engine->impl_->apply_rate_windows();
  engine->impl_->apply_follows();
  return engine;
}

Result<api::Feed> Engine::add_feed(const std::string& name, const std::string& location,
                                   const std::string& root,
                                   const std::vector<std::string>& mirrors) {
  return impl_->feeds->add(name, location, root, mirrors);
}

Result<api::FeedList> Engine::list_feeds() {
  return impl_->feeds->list();
}

Result<api::Feed> Engine::get_feed(const std::string& name) {
  return impl_->feeds->get(name);
}

Result<api::Feed> Engine::refresh_feed(const std::string& name) {
  return impl_->feeds->refresh(name);
}

Result<api::Removed> Engine::remove_feed(const std::string& name) {
  return impl_->feeds->remove(name);
}

Result<api::Release> Engine::fetch(const FetchRequest& req) {
  auto r = impl_->fetches.fetch(req);
  // No feed has it (feeds take precedence): "org/name[@commit]", or what the catalog names for an
  // alias, comes from the upstream.
  if (!r && r.error().code == Errc::not_found && !req.feed) {
    auto pin = impl_->upstream_names.target(req);
    if (!pin) return tl::unexpected(pin.error());
    r = impl_->pinned.fetch(*pin, req);
  }
  if (!r) return tl::unexpected(r.error());
  return impl_->release_json(**r);
}

Result<api::Release> Engine::seed(const SeedRequest& req) {
  auto r = impl_->seed_intake.seed(req);
  if (!r) return tl::unexpected(r.error());
  return impl_->release_json(**r);
}

Result<api::ReleaseList> Engine::list_releases() {
  api::ReleaseList out;
  for (const auto& [id, r] : impl_->registry) out.releases.push_back(impl_->release_json(*r));
  return out;
}

Result<api::Release> Engine::get_release(const std::string& id) {
  auto r = impl_->registry.require(id);
  if (!r) return tl::unexpected(r.error());
  return impl_->release_json(**r);
}

Result<api::Release> Engine::set_pinned(const std::string& id, bool pinned) {
  auto r = impl_->registry.require(id);
  if (!r) return tl::unexpected(r.error());
  (*r)->rec.pinned = pinned;
  impl_->registry.persist(**r);
  return impl_->release_json(**r);
}

Result<api::Removed> Engine::remove_release(const std::string& id_in, DeleteFiles files) {
  auto& I = *impl_;
  auto found = I.registry.require(id_in);
  if (!found) return tl::unexpected(found.error());
  Release& r = **found;
  if (auto st = daemon::not_loading(r); !st) return tl::unexpected(st.error());
  const std::string id = r.rec.id;
  for (auto* h : {&r.handle, &r.v1_handle}) I.release_torrents->remove(*h);
  if (auto st = I.store.remove_view(r.rec.model, r.rec.revision); !st) {
    log::warning("{}", st.error().message);
  }
  if (files == DeleteFiles::yes) I.registry.remove_files(id, I.store);
  if (auto st = I.registry.remove(id); !st) return tl::unexpected(st.error());
  log::info("{}: removed{}", id, files == DeleteFiles::yes ? " with its files" : "");
  return api::Removed{id};
}

Result<api::Release> Engine::verify(const std::string& id) {
  auto& I = *impl_;
  auto found = I.registry.require(id);
  if (!found) return tl::unexpected(found.error());
  if (auto st = daemon::not_loading(**found); !st) return tl::unexpected(st.error());
  I.checks->verify_all(**found);
  return I.release_json(**found);
}

Result<api::ExportResult> Engine::export_release(const std::string& id,
                                                 const std::filesystem::path& dir) {
  auto& I = *impl_;
  auto found = I.registry.require(id);
  if (!found) return tl::unexpected(found.error());
  const Release& r = **found;
  if (auto st = check_exportable(r.rec, r.manifest, r.files); !st) {
    return tl::unexpected(st.error());
  }
  auto fsr = I.state->load_feed(r.rec.feed);
  if (!fsr) {
    return tl::unexpected(with_context(fsr.error(), fmt::format("feed {}", r.rec.feed)));
  }
  return export_bundle(*fsr, r.rec, r.manifest, I.store, dir);
}

Result<api::Release> Engine::add_peers(const std::string& id,
                                       const std::vector<std::string>& peers) {
  auto found = impl_->registry.require(id);
  if (!found) return tl::unexpected(found.error());
  if (auto st = impl_->release_torrents->merge_peers(**found, peers); !st)
    return tl::unexpected(st.error());
  impl_->registry.persist(**found);
  return impl_->release_json(**found);
}

Result<api::Follow> Engine::add_follow(const FollowSpec& spec) {
  auto v = impl_->seeds.add(spec);
  if (!v) return tl::unexpected(v.error());
  return render_follow(*v);
}

Result<api::FollowList> Engine::list_follows() {
  auto all = impl_->seeds.list();
  if (!all) return tl::unexpected(all.error());
  api::FollowList out;
  for (const auto& v : *all) out.follows.push_back(render_follow(v));
  return out;
}

Result<api::FollowRemoved> Engine::remove_follow(std::int64_t id) {
  if (auto st = impl_->seeds.remove(id); !st) return tl::unexpected(st.error());
  return api::FollowRemoved{id};
}

Result<api::ScrubResult> Engine::scrub(const std::optional<std::string>& id) {
  auto ids = impl_->registry.scrub_ids(id);
  if (!ids) return tl::unexpected(ids.error());
  for (const auto& rid : *ids) impl_->verifier->queue_scrub(rid);
  return api::ScrubResult{*ids, impl_->config.scrub_rate};
}

std::string Engine::metrics_text() {
  auto& I = *impl_;
  MetricsSnapshot snap;
  snap.releases = release_metrics(I.registry, I.held);
  snap.feeds = I.feeds->renderable();
  snap.disk_reserved = I.registry.reserved();
  snap.disk_budget = I.config.max_disk;
  snap.disk_free = I.free_disk();
  snap.room = I.seeds.room_totals();
  snap.scrub = I.checks->scrub_totals();
  snap.rates = I.applied_rates;
  auto follows = I.db->follows();
  snap.follows = follows ? follows->size() : 0;
  return render_metrics(snap);
}

api::EngineStatus Engine::status_fields() {
  auto& I = *impl_;
  const auto rates = payload_rates(I.registry);
  auto feeds = I.state->list_feeds();
  api::EngineStatus out;
  out.listen_port = I.lt_backend->listen_port();
  out.listen_interfaces = I.config.listen_interfaces;
  out.outgoing_interfaces = I.config.outgoing_interfaces;
  out.releases = I.registry.size();
  out.releases_loading = I.loader.queue().loading();
  out.feeds = feeds ? feeds->size() : 0;
  out.download_rate = rates.download;
  out.upload_rate = rates.upload;
  out.disk = {I.registry.reserved(), I.config.max_disk, I.free_disk()};
  out.rate_limits = {I.applied_rates.download, I.applied_rates.upload};
  out.network = network_exposure(I.config);
  out.pin_exchange_port = I.rendezvous->port();
  out.dht_nodes = I.torrents->dht_node_count();
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
  I.updates.stop();
  I.resume_saves.stop();
  I.policy.stop();
  I.poller->stop();
  I.verifier->stop();
  I.lt_backend->session().pause();
  // Payload counters as of now first (state_update_alert), then the saves.
  I.resume_saver.request_updates();
  I.shutdown_timer.expires_after(timeout);
  I.shutdown_timer.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) impl_->resume_saver.deadline_passed();
  });
}

Result<std::vector<std::string>> Engine::seed_paths(const SeedRequest& req) {
  return impl_->seed_intake.paths(req);
}

Result<std::pair<std::string, std::string>> Engine::fetch_target(const FetchRequest& req) {
  auto resolved = impl_->resolver->resolve(req.name, req.revision, req.feed);
  if (!resolved && resolved.error().code == Errc::not_found && !req.feed) {
    auto pin = impl_->upstream_names.target(req);
    if (!pin) return tl::unexpected(pin.error());
    return std::pair{pin->repo, pin->commit.value_or(std::string(default_branch))};
  }
  if (!resolved) return tl::unexpected(resolved.error());
  return std::pair{resolved->manifest.model, resolved->manifest.revision};
}

}  // namespace weights::daemon
