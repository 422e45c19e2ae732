#pragma once
// The fetch/seed engine: trusted feeds, releases and the BitTorrent session behind the control
// API. Everything here runs on the io_context thread (the handler calls it there); file hashing
// runs on a small worker pool and posts results back. The verification chain of architecture
// §6 is enforced here: a release is resolved only from TUF-verified targets, its .torrent is a
// hash-pinned target checked against the manifest before it is added (so no payload is ever
// requested for a torrent that differs from the manifest), libtorrent checks every piece
// against the Merkle tree, and every completed file is SHA-256-checked against the manifest
// before it enters the store and a view.
//
// Methods return the API's typed bodies (core/api/types.hpp, docs/protocol.md) or an Error; no
// libtorrent types leak.
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "core/api/types.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"
#include "daemon/config.hpp"
#include "daemon/release_db.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

// Who asked for a fetch: only a person's request counts as "recently requested" (eviction).
enum class Requester { user, follow };

struct FetchRequest {
  std::string name;  // model id or alias; "name@rev" is accepted too
  std::optional<std::string> revision;
  std::optional<std::string> feed;  // only this feed's releases
  Requester requested_by = Requester::user;
  std::vector<std::string> include;  // globs over manifest paths; empty = all files
  std::vector<std::string> peers;    // "ip:port" / "[v6]:port"
  // Also lay the release out as a Hugging Face cache once complete (absolute dir; the refs it
  // may move depend on how the request named the release).
  std::optional<HfCacheTarget> hf_cache;
  // The user accepts the licence (and a gated repository's terms) of a release from the
  // upstream: recorded for the repository and licence (daemon/engine/license_gate.hpp).
  bool accept_license = false;
};

struct SeedRequest {
  std::string feed;
  std::string model;
  std::string revision;
  std::filesystem::path dir;  // the release's files, as published
};

enum class DeleteFiles { no, yes };

struct FollowSpec {
  FollowSource source = FollowSource::feed;
  std::string feed;            // a feed follow's
  std::string model_glob;      // empty = every model
  std::string alias;           // empty = any
  std::uint32_t latest = 1;    // newest releases per model; 0 = all
  std::uint64_t max_size = 0;  // bytes; 0 = no limit
  // A catalog follow accepts the licence terms of the entries it mirrors (recorded per
  // repository and licence, as `fetch --accept-license` does).
  bool accept_license = false;
};

using WallClock = std::function<TimePoint()>;

class Engine {
 public:
  // Opens the state (the caller holds the state dir lock), starts the session and re-adds every
  // known release from its .torrent and resume data without rehashing.
  static Result<std::unique_ptr<Engine>> start(boost::asio::io_context& ioc, const Config& config,
                                               WallClock clock = &now_utc);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Feeds. add_feed and refresh_feed start a refresh on a worker and return at once; the
  // returned feed object carries the refresh's "ticket", complete once the feed's
  // refresh.completed reaches it (see docs/protocol.md).
  Result<api::Feed> add_feed(const std::string& name, const std::string& location,
                             const std::string& root, const std::vector<std::string>& mirrors = {});
  Result<api::FeedList> list_feeds();
  Result<api::Feed> get_feed(const std::string& name);
  Result<api::Feed> refresh_feed(const std::string& name);
  Result<api::Removed> remove_feed(const std::string& name);

  // Releases.
  Result<api::Release> fetch(const FetchRequest& request);
  Result<api::Release> seed(const SeedRequest& request);
  Result<api::ReleaseList> list_releases();
  Result<api::Release> get_release(const std::string& id);
  Result<api::Release> set_pinned(const std::string& id, bool pinned);
  Result<api::Removed> remove_release(const std::string& id, DeleteFiles files);
  Result<api::Release> verify(const std::string& id);
  Result<api::Release> add_peers(const std::string& id, const std::vector<std::string>& peers);
  // Writes a complete release as an air-gap bundle into `dir` (absent or empty): a feed
  // directory with the trusted metadata as verified (root chain, timestamp, snapshot, targets),
  // the release's manifest and torrents as targets, the files under files/, and
  // weights-export.json naming the release. Files are hard links to the store when possible.
  Result<api::ExportResult> export_release(const std::string& id, const std::filesystem::path& dir);

  // What a request would touch, so the handler can check the caller before anything happens:
  // the manifest paths seed() reads under request.dir, and the model id ("org/name") and
  // revision fetch() resolves to. Same errors as seed()/fetch() for unknown feeds and releases.
  Result<std::vector<std::string>> seed_paths(const SeedRequest& request);
  Result<std::pair<std::string, std::string>> fetch_target(const FetchRequest& request);

  // Follow policies (seed node): a new follow is applied at once and after every refresh.
  Result<api::Follow> add_follow(const FollowSpec& spec);
  Result<api::FollowList> list_follows();
  Result<api::FollowRemoved> remove_follow(std::int64_t id);

  // Scrub now: every complete release (or one), throttled like the scheduled scrub.
  Result<api::ScrubResult> scrub(const std::optional<std::string>& id);

  // Prometheus text exposition format (version 0.0.4) of the node's state.
  std::string metrics_text();

  // The BitTorrent side of GET /v1/status.
  api::EngineStatus status_fields();

  // Saves resume data of every torrent (waiting for libtorrent's answers, at most `timeout`),
  // then calls `done` on the io_context thread. Destroy the engine afterwards.
  void shutdown(std::function<void()> done,
                std::chrono::milliseconds timeout = std::chrono::seconds(20));

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace weights::daemon
