#include "daemon/engine/seed_executor.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "daemon/log.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

SeedExecutor::SeedExecutor(SeedHost& host, CatalogHost* catalog)
    : host_(host), catalog_host_(catalog) {
  if (catalog_host_) catalog_.emplace(*catalog_host_);
}

std::vector<FollowCandidate> SeedExecutor::candidates(const std::vector<Follow>& follows) {
  // Only targets a follow's feed and model glob can select are read.
  std::vector<FollowCandidate> out;
  std::set<std::string> feeds;
  for (const auto& f : follows) {
    if (f.source == FollowSource::feed) feeds.insert(f.feed);
  }
  for (const auto& feed : feeds) {
    auto fs = host_.feed(feed);
    if (!fs) continue;
    for (const auto& t : fs->trusted_targets) {
      if (t.kind != tuf::TargetKind::release) continue;
      bool wanted = false;
      for (const auto& f : follows) {
        if (f.source == FollowSource::feed && f.feed == feed &&
            (f.model_glob.empty() || glob_match(f.model_glob, t.model))) {
          wanted = true;
        }
      }
      if (!wanted) continue;
      auto m = host_.manifest(*fs, t);
      if (!m) {
        log::warning("feed {}: {}: {}", feed, t.path, m.error().message);
        continue;
      }
      FollowCandidate c;
      c.feed = feed;
      c.model = t.model;
      c.revision = t.revision;
      c.release_seq = t.release_seq;
      c.aliases = m->aliases;
      c.total_length = m->total_length;
      out.push_back(std::move(c));
    }
  }
  return out;
}

void SeedExecutor::apply() {
  auto follows = host_.follows();
  if (!follows) {
    log::error("follows: {}", follows.error().message);
    return;
  }
  std::vector<Follow> feed_follows;
  for (const auto& f : *follows) {
    if (f.source == FollowSource::feed) feed_follows.push_back(f);
  }
  const auto cands = candidates(feed_follows);
  auto plan = plan_follows(feed_follows, cands);
  feed_held_ = plan.held;
  report_held();  // before any fetch: the disk budget must see what the follows hold
  std::map<std::int64_t, Outcome> status;
  const TimePoint now = host_.now();
  for (const auto& f : feed_follows) status[f.id].last_applied = now;
  auto owners_of = [&](const std::string& id) -> std::vector<std::int64_t> {
    std::vector<std::int64_t> ids;
    for (const auto& f : *follows) {
      for (const auto& c : cands) {
        if (c.id() == id && follow_matches(f, c)) ids.push_back(f.id);
      }
    }
    return ids;
  };
  for (const auto& [id, why] : plan.skipped) {
    for (auto fid : owners_of(id)) status[fid].skipped.emplace_back(id, why);
  }
  for (const auto& id : plan.mirror) {
    const auto at = id.rfind('@');
    std::string refusal;
    if (host_.needs_fetch(id)) {
      FetchRequest req;
      req.name = id.substr(0, at);
      req.revision = id.substr(at + 1);
      for (const auto& c : cands) {
        if (c.id() == id) req.feed = c.feed;
      }
      req.requested_by = Requester::follow;
      if (auto st = host_.fetch(req); !st) {
        refusal = st.error().message;
        log::warning("follow: {} not mirrored: {}", id, refusal);
      } else {
        log::info("follow: mirroring {}", id);
      }
    }
    for (auto fid : owners_of(id)) {
      if (refusal.empty()) {
        status[fid].mirroring.push_back(id);
      } else {
        status[fid].refused.emplace_back(id, refusal);
      }
    }
  }
  outcome_ = std::move(status);
  refused_room_key_ = host_.room_key();
  apply_catalog(*follows);  // reports the held set, the feeds' with the catalog's
}

void SeedExecutor::apply_catalog(const std::vector<Follow>& follows) {
  std::vector<Follow> mine;  // `follows` may be catalog_follows_ itself
  for (const auto& f : follows) {
    if (f.source == FollowSource::catalog) mine.push_back(f);
  }
  catalog_follows_ = std::move(mine);
  catalog_held_.clear();
  if (catalog_) {
    auto got = catalog_->apply(catalog_follows_);
    catalog_held_ = std::move(got.held);
    const TimePoint now = host_.now();
    for (auto& [id, o] : got.follows) {
      Outcome& out = outcome_[id];
      out.last_applied = now;
      out.mirroring = std::move(o.mirroring);
      out.skipped = std::move(o.skipped);
      out.refused = std::move(o.refused);
    }
  }
  report_held();
}

void SeedExecutor::report_held() {
  std::set<std::string> held = feed_held_;
  held.insert(catalog_held_.begin(), catalog_held_.end());
  if (reported_held_ && *reported_held_ == held) return;
  host_.hold(held);
  reported_held_ = std::move(held);
}

void SeedExecutor::tick() {
  ++ticks_;
  const bool refused = std::any_of(outcome_.begin(), outcome_.end(),
                                   [](const auto& f) { return !f.second.refused.empty(); });
  if (refused && (ticks_ % 30 == 0 || host_.room_key() != refused_room_key_)) {
    apply();
  } else if (!catalog_follows_.empty()) {
    if (ticks_ % 30 == 0 && catalog_host_) catalog_host_->reload_catalog();
    apply_catalog(catalog_follows_);
  }
}

Status SeedExecutor::make_room(const StoredRelease& incoming, const DiskLimits& limits) {
  const auto existing = host_.stored_releases();
  auto plan = plan_eviction(existing, incoming, limits.max_disk);
  if (!plan) {
    ++totals_.no_space_refusals;
    return tl::unexpected(plan.error());
  }
  const std::uint64_t to_write = host_.bytes_to_write(incoming);
  if (auto free = host_.free_disk(); free && to_write + limits.min_free_disk > *free) {
    // Evictions free space too, but only unshared content; be conservative: count none.
    ++totals_.no_space_refusals;
    return fail(Errc::no_space,
                fmt::format("{} needs {} more bytes on {} but only {} are free (keeping "
                            "min_free_disk = {} free)",
                            incoming.id, to_write, limits.where, *free, limits.min_free_disk),
                "free disk space, or lower [limits] min_free_disk in the config");
  }
  for (const auto& id : plan->evict) {
    log::info("{}: evicted (least recently requested, unpinned) to make room for {}", id,
              incoming.id);
    ++totals_.evictions;
    if (auto st = host_.evict(id); !st) log::error("evicting {}: {}", id, st.error().message);
  }
  return {};
}

Result<FollowView> SeedExecutor::add(const FollowSpec& spec) {
  const bool of_catalog = spec.source == FollowSource::catalog;
  if (of_catalog && !catalog_) {
    return fail(Errc::unsupported, "this node does not follow the catalog");
  }
  if (!of_catalog && spec.accept_license) {
    return fail(Errc::invalid_argument,
                "--accept-license is for `follow catalog`: a feed's releases are accepted by "
                "trusting the feed");
  }
  if (of_catalog) {
    catalog_host_->reload_catalog();  // entries added since start are candidates at once
  } else if (!host_.has_feed(spec.feed)) {
    return fail(Errc::not_found, fmt::format("no feed '{}'", spec.feed),
                "subscribe first: weightsctl feed add NAME LOCATION --root ROOT.json");
  }
  if (spec.model_glob.size() > 256 || spec.alias.size() > 256) {
    return fail(Errc::invalid_argument, "model glob or alias longer than 256 bytes");
  }
  Follow f;
  f.source = spec.source;
  f.feed = of_catalog ? std::string() : spec.feed;
  f.accept_license = spec.accept_license;
  f.model_glob = spec.model_glob;
  f.alias = spec.alias;
  f.latest = spec.latest;
  f.max_size = spec.max_size;
  f.created_at = host_.now().time_since_epoch().count();
  auto id = host_.add_follow(f);
  if (!id) return tl::unexpected(id.error());
  f.id = *id;
  log::info("follow {}: {} model '{}' alias '{}' latest {} max size {}{}", f.id,
            of_catalog ? "the catalog" : "feed " + f.feed, f.model_glob, f.alias, f.latest,
            f.max_size, f.accept_license ? ", accepting the licences of what it mirrors" : "");
  apply();
  auto all = list();
  if (!all) return tl::unexpected(all.error());
  for (auto& v : *all) {
    if (v.follow.id == f.id) return std::move(v);
  }
  return fail(Errc::internal, "the new follow vanished");
}

Result<std::vector<FollowView>> SeedExecutor::list() {
  auto follows = host_.follows();
  if (!follows) return tl::unexpected(follows.error());
  std::vector<FollowView> out;
  for (auto& f : *follows) {
    FollowView v;
    if (const auto it = outcome_.find(f.id); it != outcome_.end()) {
      v.last_applied = it->second.last_applied;
      v.mirroring = it->second.mirroring;
      v.skipped = it->second.skipped;
      v.refused = it->second.refused;
    }
    v.follow = std::move(f);
    out.push_back(std::move(v));
  }
  return out;
}

Status SeedExecutor::remove(std::int64_t id) {
  auto removed = host_.remove_follow(id);
  if (!removed) return tl::unexpected(removed.error());
  if (!*removed) {
    return fail(Errc::not_found, fmt::format("no follow {}", id), "see weightsctl follows");
  }
  outcome_.erase(id);
  apply();
  return {};
}

}  // namespace weights::daemon
