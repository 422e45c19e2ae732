#include "daemon/feed_poller.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/post.hpp>
#include <fmt/format.h>
#include <malloc.h>

#include "core/feed/tuf_client.hpp"
#include "core/trust/release_target.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace asio = boost::asio;
using nlohmann::json;

namespace {

std::vector<std::string> locations_of(const FeedState& fs) {
  std::vector<std::string> out{fs.location};
  out.insert(out.end(), fs.mirrors.begin(), fs.mirrors.end());
  return out;
}

// Tries each location in order; the first answer wins. Everything read through it is checked
// against hashes from the trusted targets by the caller, so any location may serve it.
class MirrorFetcher final : public Fetcher {
 public:
  explicit MirrorFetcher(std::vector<std::unique_ptr<Fetcher>> f) : fetchers_(std::move(f)) {}
  Result<std::string> fetch(std::string_view name, std::uint64_t max_bytes) override {
    std::optional<Error> first;
    for (auto& f : fetchers_) {
      auto r = f->fetch(name, max_bytes);
      if (r) return r;
      if (r.error().code == Errc::path_policy) return r;
      if (!first) first = r.error();
    }
    return tl::unexpected(*first);
  }
  std::string describe() const override {
    std::string out;
    for (const auto& f : fetchers_) out += (out.empty() ? "" : ", ") + f->describe();
    return out;
  }

 private:
  std::vector<std::unique_ptr<Fetcher>> fetchers_;
};

}  // namespace

struct FeedPoller::Outcome {
  Result<tuf::VerifiedUpdate> verified = fail(Errc::internal, "no refresh ran");
  std::size_t location_index = 0;
  std::string location;
  std::vector<std::pair<std::string, std::string>> manifests;  // sha256 -> bytes
  std::optional<CatalogStep> catalog;                          // when the metadata verified
};

FeedPoller::FeedPoller(asio::io_context& ioc, StateStore& state, const Config& config,
                       std::function<TimePoint()> clock, ManifestSink on_manifests,
                       CachedManifests cached_manifests)
    : ioc_(ioc),
      state_(state),
      config_(config),
      clock_(std::move(clock)),
      on_manifests_(std::move(on_manifests)),
      cached_manifests_(std::move(cached_manifests)),
      http_(fail(Errc::internal, "unset")),
      rng_(std::random_device{}()),
      cancel_(std::make_shared<std::atomic<bool>>(false)),
      alive_(std::make_shared<bool>(true)),
      workers_(4) {
  auto proxy = ProxySettings::from_env();
  if (!proxy) {
    // Every HTTP refresh is refused with this error (shown in `feed status`) rather than
    // silently bypassing a proxy the administrator configured.
    log::error("feeds: {}", proxy.error().to_string());
    http_ = tl::unexpected(proxy.error());
  } else {
    HttpOptions o;
    o.proxy = std::move(*proxy);
    o.cancel = cancel_;
    o.connect_timeout = config_.feed_http_timeout;
    o.read_timeout = config_.feed_http_timeout;
    o.min_rate = config_.feed_http_min_rate;
    o.rate_window =
        std::min<std::chrono::milliseconds>(config_.feed_http_timeout, std::chrono::seconds(10));
    http_ = std::move(o);
  }
}

FeedPoller::~FeedPoller() {
  *alive_ = false;
  stopped_ = true;
  *cancel_ = true;
  workers_.stop();  // drops refreshes not started yet
  workers_.join();
}

void FeedPoller::keep_catalogs(const catalog::FeedLayers& layers,
                               std::function<void(const std::string& feed)> changed) {
  layers_ = &layers;
  catalog_changed_ = std::move(changed);
}

void FeedPoller::start() {
  auto names = state_.list_feeds();
  if (!names) {
    log::error("feeds: {}", names.error().message);
    return;
  }
  for (const auto& n : *names) request(n);
}

void FeedPoller::stop() {
  stopped_ = true;
  *cancel_ = true;
  for (auto& [name, r] : runs_) {
    if (r.timer) r.timer->cancel();
  }
}

FeedPoller::Run& FeedPoller::run_of(const std::string& feed) {
  auto& r = runs_[feed];
  if (!r.timer) r.timer = std::make_unique<asio::steady_timer>(ioc_);
  return r;
}

std::uint64_t FeedPoller::request(const std::string& feed) {
  auto& r = run_of(feed);
  const std::uint64_t ticket = ++r.requested;
  if (!r.running) launch(feed);
  return ticket;
}

void FeedPoller::forget(const std::string& feed) {
  auto it = runs_.find(feed);
  if (it == runs_.end()) return;
  if (it->second.timer) it->second.timer->cancel();
  runs_.erase(it);
}

void FeedPoller::launch(const std::string& feed) {
  if (stopped_) return;
  auto& r = run_of(feed);
  auto fs = state_.load_feed(feed);
  if (!fs) {
    if (fs.error().code == Errc::not_found) {
      forget(feed);
      return;
    }
    log::error("feed {}: {}", feed, fs.error().message);
    return;
  }
  r.timer->cancel();
  r.next.reset();
  r.running = true;
  r.running_ticket = r.requested;

  // Start with the location that worked last, then the others in their configured order.
  const auto locations = locations_of(*fs);
  std::vector<std::size_t> order;
  const std::size_t first = r.preferred < locations.size() ? r.preferred : 0;
  order.push_back(first);
  for (std::size_t i = 0; i < locations.size(); ++i) {
    if (i != first) order.push_back(i);
  }
  const TimePoint now = clock_();
  auto http = http_;
  std::weak_ptr<bool> weak = alive_;
  auto started_from = std::make_shared<FeedState>(std::move(*fs));
  // What the manifest cache holds now; the worker may skip unchanged targets found in it.
  auto cached = std::make_shared<const std::vector<std::string>>(
      cached_manifests_ && started_from->targets ? cached_manifests_()
                                                 : std::vector<std::string>{});
  const PathPolicy policy = config_.path_policy;
  const catalog::FeedLayers* layers = layers_;
  asio::post(workers_, [this, weak, feed, started_from, cached, locations, order, now, http, policy,
                        layers] {
    // A location's fetcher: HTTP(S) with the daemon's client settings, else a local path.
    const auto fetcher_for = [&http](const std::string& loc) -> Result<std::unique_ptr<Fetcher>> {
      if (loc.starts_with("http://") || loc.starts_with("https://")) {
        if (!http) return tl::unexpected(http.error());
        return make_fetcher(loc, *http);
      }
      return make_fetcher(loc);
    };
    Outcome out;
    std::vector<std::string> failures;
    std::optional<Error> primary;
    std::unique_ptr<Fetcher> served_by;  // the fetcher whose location verified
    for (const std::size_t i : order) {
      const std::string& loc = locations[i];
      Result<std::unique_ptr<Fetcher>> fetcher = fetcher_for(loc);
      std::vector<std::pair<std::string, std::string>> manifests;
      Result<tuf::VerifiedUpdate> v = fail(Errc::internal, "unset");
      if (!fetcher) {
        v = tl::unexpected(fetcher.error());
      } else {
        // Release manifests are checked here, off the io thread; the engine caches the bytes
        // after the commit.
        tuf::TargetValidator validator = [&manifests, policy](const tuf::TargetInfo& t,
                                                              std::string_view bytes) -> Status {
          auto m = validate_release_target(t, bytes, policy);
          if (!m) return tl::unexpected(m.error());
          manifests.emplace_back(t.sha256, std::string(bytes));
          return {};
        };
        tuf::AlreadyVerified in_cache = [&cached](const tuf::TargetInfo& t) {
          return std::binary_search(cached->begin(), cached->end(), t.sha256);
        };
        v = tuf::verify_update(*started_from, **fetcher, now, validator, {},
                               cached->empty() ? tuf::AlreadyVerified{} : in_cache);
      }
      if (v) {
        out.verified = std::move(v);
        out.location_index = i;
        out.location = loc;
        out.manifests = std::move(manifests);
        served_by = std::move(*fetcher);
        break;
      }
      if (!primary) primary = v.error();
      failures.push_back(locations.size() > 1 ? fmt::format("[{}] {}", loc, v.error().message)
                                              : v.error().message);
      out.verified = tl::unexpected(v.error());
    }
    if (out.verified && layers != nullptr) {
      // The catalog targets of what the feed trusts once this refresh commits, from the
      // location that just served the metadata, then the others.
      const bool updated = out.verified->result == RefreshResult::updated;
      const auto& targets =
          updated ? out.verified->update.trusted_targets : started_from->trusted_targets;
      const auto& snapshot = updated ? out.verified->update.snapshot : started_from->snapshot;
      std::vector<std::unique_ptr<Fetcher>> owned;
      owned.push_back(std::move(served_by));
      for (const std::size_t i : order) {
        if (i == out.location_index) continue;
        if (auto f = fetcher_for(locations[i])) owned.push_back(std::move(*f));
      }
      std::vector<Fetcher*> fetchers;
      for (const auto& f : owned) fetchers.push_back(f.get());
      out.catalog =
          prepare_catalog(*layers, feed, targets, snapshot ? snapshot->version : 0, fetchers);
    }
    if (!out.verified && locations.size() > 1) {
      std::string joined;
      for (const auto& f : failures) joined += (joined.empty() ? "" : "; ") + f;
      out.verified = tl::unexpected(
          Error{primary->code, fmt::format("all {} locations failed: {}", locations.size(), joined),
                primary->hint});
    }
    asio::post(ioc_, [this, weak, feed, started_from, now, out = std::move(out)]() mutable {
      if (auto a = weak.lock(); a && *a) finish(feed, *started_from, now, std::move(out));
    });
  });
}

void FeedPoller::finish(const std::string& feed, const FeedState& started_from, TimePoint now,
                        Outcome out) {
  // A staged catalog layer that is not activated below is removed (activate() would too).
  const auto drop_staged = [&out] {
    if (out.catalog && out.catalog->action == CatalogStep::Action::install) {
      std::error_code ec;
      std::filesystem::remove_all(out.catalog->staged, ec);
    }
  };
  auto it = runs_.find(feed);
  if (it == runs_.end() || stopped_) return drop_staged();
  Run& r = it->second;
  r.running = false;
  auto current = state_.load_feed(feed);
  if (!current) {
    drop_staged();
    if (current.error().code == Errc::not_found) forget(feed);
    return;
  }
  if (*current != started_from) {
    // The trusted state moved under the worker: verify again from the new state.
    drop_staged();
    launch(feed);
    return;
  }

  std::optional<Error> error;
  std::string result;
  if (!out.verified) {
    error = with_context(out.verified.error(), fmt::format("feed {}", feed));
  } else if (out.verified->result == RefreshResult::up_to_date) {
    if (auto ok = state_.record_refresh(feed, {now, RefreshResult::up_to_date, "", "up to date"});
        !ok) {
      log::warning("feed {}: {}", feed, ok.error().message);
    }
    result = "up_to_date";
  } else if (auto ok = state_.commit_refresh(feed, out.verified->update, now); !ok) {
    error = with_context(ok.error(), fmt::format("feed {}: commit", feed));
  } else {
    result = "updated";
    if (on_manifests_) on_manifests_(out.manifests);
  }

  if (error) {
    drop_staged();
  } else if (out.catalog && layers_ != nullptr) {
    // The metadata is committed: the catalog layer follows it in one step, or stays as it was.
    Status applied = out.catalog->error ? Status(tl::unexpected(*out.catalog->error))
                                        : apply_catalog(*layers_, feed, *out.catalog);
    if (!applied) {
      drop_staged();
      if (!r.catalog_error || r.catalog_error->message != applied.error().message) {
        log::warning("feed {}: {}; the previous catalog layer stays", feed,
                     applied.error().to_string());
      }
      r.catalog_error = applied.error();
    } else {
      r.catalog_error.reset();
      if (out.catalog->action != CatalogStep::Action::none) {
        log::info("feed {}: catalog layer {} (snapshot v{})", feed,
                  out.catalog->action == CatalogStep::Action::install ? "installed" : "removed",
                  out.catalog->snapshot_version);
        if (catalog_changed_) catalog_changed_(feed);
      }
    }
  }

  r.completed = r.running_ticket;
  if (error) {
    (void)state_.record_refusal(feed, now, *error);
    ++r.failures;
    r.last =
        Run::Last{r.running_ticket, "refused", std::string(code_name(error->code)), error->message};
    log::warning("feed {}: refresh refused: {}", feed, error->to_string());
  } else {
    if (result == "updated") {
      log::info("feed {}: updated from {} ({} release manifest(s) validated, {} unchanged)", feed,
                out.location, out.verified->releases_validated, out.verified->releases_kept);
    } else if (r.failures > 0) {
      log::info("feed {}: {} from {}", feed, result, out.location);
    }
    r.failures = 0;
    r.preferred = out.location_index;
    r.location = out.location;
    r.last = Run::Last{r.running_ticket, result, "", ""};
  }
  // A refresh of a large feed allocates tens of MiB on a worker thread (the targets envelope,
  // its payload, the parsed document) and frees it again; glibc keeps such memory in the
  // worker's arena, so without this the daemon's RSS grew by that much after each refresh.
  ::malloc_trim(0);
  if (r.requested > r.completed) {
    launch(feed);
    return;
  }
  schedule(feed, next_delay(r));
}

std::chrono::milliseconds FeedPoller::next_delay(const Run& r) {
  using std::chrono::milliseconds;
  const auto interval = std::chrono::duration_cast<milliseconds>(config_.feed_refresh_interval);
  milliseconds base = interval;
  if (r.failures > 0) {
    const auto retry = std::chrono::duration_cast<milliseconds>(config_.feed_retry_interval);
    const int shift = std::min(r.failures - 1, 30);
    const double backoff = static_cast<double>(retry.count()) * std::ldexp(1.0, shift);
    base = milliseconds(
        static_cast<std::int64_t>(std::min(backoff, static_cast<double>(interval.count()))));
  }
  // +-10% so that many clients started together do not hit a feed server in lockstep.
  std::uniform_real_distribution<double> jitter(0.9, 1.1);
  return milliseconds(std::max<std::int64_t>(
      1, static_cast<std::int64_t>(static_cast<double>(base.count()) * jitter(rng_))));
}

void FeedPoller::schedule(const std::string& feed, std::chrono::milliseconds delay) {
  if (stopped_) return;
  auto& r = run_of(feed);
  r.next = std::chrono::system_clock::now() +
           std::chrono::duration_cast<std::chrono::system_clock::duration>(delay);
  r.timer->expires_after(delay);
  std::weak_ptr<bool> weak = alive_;
  r.timer->async_wait([this, weak, feed](const boost::system::error_code& ec) {
    auto a = weak.lock();
    if (ec || !a || !*a || stopped_) return;
    request(feed);
  });
}

json FeedPoller::status(const std::string& feed) const {
  auto it = runs_.find(feed);
  if (it == runs_.end()) {
    return {
        {"running", false}, {"requested", 0},      {"completed", 0}, {"consecutive_failures", 0},
        {"next", nullptr},  {"location", nullptr}, {"last", nullptr}};
  }
  const Run& r = it->second;
  json last = nullptr;
  if (r.last) {
    last = {{"ticket", r.last->ticket},
            {"result", r.last->result},
            {"code", r.last->code.empty() ? json(nullptr) : json(r.last->code)},
            {"message", r.last->message.empty() ? json(nullptr) : json(r.last->message)}};
  }
  return {{"running", r.running},
          {"requested", r.requested},
          {"completed", r.completed},
          {"consecutive_failures", r.failures},
          {"next",
           r.next ? json(format_utc(std::chrono::time_point_cast<std::chrono::seconds>(*r.next)))
                  : json(nullptr)},
          {"location", r.location.empty() ? json(nullptr) : json(r.location)},
          {"last", std::move(last)}};
}

json FeedPoller::catalog_status(const std::string& feed) const {
  json out = {{"layer", catalog::feed_layer_name(feed)},
              {"snapshot_version", nullptr},
              {"files", json::array()},
              {"error", nullptr}};
  if (layers_ != nullptr) {
    auto layer = layers_->installed(feed);
    if (layer && *layer) {
      out["snapshot_version"] = (*layer)->snapshot_version;
      for (const auto& t : (*layer)->files) out["files"].push_back(t.path);
    } else if (!layer) {
      out["error"] = {{"code", code_name(layer.error().code)}, {"message", layer.error().message}};
    }
  }
  if (auto it = runs_.find(feed); it != runs_.end() && it->second.catalog_error) {
    out["error"] = {{"code", code_name(it->second.catalog_error->code)},
                    {"message", it->second.catalog_error->message}};
  }
  return out;
}

Result<std::unique_ptr<Fetcher>> FeedPoller::fetcher_for(const FeedState& feed) const {
  std::vector<std::unique_ptr<Fetcher>> fetchers;
  std::optional<Error> first;
  auto locations = locations_of(feed);
  // The location that last worked first.
  if (auto it = runs_.find(feed.name);
      it != runs_.end() && it->second.preferred < locations.size()) {
    std::rotate(locations.begin(), locations.begin() + static_cast<long>(it->second.preferred),
                locations.begin() + static_cast<long>(it->second.preferred) + 1);
  }
  for (const auto& loc : locations) {
    Result<std::unique_ptr<Fetcher>> f = fail(Errc::internal, "unset");
    if (loc.starts_with("http://") || loc.starts_with("https://")) {
      f = http_ ? make_fetcher(loc, *http_) : tl::unexpected(http_.error());
    } else {
      f = make_fetcher(loc);
    }
    if (f) {
      fetchers.push_back(std::move(*f));
    } else if (!first) {
      first = f.error();
    }
  }
  if (fetchers.empty()) return tl::unexpected(*first);
  return std::unique_ptr<Fetcher>(std::make_unique<MirrorFetcher>(std::move(fetchers)));
}

}  // namespace weights::daemon
