#include "daemon/engine.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <set>
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

#include "core/atomic_file.hpp"
#include "core/encoding.hpp"
#include "core/fetcher.hpp"
#include "core/file_hash.hpp"
#include "core/http_fetcher.hpp"
#include "core/release_manifest.hpp"
#include "core/release_target.hpp"
#include "core/state_store.hpp"
#include "core/torrent_builder.hpp"
#include "core/tuf_client.hpp"
#include "daemon/feed_poller.hpp"
#include "daemon/log.hpp"
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

json time_or_null(std::optional<TimePoint> t) {
  return t ? json(format_utc(*t)) : json(nullptr);
}

json error_json(const std::optional<Error>& e) {
  if (!e) return nullptr;
  return {{"code", std::string(code_name(e->code))}, {"message", e->message}, {"hint", e->hint}};
}

Result<lt::tcp::endpoint> parse_peer(const std::string& text) {
  std::string host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find("]:");
    if (close == std::string::npos) {
      return fail(Errc::invalid_argument, fmt::format("peer '{}' is not [ADDRESS]:PORT", text));
    }
    host = text.substr(1, close - 1);
    port = std::string_view(text).substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos) {
      return fail(Errc::invalid_argument, fmt::format("peer '{}' is not ADDRESS:PORT", text));
    }
    host = text.substr(0, colon);
    port = std::string_view(text).substr(colon + 1);
  }
  boost::system::error_code ec;
  const auto addr = boost::asio::ip::make_address(host, ec);
  unsigned p = 0;
  const auto [ptr, perr] = std::from_chars(port.data(), port.data() + port.size(), p);
  if (ec || perr != std::errc() || ptr != port.data() + port.size() || p == 0 || p > 65535) {
    return fail(Errc::invalid_argument,
                fmt::format("peer '{}' is not ADDRESS:PORT (e.g. 127.0.0.2:6881)", text));
  }
  return lt::tcp::endpoint(addr, static_cast<unsigned short>(p));
}

std::string hex(const crypto::Sha256& h) {
  return to_hex(h);
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
  lt::torrent_handle v1_handle;    // v1 companion (seeding only)
  std::optional<lt::torrent_status> status;
  std::optional<Error> error;
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
  bool flush_requested = false;
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
        refresh_timer(io),
        shutdown_timer(io),
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
  asio::steady_timer update_timer, resume_timer, refresh_timer, shutdown_timer;
  std::shared_ptr<bool> alive;
  std::map<std::string, std::unique_ptr<Release>> releases;
  struct HandleRef {
    std::string id;
    bool v1 = false;
  };
  std::unordered_map<lt::torrent_handle, HandleRef> handles;
  std::uint64_t next_generation = 1;
  bool shutting_down = false;
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
    if (r.error && !r.handle.is_valid() && !r.preparing) return "failed";
    if (r.preparing || r.verify_outstanding > 0) return "verifying";
    bool all = true;
    for (std::size_t i = 0; i < r.wanted.size(); ++i) {
      if (r.wanted[i] && !r.verified[i]) all = false;
    }
    if (all && r.handle.is_valid()) return "complete";
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
    r.rec.state = state_name(r);
    r.rec.verified.clear();
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (r.verified[i]) r.rec.verified.push_back(r.manifest.files[i].path);
    }
    r.rec.error_code = r.error ? std::string(code_name(r.error->code)) : "";
    r.rec.error_message = r.error ? r.error->message : "";
    r.rec.error_hint = r.error ? r.error->hint : "";
    if (auto st = db->put(r.rec); !st) log::error("{}", st.error().message);
  }

  json release_json(const Release& r) const {
    std::uint64_t wanted_len = 0, verified_len = 0;
    json files = json::array();
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
      } else if (r.wanted[i] && r.handle.is_valid() && r.done[i] > 0) {
        fs = FileState::downloading;
      }
      const std::int64_t done = r.verified[i] ? static_cast<std::int64_t>(f.length) : r.done[i];
      files.push_back({{"path", f.path},
                       {"length", f.length},
                       {"wanted", static_cast<bool>(r.wanted[i])},
                       {"state", std::string(file_state_name(fs))},
                       {"done_bytes", done}});
    }
    const std::string st = state_name(r);
    const bool seeding = r.handle.is_valid() && st == "complete" &&
                         !(r.status && (r.status->flags & lt::torrent_flags::paused));
    json j = {
        {"id", r.rec.id},
        {"feed", r.rec.feed},
        {"model", r.rec.model},
        {"revision", r.rec.revision},
        {"aliases", r.manifest.aliases},
        {"release_seq", r.rec.release_seq},
        {"origin", r.rec.origin == Origin::seeded ? "seeded" : "fetched"},
        {"state", st},
        {"seeding", seeding},
        {"pinned", r.rec.pinned},
        {"total_length", r.manifest.total_length},
        {"wanted_length", wanted_len},
        {"verified_length", verified_len},
        {"downloaded_bytes", r.downloaded_base + (r.status ? r.status->total_payload_download : 0)},
        {"uploaded_bytes", r.uploaded_base + (r.status ? r.status->total_payload_upload : 0)},
        {"download_rate", r.status ? r.status->download_payload_rate : 0},
        {"upload_rate", r.status ? r.status->upload_payload_rate : 0},
        {"peers", r.status ? r.status->num_peers : 0},
        {"seeds", r.status ? r.status->num_seeds : 0},
        {"hash_failures", r.hash_failures},
        {"banned_peers", r.banned_peers},
        {"error", error_json(r.error)},
        {"path", r.rec.view_path.empty() ? json(nullptr) : json(r.rec.view_path)},
        {"v2_infohash", r.rec.v2_infohash},
        {"include", r.rec.include},
        {"v1_seeding", r.v1_handle.is_valid()},
        {"files", std::move(files)},
    };
    return j;
  }

  // ---- feeds -----------------------------------------------------------------------------------

  Result<json> feed_json(const std::string& name) {
    auto fs = state->load_feed(name);
    if (!fs) return tl::unexpected(fs.error());
    const auto summary = tuf::summarize(*fs);
    auto ok = state->last_success(name);
    if (!ok) return tl::unexpected(ok.error());
    auto refused = state->last_refusal(name);
    if (!refused) return tl::unexpected(refused.error());
    std::string result = "never";
    if (*ok && (!*refused || (*ok)->time >= (*refused)->time)) {
      result = std::string(refresh_result_name((*ok)->result));
    } else if (*refused) {
      result = "refused";
    }
    const TimePoint now = clock();
    auto role = [](const tuf::RoleSummary& s) {
      return json{{"version", s.version},
                  {"expires", s.version == 0 ? json(nullptr) : json(format_utc(s.expires))}};
    };
    std::size_t count = 0;
    for (const auto& t : fs->trusted_targets) {
      if (t.kind == tuf::TargetKind::release) ++count;
    }
    json last_refusal = nullptr;
    if (*refused) {
      last_refusal = {{"time", format_utc((*refused)->time)},
                      {"code", (*refused)->error_code},
                      {"message", (*refused)->message}};
    }
    return json{{"name", fs->name},
                {"location", fs->location},
                {"mirrors", fs->mirrors},
                {"refresh", poller->status(name)},
                {"result", result},
                {"last_success", *ok ? json(format_utc((*ok)->time)) : json(nullptr)},
                {"last_refusal", last_refusal},
                {"stale", tuf::is_stale(*fs, now)},
                {"stale_since", time_or_null(tuf::stale_since(*fs, now))},
                {"roles",
                 {{"root", role(summary.root)},
                  {"timestamp", role(summary.timestamp)},
                  {"snapshot", role(summary.snapshot)},
                  {"targets", role(summary.targets)}}},
                {"releases", count}};
  }

  // Refreshes run on the FeedPoller's workers and commit back on this thread; the API
  // answers with the ticket of the refresh that will include the request.
  Result<json> feed_json_with_ticket(const std::string& name, std::uint64_t ticket) {
    auto j = feed_json(name);
    if (!j) return j;
    (*j)["ticket"] = ticket;
    return j;
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
    auto m = validate_release_target(t, bytes);
    if (!m) return tl::unexpected(m.error());
    return std::pair{std::move(*m), std::move(bytes)};
  }

  Result<Resolved> resolve(std::string name, std::optional<std::string> revision) {
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
    for (int c = 0; c <= static_cast<int>(Errc::unavailable); ++c) {
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
      if (r.lt_index[i] >= 0 && !r.wanted[i]) {
        out[static_cast<std::size_t>(r.lt_index[i])] = lt::dont_download;
      }
    }
    return out;
  }

  // Adds the hybrid torrent from torrents/<v2>.torrent. With resume data this is the "slim
  // restart" (libtorrent notes §2.4): the piece layers come from the .torrent and only the have
  // bitfield and counters from the resume file, so nothing is rehashed and no block-level
  // Merkle tree is loaded for finished files.
  enum class AddMode { normal, seed };
  Status add_to_session(Release& r, AddMode mode) {
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
    if (mode == AddMode::normal) {
      if (auto buf = read_file(store.resume_file(v2), max_torrent_bytes * 4); buf) {
        lt::error_code ec;
        auto rd = lt::read_resume_data({buf->data(), static_cast<std::ptrdiff_t>(buf->size())}, ec);
        // 2.0.8 accepts resume data of another torrent (fixed in 2.0.10): check it ourselves.
        if (!ec && rd.info_hashes == atp.ti->info_hashes()) {
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
        } else {
          log::warning("{}: ignoring resume data ({})", r.rec.id,
                       ec ? ec.message() : "info-hash mismatch");
        }
      }
      // Verified by us, but resume data is missing (e.g. killed before the first save).
      bool all = true;
      for (std::size_t i = 0; i < r.wanted.size(); ++i) all = all && r.verified[i];
      if (!resumed && all) mode = AddMode::seed;
    }
    atp.save_path = store.staging_dir(v2).string();
    atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
    if (mode == AddMode::seed) atp.flags |= lt::torrent_flags::seed_mode;
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
    lt::error_code ec;
    auto h = session->session().add_torrent(std::move(atp), ec);
    if (ec) {
      return fail(Errc::internal, fmt::format("libtorrent refused {}: {}", r.rec.id, ec.message()));
    }
    r.handle = h;
    handles[h] = HandleRef{r.rec.id, false};
    return {};
  }

  void add_v1_companion(Release& r) {
    if (r.v1_handle.is_valid()) return;
    const auto path = store.torrent_v1_file(r.rec.v2_infohash);
    std::error_code fec;
    if (!std::filesystem::exists(path, fec)) return;
    for (bool w : r.wanted) {
      if (!w) return;  // a partial selection cannot seed the v1 torrent's whole piece space
    }
    lt::add_torrent_params atp;
    try {
      atp = lt::load_torrent_file(path.string());
    } catch (const std::exception& e) {
      log::warning("{}: v1 companion: {}", r.rec.id, e.what());
      return;
    }
    atp.save_path = store.staging_dir(r.rec.v2_infohash).string();
    atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
    // Every byte was SHA-256-verified against the manifest; same files, same layout.
    atp.flags |= lt::torrent_flags::seed_mode;
    atp.trackers = r.manifest.torrent.trackers;
    lt::error_code ec;
    auto h = session->session().add_torrent(std::move(atp), ec);
    if (ec) {
      log::warning("{}: v1 companion: {}", r.rec.id, ec.message());
      return;
    }
    r.v1_handle = h;
    handles[h] = HandleRef{r.rec.id, true};
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
    if (!r.flush_requested && r.handle.is_valid()) {
      r.flush_requested = true;
      r.handle.flush_cache();  // answered by cache_flushed_alert
    }
  }

  void on_flushed(Release& r) {
    r.flush_requested = false;
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
    on_pool(
        [path] {
          HashOptions o;
          o.git_oid = GitOid::skip;
          return hash_file(path, o);
        },
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
      if (auto st = store.adopt(path, f.sha256); !st) {
        r->error = st.error();
        persist(*r);
        return;
      }
      r->verified[i] = true;
      r->failed[i] = false;
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
      r->handle.force_recheck();
    }
  }

  // Files that libtorrent has completely (per the piece bitfield) and we have not verified yet.
  void hash_completed_files(Release& r) {
    if (r.preparing) return;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (!r.wanted[i] || r.verified[i] || r.hashing[i]) continue;
      if (r.failed[i] && r.attempts[i] >= max_hash_attempts) continue;
      const auto len = static_cast<std::int64_t>(r.manifest.files[i].length);
      if (len > 0 && r.done[i] == len) request_hash(r, i);
    }
  }

  void check_complete(Release& r) {
    std::vector<ViewFile> view;
    for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
      if (!r.wanted[i]) continue;
      if (!r.verified[i]) return;
      view.push_back(ViewFile{r.manifest.files[i].path, r.manifest.files[i].sha256});
    }
    if (r.verify_outstanding > 0) return;
    auto dir = store.build_view(r.rec.model, r.rec.revision, view);
    if (!dir) {
      r.error = dir.error();
      persist(r);
      return;
    }
    const bool changed = r.rec.view_path != dir->string() || r.error;
    r.rec.view_path = dir->string();
    r.error.reset();
    if (changed || r.rec.state != "complete") {
      log::info("{}: complete, view at {}", r.rec.id, r.rec.view_path);
    }
    // The cached status comes from the last state_update (every 500 ms): refresh it so that a
    // release reported "complete" also reports every byte it downloaded.
    if (r.handle.is_valid()) r.status = r.handle.status(lt::torrent_handle::query_pieces);
    persist(r);
    if (r.handle.is_valid()) r.handle.save_resume_data(lt::torrent_handle::flush_disk_cache);
    add_v1_companion(r);
  }

  void update_done(Release& r, const lt::torrent_status& st) {
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
        r.done[i] = size;
        continue;
      }
      if (size == 0 || st.pieces.empty()) {
        r.done[i] = 0;
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
      r.done[i] = done;
    }
  }

  // ---- alerts ----------------------------------------------------------------------------------

  void on_alert(lt::alert* a) {
    if (auto* su = lt::alert_cast<lt::state_update_alert>(a)) {
      for (const auto& st : su->status) {
        bool v1 = false;
        Release* r = by_handle(st.handle, &v1);
        if (!r || v1) continue;
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
        update_done(*r, st);
        connect_pending(*r);
        // Per-file completion comes from file_completed_alert; once the torrent is finished
        // (also right after a restart) every wanted file is on disk.
        if (st.state == lt::torrent_status::finished || st.state == lt::torrent_status::seeding) {
          hash_completed_files(*r);
        }
      }
    } else if (auto* fc = lt::alert_cast<lt::file_completed_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(fc->handle, &v1);
      if (!r || v1) return;
      for (std::size_t i = 0; i < r->lt_index.size(); ++i) {
        if (r->lt_index[i] == static_cast<int>(fc->index) && r->wanted[i]) {
          r->done[i] = static_cast<std::int64_t>(r->manifest.files[i].length);
          request_hash(*r, i);
        }
      }
    } else if (auto* tf = lt::alert_cast<lt::torrent_finished_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(tf->handle, &v1);
      if (!r || v1) return;
      tf->handle.save_resume_data(lt::torrent_handle::flush_disk_cache);
      session->session().post_torrent_updates(lt::torrent_handle::query_pieces);
    } else if (auto* cf = lt::alert_cast<lt::cache_flushed_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(cf->handle, &v1);
      if (r && !v1) on_flushed(*r);
    } else if (auto* hf = lt::alert_cast<lt::hash_failed_alert>(a)) {
      if (Release* r = by_handle(hf->handle)) r->hash_failures++;
    } else if (auto* pb = lt::alert_cast<lt::peer_ban_alert>(a)) {
      if (Release* r = by_handle(pb->handle)) r->banned_peers++;
      log::warning("banned peer {}", pb->message());
    } else if (auto* sr = lt::alert_cast<lt::save_resume_data_alert>(a)) {
      bool v1 = false;
      Release* r = by_handle(sr->handle, &v1);
      if (r && !v1) {
        // libtorrent folds session payload into total_downloaded only once a second, so a save
        // right after completion (or at shutdown) can miss bytes: use the exact counters.
        const auto now = sr->handle.status({});
        sr->params.total_downloaded =
            std::max(sr->params.total_downloaded, r->downloaded_base + now.total_payload_download);
        sr->params.total_uploaded =
            std::max(sr->params.total_uploaded, r->uploaded_base + now.total_payload_upload);
        const auto buf = lt::write_resume_data_buf(sr->params);
        if (auto st = write_file_atomic(store.resume_file(r->rec.v2_infohash),
                                        std::string_view(buf.data(), buf.size()));
            !st) {
          log::error("resume data for {}: {}", r->rec.id, st.error().message);
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
      if (r && !v1) {
        r->error = Error{Errc::io_error, fmt::format("{}: {}", r->rec.id, te->message()),
                         "check disk space and permissions under the state dir"};
        persist(*r);
      }
      log::error("{}", te->message());
    } else if (auto* fe = lt::alert_cast<lt::file_error_alert>(a)) {
      log::error("{}", fe->message());
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

  void schedule_updates() {
    update_timer.expires_after(std::chrono::milliseconds(500));
    update_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || shutting_down) return;
      session->session().post_torrent_updates(lt::torrent_handle::query_pieces);
      schedule_updates();
    });
  }

  void schedule_resume_saves() {
    resume_timer.expires_after(config.resume_save_interval);
    resume_timer.async_wait([this](const boost::system::error_code& ec) {
      if (ec || shutting_down) return;
      for (auto& [h, ref] : handles) {
        if (!ref.v1 && h.is_valid()) h.save_resume_data(lt::torrent_handle::only_if_modified);
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
          for (const auto& [sha, bytes] : manifests) {
            if (auto st = db->cache_manifest(sha, bytes); !st) {
              log::warning("manifest cache: {}", st.error().message);
            }
          }
        });
    poller->start();
  }

  // ---- startup ---------------------------------------------------------------------------------

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
      Release& ref = *r;
      releases[ref.rec.id] = std::move(r);
      std::error_code ec;
      if (!std::filesystem::exists(store.torrent_file(ref.rec.v2_infohash), ec)) continue;
      verify_empty_files(ref);
      if (auto st = add_to_session(ref, AddMode::normal); !st) {
        ref.error = st.error();
        persist(ref);
        continue;
      }
      check_complete(ref);
    }
    log::info("{} release(s) loaded", releases.size());
  }
};

// ---- Engine ------------------------------------------------------------------------------------

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
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
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Result<json> Engine::add_feed(const std::string& name, const std::string& location,
                              const std::string& root, const std::vector<std::string>& mirrors) {
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

Result<json> Engine::list_feeds() {
  auto names = impl_->state->list_feeds();
  if (!names) return tl::unexpected(names.error());
  json out = json::array();
  for (const auto& n : *names) {
    auto f = impl_->feed_json(n);
    if (!f) return tl::unexpected(f.error());
    out.push_back(std::move(*f));
  }
  return json{{"feeds", std::move(out)}};
}

Result<json> Engine::get_feed(const std::string& name) {
  return impl_->feed_json(name);
}

Result<json> Engine::refresh_feed(const std::string& name) {
  if (auto f = impl_->state->load_feed(name); !f) return tl::unexpected(f.error());
  return impl_->feed_json_with_ticket(name, impl_->poller->request(name));
}

Result<json> Engine::remove_feed(const std::string& name) {
  if (auto st = impl_->state->remove_feed(name); !st) return tl::unexpected(st.error());
  impl_->poller->forget(name);
  return json{{"removed", name}};
}

Result<json> Engine::fetch(const FetchRequest& req) {
  auto& I = *impl_;
  if (I.shutting_down) return fail(Errc::unavailable, "weightsd is shutting down");
  for (const auto& p : req.peers) {
    if (auto ep = parse_peer(p); !ep) return tl::unexpected(ep.error());
  }
  auto resolved = I.resolve(req.name, req.revision);
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

  if (Release* r = I.find(id); r && r->handle.is_valid()) {
    // Existing release: widen the selection (an empty include means every file).
    if (!r->rec.include.empty()) {
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
      I.verify_empty_files(*r);
      if (auto ti = r->handle.torrent_file()) r->handle.prioritize_files(I.priorities(*r, *ti));
    }
    if (auto st = I.merge_peers(*r, req.peers); !st) return tl::unexpected(st.error());
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
  rec.added_at = I.clock().time_since_epoch().count();
  auto owned = I.make_release(std::move(rec), m);
  Release& r = *owned;
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
  log::info("{}: fetching from feed {} ({} files, {} bytes)", id, r.rec.feed, m.files.size(),
            m.total_length);
  I.persist(r);
  I.check_complete(r);
  return I.release_json(r);
}

Result<json> Engine::seed(const SeedRequest& req) {
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
  rec.added_at = I.clock().time_since_epoch().count();
  auto owned = I.make_release(std::move(rec), m->first);
  Release& r = *owned;
  I.releases[id] = std::move(owned);
  r.preparing = true;
  I.persist(r);

  // Hash the publisher's files and link them into staging on a worker: nothing from `dir` is
  // seeded unless every byte matches the manifest.
  const auto files = r.manifest.files;
  const auto dir = req.dir;
  const auto staging = I.store.staging_dir(r.rec.v2_infohash) / r.rec.revision;
  const auto threads = I.config.hashing_threads;
  const auto gen = r.generation;
  I.on_pool(
      [files, dir, staging, threads]() -> Status {
        std::vector<std::filesystem::path> paths;
        for (const auto& f : files) paths.push_back(dir / f.path);
        HashOptions o;
        o.git_oid = GitOid::skip;
        o.threads = threads;
        auto digests = hash_files(paths, o);
        if (!digests) return tl::unexpected(digests.error());
        for (std::size_t i = 0; i < files.size(); ++i) {
          const auto& d = (*digests)[i];
          if (d.length != files[i].length || to_hex(d.sha256) != files[i].sha256) {
            return fail(Errc::hash_mismatch,
                        fmt::format("{}: SHA-256 {} (length {}) differs from the manifest's {} "
                                    "(length {})",
                                    paths[i].string(), to_hex(d.sha256), d.length, files[i].sha256,
                                    files[i].length),
                        "seed the exact files that were published");
          }
        }
        for (std::size_t i = 0; i < files.size(); ++i) {
          const auto dst = staging / files[i].path;
          std::error_code e;
          std::filesystem::remove(dst, e);
          if (auto st = link_or_copy(paths[i], dst); !st) return st;
        }
        return {};
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

Result<json> Engine::list_releases() {
  json out = json::array();
  for (const auto& [id, r] : impl_->releases) out.push_back(impl_->release_json(*r));
  return json{{"releases", std::move(out)}};
}

Result<json> Engine::get_release(const std::string& id) {
  auto r = impl_->require(id);
  if (!r) return tl::unexpected(r.error());
  return impl_->release_json(**r);
}

Result<json> Engine::set_pinned(const std::string& id, bool pinned) {
  auto r = impl_->require(id);
  if (!r) return tl::unexpected(r.error());
  (*r)->rec.pinned = pinned;
  impl_->persist(**r);
  return impl_->release_json(**r);
}

Result<json> Engine::remove_release(const std::string& id_in, DeleteFiles files) {
  auto& I = *impl_;
  auto found = I.require(id_in);
  if (!found) return tl::unexpected(found.error());
  Release& r = **found;
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
  return json{{"removed", id}};
}

Result<json> Engine::verify(const std::string& id) {
  auto& I = *impl_;
  auto found = I.require(id);
  if (!found) return tl::unexpected(found.error());
  Release& r = **found;
  if (r.verify_outstanding > 0) return I.release_json(r);
  r.verify_failures.clear();
  const std::string rid = r.rec.id;
  const auto gen = r.generation;
  for (std::size_t i = 0; i < r.manifest.files.size(); ++i) {
    if (!r.verified[i]) continue;
    const auto& f = r.manifest.files[i];
    ++r.verify_outstanding;
    const auto path = I.store.store_file(f.sha256);
    I.on_pool(
        [path] {
          HashOptions o;
          o.git_oid = GitOid::skip;
          return hash_file(path, o);
        },
        [this, rid, gen, i](Result<FileDigest> d) {
          auto& J = *impl_;
          Release* rr = J.find(rid);
          if (!rr || rr->generation != gen) return;
          rr->verify_outstanding--;
          const auto& file = rr->manifest.files[i];
          if (!d || d->length != file.length || hex(d->sha256) != file.sha256) {
            rr->verify_failures.push_back(file.path);
            // Quarantine: the bad content leaves the store and the view; libtorrent re-checks
            // the staging copy and downloads the bad pieces again.
            rr->verified[i] = false;
            rr->failed[i] = true;
            (void)J.store.remove_store_entry(file.sha256);
            (void)J.store.remove_view(rr->rec.model, rr->rec.revision);
            rr->rec.view_path.clear();
          }
          if (rr->verify_outstanding > 0) return;
          if (!rr->verify_failures.empty()) {
            std::string list;
            for (const auto& p : rr->verify_failures) list += (list.empty() ? "" : ", ") + p;
            rr->error = Error{Errc::hash_mismatch,
                              fmt::format("{}: verify: {} file(s) differ from the manifest: {}",
                                          rr->rec.id, rr->verify_failures.size(), list),
                              "the damaged files are being downloaded again"};
            log::error("{}", rr->error->message);
            if (rr->handle.is_valid()) rr->handle.force_recheck();
            J.persist(*rr);
          } else {
            log::info("{}: verify: every stored file matches the manifest", rr->rec.id);
            J.persist(*rr);
            J.check_complete(*rr);
          }
        });
  }
  return I.release_json(r);
}

Result<json> Engine::add_peers(const std::string& id, const std::vector<std::string>& peers) {
  auto found = impl_->require(id);
  if (!found) return tl::unexpected(found.error());
  if (auto st = impl_->merge_peers(**found, peers); !st) return tl::unexpected(st.error());
  impl_->persist(**found);
  return impl_->release_json(**found);
}

json Engine::status_fields() {
  auto& I = *impl_;
  std::int64_t down = 0, up = 0;
  for (const auto& [id, r] : I.releases) {
    if (r->status) {
      down += r->status->download_payload_rate;
      up += r->status->upload_payload_rate;
    }
  }
  auto feeds = I.state->list_feeds();
  return {{"listen_port", I.session->listen_port()},
          {"listen_interfaces", I.config.listen_interfaces},
          {"outgoing_interfaces", I.config.outgoing_interfaces},
          {"releases", I.releases.size()},
          {"feeds", feeds ? feeds->size() : 0},
          {"download_rate", down},
          {"upload_rate", up}};
}

void Engine::shutdown(std::function<void()> done, std::chrono::milliseconds timeout) {
  auto& I = *impl_;
  if (I.shutting_down) return;
  I.shutting_down = true;
  I.shutdown_done = std::move(done);
  I.update_timer.cancel();
  I.resume_timer.cancel();
  I.refresh_timer.cancel();
  I.poller->stop();
  I.session->session().pause();
  I.resume_outstanding = 0;
  for (auto& [h, ref] : I.handles) {
    if (ref.v1 || !h.is_valid()) continue;
    h.save_resume_data(lt::torrent_handle::flush_disk_cache);
    ++I.resume_outstanding;
  }
  if (I.resume_outstanding == 0) {
    asio::post(I.ioc, [this] { impl_->finish_shutdown(); });
    return;
  }
  I.shutdown_timer.expires_after(timeout);
  I.shutdown_timer.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    log::warning("shutdown: {} resume data save(s) unanswered", impl_->resume_outstanding);
    impl_->finish_shutdown();
  });
}

}  // namespace weights::daemon
