#include "daemon/engine/resolver.hpp"

#include <algorithm>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include "core/api/release_ref.hpp"
#include "core/feed/tuf_client.hpp"
#include "core/publish/torrent_builder.hpp"
#include "core/trust/release_target.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace asio = boost::asio;

Result<std::optional<std::string>> ReleaseDbManifestCache::get(std::string_view sha256) {
  return db_.cached_manifest(sha256);
}

void ReleaseDbManifestCache::put(std::string_view sha256, std::string_view bytes) {
  if (auto st = db_.cache_manifest(sha256, bytes); !st) {
    log::warning("manifest cache: {}", st.error().message);
  }
}

Resolver::Resolver(asio::io_context& ioc, asio::any_io_executor workers, TrustedFeeds& feeds,
                   ManifestCache& cache, FetcherFactory fetcher_for, PathPolicy policy)
    : ioc_(ioc),
      workers_(std::move(workers)),
      feeds_(feeds),
      cache_(cache),
      fetcher_for_(std::move(fetcher_for)),
      policy_(policy),
      alive_(std::make_shared<bool>(true)) {}

Resolver::~Resolver() {
  *alive_ = false;
}

Result<std::pair<ReleaseManifest, std::string>> Resolver::manifest_for(const FeedState& fs,
                                                                       const tuf::TargetInfo& t) {
  auto cached = cache_.get(t.sha256);
  if (!cached) return tl::unexpected(cached.error());
  // Only verified bytes are cached, keyed by their pinned hash; a row that does not hash to its
  // key is fetched again (and replaced).
  if (!*cached || crypto::sha256_hex(**cached) != t.sha256 || (*cached)->size() != t.length) {
    fill(fs, t);
    if (const auto it = fill_failures_.find(t.sha256); it != fill_failures_.end()) {
      return tl::unexpected(it->second);
    }
    return fail(Errc::unavailable,
                fmt::format("feed {}: the release manifest {} is not cached yet; fetching it now",
                            fs.name, t.path),
                "retry in a moment");
  }
  auto m = validate_release_target(t, **cached, policy_);
  if (!m) return tl::unexpected(m.error());
  return std::pair{std::move(*m), std::move(**cached)};
}

void Resolver::fill(const FeedState& fs, const tuf::TargetInfo& t) {
  if (!filling_.insert(t.sha256).second) return;
  auto fetcher = fetcher_for_(fs);
  if (!fetcher) {
    filling_.erase(t.sha256);
    fill_failures_[t.sha256] = fetcher.error();
    return;
  }
  struct Job {
    std::unique_ptr<Fetcher> fetcher;
    FeedState feed;
    tuf::TargetInfo target;
  };
  // The job reads the feed's locations and this one target, whatever the feed's size.
  FeedState one = fs;
  one.trusted_targets = {t};
  one.release_seq.clear();
  auto job = std::make_shared<Job>(Job{std::move(*fetcher), std::move(one), t});
  const PathPolicy policy = policy_;
  std::weak_ptr<bool> weak = alive_;
  asio::post(workers_, [&ioc = ioc_, this, weak, job, policy] {
    Result<std::string> got =
        tuf::fetch_verified_target(*job->fetcher, job->feed, job->target.path);
    if (got) {
      if (auto m = validate_release_target(job->target, *got, policy); !m) {
        got = tl::unexpected(m.error());
      }
    }
    asio::post(ioc, [this, weak, job, got = std::move(got)]() mutable {
      if (auto a = weak.lock(); !a || !*a) return;
      const auto& sha = job->target.sha256;
      filling_.erase(sha);
      if (!got) {
        log::warning("feed {}: {}: {}", job->feed.name, job->target.path, got.error().message);
        fill_failures_[sha] = got.error();
        return;
      }
      fill_failures_.erase(sha);
      cache_.put(sha, *got);
      index_names(sha, *got);
      if (on_filled_) on_filled_();
    });
  });
}

void Resolver::fill_missing() {
  auto cached = cache_.hashes();
  auto names = feeds_.feed_names();
  if (!cached || !names) return;
  for (const auto& name : *names) {
    auto hashes = feeds_.release_hashes(name);
    if (!hashes) continue;
    const bool all_cached = std::all_of(hashes->begin(), hashes->end(), [&](const auto& h) {
      return std::binary_search(cached->begin(), cached->end(), h);
    });
    if (all_cached) continue;
    auto fs = feeds_.feed(name);
    if (!fs) continue;
    for (const auto& t : fs->trusted_targets) {
      if (t.kind != tuf::TargetKind::release) continue;
      if (std::binary_search(cached->begin(), cached->end(), t.sha256)) continue;
      fill(*fs, t);
    }
  }
}

void Resolver::index_names(const std::string& sha256, std::string_view bytes) {
  if (names_.count(sha256)) return;
  auto m = parse_release_manifest(bytes);
  if (!m) return;  // resolve() validates candidates; an unreadable manifest names nothing
  for (const auto& a : m->aliases) alias_models_[a].insert(m->model);
  names_.emplace(sha256, Names{std::move(m->model), std::move(m->aliases)});
}

void Resolver::load_names() {
  if (names_loaded_) return;
  auto hashes = cache_.hashes();
  if (!hashes) {
    log::warning("manifest cache: {}", hashes.error().message);
    return;  // tried again on the next resolve
  }
  for (const auto& h : *hashes) {
    auto bytes = cache_.get(h);
    if (bytes && *bytes) index_names(h, **bytes);
  }
  names_loaded_ = true;
}

void Resolver::cached(const std::vector<std::pair<std::string, std::string>>& manifests) {
  if (!names_loaded_) return;  // load_names() reads them with the rest
  for (const auto& [sha, bytes] : manifests) index_names(sha, bytes);
}

Result<Resolved> Resolver::resolve(std::string name, std::optional<std::string> revision,
                                   const std::optional<std::string>& only_feed) {
  if (!revision) {
    auto ref = api::ReleaseRef::parse(name);
    if (!ref) return tl::unexpected(ref.error());
    name = std::move(ref->name);
    revision = std::move(ref->revision);
  }
  auto feeds = feeds_.feed_names();
  if (!feeds) return tl::unexpected(feeds.error());
  load_names();
  // The models `name` can mean: itself, and every model a cached manifest gives it as an alias.
  // Each feed is then asked for those models' targets only (an index lookup), so a lookup costs
  // the same in a feed of ten releases or of a hundred thousand.
  std::set<std::string> models{name};
  if (const auto it = alias_models_.find(name); it != alias_models_.end()) {
    models.insert(it->second.begin(), it->second.end());
  }
  const auto names_it = [&](const tuf::TargetInfo& t) {
    if (t.model == name) return true;
    const auto it = names_.find(t.sha256);
    return it != names_.end() && std::find(it->second.aliases.begin(), it->second.aliases.end(),
                                           name) != it->second.aliases.end();
  };
  std::map<std::pair<std::string, std::string>, Resolved> best;  // (feed, model) -> newest
  std::optional<Error> pending;
  for (const auto& feed_name : *feeds) {
    if (only_feed && feed_name != *only_feed) continue;
    auto summary = feeds_.feed_summary(feed_name);
    if (!summary) continue;
    for (const auto& model : models) {
      auto targets = feeds_.model_targets(feed_name, model);
      if (!targets) {
        log::warning("feed {}: {}", feed_name, targets.error().message);
        continue;
      }
      std::vector<const tuf::TargetInfo*> candidates;  // newest first
      for (const auto& t : *targets) {
        if (t.kind != tuf::TargetKind::release) continue;
        if (revision && t.revision != *revision) continue;
        if (!names_.count(t.sha256) || names_it(t)) candidates.push_back(&t);
      }
      std::sort(candidates.begin(), candidates.end(),
                [](const auto* a, const auto* b) { return a->release_seq > b->release_seq; });
      FeedState fs = *summary;
      fs.trusted_targets = *targets;
      for (const auto* t : candidates) {
        auto m = manifest_for(fs, *t);
        if (!m) {
          if (filling_.count(t->sha256) && !fill_failures_.count(t->sha256)) {
            pending = m.error();  // being fetched for the first time: it may be the one
          } else {
            log::warning("feed {}: {}: {}", feed_name, t->path, m.error().message);
          }
          continue;
        }
        index_names(t->sha256, m->second);
        if (!names_it(*t)) continue;
        best[std::pair{feed_name, t->model}] =
            Resolved{fs, *t, std::move(m->first), std::move(m->second)};
        break;
      }
    }
  }
  // A manifest still to come could name this release, or a newer one (an alias is only known
  // once its manifest is).
  if (!pending) {
    for (const auto& sha : filling_) {
      if (!fill_failures_.count(sha)) {
        pending =
            Error{Errc::unavailable,
                  "the feeds' release manifests are being fetched; the name may be among them",
                  "retry in a moment"};
        break;
      }
    }
  }
  if (pending) return tl::unexpected(*pending);
  const std::string wanted = revision ? fmt::format("{}@{}", name, *revision) : name;
  if (best.empty()) {
    // A manifest whose fetch failed may be the one: try those again (for the next lookup).
    if (!fill_failures_.empty()) fill_missing();
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

Result<V1Companion> Resolver::acquire_now(Fetcher& fetcher, const FeedState& fs,
                                          const ReleaseManifest& m, const TorrentPaths& paths) {
  auto bytes = tuf::fetch_verified_target(fetcher, fs, torrent_target_path(m.model, m.revision));
  if (!bytes) return tl::unexpected(with_context(bytes.error(), "torrent"));
  if (auto st =
          check_torrent_against_manifest(*bytes, m, TorrentKind::hybrid, PieceLayers::required);
      !st) {
    return tl::unexpected(Error{
        st.error().code, fmt::format("torrent refused before download: {}", st.error().message),
        "the feed's torrent does not match its release manifest; "
        "tell the feed's publisher"});
  }
  if (auto st = write_file_atomic(paths.hybrid, *bytes); !st) return tl::unexpected(st.error());
  auto v1 = tuf::fetch_verified_target(fetcher, fs, torrent_v1_target_path(m.model, m.revision));
  if (!v1) return V1Companion::absent;
  if (auto st = check_torrent_against_manifest(*v1, m, TorrentKind::v1_companion,
                                               PieceLayers::if_present);
      !st) {
    log::warning("{}@{}: v1 companion torrent refused: {}", m.model, m.revision,
                 st.error().message);
    return V1Companion::absent;
  }
  if (auto w = write_file_atomic(paths.v1, *v1); !w) {
    log::warning("{}", w.error().message);
    return V1Companion::absent;
  }
  return V1Companion::written;
}

Status Resolver::acquire(const std::string& key, const FeedState& feed,
                         const ReleaseManifest& manifest, TorrentPaths paths, Done done) {
  if (in_flight(key)) {
    return fail(Errc::already_exists, fmt::format("{}: torrents are being fetched already", key));
  }
  auto fetcher = fetcher_for_(feed);
  if (!fetcher) return tl::unexpected(fetcher.error());
  const std::uint64_t ticket = next_ticket_++;
  pending_[key] = {ticket, std::move(done)};
  struct Job {
    std::unique_ptr<Fetcher> fetcher;
    FeedState feed;
    ReleaseManifest manifest;
    TorrentPaths paths;
  };
  auto job = std::make_shared<Job>(Job{std::move(*fetcher), feed, manifest, std::move(paths)});
  std::weak_ptr<bool> weak = alive_;
  // The worker touches nothing of `this` (the Resolver may be gone when it finishes).
  asio::post(workers_, [&ioc = ioc_, this, weak, key, ticket, job] {
    auto result = acquire_now(*job->fetcher, job->feed, job->manifest, job->paths);
    asio::post(ioc, [this, weak, key, ticket, result = std::move(result)]() mutable {
      if (auto a = weak.lock(); !a || !*a) return;
      const auto it = pending_.find(key);
      if (it == pending_.end() || it->second.first != ticket) return;  // cancelled
      Done deliver = std::move(it->second.second);
      pending_.erase(it);
      deliver(std::move(result));
    });
  });
  return {};
}

}  // namespace weights::daemon
