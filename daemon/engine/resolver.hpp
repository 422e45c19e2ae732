#pragma once
// The resolver: a release name -> the trusted feed target -> its verified release manifest (from
// the manifest cache the feed refreshes fill), and torrent acquisition: the release's hybrid
// .torrent and v1 companion, fetched from the feed's locations, checked against the manifest
// and written to the store before anything is added to the session (so libtorrent never
// requests payload for metadata that differs from the manifest).
//
// Threading. resolve() and manifest_for() run on the io thread and read the trusted state and
// the cache there, never the network: feed refreshes keep the cache complete, and a manifest
// missing from it (a cache from before the feed's last change) is fetched and verified on a
// worker, meanwhile the caller gets `unavailable` (retry in a moment); fill_missing() does that
// for every trusted release at start-up. acquire() copies what the work needs (the FeedState as
// resolved, the manifest, a fetcher, the destination paths), runs the downloads, checks and
// writes on the worker executor and posts the outcome back to the io thread. A feed refresh
// committing meanwhile does not change an acquisition: it completes against the trusted state
// it was resolved from (the manifest pins the torrent). At most one acquisition per key is in
// flight; cancel() or destroying the Resolver drops outcomes not delivered yet (the worker
// still finishes its transfer, bounded by the HTTP deadlines).
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>

#include "core/db/state_store.hpp"
#include "core/net/fetcher.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/error.hpp"
#include "core/util/path_policy.hpp"
#include "daemon/release_db.hpp"

namespace weights::daemon {

// The trusted feeds as the io thread sees them (the StateStore in the daemon).
class TrustedFeeds {
 public:
  virtual ~TrustedFeeds() = default;
  virtual Result<std::vector<std::string>> feed_names() = 0;
  // Everything, targets included: O(feed size).
  virtual Result<FeedState> feed(const std::string& name) = 0;
  // Locations and role versions, no targets and no role bytes (the StateStore reads no more).
  virtual Result<FeedState> feed_summary(const std::string& name) {
    auto fs = feed(name);
    if (fs) {
      fs->trusted_targets.clear();
      fs->release_seq.clear();
    }
    return fs;
  }
  // The SHA-256 of every release target of the feed; an indexed column in the StateStore.
  virtual Result<std::vector<std::string>> release_hashes(const std::string& name) {
    auto fs = feed(name);
    if (!fs) return tl::unexpected(fs.error());
    std::vector<std::string> out;
    for (const auto& t : fs->trusted_targets) {
      if (t.kind == tuf::TargetKind::release) out.push_back(t.sha256);
    }
    return out;
  }
  // The targets of one model (every kind), sorted by path; an index lookup in the StateStore.
  virtual Result<std::vector<tuf::TargetInfo>> model_targets(const std::string& feed,
                                                             const std::string& model) {
    auto fs = this->feed(feed);
    if (!fs) return tl::unexpected(fs.error());
    std::vector<tuf::TargetInfo> out;
    for (auto& t : fs->trusted_targets) {
      if (t.model == model) out.push_back(std::move(t));
    }
    return out;
  }
};

// Verified release manifests by their pinned SHA-256 (the release DB in the daemon).
class ManifestCache {
 public:
  virtual ~ManifestCache() = default;
  virtual Result<std::optional<std::string>> get(std::string_view sha256) = 0;
  virtual void put(std::string_view sha256, std::string_view bytes) = 0;
  // The hashes cached, sorted.
  virtual Result<std::vector<std::string>> hashes() = 0;
};

// A fetcher over a feed's locations (FeedPoller::fetcher_for). Called on the io thread; the
// fetcher it returns is then used by one worker thread only.
using FetcherFactory = std::function<Result<std::unique_ptr<Fetcher>>(const FeedState&)>;

struct Resolved {
  // The feed's summary with the resolved model's targets only (all that acquiring the
  // release's torrents reads).
  FeedState feed;
  tuf::TargetInfo target;
  ReleaseManifest manifest;
  std::string bytes;  // the manifest as published (hash-pinned by `target`)
};

// Where acquire() writes a release's torrents (the store's torrents/ files).
struct TorrentPaths {
  std::filesystem::path hybrid;
  std::filesystem::path v1;
};

enum class V1Companion { absent, written };

// The daemon's implementations of the seams: the StateStore and the release DB (io thread).
class StateStoreFeeds final : public TrustedFeeds {
 public:
  explicit StateStoreFeeds(StateStore& state) : state_(state) {}
  Result<std::vector<std::string>> feed_names() override { return state_.list_feeds(); }
  Result<FeedState> feed(const std::string& name) override { return state_.load_feed(name); }
  Result<FeedState> feed_summary(const std::string& name) override {
    return state_.load_feed(name, FeedDetail::summary);
  }
  Result<std::vector<tuf::TargetInfo>> model_targets(const std::string& feed,
                                                     const std::string& model) override {
    return state_.model_targets(feed, model);
  }
  Result<std::vector<std::string>> release_hashes(const std::string& name) override {
    return state_.target_hashes(name, tuf::TargetKind::release);
  }

 private:
  StateStore& state_;
};

class ReleaseDbManifestCache final : public ManifestCache {
 public:
  explicit ReleaseDbManifestCache(ReleaseDb& db) : db_(db) {}
  Result<std::optional<std::string>> get(std::string_view sha256) override;
  // Best effort: a manifest that is not cached is fetched again next time.
  void put(std::string_view sha256, std::string_view bytes) override;
  Result<std::vector<std::string>> hashes() override { return db_.cached_manifest_hashes(); }

 private:
  ReleaseDb& db_;
};

class Resolver {
 public:
  using Done = std::function<void(Result<V1Companion>)>;

  // `workers` runs the downloads (the feed poller's pool); outcomes are posted to `ioc`.
  Resolver(boost::asio::io_context& ioc, boost::asio::any_io_executor workers, TrustedFeeds& feeds,
           ManifestCache& cache, FetcherFactory fetcher_for, PathPolicy policy);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // The newest release named `name` (model id or alias; "name@rev" when `revision` is unset)
  // across the trusted feeds (or only `only_feed`). Errors: not_found, invalid_argument when
  // the name matches releases of several models or feeds, unavailable while a manifest it
  // needs is being fetched.
  Result<Resolved> resolve(std::string name, std::optional<std::string> revision,
                           const std::optional<std::string>& only_feed = std::nullopt);
  // The verified manifest of a trusted release target (and its bytes) from the cache. A miss
  // starts fetching it on a worker and is `unavailable` meanwhile, or the error of the last
  // attempt (while a new one runs).
  Result<std::pair<ReleaseManifest, std::string>> manifest_for(const FeedState& feed,
                                                               const tuf::TargetInfo& target);
  // Starts fetching every trusted release manifest missing from the cache (start-up). A feed
  // whose release manifests are all cached (every start after its first refresh) costs one
  // indexed read of their hashes; only a feed with some missing is loaded whole.
  void fill_missing();
  // Manifests entered the cache other than through this resolver (a feed refresh): their
  // names (model, aliases) join the index resolve() looks names up in.
  void cached(const std::vector<std::pair<std::string, std::string>>& manifests);
  // Called on the io thread after a fetched manifest entered the cache.
  void on_filled(std::function<void()> callback) { on_filled_ = std::move(callback); }
  std::size_t filling() const { return filling_.size(); }

  // Starts acquiring the torrents of `manifest` (resolved from `feed`) under `key`; `done` runs
  // on the io thread with the outcome unless cancel(key) or the Resolver's destruction comes
  // first. Refused (already_exists) while an acquisition under `key` is in flight.
  Status acquire(const std::string& key, const FeedState& feed, const ReleaseManifest& manifest,
                 TorrentPaths paths, Done done);
  bool in_flight(const std::string& key) const { return pending_.count(key) > 0; }
  void cancel(const std::string& key) { pending_.erase(key); }
  std::size_t in_flight_count() const { return pending_.size(); }

  // The acquisition itself, on the calling thread: the hybrid torrent (required; refused if it
  // differs from the manifest) and the v1 companion (optional: absent or refused is logged, not
  // an error), written to `paths` atomically.
  static Result<V1Companion> acquire_now(Fetcher& fetcher, const FeedState& feed,
                                         const ReleaseManifest& manifest,
                                         const TorrentPaths& paths);

 private:
  boost::asio::io_context& ioc_;
  boost::asio::any_io_executor workers_;
  TrustedFeeds& feeds_;
  ManifestCache& cache_;
  FetcherFactory fetcher_for_;
  PathPolicy policy_;
  void fill(const FeedState& feed, const tuf::TargetInfo& target);
  // Names index: every cached manifest's model and aliases, by its SHA-256, and the models
  // each alias names. Read from the cache once (first resolve), then kept current by fill()
  // and cached(). A superset of what the trusted feeds list: resolve() checks candidates
  // against the feeds' current targets.
  void load_names();
  void index_names(const std::string& sha256, std::string_view bytes);
  struct Names {
    std::string model;
    std::vector<std::string> aliases;
  };
  bool names_loaded_ = false;
  std::map<std::string, Names, std::less<>> names_;                         // sha256 -> names
  std::map<std::string, std::set<std::string>, std::less<>> alias_models_;  // alias -> models

  std::function<void()> on_filled_;
  std::set<std::string> filling_;               // sha256 of manifests being fetched
  std::map<std::string, Error> fill_failures_;  // sha256 -> the last attempt's error
  std::uint64_t next_ticket_ = 1;
  std::map<std::string, std::pair<std::uint64_t, Done>> pending_;  // key -> (ticket, done)
  std::shared_ptr<bool> alive_;
};

}  // namespace weights::daemon
