#include "daemon/engine.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <thread>
#include <tuple>
#include <unordered_map>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <fmt/format.h>
#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/load_torrent.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>
#include <libtorrent/write_resume_data.hpp>
#include <sys/statvfs.h>

#include "core/atomic_file.hpp"
#include "core/encoding.hpp"
#include "core/fetcher.hpp"
#include "core/file_hash.hpp"
#include "core/hf_hub.hpp"
#include "core/http_fetcher.hpp"
#include "core/release_manifest.hpp"
#include "core/release_target.hpp"
#include "core/safe_fs.hpp"
#include "core/state_store.hpp"
#include "core/torrent_builder.hpp"
#include "core/tuf_client.hpp"
#include "core/units.hpp"
#include "daemon/feed_poller.hpp"
#include "daemon/log.hpp"
#include "daemon/metrics.hpp"
#include "daemon/piece_scan.hpp"
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

constexpr int max_hash_attempts = 3;
constexpr std::size_t max_torrent_bytes = 64 * 1024 * 1024;

Result<lt::tcp::endpoint> parse_peer(const std::string& text) {
  auto ep = units::parse_endpoint(text, units::PortZero::refused);
  if (!ep) return tl::unexpected(with_context(ep.error(), "peer"));
  return lt::tcp::endpoint(ep->address, ep->port);
}

std::string hex(const crypto::Sha256& h) {
  return to_hex(h);
}

// Hashes a staging or store file of the daemon's: a link there is not followed but reported as
// an error (so verify and scrub treat it as damage and replace it).
Result<FileDigest> hash_stored(const std::filesystem::path& path) {
  auto file = safe_fs::open_regular(path);
  if (!file) return tl::unexpected(file.error());
  HashOptions o;
  o.git_oid = GitOid::skip;
  return hash_fd(file->fd.get(), path, o);
}

// SHA-256 of a file read at most at `rate` bytes/s (the scrubber must not starve seeding).
// Returns (length, hex digest). A link is not followed (see hash_stored).
Result<std::pair<std::uint64_t, std::string>> sha256_file_throttled(
    const std::filesystem::path& path, std::uint64_t rate) {
  auto file = safe_fs::open_regular(path);
  if (!file) return tl::unexpected(file.error());
  std::FILE* f = ::fdopen(file->fd.get(), "rb");
  if (!f) {
    return fail(Errc::io_error, fmt::format("opening {}: {}", path.string(), std::strerror(errno)));
  }
  file->fd.release();  // owned by f now
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  crypto::Sha256Hasher h;
  std::vector<std::uint8_t> buf(256 * 1024);
  std::uint64_t total = 0;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n > 0) {
      h.update(std::span(buf.data(), n));
      total += n;
      // Pace against the start: sleeping on this pool thread is the throttle itself.
      const auto due =
          start + std::chrono::microseconds(total * 1'000'000 / std::max<std::uint64_t>(rate, 1));
      std::this_thread::sleep_until(due);
    }
    if (n < buf.size()) {
      if (std::ferror(f)) {
        return fail(Errc::io_error,
                    fmt::format("reading {}: {}", path.string(), std::strerror(errno)));
      }
      break;
    }
  }
  return std::pair{total, to_hex(h.finish())};
}

}  // namespace

// One release known to the engine. Owned by Impl::releases_; only the io thread touches it.
struct Release {
  ReleaseRecord rec;
  ReleaseManifest manifest;
  std::uint64_t generation = 0;  // distinguishes worker results for a removed + re-added id
  std::vector<bool> wanted;      // per manifest file
  std::vector<bool> verified;
  std::vector<bool> hashing;
  std::vector<bool> failed;
  std::vector<int> attempts;       // full-hash mismatches (re-downloads) per file
  std::vector<int> io_retries;     // unreadable-file retries per file
  std::vector<std::int64_t> done;  // bytes of each file libtorrent has (from piece bitfield)
  std::vector<int> lt_index;       // manifest index -> libtorrent file index (-1: none)
  lt::torrent_handle handle;       // hybrid
  // The hybrid's metadata, kept from its add (the companion's layout is compared against it
  // without a round trip to libtorrent's thread).
  std::shared_ptr<const lt::torrent_info> ti;
  // Start-up: the release is queued or its torrent is being added (async_add_torrent); `handle`
  // arrives with add_torrent_alert. Reported as state `loading`.
  bool loading = false;
  bool v1_adding = false;  // the companion's async add is in flight
  // The hybrid was added from valid resume data (its pieces are what libtorrent saved).
  bool resumed = false;
  // The resume file says the torrent is complete: loaded complete from it (or written so), not
  // re-checked or re-selected since. Neither the torrent_finished_alert libtorrent posts after
  // checking that resume data nor the shutdown (unless payload moved) writes it again. (A stale
  // "complete" file is never wrong for a torrent that is complete.)
  bool resume_current = false;
  // Resume saves. A check (force_recheck) is running: libtorrent's resume data says nothing about
  // the pieces not checked yet, so none is written until torrent_checked_alert. Otherwise a save
  // never writes fewer pieces than `resume_floor` (those known on disk: loaded, or last written;
  // -1 after a check, whose result stands). Progress saves follow the pieces that arrive.
  bool checking = false;
  int resume_floor = -1;
  int save_requested_pieces = -1;
  std::chrono::steady_clock::time_point last_progress_save{};
  std::chrono::steady_clock::time_point last_redial{};
  std::chrono::steady_clock::time_point last_peer_seen{};
  bool hybrid_saw_seed = false;  // this session (maybe_activate_v1)
  // v1 companion. While fetching it is a standby download source (v1_downloading): v1-only
  // clients (Transmission 3, aria2 1.36) cannot read the hybrid and form their own swarm under
  // the companion's info-hash. It joins that swarm in upload mode (announces, connects, requests
  // nothing) and starts requesting pieces only when the hybrid has made no progress for a while
  // and the companion has peers (maybe_activate_v1), so a normal swarm (weightsd seeders seed
  // both torrents) is not downloaded twice. Its SHA-1 pieces are never trusted on their own: a
  // file it completes is SHA-256-checked against the manifest like any other, and once every
  // wanted file is verified, every file is hashed once more before the release is complete
  // (check_complete, finish_v1_download).
  lt::torrent_handle v1_handle;
  bool v1_downloading = false;
  bool v1_active = false;              // requesting pieces (left upload mode)
  bool staging_pass = false;           // the final pass after a two-source download is running
  std::int64_t last_wanted_done = -1;  // hybrid's total_wanted_done at last_progress
  std::chrono::steady_clock::time_point last_progress{};
  std::optional<lt::torrent_status> status;
  std::optional<lt::torrent_status> v1_status;
  std::vector<std::int64_t> v1_done;  // like `done`, from the companion's bitfield
  // The hybrid's pieces from its resume data (at add time): the companion starts from them on a
  // restart instead of re-reading every existing file (same layout, so the same pieces).
  lt::typed_bitfield<lt::piece_index_t> resume_have;
  std::optional<Error> error;
  bool degraded = false;   // a scrub/verify found damage; repairing from the swarm
  bool disk_full = false;  // paused by ENOSPC; resumed by the policy timer once space returns
  bool preparing = false;  // seed: hashing the publisher's files
  int verify_outstanding = 0;
  std::vector<std::string> verify_failures;
  int hash_failures = 0;
  int banned_peers = 0;
  // Payload counters of earlier sessions (from resume data); this session's are exact and
  // immediate in torrent_status::total_payload_*, while all_time_* lag by up to a second.
  std::int64_t downloaded_base = 0, uploaded_base = 0;
  std::vector<lt::tcp::endpoint> pending_peers;
  // Files to hash once libtorrent has flushed its write queue: a file can be reported complete
  // (pieces hash-checked in memory) before all of its blocks are written to disk.
  std::set<std::size_t> flush_pending;
  int flush_outstanding = 0;  // cache_flushed_alerts still expected (hybrid and v1 download)
  // Requested Hugging Face cache layout (fetch's hf_cache; kept until restart) and its outcome.
  std::optional<std::filesystem::path> hf_cache;
  std::string hf_snapshot;
  std::optional<Error> hf_cache_error;
};

struct Engine::Impl {
  Impl(asio::io_context& io, Config cfg, WallClock clk)
      : ioc(io),
        config(std::move(cfg)),
        clock(std::move(clk)),
        store(config.state_dir),
        pool(std::max(1u, config.hashing_threads)),
        update_timer(io),
        resume_timer(io),
        shutdown_timer(io),
        policy_timer(io),
        alive(std::make_shared<bool>(true)) {}

  ~Impl() {
    *alive = false;
    pool.stop();
    pool.join();
    session.reset();  // aborts libtorrent before the state it reports into goes away
  }

  asio::io_context& ioc;
  Config config;
  WallClock clock;
  Store store;
  std::optional<StateStore> state;
  std::optional<ReleaseDb> db;
  std::unique_ptr<FeedPoller> poller;  // after `state` and `db`: destroyed before them
  std::unique_ptr<TorrentSession> session;
  asio::thread_pool pool;
  asio::steady_timer update_timer, resume_timer, shutdown_timer, policy_timer;
  Engine* owner = nullptr;
  // Policy state (seed node): releases a follow holds, per-follow outcome, counters.
  std::set<std::string> held;
  struct FollowStatus {
    std::optional<TimePoint> last_applied;
    std::vector<std::string> mirroring;
    std::vector<std::pair<std::string, std::string>> skipped;
    std::vector<std::pair<std::string, std::string>> refused;  // id, reason (e.g. no_space)
  };
  std::map<std::int64_t, FollowStatus> follow_status;
  std::tuple<std::uint64_t, std::size_t, std::size_t, std::uint64_t> refused_room_key{};
  struct Counters {
    std::uint64_t evictions = 0;
    std::uint64_t no_space_refusals = 0;
    std::uint64_t scrub_files = 0;
    std::uint64_t scrub_bytes = 0;
    std::uint64_t scrub_mismatches = 0;
    std::uint64_t scrub_passes = 0;
  } counters;
  // One scrub at a time, file by file, throttled; `scrub_queue` holds release ids to scrub.
  std::vector<std::string> scrub_queue;
  bool scrub_running = false;
  std::optional<TimePoint> last_scrub_finished;
  Rates applied_rates{};
  std::uint64_t policy_ticks = 0;
  std::shared_ptr<bool> alive;
  std::map<std::string, std::unique_ptr<Release>> releases;
  struct HandleRef {
    std::string id;
    bool v1 = false;
  };
  std::unordered_map<lt::torrent_handle, HandleRef> handles;
  // Start-up adds in flight (async_add_torrent), by the info-hashes add_torrent_alert reports.
  enum class Role { hybrid, v1_seed, v1_download };
  struct PendingAdd {
    std::string id;
    std::uint64_t generation = 0;
    Role role = Role::hybrid;
  };
  std::map<lt::info_hash_t, PendingAdd> pending_adds;
  std::vector<std::string> load_queue;  // ids still to add at start-up, in order
  std::size_t load_next_index = 0;
  std::size_t loading_count = 0;  // releases in state `loading`
  std::uint64_t next_generation = 1;
  bool shutting_down = false;
  // Shutdown: resume saves wait for the status updates requested until then (the last one
  // was requested by shutdown), so that their payload counters are current.
  bool awaiting_final_status = false;
  int updates_pending = 0;  // post_torrent_updates calls not answered yet
  int resume_outstanding = 0;
  std::function<void()> shutdown_done;

  // ---- helpers ---------------------------------------------------------------------------------

  // Runs `work` on the hashing pool and `then(result)` back on the io thread (if still alive).
  template <class Work, class Then>
  void on_pool(Work work, Then then) {
    std::weak_ptr<bool> weak = alive;
    asio::post(pool, [this, weak, work = std::move(work), then = std::move(then)]() mutable {
      auto result = work();
      asio::post(ioc, [weak, then = std::move(then), result = std::move(result)]() mutable {
        if (auto a = weak.lock(); a && *a) then(std::move(result));
      });
    });
  }

  Release* find(const std::string& id) {
    const auto it = releases.find(id);
    return it == releases.end() ? nullptr : it->second.get();
  }

  Release* by_handle(const lt::torrent_handle& h, bool* is_v1 = nullptr) {
    const auto it = handles.find(h);
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

  std::string state_name(const Release& r) const {
    if (r.loading) return "loading";
    if (r.error && !r.handle.is_valid() && !r.preparing) return "failed";
    if (r.preparing || r.verify_outstanding > 0) return "verifying";
    bool all = true;
    for (std::size_t i = 0; i < r.wanted.size(); ++i) {
      if (r.wanted[i] && !r.verified[i]) all = false;
    }
    if (all && r.handle.is_valid()) return "complete";
    if (r.disk_full) return "paused";
    if (r.degraded) return "degraded";
    if (r.error) return "failed";
    if (!r.handle.is_valid()) return "resolving";
    if (r.status) {
      if (r.status->flags & lt::torrent_flags::paused) return "paused";
      if (r.status->state == lt::torrent_status::checking_files ||
          r.status->state == lt::torrent_status::checking_resume_data) {
        return "verifying";
      }
    }
    for (std::size_t i = 0; i < r.wanted.size(); ++i) {
      if (r.hashing[i]) return "verifying";
    }
    return "downloading";
  }

  void persist(Release& r) {
    // (A release still loading keeps its stored state: `loading` is not a state to restart in.)
    if (!r.loading) r.rec.state = state_name(r);
    r.rec.verified.clear();
    // While the v1 companion downloads, verified files are not in the store yet (check_complete
    // adopts them after a final pass): after a crash they are hashed again instead.
    for (std::size_t i = 0; i < r.manifest.files.size() && !r.v1_active && !r.staging_pass; ++i) {
      if (r.verified[i]) r.rec.verified.push_back(r.manifest.files[i].path);
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
      if (r.wanted[i]) wanted_len += f.length;
      if (r.verified[i]) verified_len += f.length;
      FileState fs = FileState::pending;
      if (r.verified[i]) {
        fs = FileState::verified;
      } else if (r.hashing[i]) {
        fs = FileState::verifying;
      } else if (r.failed[i]) {
        fs = FileState::failed;
      } else if (r.wanted[i] && r.handle.is_valid() && (r.done[i] > 0 || r.v1_done[i] > 0)) {
        fs = FileState::downloading;
      }
      const std::int64_t done =
          r.verified[i] ? static_cast<std::int64_t>(f.length) : std::max(r.done[i], r.v1_done[i]);
      out.files.push_back({f.path, f.length, static_cast<bool>(r.wanted[i]),
                           std::string(file_state_name(fs)), done});
    }
    const std::string st = state_name(r);
    const bool seeding = r.handle.is_valid() && st == "complete" &&
                         !(r.status && (r.status->flags & lt::torrent_flags::paused));
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
    out.state = st;
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
    out.v1_seeding = r.v1_handle.is_valid() && !r.v1_downloading;
    out.v1_downloading = r.v1_downloading && r.v1_active;
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

  struct Resolved {
    FeedState feed;
    tuf::TargetInfo target;
    ReleaseManifest manifest;
    std::string bytes;
  };

  Result<std::pair<ReleaseManifest, std::string>> manifest_for(const FeedState& fs,
                                                               const tuf::TargetInfo& t) {
    auto cached = db->cached_manifest(t.sha256);
    if (!cached) return tl::unexpected(cached.error());
    std::string bytes;
    if (*cached && crypto::sha256_hex(**cached) == t.sha256 && (*cached)->size() == t.length) {
      bytes = std::move(**cached);
    } else {
      auto fetcher = poller->fetcher_for(fs);
      if (!fetcher) return tl::unexpected(fetcher.error());
      auto got = tuf::fetch_verified_target(**fetcher, fs, t.path);
      if (!got) return tl::unexpected(got.error());
      bytes = std::move(*got);
      (void)db->cache_manifest(t.sha256, bytes);
    }
    auto m = validate_release_target(t, bytes, config.path_policy);
    if (!m) return tl::unexpected(m.error());
    return std::pair{std::move(*m), std::move(bytes)};
  }

  Result<Resolved> resolve(std::string name, std::optional<std::string> revision,
                           const std::optional<std::string>& only_feed = std::nullopt) {
    if (!revision) {
      if (const auto at = name.find('@'); at != std::string::npos) {
        revision = name.substr(at + 1);
        name = name.substr(0, at);
      }
    }
    auto feeds = state->list_feeds();
    if (!feeds) return tl::unexpected(feeds.error());
    std::map<std::pair<std::string, std::string>, Resolved> best;  // (feed, model) -> newest
    for (const auto& feed_name : *feeds) {
      if (only_feed && feed_name != *only_feed) continue;
      auto fs = state->load_feed(feed_name);
      if (!fs) continue;
      for (const auto& t : fs->trusted_targets) {
        if (t.kind != tuf::TargetKind::release) continue;
        if (revision && t.revision != *revision) continue;
        auto m = manifest_for(*fs, t);
        if (!m) {
          log::warning("feed {}: {}: {}", feed_name, t.path, m.error().message);
          continue;
        }
        const auto& aliases = m->first.aliases;
        if (t.model != name && std::find(aliases.begin(), aliases.end(), name) == aliases.end()) {
          continue;
        }
        auto key = std::pair{feed_name, t.model};
        auto it = best.find(key);
        if (it == best.end() || t.release_seq > it->second.target.release_seq) {
          best[key] = Resolved{*fs, t, std::move(m->first), std::move(m->second)};
        }
      }
    }
    const std::string wanted = revision ? fmt::format("{}@{}", name, *revision) : name;
    if (best.empty()) {
      return fail(Errc::not_found, fmt::format("no release '{}' in the trusted feeds", wanted),
                  "check the name with the feed's publisher, or refresh the feeds "
                  "(weightsctl feed refresh)");
    }
    if (best.size() > 1) {
      std::string list;
      for (const auto& [key, r] : best) {
        list += fmt::format("{}{} (feed {})", list.empty() ? "" : ", ", key.second, key.first);
      }
      return fail(Errc::invalid_argument,
                  fmt::format("'{}' is ambiguous: it matches {}", wanted, list),
                  "use the full model id (org/name), or remove one of the feeds");
    }
    return std::move(best.begin()->second);
  }

  // The release's hybrid .torrent (and v1 companion, if listed) from the feed, checked against
  // the manifest and written to torrents/. This runs before the torrent is added, so libtorrent
  // never requests payload for metadata that differs from the manifest.
  Status get_torrents(const FeedState& fs, const ReleaseManifest& m) {
    auto fetcher = poller->fetcher_for(fs);
    if (!fetcher) return tl::unexpected(fetcher.error());
    auto bytes =
        tuf::fetch_verified_target(**fetcher, fs, torrent_target_path(m.model, m.revision));
    if (!bytes) return tl::unexpected(with_context(bytes.error(), "torrent"));
    if (auto st =
            check_torrent_against_manifest(*bytes, m, TorrentKind::hybrid, PieceLayers::required);
        !st) {
      return tl::unexpected(Error{
          st.error().code, fmt::format("torrent refused before download: {}", st.error().message),
          "the feed's torrent does not match its release manifest; "
          "tell the feed's publisher"});
    }
    const auto& v2 = m.torrent.v2_infohash;
    if (auto st = write_file_atomic(store.torrent_file(v2), *bytes); !st) return st;
    auto v1 =
        tuf::fetch_verified_target(**fetcher, fs, torrent_v1_target_path(m.model, m.revision));
    if (v1) {
      if (auto st = check_torrent_against_manifest(*v1, m, TorrentKind::v1_companion,
                                                   PieceLayers::if_present);
          !st) {
        log::warning("{}@{}: v1 companion torrent refused: {}", m.model, m.revision,
                     st.error().message);
      } else if (auto w = write_file_atomic(store.torrent_v1_file(v2), *v1); !w) {
        log::warning("{}", w.error().message);
      }
    }
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
    r->wanted = select_files(paths, r->rec.include);
    r->verified.assign(n, false);
    r->hashing.assign(n, false);
    r->failed.assign(n, false);
    r->attempts.assign(n, 0);
    r->io_retries.assign(n, 0);
    r->done.assign(n, 0);
    r->v1_done.assign(n, 0);
    r->lt_index.assign(n, -1);
    const std::set<std::string> verified(r->rec.verified.begin(), r->rec.verified.end());
    for (std::size_t i = 0; i < n; ++i) {
      if (verified.count(paths[i])) r->verified[i] = true;
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
      if (r.wanted[i] && !r.verified[i] && r.manifest.files[i].length == 0) {
        if (store.adopt_empty()) r.verified[i] = true;
      }
    }
  }

  std::vector<lt::download_priority_t> priorities(const Release& r, const lt::torrent_info& ti) {
    // Pad files keep the default priority: only real files are deselected.
    const auto& fs = ti.files();
    std::vector<lt::download_priority_t> out(static_cast<std::size_t>(fs.num_files()),
                                             lt::default_priority);
    for (std::size_t i = 0; i < r.lt_index.size(); ++i) {
      // (With two download sources, verified files are not downloaded again: deselect_verified.)
      if (r.lt_index[i] >= 0 && (!r.wanted[i] || (r.v1_active && r.verified[i]))) {
        out[static_cast<std::size_t>(r.lt_index[i])] = lt::dont_download;
      }
    }
    return out;
  }

  // A partial download being added: the resume file (if any) says which pieces libtorrent had
  // when it was written, but a kill -9 loses what arrived since, and with no resume file
  // libtorrent would re-check every file from the first piece (a kill during that check loses
  // all of it; 2.0.8 cannot check part of a torrent). So the pieces the resume file does not
  // claim and whose bytes are all on disk are hashed here (SHA-1 against the hybrid's v1
  // hashes; holes are skipped, so the cost is the bytes written since the last save), and
  // `atp` gets the union as its have bitfield: libtorrent then checks nothing. Found pieces are
  // written to the resume file as the scan goes (every scan_checkpoint_bytes) and at its end,
  // so a kill during the scan loses little. Pieces the resume file claims but whose bytes are
  // gone (a file shorter than them) are dropped. A piece wrongly claimed is still caught: every
  // file is SHA-256-checked against the manifest before it counts as verified.
  static constexpr std::int64_t scan_checkpoint_bytes = 64ll << 20;

  // What recover_pieces_on_disk works on: plain data, so the scan can run on the hashing pool
  // (it touches neither the Release nor libtorrent's session).
  struct DiskScan {
    std::string id;
    std::shared_ptr<const lt::torrent_info> ti;
    std::filesystem::path save_path, resume_file;
    lt::add_torrent_params resume;  // have_pieces (claimed), unfinished pieces, counters, times
    std::vector<bool> wanted_lt;    // per libtorrent file
    bool had_resume = false;
    // Results.
    std::int64_t claimed = 0;
    int dropped = 0, found = 0, hashed = 0;
    std::int64_t ms = 0;
    std::vector<std::string> warnings;
  };

  DiskScan disk_scan_of(const Release& r, const lt::add_torrent_params& atp) const {
    DiskScan d;
    d.id = r.rec.id;
    d.ti = atp.ti;
    d.save_path = store.staging_dir(r.rec.v2_infohash);
    d.resume_file = store.resume_file(r.rec.v2_infohash);
    d.resume.info_hashes = atp.ti->info_hashes();
    d.resume.name = atp.ti->name();
    d.resume.save_path = d.save_path.string();
    d.resume.have_pieces = atp.have_pieces;
    d.resume.unfinished_pieces = atp.unfinished_pieces;
    d.resume.total_uploaded = atp.total_uploaded;
    d.resume.total_downloaded = atp.total_downloaded;
    d.resume.active_time = atp.active_time;
    d.resume.finished_time = atp.finished_time;
    d.resume.seeding_time = atp.seeding_time;
    d.resume.added_time = atp.added_time;
    d.resume.completed_time = atp.completed_time;
    d.wanted_lt.assign(static_cast<std::size_t>(atp.ti->num_files()), false);
    for (std::size_t i = 0; i < r.lt_index.size(); ++i) {
      if (r.lt_index[i] >= 0 && r.wanted[i]) {
        d.wanted_lt[static_cast<std::size_t>(r.lt_index[i])] = true;
      }
    }
    d.had_resume = r.resumed;
    return d;
  }

  // The scan itself (any thread): on return d.resume.have_pieces is the union of what the resume
  // file claimed (minus pieces past a file's end) and what was found; the resume file has been
  // rewritten with it if that changed anything (and every scan_checkpoint_bytes meanwhile).
  static void run_disk_scan(DiskScan& d) {
    const auto& ti = *d.ti;
    const auto t0 = std::chrono::steady_clock::now();
    auto& have = d.resume.have_pieces;
    if (have.size() != ti.num_pieces()) have.resize(ti.num_pieces(), false);
    d.claimed = have.count();
    d.dropped = drop_pieces_past_eof(ti, d.save_path, have);
    const auto& fs = ti.files();
    const auto base = have;
    auto candidate = [&](lt::piece_index_t p) {
      if (base.get_bit(p)) return false;
      for (const auto& sl : fs.map_block(p, 0, fs.piece_size(p))) {
        if (d.wanted_lt[static_cast<std::size_t>(static_cast<int>(sl.file_index))]) return true;
      }
      return false;
    };
    auto write = [&](const lt::typed_bitfield<lt::piece_index_t>& found) {
      auto p = d.resume;
      for (const auto i : found.range()) {
        if (found.get_bit(i)) {
          p.have_pieces.set_bit(i);
          p.unfinished_pieces.erase(i);
        }
      }
      const auto buf = lt::write_resume_data_buf(p);
      if (auto st = write_file_atomic(d.resume_file, std::string_view(buf.data(), buf.size()));
          !st) {
        d.warnings.push_back(st.error().message);
      }
      return p;
    };
    const auto scan = scan_pieces(ti, d.save_path, candidate, scan_checkpoint_bytes,
                                  [&](const auto& found) { write(found); });
    d.found = scan.found.count();
    d.hashed = scan.pieces_hashed;
    if (d.found > 0 || d.dropped > 0) d.resume = write(scan.found);
    d.ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
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
    lt::add_torrent_params atp;
    lt::load_torrent_limits limits;
    limits.max_buffer_size = static_cast<int>(max_torrent_bytes);
    try {
      atp = lt::load_torrent_file(store.torrent_file(v2).string(), limits);
    } catch (const std::exception& e) {
      return fail(Errc::io_error,
                  fmt::format("cannot load {}: {}", store.torrent_file(v2).string(), e.what()));
    }
    const auto& files = atp.ti->files();
    const std::string prefix = r.rec.revision + "/";
    std::map<std::string, int> index_of;
    for (const auto fi : files.file_range()) {
      if (files.pad_file_at(fi)) continue;
      std::string p = files.file_path(fi);
      if (p.rfind(prefix, 0) == 0) p = p.substr(prefix.size());
      index_of[p] = static_cast<int>(fi);
    }
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      const auto it = index_of.find(r.manifest.files[i].path);
      r.lt_index[i] = it == index_of.end() ? -1 : it->second;
    }
    bool resumed = false;
    r.resumed = false;
    r.resume_current = false;
    if (mode == AddMode::normal) {
      if (auto buf = read_file(store.resume_file(v2), max_torrent_bytes * 4); buf) {
        lt::error_code ec;
        auto rd = lt::read_resume_data({buf->data(), static_cast<std::ptrdiff_t>(buf->size())}, ec);
        // 2.0.8 accepts resume data of another torrent (fixed in 2.0.10): check it ourselves.
        if (!ec && rd.info_hashes == atp.ti->info_hashes()) {
          r.resume_have = rd.have_pieces;
          atp.have_pieces = std::move(rd.have_pieces);
          atp.verified_pieces = std::move(rd.verified_pieces);
          atp.unfinished_pieces = std::move(rd.unfinished_pieces);
          atp.total_uploaded = rd.total_uploaded;
          atp.total_downloaded = rd.total_downloaded;
          r.downloaded_base = rd.total_downloaded;
          r.uploaded_base = rd.total_uploaded;
          atp.active_time = rd.active_time;
          atp.finished_time = rd.finished_time;
          atp.seeding_time = rd.seeding_time;
          atp.added_time = rd.added_time;
          atp.completed_time = rd.completed_time;
          resumed = true;
          r.resumed = true;
        } else {
          log::warning("{}: ignoring resume data ({})", r.rec.id,
                       ec ? ec.message() : "info-hash mismatch");
        }
      }
      // Verified by us, but resume data is missing (e.g. killed before the first save).
      bool all = true;
      for (std::size_t i = 0; i < r.wanted.size(); ++i) all = all && r.verified[i];
      if (!resumed && all) mode = AddMode::seed;
      // A partial download: recover what is on disk first (run_disk_scan). At start-up the
      // scan runs on the hashing pool and the add continues when it is done; the release stays
      // `loading` meanwhile.
      if (mode == AddMode::normal && !all_wanted_verified(r) && atp.ti->info_hashes().has_v1()) {
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
                if (!rr || rr->generation != gen || shutting_down) return;
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
    atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
    if (mode == AddMode::seed) atp.flags |= lt::torrent_flags::seed_mode;
    if (super_seed_at_add(r)) atp.flags |= lt::torrent_flags::super_seeding;
    // Priorities only for a partial selection: setting any on a seed_mode torrent makes
    // libtorrent leave seed mode.
    if (std::find(r.wanted.begin(), r.wanted.end(), false) != r.wanted.end()) {
      atp.file_priorities = priorities(r, *atp.ti);
    }
    atp.url_seeds = r.manifest.torrent.web_seeds;
    atp.trackers = r.manifest.torrent.trackers;
    for (const auto& p : r.rec.peers) {
      if (auto ep = parse_peer(p)) atp.peers.push_back(*ep);
    }
    r.ti = atp.ti;
    r.checking = false;
    r.resume_floor = static_cast<int>(atp.have_pieces.count());
    r.save_requested_pieces = r.resume_floor;
    if (how == AddHow::async) {
      pending_adds[atp.ti->info_hashes()] = PendingAdd{r.rec.id, r.generation, Role::hybrid};
      session->session().async_add_torrent(std::move(atp));
      return {};
    }
    lt::error_code ec;
    auto h = session->session().add_torrent(std::move(atp), ec);
    if (ec) {
      return fail(Errc::internal, fmt::format("libtorrent refused {}: {}", r.rec.id, ec.message()));
    }
    r.handle = h;
    handles[h] = HandleRef{r.rec.id, false};
    return {};
  }

  // True if the companion has exactly the hybrid's piece space: same piece length and count,
  // same files (pads included) at the same offsets. Then the two torrents address the same bytes
  // of the same files in staging, and libtorrent file indices are interchangeable.
  static bool same_layout(const lt::torrent_info& a, const lt::torrent_info& b) {
    const auto& fa = a.files();
    const auto& fb = b.files();
    if (fa.piece_length() != fb.piece_length() || fa.num_pieces() != fb.num_pieces() ||
        fa.num_files() != fb.num_files() || fa.total_size() != fb.total_size()) {
      return false;
    }
    for (const auto fi : fa.file_range()) {
      if (fa.file_path(fi) != fb.file_path(fi) || fa.file_size(fi) != fb.file_size(fi) ||
          fa.file_offset(fi) != fb.file_offset(fi) || fa.pad_file_at(fi) != fb.pad_file_at(fi)) {
        return false;
      }
    }
    return true;
  }

  // Adds the v1 companion (torrents/<v2>.v1.torrent, checked against the manifest when it came
  // from the feed) on the hybrid's save path. V1Mode::seed: every wanted file is verified and
  // the whole release is wanted; seed_mode, libtorrent checks each piece's SHA-1 on first upload.
  // V1Mode::download: a second download source for a fetch, with the hybrid's file selection.
  enum class V1Mode { seed, download };
  void add_v1_companion(Release& r, V1Mode mode = V1Mode::seed, AddHow how = AddHow::sync) {
    if (r.v1_handle.is_valid() || r.v1_adding || !r.handle.is_valid()) return;
    const auto path = store.torrent_v1_file(r.rec.v2_infohash);
    std::error_code fec;
    if (!std::filesystem::exists(path, fec)) return;
    const bool all_wanted = std::find(r.wanted.begin(), r.wanted.end(), false) == r.wanted.end();
    // A partial selection cannot seed the v1 torrent's whole piece space.
    if (mode == V1Mode::seed && !all_wanted) return;
    lt::add_torrent_params atp;
    try {
      atp = lt::load_torrent_file(path.string());
    } catch (const std::exception& e) {
      log::warning("{}: v1 companion: {}", r.rec.id, e.what());
      return;
    }
    const auto hybrid = r.ti ? r.ti : r.handle.torrent_file();
    if (!hybrid || !same_layout(*hybrid, *atp.ti)) {
      log::warning("{}: v1 companion: piece layout differs from the hybrid torrent; not used",
                   r.rec.id);
      return;
    }
    atp.save_path = store.staging_dir(r.rec.v2_infohash).string();
    atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
    if (mode == V1Mode::seed) {
      // Every byte was SHA-256-verified against the manifest; same files, same layout.
      atp.flags |= lt::torrent_flags::seed_mode;
    } else {
      atp.flags |= lt::torrent_flags::upload_mode;  // standby until maybe_activate_v1
      if (!all_wanted) atp.file_priorities = priorities(r, *atp.ti);  // same indices
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
      pending_adds[atp.ti->info_hashes()] = PendingAdd{
          r.rec.id, r.generation, mode == V1Mode::seed ? Role::v1_seed : Role::v1_download};
      r.v1_adding = true;
      session->session().async_add_torrent(std::move(atp));
      return;
    }
    lt::error_code ec;
    auto h = session->session().add_torrent(std::move(atp), ec);
    if (ec) {
      log::warning("{}: v1 companion: {}", r.rec.id, ec.message());
      return;
    }
    adopt_v1(r, h, mode);
  }

  void adopt_v1(Release& r, const lt::torrent_handle& h, V1Mode mode) {
    r.v1_handle = h;
    r.v1_downloading = mode == V1Mode::download;
    r.v1_active = false;
    r.last_progress = std::chrono::steady_clock::now();
    handles[h] = HandleRef{r.rec.id, true};
  }

  // How long the hybrid may make no progress before the companion starts downloading: short
  // when the hybrid has no peer connected (a v1-only swarm cannot join it), longer when it has
  // one: a seed about to unchoke us, or a BEP 16 super-seeding origin that looks like a peer
  // with few pieces, is not worth downloading everything twice; one that never sends must not
  // block us.
  // A hybrid that has received payload or seen a seed this session has a working swarm: when
  // its peers drop (a seeder restarting) the companion's swarm is the same peers, and
  // downloading through it would fetch again what the hybrid has; it waits as if the hybrid had
  // peers, unless the companion knows peers the hybrid does not (v1-only clients).
  static constexpr auto v1_stall = std::chrono::seconds(3);
  static constexpr auto v1_stall_with_peers = std::chrono::seconds(30);

  // Called on every status update while fetching: the companion leaves upload mode when the
  // hybrid has stalled (no new wanted bytes for v1_stall) and the companion's swarm has peers.
  void maybe_activate_v1(Release& r, const lt::torrent_status& hybrid) {
    const auto now = std::chrono::steady_clock::now();
    if (hybrid.total_wanted_done > r.last_wanted_done) {
      r.last_wanted_done = hybrid.total_wanted_done;
      r.last_progress = now;
    }
    // A seed seen in the hybrid's swarm speaks the hybrid: v1-only clients never complete its
    // handshake, whether a tracker or --peer names them.
    if (hybrid.num_seeds > 0 || hybrid.list_seeds > 0) r.hybrid_saw_seed = true;
    if (!r.v1_downloading || r.v1_active || !r.v1_status || !r.v1_handle.is_valid()) return;
    // In upload mode libtorrent drops connections to seeds ("upload to upload"), so count the
    // peers the companion knows of (tracker, connections so far), not the connected ones.
    if (hybrid.state != lt::torrent_status::downloading || r.v1_status->list_peers == 0) return;
    const bool swarm_worked = (hybrid.total_payload_download > 0 || r.hybrid_saw_seed) &&
                              r.v1_status->list_peers <= hybrid.list_peers;
    const bool wait_long = hybrid.num_peers > 0 || swarm_worked;
    if (now - r.last_progress < (wait_long ? v1_stall_with_peers : v1_stall)) return;
    r.v1_handle.unset_flags(lt::torrent_flags::upload_mode);
    r.v1_active = true;
    log::info(
        "{}: no progress in the hybrid swarm; downloading through the v1 companion ({} "
        "known peer(s))",
        r.rec.id, r.v1_status->list_peers);
  }

  // A download with no peer connected dials its known peers (the fetch's --peer list) again
  // every redial_interval: a seeder that restarts is back within a second, and libtorrent's own
  // reconnect back-off (min_reconnect_time x failures, max_failcount) would wait up to a minute:
  // each attempt during the outage (refused, or a handshake before the restarted seeder has
  // added the torrent) counts as a failure, and connect_peer keeps the failure count of a peer
  // already in the list. So the (unconnected) peer list is cleared first; trackers are asked
  // again for theirs.
  static constexpr auto redial_interval = std::chrono::milliseconds(500);
  // After redial_fast_for without a peer (the peer is gone, not restarting), every 10 intervals.
  static constexpr auto redial_fast_for = std::chrono::seconds(30);
  void maybe_redial(Release& r, const lt::torrent_status& st) {
    const auto now = std::chrono::steady_clock::now();
    if (st.num_peers > 0) r.last_peer_seen = now;
    if (st.state != lt::torrent_status::downloading || st.num_peers > 0 || r.rec.peers.empty() ||
        !r.pending_peers.empty()) {
      return;
    }
    const auto interval =
        now - r.last_peer_seen < redial_fast_for ? redial_interval : 10 * redial_interval;
    if (now - r.last_redial < interval) return;
    r.last_redial = now;
    r.handle.clear_peers();
    for (const auto& p : r.rec.peers) {
      if (auto ep = parse_peer(p)) r.pending_peers.push_back(*ep);
    }
    if (!r.manifest.torrent.trackers.empty()) r.handle.force_reannounce();
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
    if (r.rec.origin != Origin::fetched) return;
    for (std::size_t i = 0; i < r.wanted.size(); ++i) {
      if (r.wanted[i] && !r.verified[i]) {
        add_v1_companion(r, V1Mode::download, how);
        return;
      }
    }
  }

  void remove_handle(lt::torrent_handle& h) {
    if (!h.is_valid()) return;
    handles.erase(h);
    session->session().remove_torrent(h);
    h = lt::torrent_handle();
  }

  // The release is complete (every wanted file SHA-256-verified) and the companion was a
  // download source. The hybrid's bitfield lacks what the companion fetched, and the companion's
  // what the hybrid fetched. With the whole release wanted, both are re-added in seed mode:
  // libtorrent then checks each piece (SHA-1, and for the hybrid the v2 Merkle tree) the first
  // time it uploads it, instead of re-reading everything now. A partial selection cannot be
  // seeded as a whole: the companion goes away and the hybrid re-checks its files.
  void finish_v1_download(Release& r) {
    if (!r.v1_downloading) return;
    const bool was_active = r.v1_active;
    // Keep this session's payload counters across the re-add.
    if (r.status && was_active) {
      r.downloaded_base += r.status->total_payload_download;
      r.uploaded_base += r.status->total_payload_upload;
    }
    if (r.v1_status) {
      r.downloaded_base += r.v1_status->total_payload_download;
      r.uploaded_base += r.v1_status->total_payload_upload;
    }
    if (was_active) r.status.reset();
    r.v1_status.reset();
    remove_handle(r.v1_handle);
    r.v1_downloading = false;
    r.v1_active = false;
    r.v1_done.assign(r.v1_done.size(), 0);
    r.flush_outstanding = 0;
    r.flush_pending.clear();
    // The companion stood by: the hybrid fetched everything and seeds as it is.
    if (!was_active) return;
    const bool all_wanted = std::find(r.wanted.begin(), r.wanted.end(), false) == r.wanted.end();
    if (!all_wanted) {
      if (auto ti = r.handle.torrent_file()) {
        r.handle.prioritize_files(priorities(r, *ti));  // undo deselect_verified
        r.handle.force_recheck();
        r.checking = true;
      }
      return;
    }
    // remove_torrent and add_torrent run in order on libtorrent's thread, so the same
    // info-hash can be added again right away.
    remove_handle(r.handle);
    if (auto st = add_to_session(r, AddMode::seed); !st) {
      r.error = st.error();
      log::error("{}: re-adding for seeding: {}", r.rec.id, st.error().message);
    }
  }

  void connect_pending(Release& r) {
    if (!r.handle.is_valid() || r.pending_peers.empty()) return;
    if (r.status && (r.status->state == lt::torrent_status::checking_resume_data ||
                     r.status->state == lt::torrent_status::checking_files)) {
      return;  // 2.0.8 refuses connect_peer while checking
    }
    std::vector<lt::tcp::endpoint> left;
    for (const auto& ep : r.pending_peers) {
      try {
        r.handle.connect_peer(ep);
      } catch (const std::exception&) {
        left.push_back(ep);
        continue;
      }
      // The peer may be a v1-only client that only knows the companion.
      if (r.v1_downloading && r.v1_handle.is_valid()) {
        try {
          r.v1_handle.connect_peer(ep);
        } catch (const std::exception&) {
          // still checking its files; the peer is in its add_torrent_params or the tracker's list
        }
      }
    }
    r.pending_peers = std::move(left);
  }

  Status merge_peers(Release& r, const std::vector<std::string>& peers) {
    std::vector<lt::tcp::endpoint> eps;
    for (const auto& p : peers) {
      auto ep = parse_peer(p);
      if (!ep) return tl::unexpected(ep.error());
      eps.push_back(*ep);
    }
    for (std::size_t i = 0; i < peers.size(); ++i) {
      if (std::find(r.rec.peers.begin(), r.rec.peers.end(), peers[i]) == r.rec.peers.end()) {
        r.rec.peers.push_back(peers[i]);
      }
      r.pending_peers.push_back(eps[i]);
    }
    connect_pending(r);
    return {};
  }

  // ---- verification ----------------------------------------------------------------------------

  void request_hash(Release& r, std::size_t i) {
    if (r.hashing[i] || r.verified[i]) return;
    r.flush_pending.insert(i);
    if (r.flush_outstanding > 0) return;
    // Both download sources write the same files: wait until both have flushed.
    for (auto* h : {&r.handle, &r.v1_handle}) {
      if (h->is_valid() && (h == &r.handle || r.v1_active)) {
        h->flush_cache();  // answered by cache_flushed_alert
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
    if (r.hashing[i] || r.verified[i]) return;
    r.hashing[i] = true;
    const auto path =
        store.staging_file(r.rec.v2_infohash, r.rec.revision, r.manifest.files[i].path);
    const std::string id = r.rec.id;
    const auto gen = r.generation;
    on_pool([path] { return hash_stored(path); },
            [this, id, gen, i](Result<FileDigest> d) { on_hashed(id, gen, i, std::move(d)); });
  }

  void on_hashed(const std::string& id, std::uint64_t gen, std::size_t i, Result<FileDigest> d) {
    Release* r = find(id);
    if (!r || r->generation != gen) return;
    r->hashing[i] = false;
    const auto& f = r->manifest.files[i];
    const auto path = store.staging_file(r->rec.v2_infohash, r->rec.revision, f.path);
    const bool mismatch = d && (d->length != f.length || hex(d->sha256) != f.sha256);
    if ((!d && d.error().code == Errc::io_error && r->io_retries[i] < 20) ||
        (mismatch && r->io_retries[i] < 2)) {
      // Not readable yet (libtorrent may report a piece before the file is on disk): try
      // again shortly; only a readable file with other content is a verification failure.
      r->io_retries[i]++;
      auto timer = std::make_shared<asio::steady_timer>(ioc, std::chrono::milliseconds(500));
      const std::string rid = r->rec.id;
      const auto g = r->generation;
      timer->async_wait([this, timer, rid, g, i](const boost::system::error_code& ec) {
        Release* again = find(rid);
        if (ec || shutting_down || !again || again->generation != g) return;
        hash_file_async(*again, i);
      });
      return;
    }
    if (d && d->length == f.length && hex(d->sha256) == f.sha256) {
      // With two download sources the file may still be written to (see check_complete): it
      // is linked into the store, which other releases share, only after the final pass.
      if (auto st = r->v1_active ? Status{} : store.adopt(path, f.sha256); !st) {
        r->error = st.error();
        persist(*r);
        return;
      }
      r->verified[i] = true;
      r->failed[i] = false;
      deselect_verified(*r, i);
      persist(*r);
      check_complete(*r);
      return;
    }
    r->failed[i] = true;
    r->attempts[i]++;
    const std::string why =
        d ? fmt::format("SHA-256 {} (length {}) differs from the manifest's {} (length {})",
                        hex(d->sha256), d->length, f.sha256, f.length)
          : d.error().message;
    r->error = Error{d ? Errc::hash_mismatch : d.error().code,
                     fmt::format("{}: file {}: {}", r->rec.id, f.path, why),
                     r->attempts[i] < max_hash_attempts
                         ? "the file is being downloaded again"
                         : "giving up on this file; remove the release and fetch it again"};
    log::error("{}", r->error->message);
    persist(*r);
    if (r->attempts[i] < max_hash_attempts && r->handle.is_valid()) {
      // libtorrent's Merkle check passed but the full-file hash did not: have libtorrent
      // re-check what is on disk so bad pieces are downloaded again.
      recheck(*r);
    }
  }

  // With two download sources, a file verified from one is not downloaded again by the other.
  // Blocks already requested may still be written into it (libtorrent uses its part file only
  // for files that do not exist yet); the final pass in check_complete catches bad ones.
  void deselect_verified(Release& r, std::size_t i) {
    if (!r.v1_active || r.lt_index[i] < 0) return;
    const lt::file_index_t fi(r.lt_index[i]);
    r.handle.file_priority(fi, lt::dont_download);
    r.v1_handle.file_priority(fi, lt::dont_download);
  }

  // Re-check what is on disk so that bad pieces are downloaded again (by both sources).
  void recheck(Release& r) {
    r.resume_have.clear();
    r.resume_current = false;
    if (r.handle.is_valid()) {
      r.handle.force_recheck();
      r.checking = true;
    }
    if (r.v1_active && r.v1_handle.is_valid()) r.v1_handle.force_recheck();
    // A seed dropped its connections to other seeds; once it misses pieces again it must find
    // them: the known peers are dialled again after the check, and trackers asked anew. The peer
    // list still marks them as seeds seen while we were finished, which keeps them from being
    // connect candidates, so it starts over.
    if (r.handle.is_valid()) r.handle.clear_peers();
    for (const auto& p : r.rec.peers) {
      if (auto ep = parse_peer(p)) r.pending_peers.push_back(*ep);
    }
    if (r.handle.is_valid()) r.handle.force_reannounce();
  }

  // Files that libtorrent has completely (per the piece bitfield) and we have not verified yet.
  void hash_completed_files(Release& r) {
    if (r.preparing) return;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (!r.wanted[i] || r.verified[i] || r.hashing[i]) continue;
      if (r.failed[i] && r.attempts[i] >= max_hash_attempts) continue;
      const auto len = static_cast<std::int64_t>(r.manifest.files[i].length);
      if (len > 0 && (r.done[i] == len || r.v1_done[i] == len)) request_hash(r, i);
    }
  }

  void check_complete(Release& r, AddHow how = AddHow::sync) {
    std::vector<ViewFile> view;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (!r.wanted[i]) continue;
      if (!r.verified[i]) return;
      view.push_back(ViewFile{r.manifest.files[i].path, r.manifest.files[i].sha256});
    }
    if (r.verify_outstanding > 0) return;
    if (r.v1_downloading) {
      // Final counters of both sources before they are removed or re-added.
      if (r.v1_handle.is_valid()) r.v1_status = r.v1_handle.status({});
      if (r.handle.is_valid()) r.status = r.handle.status({});
      const bool was_active = r.v1_active;
      finish_v1_download(r);
      // Both torrents wrote into the same files: a block of one may have landed in a file
      // already verified through the other (in flight when it was deselected, or from a peer
      // that sent bad data). Hash everything once more before the release is complete.
      if (was_active) {
        r.staging_pass = true;
        verify_all(r, VerifySource::staging);
        return;
      }
    }
    // At start-up every complete release passes here: an intact view, record and resume file
    // are kept as they are (rebuilding, persisting and saving cost ~3 fsyncs per release).
    const bool intact = r.rec.state == "complete" && !r.error && !r.degraded && !r.v1_downloading &&
                        r.rec.view_path == store.view_dir(r.rec.model, r.rec.revision).string() &&
                        store.view_is_current(r.rec.model, r.rec.revision, view);
    if (intact) {
      add_v1_companion(r, V1Mode::seed, how);
      materialise_hf_cache(r);
      return;
    }
    auto dir = store.build_view(r.rec.model, r.rec.revision, view);
    if (!dir) {
      r.error = dir.error();
      persist(r);
      return;
    }
    const bool changed = r.rec.view_path != dir->string() || r.error || r.degraded;
    r.rec.view_path = dir->string();
    r.error.reset();
    r.degraded = false;
    if (changed || r.rec.state != "complete") {
      log::info("{}: complete, view at {}", r.rec.id, r.rec.view_path);
    }
    // The cached status comes from the last state_update (every 500 ms): refresh it so that a
    // release reported "complete" also reports every byte it downloaded.
    if (r.handle.is_valid()) r.status = r.handle.status(lt::torrent_handle::query_pieces);
    persist(r);
    if (r.handle.is_valid()) r.handle.save_resume_data(lt::torrent_handle::flush_disk_cache);
    add_v1_companion(r, V1Mode::seed, how);
    materialise_hf_cache(r);
  }

  // The wanted files as a Hugging Face cache snapshot (hard links to the store), once.
  void materialise_hf_cache(Release& r) {
    if (!r.hf_cache || !r.hf_snapshot.empty()) return;
    std::vector<HfCacheFile> files;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (!r.wanted[i]) continue;
      const auto& f = r.manifest.files[i];
      files.push_back(HfCacheFile{f.path, f.sha256, hf::cache_blob_name(f)});
    }
    const auto& up = r.manifest.upstream;
    const std::string repo =
        up.kind == "huggingface" && is_valid_model_id(up.repo) ? up.repo : r.manifest.model;
    auto snap = store.materialise_hf_cache(*r.hf_cache, repo, r.rec.revision, files);
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

  // Bytes of each wanted file that `st`'s torrent (the hybrid, or the companion: same layout)
  // has, from its piece bitfield.
  void update_done(Release& r, const lt::torrent_status& st, std::vector<std::int64_t>& out) {
    if (!r.handle.is_valid()) return;
    auto ti = st.torrent_file.lock();
    if (!ti) return;
    const auto& files = ti->files();
    const std::int64_t plen = files.piece_length();
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (r.lt_index[i] < 0) continue;
      const lt::file_index_t fi(r.lt_index[i]);
      const std::int64_t size = files.file_size(fi);
      if (st.is_seeding) {
        out[i] = size;
        continue;
      }
      if (size == 0 || st.pieces.empty()) {
        out[i] = 0;
        continue;
      }
      const std::int64_t first = files.file_offset(fi) / plen;
      const std::int64_t n = (size + plen - 1) / plen;
      std::int64_t done = 0;
      for (std::int64_t k = 0; k < n; ++k) {
        const lt::piece_index_t p(static_cast<int>(first + k));
        if (static_cast<int>(p) < st.pieces.size() && st.pieces.get_bit(p)) {
          done += std::min(plen, size - k * plen);
        }
      }
      out[i] = done;
    }
  }

  // Hashes every verified file again: from the store, or (VerifySource::staging, after a
  // download through two torrents) the staging copy, which is then adopted into the store. A
  // mismatch takes the file out of the store and the view, and libtorrent re-checks and
  // downloads the bad pieces again; success calls check_complete.
  enum class VerifySource { store, staging };
  void verify_all(Release& r, VerifySource source = VerifySource::store) {
    if (r.verify_outstanding > 0) return;
    r.verify_failures.clear();
    const std::string rid = r.rec.id;
    const auto gen = r.generation;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (!r.verified[i]) continue;
      const auto& f = r.manifest.files[i];
      // Empty files are never written by libtorrent; the store's is adopted without staging.
      if (source == VerifySource::staging && f.length == 0) continue;
      ++r.verify_outstanding;
      const auto path = source == VerifySource::store
                            ? store.store_file(f.sha256)
                            : store.staging_file(r.rec.v2_infohash, r.rec.revision, f.path);
      on_pool([path] { return hash_stored(path); },
              [this, rid, gen, i, source](Result<FileDigest> d) {
                on_reverified(rid, gen, i, source, std::move(d));
              });
    }
    if (r.verify_outstanding == 0) {
      r.staging_pass = false;
      check_complete(r);
    }
  }

  void on_reverified(const std::string& rid, std::uint64_t gen, std::size_t i, VerifySource source,
                     Result<FileDigest> d) {
    Release* rr = find(rid);
    if (!rr || rr->generation != gen) return;
    rr->verify_outstanding--;
    const auto& file = rr->manifest.files[i];
    bool good = d && d->length == file.length && hex(d->sha256) == file.sha256;
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
        quarantine(*rr, i,
                   d ? fmt::format("SHA-256 {} (length {})", hex(d->sha256), d->length)
                     : d.error().message,
                   "verify", Recheck::later);
      } else {
        // (A staging copy was never adopted: the store's entry is another release's.)
        rr->verified[i] = false;
        rr->failed[i] = true;
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

  // ---- alerts ----------------------------------------------------------------------------------

  void on_alert(lt::alert* a) {
    if (auto* at = lt::alert_cast<lt::add_torrent_alert>(a)) {
      const auto it = pending_adds.find(at->params.info_hashes);
      if (it == pending_adds.end()) return;  // a synchronous add: handled where it was made
      auto p = std::move(it->second);
      pending_adds.erase(it);
      on_added(p, at->handle, at->error);
    } else if (auto* ad = lt::alert_cast<lt::alerts_dropped_alert>(a)) {
      log::warning("libtorrent dropped alerts (queue full): {}", ad->message());
      if (ad->dropped_alerts.test(static_cast<std::size_t>(lt::add_torrent_alert::alert_type))) {
        find_dropped_adds();
      }
      if (ad->dropped_alerts.test(static_cast<std::size_t>(lt::state_update_alert::alert_type))) {
        updates_pending = 0;  // those answers will not come
        if (awaiting_final_status) {
          awaiting_final_status = false;
          save_resume_for_shutdown();
        }
      }
    } else if (auto* su = lt::alert_cast<lt::state_update_alert>(a)) {
      for (const auto& st : su->status) {
        bool v1 = false;
        Release* r = by_handle(st.handle, &v1);
        if (!r) continue;
        if (v1) {
          r->v1_status = st;
          if (!r->v1_downloading) continue;
          update_done(*r, st, r->v1_done);
          if (st.state == lt::torrent_status::finished || st.state == lt::torrent_status::seeding) {
            hash_completed_files(*r);
          }
          continue;
        }
        r->status = st;
        log::debug(
            "{} {}: lt state {} peers {} seeds {} list_seeds {} conns {} have {} flags {:x} "
            "err {} wanted {}/{}",
            session->listen_port(), r->rec.id, static_cast<int>(st.state), st.num_peers,
            st.num_seeds, st.list_seeds, st.num_connections, st.num_pieces,
            static_cast<std::uint64_t>(st.flags), st.errc.message(), st.total_wanted_done,
            st.total_wanted);
        if (log::level() == LogLevel::debug) {
          std::vector<lt::peer_info> pi;
          st.handle.get_peer_info(pi);
          for (const auto& p : pi) {
            log::debug("  peer {}:{} flags {:x} src {:x} progress {} client '{}' down {} up {}",
                       p.ip.address().to_string(), p.ip.port(), static_cast<std::uint32_t>(p.flags),
                       static_cast<std::uint32_t>(p.source), p.progress, p.client, p.total_download,
                       p.total_upload);
          }
        }
        update_done(*r, st, r->done);
        maybe_save_progress(*r, st);
        maybe_redial(*r, st);
        maybe_activate_v1(*r, st);
        connect_pending(*r);
        // Per-file completion comes from file_completed_alert; once the torrent is finished
        // (also right after a restart) every wanted file is on disk.
        if (st.state == lt::torrent_status::finished || st.state == lt::torrent_status::seeding) {
          hash_completed_files(*r);
        }
      }
      if (updates_pending > 0) --updates_pending;
      if (awaiting_final_status && updates_pending == 0) {
        awaiting_final_status = false;
        save_resume_for_shutdown();
      }
    } else if (auto* fc = lt::alert_cast<lt::file_completed_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(fc->handle, &v1);
      if (!r || (v1 && !r->v1_downloading)) return;
      for (std::size_t i = 0; i < r->lt_index.size(); ++i) {
        if (r->lt_index[i] == static_cast<int>(fc->index) && r->wanted[i]) {
          (v1 ? r->v1_done : r->done)[i] = static_cast<std::int64_t>(r->manifest.files[i].length);
          request_hash(*r, i);
        }
      }
    } else if (auto* tf = lt::alert_cast<lt::torrent_finished_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(tf->handle, &v1);
      if (!r || v1) return;
      if (!r->resume_current) {
        tf->handle.save_resume_data(lt::torrent_handle::flush_disk_cache);
      }
      request_updates();
    } else if (auto* cf = lt::alert_cast<lt::cache_flushed_alert>(a)) {
      Release* r = by_handle(cf->handle);
      if (r && r->flush_outstanding > 0 && --r->flush_outstanding == 0) on_flushed(*r);
    } else if (auto* hf = lt::alert_cast<lt::hash_failed_alert>(a)) {
      if (Release* r = by_handle(hf->handle)) r->hash_failures++;
    } else if (auto* pb = lt::alert_cast<lt::peer_ban_alert>(a)) {
      if (Release* r = by_handle(pb->handle)) r->banned_peers++;
      log::warning("banned peer {}", pb->message());
    } else if (auto* tc = lt::alert_cast<lt::torrent_checked_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(tc->handle, &v1);
      if (!r || v1) return;
      // A check we started is over: its result is what is on disk, persist it now (a kill
      // before the next save would otherwise lose the check). At start-up (resume data checked)
      // only partial downloads are saved: complete releases keep their resume file.
      // The check's result stands, even below the floor: libtorrent either took the have
      // bitfield we gave it or, having rejected it, hashed the files.
      const bool was_checking = r->checking;
      r->checking = false;
      r->resume_floor = -1;
      if (was_checking || !all_wanted_verified(*r)) {
        // The cached status may still say checking_files, which would veto the save.
        r->status = tc->handle.status(lt::torrent_handle::query_pieces);
        request_progress_save(*r);
      }
    } else if (auto* sr = lt::alert_cast<lt::save_resume_data_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(sr->handle, &v1);
      if (r && !v1 && !resume_save_allowed(*r, sr->params)) {
        resume_answered();
        return;
      }
      if (r && !v1) {
        // Our restart reads only the have bitfield and counters (the piece layers come from
        // the .torrent): the block-level Merkle trees (~2.2 MB per GiB) are not written.
        sr->params.merkle_trees.clear();
        sr->params.merkle_tree_mask.clear();
        sr->params.verified_leaf_hashes.clear();
        // libtorrent folds session payload into total_downloaded only once a second, so a save
        // right after completion (or at shutdown) can miss bytes: use the exact counters of the
        // latest status (refreshed before the completion save and at shutdown; asking the
        // handle here would be a round trip to libtorrent's thread per save).
        if (r->status) {
          sr->params.total_downloaded = std::max(
              sr->params.total_downloaded, r->downloaded_base + r->status->total_payload_download);
          sr->params.total_uploaded = std::max(sr->params.total_uploaded,
                                               r->uploaded_base + r->status->total_payload_upload);
        }
        const auto buf = lt::write_resume_data_buf(sr->params);
        if (auto st = write_file_atomic(store.resume_file(r->rec.v2_infohash),
                                        std::string_view(buf.data(), buf.size()));
            !st) {
          log::error("resume data for {}: {}", r->rec.id, st.error().message);
        } else {
          r->resume_floor =
              std::max(r->resume_floor, static_cast<int>(sr->params.have_pieces.count()));
          if (state_name(*r) == "complete" && !sr->params.have_pieces.empty() &&
              sr->params.have_pieces.all_set()) {
            r->resume_current = true;  // the file now says the torrent is complete
          }
        }
      }
      resume_answered();
    } else if (auto* sf = lt::alert_cast<lt::save_resume_data_failed_alert>(a)) {
      if (sf->error != lt::errors::resume_data_not_modified) {
        log::debug("save resume data failed: {}", sf->message());
      }
      resume_answered();
    } else if (auto* te = lt::alert_cast<lt::torrent_error_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(te->handle, &v1);
      if (r && !v1) on_disk_error(*r, te->error, te->message());
      log::error("{}", te->message());
    } else if (auto* fe = lt::alert_cast<lt::file_error_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(fe->handle, &v1);
      if (r && !v1) on_disk_error(*r, fe->error, fe->message());
      log::error("{}", fe->message());
    }
  }

  // An async add answered (add_torrent_alert). The release may have been removed meanwhile
  // (then the torrent goes too); a refused hybrid fails the release like a synchronous add.
  void on_added(const PendingAdd& p, const lt::torrent_handle& h, const lt::error_code& ec) {
    Release* r = find(p.id);
    if (!r || r->generation != p.generation) {
      if (h.is_valid()) session->session().remove_torrent(h);
      return;
    }
    if (p.role != Role::hybrid) {
      r->v1_adding = false;
      if (ec || !h.is_valid()) {
        log::warning("{}: v1 companion: {}", r->rec.id, ec ? ec.message() : "no handle");
        return;
      }
      adopt_v1(*r, h, p.role == Role::v1_seed ? V1Mode::seed : V1Mode::download);
      return;
    }
    set_loaded(*r);
    if (ec || !h.is_valid()) {
      r->error = Error{Errc::internal,
                       fmt::format("libtorrent refused {}: {}", r->rec.id,
                                   ec ? ec.message() : std::string("no handle")),
                       ""};
      persist(*r);
      return;
    }
    r->handle = h;
    handles[h] = HandleRef{r->rec.id, false};
    bool all = true;
    for (std::size_t i = 0; i < r->wanted.size(); ++i) {
      all = all && (!r->wanted[i] || r->verified[i]);
    }
    r->resume_current = r->resumed && all;
    if (shutting_down) return;
    add_v1_download(*r, AddHow::async);
    check_complete(*r, AddHow::async);
  }

  // add_torrent_alerts were dropped: the adds they answered are done, so their torrents are in
  // the session; find them by info-hash. Adds not found yet are still queued and will answer.
  void find_dropped_adds() {
    for (auto it = pending_adds.begin(); it != pending_adds.end();) {
      const auto& ih = it->first;
      const lt::sha1_hash key = ih.has_v1() ? ih.v1 : lt::sha1_hash(ih.v2.data());
      const auto h = session->session().find_torrent(key);
      if (!h.is_valid()) {
        ++it;
        continue;
      }
      auto p = std::move(it->second);
      it = pending_adds.erase(it);
      on_added(p, h, {});
    }
  }

  void set_loaded(Release& r) {
    if (!r.loading) return;
    r.loading = false;
    if (loading_count > 0 && --loading_count == 0) {
      log::info("{} release(s) loaded", releases.size());
    }
  }

  // Requests that would add, remove or re-add a release's torrent wait until it is loaded.
  Status not_loading(const Release& r) const {
    if (!r.loading) return {};
    return fail(Errc::unavailable,
                fmt::format("{} is still being loaded (daemon start-up)", r.rec.id),
                "retry in a moment; GET /v1/releases shows it `loading` until then");
  }

  // A disk error of a release's torrent. ENOSPC comes from the posix backend; the mmap backend
  // reports a SIGBUS (a write into a sparse mapping on a full filesystem) as another error, so
  // the filesystem is asked too. A full disk pauses the fetch (nothing verified is lost) until
  // resume_after_disk_full() sees room again; anything else fails the release.
  void on_disk_error(Release& r, const lt::error_code& ec, const std::string& what) {
    const auto free = free_disk();
    if (ec == boost::system::errc::no_space_on_device ||
        (free && *free < remaining_bytes(r) + (1u << 20))) {
      pause_disk_full(r, what);
      return;
    }
    r.error = Error{Errc::io_error, fmt::format("{}: {}", r.rec.id, what),
                    "check disk space and permissions under the state dir"};
    persist(r);
  }

  void pause_disk_full(Release& r, const std::string& what) {
    if (r.disk_full) return;
    r.disk_full = true;
    if (r.handle.is_valid()) r.handle.pause();
    const auto free = free_disk();
    r.error = Error{Errc::no_space,
                    fmt::format("{}: the disk is full ({} bytes free, {} still to download: {}); "
                                "fetching paused",
                                r.rec.id, free.value_or(0), remaining_bytes(r), what),
                    "free space on the state dir's filesystem: the fetch resumes by itself"};
    log::error("{}", r.error->message);
    persist(r);
  }

  // libtorrent does not always report a full disk (a write can block or be retried), so the
  // policy timer also pauses downloads that cannot write anymore.
  void check_disk_full() {
    const auto free = free_disk();
    if (!free) return;
    for (auto& [id, r] : releases) {
      if (r->disk_full || !r->handle.is_valid() || r->preparing) continue;
      const auto left = remaining_bytes(*r);
      if (left > 0 && *free < std::min<std::uint64_t>(left, 1u << 20)) {
        pause_disk_full(*r, "seen by the free-space check");
      }
    }
  }

  // Whether a save_resume_data_alert may replace the release's resume file. Not while a check
  // runs or before the first status update after an add: in 2.0.8 the resume data of a torrent
  // in checking_files has exactly the pieces checked so far (measured on 1 GiB, 1 MiB pieces:
  // 39, 87, ... 976 of 1,024 at 0.1 s intervals, 1,024 once seeding), so a file written then
  // claims nothing of the unchecked rest and every later restart downloads it again. Nor ever
  // with fewer pieces than the file already holds.
  bool resume_save_allowed(const Release& r, const lt::add_torrent_params& params) const {
    const int have = static_cast<int>(params.have_pieces.count());
    const bool checking = r.checking || !r.status ||
                          r.status->state == lt::torrent_status::checking_files ||
                          r.status->state == lt::torrent_status::checking_resume_data;
    if (checking || have < r.resume_floor) {
      log::debug("{}: resume data not written ({} pieces, {} on disk{})", r.rec.id, have,
                 r.resume_floor, checking ? ", checking" : "");
      return false;
    }
    return true;
  }

  static bool all_wanted_verified(const Release& r) {
    for (std::size_t i = 0; i < r.wanted.size(); ++i) {
      if (r.wanted[i] && !r.verified[i]) return false;
    }
    return true;
  }

  // Resume data of a download as its pieces arrive (and right after a check): a kill -9 then
  // loses at most progress_save_interval of pieces. The trees are not written (see the alert),
  // so a save costs about one byte per piece.
  static constexpr auto progress_save_interval = std::chrono::seconds(2);
  void request_progress_save(Release& r) {
    if (!r.handle.is_valid()) return;
    r.last_progress_save = std::chrono::steady_clock::now();
    if (r.status) r.save_requested_pieces = r.status->num_pieces;
    // No flush_disk_cache: it closes the torrent's files each time, and the pieces are in the
    // page cache, which a killed process does not lose.
    r.handle.save_resume_data({});
  }

  void maybe_save_progress(Release& r, const lt::torrent_status& st) {
    if (r.checking || st.state != lt::torrent_status::downloading) return;
    if (st.num_pieces <= r.save_requested_pieces) return;
    if (std::chrono::steady_clock::now() - r.last_progress_save < progress_save_interval) return;
    request_progress_save(r);
  }

  // True if the release's resume file still says everything: loaded complete from it, not
  // re-checked since, and no payload moved this session (the file keeps all-time counters).
  // libtorrent's own flag (only_if_modified) cannot tell: in 2.0.8 a torrent loaded from resume
  // data counts as modified (measured: a restart and SIGTERM rewrote all 1,000 resume files).
  bool resume_unchanged(const Release& r) const {
    const bool moved =
        r.status && (r.status->total_payload_download > 0 || r.status->total_payload_upload > 0);
    return r.resume_current && !moved && state_name(r) == "complete";
  }

  // Shutdown: resume data of every hybrid torrent that changed (resume_unchanged), so stopping
  // costs in proportion to the releases that changed, not to all of them. Payload counters are
  // those of the status update requested at shutdown.
  void save_resume_for_shutdown() {
    resume_outstanding = 0;
    int unchanged = 0;
    for (auto& [h, ref] : handles) {
      if (ref.v1 || !h.is_valid()) continue;
      if (const Release* r = find(ref.id); r && resume_unchanged(*r)) {
        ++unchanged;
        continue;
      }
      h.save_resume_data(lt::torrent_handle::flush_disk_cache);
      ++resume_outstanding;
    }
    log::info("shutdown: saving resume data of {} torrent(s), {} unchanged", resume_outstanding,
              unchanged);
    if (resume_outstanding == 0) {
      std::weak_ptr<bool> weak = alive;
      asio::post(ioc, [this, weak] {
        if (auto a = weak.lock(); a && *a) finish_shutdown();
      });
    }
  }

  void resume_answered() {
    if (!shutting_down || resume_outstanding == 0) return;
    if (--resume_outstanding == 0) finish_shutdown();
  }

  void finish_shutdown() {
    shutdown_timer.cancel();
    if (auto done = std::move(shutdown_done)) {
      shutdown_done = nullptr;
      done();
    }
  }

  // ---- timers ----------------------------------------------------------------------------------

  // Every state_update_alert answers one call (libtorrent posts one even with no changes).
  void request_updates() {
    ++updates_pending;
    session->session().post_torrent_updates(lt::torrent_handle::query_pieces);
  }

  void schedule_updates() {
    update_timer.expires_after(std::chrono::milliseconds(500));
    update_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || shutting_down) return;
      request_updates();
      schedule_updates();
    });
  }

  void schedule_resume_saves() {
    resume_timer.expires_after(config.resume_save_interval);
    resume_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || shutting_down) return;
      for (auto& [h, ref] : handles) {
        if (ref.v1 || !h.is_valid()) continue;
        if (const Release* r = find(ref.id); r && resume_unchanged(*r)) continue;
        h.save_resume_data(lt::torrent_handle::only_if_modified);
      }
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
    for (const auto& [id, r] : releases) all.push_back(stored_of(*r, r->wanted));
    return reserved_bytes(all);
  }

  // Free bytes on the state dir's filesystem for an unprivileged writer.
  std::optional<std::uint64_t> free_disk() const {
    struct statvfs v {};
    if (::statvfs(config.state_dir.c_str(), &v) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(v.f_bavail) * v.f_frsize;
  }

  // Makes room for `incoming` (its wanted content) before anything is downloaded: evicts
  // unpinned, unheld, idle releases least recently requested first under max_disk, and checks
  // the filesystem's free space. All or nothing; the error says what does not fit.
  Status make_room(const StoredRelease& incoming) {
    std::vector<StoredRelease> existing;
    for (const auto& [id, r] : releases) {
      auto s = stored_of(*r, r->wanted);
      // Releases still downloading or hashing are a request in progress, unless only a follow
      // asked and no longer holds them (fetch_protected).
      const auto st = state_name(*r);
      s.protect = st != "complete" && st != "failed" &&
                  fetch_protected({r->rec.last_requested != 0 ? FetchRequester::user
                                                              : FetchRequester::follow_only,
                                   s.held});
      existing.push_back(std::move(s));
    }
    auto plan = plan_eviction(existing, incoming, config.max_disk);
    if (!plan) {
      ++counters.no_space_refusals;
      return tl::unexpected(plan.error());
    }
    // Bytes to write: content neither in the store already nor in an evicted release.
    std::uint64_t to_write = 0;
    for (const auto& c : incoming.content) {
      std::error_code ec;
      if (c.length == 0 || std::filesystem::exists(store.store_file(c.sha256), ec)) continue;
      to_write += c.length;
    }
    if (auto free = free_disk(); free && to_write + config.min_free_disk > *free) {
      // Evictions free space too, but only unshared content; be conservative: count none.
      ++counters.no_space_refusals;
      return fail(Errc::no_space,
                  fmt::format("{} needs {} more bytes on {} but only {} are free (keeping "
                              "min_free_disk = {} free)",
                              incoming.id, to_write, config.state_dir.string(), *free,
                              config.min_free_disk),
                  "free disk space, or lower [limits] min_free_disk in the config");
    }
    for (const auto& id : plan->evict) {
      log::info("{}: evicted (least recently requested, unpinned) to make room for {}", id,
                incoming.id);
      ++counters.evictions;
      if (auto st = owner->remove_release(id, DeleteFiles::yes); !st) {
        log::error("evicting {}: {}", id, st.error().message);
      }
    }
    return {};
  }

  // Feeds' releases as follow candidates. Manifests come from the verified cache (fetched once
  // per target hash); only targets a follow's feed and model glob can select are read.
  std::vector<FollowCandidate> follow_candidates(const std::vector<Follow>& follows) {
    std::vector<FollowCandidate> out;
    std::set<std::string> feeds;
    for (const auto& f : follows) feeds.insert(f.feed);
    for (const auto& feed : feeds) {
      auto fs = state->load_feed(feed);
      if (!fs) continue;
      for (const auto& t : fs->trusted_targets) {
        if (t.kind != tuf::TargetKind::release) continue;
        bool wanted = false;
        for (const auto& f : follows) {
          if (f.feed == feed && (f.model_glob.empty() || glob_match(f.model_glob, t.model))) {
            wanted = true;
          }
        }
        if (!wanted) continue;
        auto m = manifest_for(*fs, t);
        if (!m) {
          log::warning("feed {}: {}: {}", feed, t.path, m.error().message);
          continue;
        }
        out.push_back(FollowCandidate{feed, t.model, t.revision, t.release_seq, m->first.aliases,
                                      m->first.total_length});
      }
    }
    return out;
  }

  void apply_follows() {
    if (shutting_down) return;
    auto follows = db->follows();
    if (!follows) {
      log::error("follows: {}", follows.error().message);
      return;
    }
    const auto candidates = follow_candidates(*follows);
    auto plan = plan_follows(*follows, candidates);
    held = plan.held;
    std::map<std::int64_t, FollowStatus> status;
    for (const auto& f : *follows) status[f.id].last_applied = clock();
    auto owner_of = [&](const std::string& id) -> std::vector<std::int64_t> {
      std::vector<std::int64_t> ids;
      for (const auto& f : *follows) {
        for (const auto& c : candidates) {
          if (c.id() == id && follow_matches(f, c)) ids.push_back(f.id);
        }
      }
      return ids;
    };
    for (const auto& [id, why] : plan.skipped) {
      for (auto fid : owner_of(id)) status[fid].skipped.emplace_back(id, why);
    }
    for (const auto& id : plan.mirror) {
      const auto at = id.rfind('@');
      Release* have = find(id);
      std::string refusal;
      if (!have || (!have->handle.is_valid() && !have->preparing && !have->loading)) {
        FetchRequest req;
        req.name = id.substr(0, at);
        req.revision = id.substr(at + 1);
        for (const auto& c : candidates) {
          if (c.id() == id) req.feed = c.feed;
        }
        req.requested_by = Requester::follow;
        if (auto r = owner->fetch(req); !r) {
          refusal = r.error().message;
          log::warning("follow: {} not mirrored: {}", id, refusal);
        } else {
          log::info("follow: mirroring {}", id);
        }
      }
      for (auto fid : owner_of(id)) {
        if (refusal.empty()) {
          status[fid].mirroring.push_back(id);
        } else {
          status[fid].refused.emplace_back(id, refusal);
        }
      }
    }
    follow_status = std::move(status);
    refused_room_key = room_key();
  }

  // What a refusal for room depends on: the bytes releases reserve, how many fetches are in
  // progress (protected), pins, and free space (MiB).
  using RoomKey = std::tuple<std::uint64_t, std::size_t, std::size_t, std::uint64_t>;
  RoomKey room_key() const {
    std::size_t active = 0, pinned = 0;
    for (const auto& [id, r] : releases) {
      const auto st = state_name(*r);
      active += st != "complete" && st != "failed";
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
    session->set_rate_limits(rates.download, rates.upload);
    log::info("rate limits now: download {} B/s, upload {} B/s (0 = unlimited)", rates.download,
              rates.upload);
  }

  // Bytes of wanted files libtorrent does not have yet.
  static std::uint64_t remaining_bytes(const Release& r) {
    std::uint64_t left = 0;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (r.wanted[i] && !r.verified[i]) {
        const auto len = r.manifest.files[i].length;
        const std::int64_t have = std::max(r.done[i], i < r.v1_done.size() ? r.v1_done[i] : 0);
        const auto done = static_cast<std::uint64_t>(std::max<std::int64_t>(0, have));
        left += len > done ? len - done : 0;
      }
    }
    return left;
  }

  // A torrent paused by a full disk resumes once its remaining bytes fit again.
  void resume_after_disk_full() {
    for (auto& [id, r] : releases) {
      if (!r->disk_full || !r->handle.is_valid()) continue;
      const std::uint64_t left = remaining_bytes(*r);
      const auto free = free_disk();
      if (!free || *free < left + config.min_free_disk / 16) continue;
      log::info("{}: disk space is back ({} bytes free), resuming", id, *free);
      r->disk_full = false;
      r->error.reset();
      r->handle.clear_error();
      r->handle.unset_flags(lt::torrent_flags::upload_mode);
      r->handle.resume();
      persist(*r);
    }
  }

  void schedule_policy() {
    policy_timer.expires_after(std::chrono::seconds(2));
    policy_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || shutting_down) return;
      apply_rate_windows();
      check_disk_full();
      resume_after_disk_full();
      // Refused for lack of room: try again as soon as room may have changed (a release
      // removed, evicted or finished, free space back), else now and then.
      ++policy_ticks;
      const bool refused = std::any_of(follow_status.begin(), follow_status.end(),
                                       [](const auto& f) { return !f.second.refused.empty(); });
      if (refused && (policy_ticks % 30 == 0 || room_key() != refused_room_key)) apply_follows();
      queue_due_scrubs();
      schedule_policy();
    });
  }

  void queue_due_scrubs() {
    if (config.scrub != Toggle::on || scrub_running || !scrub_queue.empty()) return;
    const auto now = now_ticks();
    const auto interval = config.scrub_interval.count();
    const Release* oldest = nullptr;
    for (const auto& [id, r] : releases) {
      if (state_name(*r) != "complete") continue;
      // Never scrubbed: count from when it was added, so a fresh node does not re-hash
      // everything it just verified.
      const auto since = r->rec.last_scrubbed != 0 ? r->rec.last_scrubbed : r->rec.added_at;
      if (now - since < interval) continue;
      if (!oldest ||
          since < (oldest->rec.last_scrubbed ? oldest->rec.last_scrubbed : oldest->rec.added_at)) {
        oldest = r.get();
      }
    }
    if (oldest) {
      scrub_queue.push_back(oldest->rec.id);
      run_scrub();
    }
  }

  // Scrubs the next queued release: its verified files one at a time on the pool, read at
  // most at scrub_rate. A mismatch quarantines the file (out of the store and the view),
  // marks the release degraded and has libtorrent re-check and re-download the bad pieces.
  void run_scrub() {
    if (scrub_running) return;
    while (!scrub_queue.empty()) {
      const std::string id = scrub_queue.front();
      scrub_queue.erase(scrub_queue.begin());
      Release* r = find(id);
      if (!r || state_name(*r) != "complete") continue;
      scrub_running = true;
      scrub_file(id, r->generation, 0, 0);
      return;
    }
  }

  void scrub_file(const std::string& id, std::uint64_t gen, std::size_t i, int mismatches) {
    Release* r = find(id);
    if (!r || r->generation != gen || shutting_down) {
      scrub_running = false;
      if (!shutting_down) run_scrub();
      return;
    }
    while (i < r->manifest.files.size() && (!r->verified[i] || r->manifest.files[i].length == 0)) {
      ++i;
    }
    if (i >= r->manifest.files.size()) {
      r->rec.last_scrubbed = now_ticks();
      ++counters.scrub_passes;
      last_scrub_finished = clock();
      if (mismatches == 0) log::info("{}: scrub: every stored file matches the manifest", id);
      persist(*r);
      scrub_running = false;
      run_scrub();
      return;
    }
    const auto& f = r->manifest.files[i];
    const auto path = store.store_file(f.sha256);
    const auto rate = config.scrub_rate;
    on_pool([path, rate] { return sha256_file_throttled(path, rate); },
            [this, id, gen, i, mismatches](Result<std::pair<std::uint64_t, std::string>> d) {
              Release* rr = find(id);
              int bad = mismatches;
              if (rr && rr->generation == gen) {
                const auto& file = rr->manifest.files[i];
                ++counters.scrub_files;
                if (d) counters.scrub_bytes += d->first;
                if (!d || d->first != file.length || d->second != file.sha256) {
                  ++bad;
                  ++counters.scrub_mismatches;
                  quarantine(*rr, i,
                             d ? fmt::format("SHA-256 {} (length {})", d->second, d->first)
                               : d.error().message,
                             "scrub");
                }
              }
              scrub_file(id, gen, i + 1, bad);
            });
  }

  // Takes damaged content out of the store and the view; the staging copy (the same inode)
  // is re-checked by libtorrent, which downloads the bad pieces again.
  enum class Recheck { now, later };
  void quarantine(Release& r, std::size_t i, const std::string& found, std::string_view by,
                  Recheck when = Recheck::now) {
    const auto& file = r.manifest.files[i];
    const auto src = store.store_file(file.sha256);
    const auto qdir = config.state_dir / "quarantine";
    // Keep one copy of the damaged bytes for inspection, read by descriptor from the store's
    // own regular file (a link there is not followed and nothing is kept); the store name must
    // go either way (unlink removes a link itself, never its target).
    if (auto damaged = safe_fs::open_regular(src)) {
      if (auto q = safe_fs::open_base_dir(qdir, safe_fs::Create::yes)) {
        (void)safe_fs::place_file(*damaged, q->get(),
                                  fmt::format("{}.{}", file.sha256, now_ticks()),
                                  safe_fs::Share::copy, qdir);
      }
    }
    (void)store.remove_store_entry(file.sha256);
    // libtorrent re-downloads into the staging name: if that is not the daemon's own regular
    // file (a link left by an older seed), remove it so the bytes land in a new file instead of
    // being written through the link.
    const auto staged = store.staging_file(r.rec.v2_infohash, r.rec.revision, file.path);
    if (struct stat st{};
        ::lstat(staged.c_str(), &st) == 0 && !(S_ISREG(st.st_mode) && st.st_uid == ::geteuid())) {
      std::error_code ignored;
      std::filesystem::remove(staged, ignored);
    }
    (void)store.remove_view(r.rec.model, r.rec.revision);
    r.rec.view_path.clear();
    r.verified[i] = false;
    r.failed[i] = true;
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

  // Every known release is listed at once (state `loading`); their torrents are added in
  // batches from the event loop (load_batch), so the control API answers meanwhile. Each add
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
      if (std::filesystem::exists(store.torrent_file(r->rec.v2_infohash), ec)) {
        r->loading = true;
        ++loading_count;
        load_queue.push_back(r->rec.id);
      }
      releases[r->rec.id] = std::move(r);
    }
    if (loading_count == 0) {
      log::info("{} release(s) loaded", releases.size());
      return;
    }
    log::info("loading {} release(s)", loading_count);
    post_load_batch();
  }

  static constexpr std::size_t load_batch_size = 64;

  void post_load_batch() {
    std::weak_ptr<bool> weak = alive;
    asio::post(ioc, [this, weak] {
      if (auto a = weak.lock(); a && *a) load_batch();
    });
  }

  void load_batch() {
    if (shutting_down) return;
    for (std::size_t n = 0; n < load_batch_size && load_next_index < load_queue.size(); ++n) {
      Release* r = find(load_queue[load_next_index++]);
      if (!r || !r->loading) continue;
      verify_empty_files(*r);
      if (auto st = add_to_session(*r, AddMode::normal, AddHow::async); !st) {
        set_loaded(*r);
        r->error = st.error();
        persist(*r);
      }
    }
    if (load_next_index < load_queue.size()) {
      post_load_batch();
    } else {
      load_queue.clear();
      load_queue.shrink_to_fit();
    }
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
  auto state = StateStore::open(config.state_dir, StateStore::Lock::held_by_caller);
  if (!state) return tl::unexpected(state.error());
  impl->state.emplace(std::move(*state));
  auto db = ReleaseDb::open(impl->state->database_path());
  if (!db) return tl::unexpected(db.error());
  impl->db.emplace(std::move(*db));
  Impl* raw = impl.get();
  auto session = TorrentSession::start(ioc, config, [raw](lt::alert* a) { raw->on_alert(a); });
  if (!session) return tl::unexpected(session.error());
  impl->session = std::move(*session);
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
  if (I.shutting_down) return fail(Errc::unavailable, "weightsd is shutting down");
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

  if (Release* r = I.find(id); r && r->handle.is_valid()) {
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
      r->wanted = select_files(paths, r->rec.include);
      r->resume_current = false;
      I.verify_empty_files(*r);
      if (auto ti = r->handle.torrent_file()) {
        r->handle.prioritize_files(I.priorities(*r, *ti));
        if (r->v1_downloading) r->v1_handle.prioritize_files(I.priorities(*r, *ti));
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
  if (auto st = I.make_room(I.stored_of(*owned, owned->wanted)); !st) {
    return tl::unexpected(st.error());
  }
  Release& r = *owned;
  r.hf_cache = req.hf_cache;
  I.releases[id] = std::move(owned);

  if (auto st = I.get_torrents(resolved->feed, m); !st) {
    r.error = st.error();
    I.persist(r);
    return tl::unexpected(st.error());
  }
  I.verify_empty_files(r);
  if (auto st = I.add_to_session(r, Impl::AddMode::normal); !st) {
    r.error = st.error();
    I.persist(r);
    return tl::unexpected(st.error());
  }
  I.add_v1_download(r);
  log::info("{}: fetching from feed {} ({} files, {} bytes)", id, r.rec.feed, m.files.size(),
            m.total_length);
  I.persist(r);
  I.check_complete(r);
  return I.release_json(r);
}

Result<api::Release> Engine::seed(const SeedRequest& req) {
  auto& I = *impl_;
  if (I.shutting_down) return fail(Errc::unavailable, "weightsd is shutting down");
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
    if (I.state_name(*r) == "complete" || r->preparing) return I.release_json(*r);
    if (r->handle.is_valid()) {
      return fail(Errc::already_exists, fmt::format("{} is being fetched", id),
                  "remove it first (weightsctl remove), then seed");
    }
    I.releases.erase(id);
  }
  std::error_code ec;
  if (!std::filesystem::is_directory(req.dir, ec)) {
    return fail(Errc::not_found, fmt::format("{} is not a directory", req.dir.string()));
  }
  if (auto st = I.get_torrents(*fs, m->first); !st) return tl::unexpected(st.error());

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
  r.preparing = true;
  I.persist(r);

  // Take the publisher's files into staging on a worker, by descriptor (Store::take_files: no
  // link followed, no FIFO opened, foreign inodes copied): nothing from `dir` is seeded unless
  // every byte matches the manifest.
  const auto files = r.manifest.files;
  const auto dir = req.dir;
  const auto staging = I.store.staging_dir(r.rec.v2_infohash) / r.rec.revision;
  const auto threads = I.config.hashing_threads;
  const auto gen = r.generation;
  I.on_pool(
      [files, dir, staging, threads]() -> Status {
        std::vector<SourceFile> sources;
        for (const auto& f : files) sources.push_back(SourceFile{f.path, f.length, f.sha256});
        return take_files(dir, sources, staging, threads);
      },
      [this, id, gen](Status st) {
        auto& J = *impl_;
        Release* rr = J.find(id);
        if (!rr || rr->generation != gen) return;
        rr->preparing = false;
        if (!st) {
          rr->error = st.error();
          log::error("seed {}: {}", id, st.error().message);
          J.persist(*rr);
          return;
        }
        for (std::size_t i = 0; i < rr->manifest.files.size(); ++i) {
          const auto& f = rr->manifest.files[i];
          Status ok = f.length == 0 ? J.store.adopt_empty()
                                    : J.store.adopt(J.store.staging_file(rr->rec.v2_infohash,
                                                                         rr->rec.revision, f.path),
                                                    f.sha256);
          if (!ok) {
            rr->error = ok.error();
            J.persist(*rr);
            return;
          }
          rr->verified[i] = true;
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
    if (h->is_valid()) {
      I.handles.erase(*h);
      I.session->session().remove_torrent(*h);
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
        if (other->verified[i]) used.insert(other->manifest.files[i].sha256);
      }
    }
    bool shared_torrent = false;
    for (const auto& [oid, other] : I.releases) {
      if (oid != id && other->rec.v2_infohash == r.rec.v2_infohash) shared_torrent = true;
    }
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      const auto& sha = r.manifest.files[i].sha256;
      if (r.verified[i] && !used.count(sha)) (void)I.store.remove_store_entry(sha);
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
  namespace fs = std::filesystem;
  auto& I = *impl_;
  auto found = I.require(id);
  if (!found) return tl::unexpected(found.error());
  Release& r = **found;
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    if (!r.verified[i]) {
      return fail(
          Errc::invalid_argument,
          fmt::format("{} is not complete: {} is not verified", r.rec.id, r.manifest.files[i].path),
          "fetch every file of the release first (no --include), then export");
    }
  }
  auto fsr = I.state->load_feed(r.rec.feed);
  if (!fsr) {
    return tl::unexpected(with_context(fsr.error(), fmt::format("feed {}", r.rec.feed)));
  }
  const FeedState& feed = *fsr;
  if (!feed.timestamp || !feed.snapshot || !feed.targets) {
    return fail(Errc::unavailable,
                fmt::format("feed {} has no trusted timestamp/snapshot/targets", feed.name),
                "refresh the feed (weightsctl feed refresh)");
  }
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_empty(dir, ec)) {
    return fail(Errc::already_exists, fmt::format("{} is not empty", dir.string()),
                "export into a new or empty directory");
  }
  // Metadata exactly as verified, so the offline side runs the same TUF checks on the same
  // bytes. Only the newest root is stored; older ones are taken from the feed when reachable so
  // a client holding an older root can walk the chain.
  std::vector<std::pair<std::string, std::string>> meta;
  if (feed.root.version > 1) {
    if (auto fetcher = make_fetcher(feed.location)) {
      for (std::uint64_t v = 1; v < feed.root.version; ++v) {
        auto b = (*fetcher)->fetch(tuf::root_file_name(v), 1024 * 1024);
        if (b) meta.emplace_back(tuf::root_file_name(v), std::move(*b));
      }
    }
  }
  meta.emplace_back(tuf::root_file_name(feed.root.version), feed.root.bytes);
  meta.emplace_back(std::string(tuf::timestamp_file_name), feed.timestamp->bytes);
  meta.emplace_back(tuf::snapshot_file_name(feed.snapshot->version), feed.snapshot->bytes);
  meta.emplace_back(tuf::targets_file_name(feed.targets->version), feed.targets->bytes);
  // Everything below `dir` is created and walked by descriptor: a link planted in the export
  // directory (a shared one, say) is refused, not followed.
  auto base = safe_fs::open_base_dir(dir, safe_fs::Create::yes);
  if (!base) return tl::unexpected(base.error());
  auto write_in = [&dir, &base](const std::string& name, std::string_view bytes) -> Status {
    const fs::path p(name);
    auto sub =
        safe_fs::open_dir_beneath(base->get(), p.parent_path().string(), safe_fs::Create::yes, dir);
    if (!sub) return tl::unexpected(sub.error());
    return safe_fs::write_file_at(sub->get(), p.filename().string(), bytes, 0644,
                                  (dir / p).parent_path());
  };
  for (const auto& [name, bytes] : meta) {
    if (auto st = write_in(name, bytes); !st) return tl::unexpected(st.error());
  }
  // The release's targets (manifest, torrents), each checked against its pinned hash.
  int targets = 0;
  for (const auto& t : feed.trusted_targets) {
    if (t.model != r.rec.model || t.revision != r.rec.revision) continue;
    std::string bytes;
    if (t.kind == tuf::TargetKind::release) {
      bytes = r.rec.manifest;
    } else {
      const auto file = t.kind == tuf::TargetKind::torrent
                            ? I.store.torrent_file(r.rec.v2_infohash)
                            : I.store.torrent_v1_file(r.rec.v2_infohash);
      auto b = read_file(file, max_torrent_bytes);
      if (!b) continue;  // a v1 companion the node never fetched: optional
      bytes = std::move(*b);
    }
    if (bytes.size() != t.length || crypto::sha256_hex(bytes) != t.sha256) continue;
    if (auto st = write_in(tuf::consistent_target_name(t), bytes); !st) {
      return tl::unexpected(st.error());
    }
    ++targets;
  }
  if (targets < 2) {
    return fail(Errc::not_found,
                fmt::format("{}: the manifest or torrent no longer matches feed {}'s trusted "
                            "targets",
                            r.rec.id, feed.name),
                "refresh the feed and fetch the release again");
  }
  for (const auto& f : r.manifest.files) {
    if (f.length == 0) (void)I.store.adopt_empty();
    const fs::path p = fs::path("files") / f.path;
    auto src = safe_fs::open_regular(I.store.store_file(f.sha256));
    if (!src) return tl::unexpected(src.error());
    auto sub =
        safe_fs::open_dir_beneath(base->get(), p.parent_path().string(), safe_fs::Create::yes, dir);
    if (!sub) return tl::unexpected(sub.error());
    if (auto st = safe_fs::place_file(*src, sub->get(), p.filename().string(), safe_fs::Share::link,
                                      (dir / p).parent_path());
        !st) {
      return tl::unexpected(st.error());
    }
  }
  json info = {{"format", "weights-export/v1"},
               {"feed", feed.name},
               {"model", r.rec.model},
               {"revision", r.rec.revision},
               {"release_seq", r.rec.release_seq},
               {"files", r.manifest.files.size()},
               {"total_length", r.manifest.total_length}};
  if (auto st = write_in("weights-export.json", info.dump(2) + "\n"); !st) {
    return tl::unexpected(st.error());
  }
  (void)fsync_dir(dir);
  log::info("{}: exported to {}", r.rec.id, dir.string());
  return api::ExportResult{r.rec.id,
                           dir.string(),
                           info["format"].get<std::string>(),
                           feed.name,
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
  auto& I = *impl_;
  if (auto fs = I.state->load_feed(spec.feed, FeedDetail::summary); !fs) {
    return fail(Errc::not_found, fmt::format("no feed '{}'", spec.feed),
                "subscribe first: weightsctl feed add NAME LOCATION --root ROOT.json");
  }
  if (spec.model_glob.size() > 256 || spec.alias.size() > 256) {
    return fail(Errc::invalid_argument, "model glob or alias longer than 256 bytes");
  }
  Follow f;
  f.feed = spec.feed;
  f.model_glob = spec.model_glob;
  f.alias = spec.alias;
  f.latest = spec.latest;
  f.max_size = spec.max_size;
  f.created_at = I.now_ticks();
  auto id = I.db->add_follow(f);
  if (!id) return tl::unexpected(id.error());
  f.id = *id;
  log::info("follow {}: feed {} model '{}' alias '{}' latest {} max size {}", f.id, f.feed,
            f.model_glob, f.alias, f.latest, f.max_size);
  I.apply_follows();
  auto all = list_follows();
  if (!all) return tl::unexpected(all.error());
  for (auto& one : all->follows) {
    if (one.id == f.id) return std::move(one);
  }
  return fail(Errc::internal, "the new follow vanished");
}

Result<api::FollowList> Engine::list_follows() {
  auto& I = *impl_;
  auto follows = I.db->follows();
  if (!follows) return tl::unexpected(follows.error());
  api::FollowList out;
  for (const auto& f : *follows) {
    api::Follow j;
    j.id = f.id;
    j.feed = f.feed;
    if (!f.model_glob.empty()) j.model = f.model_glob;
    if (!f.alias.empty()) j.alias = f.alias;
    j.latest = f.latest;
    j.max_size = f.max_size;
    j.created = format_utc(TimePoint(TimePoint::duration(f.created_at)));
    const auto it = I.follow_status.find(f.id);
    if (it != I.follow_status.end()) {
      j.mirroring.assign(it->second.mirroring.begin(), it->second.mirroring.end());
      for (const auto& [id, why] : it->second.skipped) j.skipped.push_back({id, why});
      for (const auto& [id, why] : it->second.refused) j.refused.push_back({id, why});
      if (it->second.last_applied) j.last_applied = format_utc(*it->second.last_applied);
    }
    out.follows.push_back(std::move(j));
  }
  return out;
}

Result<api::FollowRemoved> Engine::remove_follow(std::int64_t id) {
  auto& I = *impl_;
  auto removed = I.db->remove_follow(id);
  if (!removed) return tl::unexpected(removed.error());
  if (!*removed) {
    return fail(Errc::not_found, fmt::format("no follow {}", id), "see weightsctl follows");
  }
  // Its releases stay (and keep seeding) but are no longer held: eviction may take them.
  I.apply_follows();
  return api::FollowRemoved{id};
}

Result<api::ScrubResult> Engine::scrub(const std::optional<std::string>& id) {
  auto& I = *impl_;
  std::vector<std::string> ids;
  if (id) {
    auto found = I.require(*id);
    if (!found) return tl::unexpected(found.error());
    if (I.state_name(**found) != "complete") {
      return fail(Errc::invalid_argument,
                  fmt::format("{} is {}; only complete releases are scrubbed", (*found)->rec.id,
                              I.state_name(**found)));
    }
    ids.push_back((*found)->rec.id);
  } else {
    for (const auto& [rid, r] : I.releases) {
      if (I.state_name(*r) == "complete") ids.push_back(rid);
    }
  }
  for (const auto& rid : ids) {
    if (std::find(I.scrub_queue.begin(), I.scrub_queue.end(), rid) == I.scrub_queue.end()) {
      I.scrub_queue.push_back(rid);
    }
  }
  I.run_scrub();
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
                for (std::size_t i = 0; i < r.wanted.size(); ++i) {
                  if (r.wanted[i]) n += r.manifest.files[i].length;
                }
                return n;
              });
  per_release("weightsd_release_verified_bytes", "bytes SHA-256-verified against the manifest",
              MetricType::gauge, [](const Release& r) {
                std::uint64_t n = 0;
                for (std::size_t i = 0; i < r.verified.size(); ++i) {
                  if (r.verified[i]) n += r.manifest.files[i].length;
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
  for (const auto& [id, r] : rs) m.sample({{"release", id}, {"state", I.state_name(*r)}}, 1);

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
  out.listen_port = I.session->listen_port();
  out.listen_interfaces = I.config.listen_interfaces;
  out.outgoing_interfaces = I.config.outgoing_interfaces;
  out.releases = I.releases.size();
  out.releases_loading = I.loading_count;
  out.feeds = feeds ? feeds->size() : 0;
  out.download_rate = down;
  out.upload_rate = up;
  out.disk = {I.reserved_now(), I.config.max_disk, I.free_disk()};
  out.rate_limits = {I.applied_rates.download, I.applied_rates.upload};
  return out;
}

void Engine::shutdown(std::function<void()> done, std::chrono::milliseconds timeout) {
  auto& I = *impl_;
  if (I.shutting_down) return;
  I.shutting_down = true;
  I.shutdown_done = std::move(done);
  I.update_timer.cancel();
  I.resume_timer.cancel();
  I.policy_timer.cancel();
  I.poller->stop();
  I.session->session().pause();
  I.resume_outstanding = 0;
  // Payload counters as of now first (state_update_alert), then the saves.
  I.awaiting_final_status = true;
  I.request_updates();
  I.shutdown_timer.expires_after(timeout);
  I.shutdown_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log::warning("shutdown: {} resume data save(s) unanswered", impl_->resume_outstanding);
    impl_->finish_shutdown();
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
