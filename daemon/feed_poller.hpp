#pragma once
// Feed refreshes for the engine: on an interval with jitter, with exponential back-off after
// failures, on demand (`weightsctl feed refresh`, a new feed), over a feed's locations in turn
// (its primary location, then its mirrors).
//
// Threading. Fetching and verifying (network I/O, signature checks, release manifest checks)
// run on the poller's own worker threads; the worker gets a copy of the trusted FeedState and
// never touches the database. The result (the verified TrustedUpdate, or the refusal) is posted
// back to the io_context thread, which commits it with one StateStore transaction. So the
// daemon's event loop never waits on the network, the StateStore keeps a single owner thread
// (no second SQLite connection, no cross-thread locking), and "trusted state changes in one
// transaction" holds as before. Before committing, the io thread re-reads the feed and
// compares it with the copy the worker started from; if anything changed in between (the feed
// was removed and re-added), the result is dropped and the refresh runs again, so a commit is
// always a verified step from the state it was verified against.
//
// Requests are answered with tickets: request() returns the number of the refresh that will
// include it; status() says which ticket completed last and how. At most one refresh per feed
// runs at a time; requests arriving meanwhile are served by one follow-up refresh.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "core/catalog/feed_layer.hpp"
#include "core/db/state_store.hpp"
#include "core/net/fetcher.hpp"
#include "core/net/http_fetcher.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"
#include "daemon/config.hpp"
#include "daemon/engine/feed_catalog.hpp"

namespace weights::daemon {

class FeedPoller {
 public:
  // Called on the io thread after a commit, with the verified release manifests of the new
  // targets (sha256 hex, bytes), e.g. to fill a cache.
  using ManifestSink = std::function<void(const std::vector<std::pair<std::string, std::string>>&)>;
  // Called on the io thread when a refresh starts: the sorted SHA-256s of the manifests the
  // sink has kept. A release target unchanged from the trusted targets whose hash is listed is
  // not fetched and validated again (tuf::AlreadyVerified).
  using CachedManifests = std::function<std::vector<std::string>()>;

  FeedPoller(boost::asio::io_context& ioc, StateStore& state, const Config& config,
             std::function<TimePoint()> clock, ManifestSink on_manifests,
             CachedManifests cached_manifests = {});
  // Waits for refreshes in flight (each bounded by the HTTP deadlines).
  ~FeedPoller();
  FeedPoller(const FeedPoller&) = delete;
  FeedPoller& operator=(const FeedPoller&) = delete;

  // Keeps each feed's catalog layer in `layers` in line with its trusted catalog targets
  // (feed_catalog.hpp): checked after every refresh that verified, staged on the worker,
  // activated on the io thread after the commit; `changed` is called there with the feed's name
  // when its layer changed. Call before start().
  void keep_catalogs(const catalog::FeedLayers& layers,
                     std::function<void(const std::string& feed)> changed);
  // Schedules every configured feed: a first refresh now, then periodic ones.
  void start();
  // Stops timers and ignores results still in flight.
  void stop();
  // A refresh of `feed` as soon as possible; returns its ticket.
  std::uint64_t request(const std::string& feed);
  // The feed is gone: drop its schedule.
  void forget(const std::string& feed);
  // {"running", "requested", "completed", "consecutive_failures", "next", "location",
  //  "last": {"ticket", "result", "code", "message"} | null}
  nlohmann::json status(const std::string& feed) const;
  // The feed's catalog layer: {"layer", "snapshot_version" | null, "files": [target paths],
  //  "error": {"code", "message"} | null}; error is the last check of the trusted catalog
  // targets that failed (the installed layer is then the previous one), null once they match.
  nlohmann::json catalog_status(const std::string& feed) const;

  // A fetcher for reading verified targets of `feed` (manifests, torrents): tries the
  // location that worked last, then the others, until one answers. Its reads are synchronous
  // and bounded by the HTTP deadlines; stop() makes reads in flight give up. The resolver uses
  // it on workers() for torrents and for release manifests missing from the cache the
  // refreshes fill.
  Result<std::unique_ptr<Fetcher>> fetcher_for(const FeedState& feed) const;

  // The daemon's pool for network work (feed refreshes, torrent downloads): work posted here
  // may block on HTTP; it posts its results back to the io thread.
  boost::asio::any_io_executor workers() { return workers_.get_executor(); }

 private:
  struct Run {
    std::uint64_t requested = 0;
    std::uint64_t completed = 0;
    std::uint64_t running_ticket = 0;
    bool running = false;
    int failures = 0;
    std::size_t preferred = 0;  // index into the locations of the last one that worked
    std::string location;       // the location of the last success
    std::optional<std::chrono::system_clock::time_point> next;
    std::unique_ptr<boost::asio::steady_timer> timer;
    struct Last {
      std::uint64_t ticket = 0;
      std::string result;  // updated, up_to_date, refused
      std::string code, message;
    };
    std::optional<Last> last;
    std::optional<Error> catalog_error;
  };
  struct Outcome;

  Run& run_of(const std::string& feed);
  void launch(const std::string& feed);
  void finish(const std::string& feed, const FeedState& started_from, TimePoint now,
              Outcome outcome);
  void schedule(const std::string& feed, std::chrono::milliseconds delay);
  std::chrono::milliseconds next_delay(const Run& r);

  boost::asio::io_context& ioc_;
  StateStore& state_;
  Config config_;
  std::function<TimePoint()> clock_;
  ManifestSink on_manifests_;
  CachedManifests cached_manifests_;
  const catalog::FeedLayers* layers_ = nullptr;
  std::function<void(const std::string&)> catalog_changed_;
  Result<HttpOptions> http_;
  std::map<std::string, Run> runs_;
  std::mt19937_64 rng_;
  bool stopped_ = false;
  std::shared_ptr<std::atomic<bool>> cancel_;  // set by stop(): HTTP fetches in flight give up
  std::shared_ptr<bool> alive_;
  // Shared by refreshes and the resolver's downloads (every job bounded by the HTTP deadlines):
  // a few threads so that one stalled location does not hold up the others.
  boost::asio::thread_pool workers_;
};

}  // namespace weights::daemon
