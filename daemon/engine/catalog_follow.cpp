#include "daemon/engine/catalog_follow.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/upstream/license_terms.hpp"
#include "daemon/engine/license_gate.hpp"
#include "daemon/engine/upstream_names.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

namespace {

std::string lower(std::string s) {
  for (char& ch : s) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return s;
}

// The entry's size when it lists every file with one.
std::optional<std::uint64_t> entry_size(const catalog::Entry& e) {
  if (!e.files_complete) return std::nullopt;
  std::uint64_t total = 0;
  for (const auto& f : e.files) {
    if (!f.size) return std::nullopt;
    total += *f.size;
  }
  return total;
}

}  // namespace

std::vector<CatalogCandidate> catalog_candidates(const catalog::Catalog& catalog) {
  // The load order of the catalog's files is the layers' order, then name order within one.
  std::map<std::string, std::uint64_t> file_rank;
  const auto& files = catalog.files();
  for (std::size_t i = 0; i < files.size(); ++i) file_rank[files[i]] = i + 1;
  std::vector<CatalogCandidate> out;
  std::map<std::string, std::size_t> at;  // release id -> index in out
  for (const catalog::Entry* e : catalog.entries()) {
    if (e->upstream != upstream_kind) continue;
    CatalogCandidate c;
    c.follow.source = FollowSource::catalog;
    c.follow.model = e->repo;
    c.follow.revision = e->commit;
    const auto rank = file_rank.find(e->where.file);
    c.follow.release_seq = ((rank == file_rank.end() ? 0 : rank->second) << 32) |
                           static_cast<std::uint32_t>(std::max(0, e->where.line));
    for (const auto& a : e->all_aliases()) c.follow.aliases.push_back(lower(a));
    const auto size = entry_size(*e);
    c.follow.size_known = size.has_value();
    c.follow.total_length = size.value_or(0);
    c.target = PinTarget{e->repo, e->commit, e->id, std::nullopt, catalog_terms(*e)};
    if (!e->info_hash_v2.empty()) c.target.info_hash_v2 = e->info_hash_v2;

    const auto [it, fresh] = at.emplace(c.follow.id(), out.size());
    if (fresh) {
      out.push_back(std::move(c));
      continue;
    }
    CatalogCandidate& known = out[it->second];
    auto aliases = known.follow.aliases;
    for (const auto& a : c.follow.aliases) {
      if (std::find(aliases.begin(), aliases.end(), a) == aliases.end()) aliases.push_back(a);
    }
    if (c.follow.release_seq > known.follow.release_seq) {
      if (!c.follow.size_known && known.follow.size_known) {
        c.follow.size_known = true;
        c.follow.total_length = known.follow.total_length;
      }
      known = std::move(c);
    } else if (!known.follow.size_known && c.follow.size_known) {
      known.follow.size_known = true;
      known.follow.total_length = c.follow.total_length;
    }
    known.follow.aliases = std::move(aliases);
  }
  return out;
}

const catalog::Catalog& EngineCatalogHost::catalog() {
  return names_.catalog();
}

void EngineCatalogHost::reload_catalog() {
  names_.reload();
}

MirrorStatus EngineCatalogHost::mirror_status(const std::string& release_id) {
  const Release* r = registry_.find(release_id);
  if (!r) return {};
  switch (state_of(*r)) {
    case ReleaseState::complete:
      return {MirrorState::complete, ""};
    case ReleaseState::failed:
      return {MirrorState::failed, r->error ? r->error->message : "failed"};
    default:
      return {MirrorState::fetching, ""};
  }
}

Result<bool> EngineCatalogHost::license_accepted(const std::string& repo,
                                                 const std::string& license) {
  auto when = db_().license_accepted(upstream_kind, repo, license);
  if (!when) return tl::unexpected(when.error());
  return when->has_value();
}

Status EngineCatalogHost::fetch_pinned(const PinTarget& target, const FetchRequest& request) {
  auto r = pinned_.fetch(target, request);
  if (!r) return tl::unexpected(r.error());
  return {};
}

std::chrono::seconds retry_delay(const MirrorSettings& settings, unsigned failures) {
  auto d = settings.first_retry;
  for (unsigned i = 1; i < failures && d < settings.max_retry; ++i) d *= 2;
  return std::min(d, settings.max_retry);
}

void CatalogFollower::failed(const std::string& id, const std::string& error, TimePoint now) {
  Retry& r = retries_[id];
  ++r.failures;
  r.error = error;
  r.next = now + retry_delay(settings_, r.failures);
  log::warning("follow catalog: {} failed ({} in a row), trying again in {} s: {}", id, r.failures,
               retry_delay(settings_, r.failures).count(), error);
}

CatalogOutcome CatalogFollower::apply(std::span<const Follow> all) {
  CatalogOutcome out;
  std::vector<Follow> follows;
  for (const auto& f : all) {
    if (f.source == FollowSource::catalog) follows.push_back(f);
  }
  if (follows.empty()) {
    retries_.clear();
    started_.clear();
    said_.clear();
    return out;
  }
  const auto cands = catalog_candidates(host_.catalog());
  std::vector<FollowCandidate> plain;
  std::map<std::string, const CatalogCandidate*> by_id;
  for (const auto& c : cands) {
    plain.push_back(c.follow);
    by_id.emplace(c.follow.id(), &c);
  }
  const FollowPlan plan = plan_follows(follows, plain);
  out.held = plan.held;
  for (const auto& f : follows) out.follows[f.id];
  auto owners_of = [&](const std::string& id) {
    std::vector<const Follow*> owners;
    const auto it = by_id.find(id);
    if (it == by_id.end()) return owners;
    for (const auto& f : follows) {
      if (follow_matches(f, it->second->follow)) owners.push_back(&f);
    }
    return owners;
  };
  for (const auto& [id, why] : plan.skipped) {
    for (const Follow* f : owners_of(id)) out.follows[f->id].skipped.emplace_back(id, why);
  }

  const TimePoint now = host_.now();
  std::vector<std::pair<std::string, MirrorStatus>> states;
  std::size_t in_flight = 0;
  for (const auto& id : plan.mirror) {
    states.emplace_back(id, host_.mirror_status(id));
    in_flight += states.back().second.state == MirrorState::fetching;
  }
  // Named, not a structured binding: the lambdas below capture `id` (clang 14 refuses a
  // captured binding).
  for (const auto& entry : states) {
    const std::string& id = entry.first;
    const auto& status = entry.second;
    const CatalogCandidate& c = *by_id.at(id);
    const auto owners = owners_of(id);
    const bool accept = std::any_of(owners.begin(), owners.end(),
                                    [](const Follow* f) { return f->accept_license; });
    auto mirroring = [&] {
      said_.erase(id);
      for (const Follow* f : owners) out.follows[f->id].mirroring.push_back(id);
    };
    // Logged once per reason (failures are logged by failed(), with their retry time).
    auto refused = [&](const std::string& why, bool logged = false) {
      if (logged) {
        said_.erase(id);
      } else if (auto [it, fresh] = said_.emplace(id, why); fresh || it->second != why) {
        it->second = why;
        log::warning("follow catalog: {} not mirrored: {}", id, why);
      }
      for (const Follow* f : owners) out.follows[f->id].refused.emplace_back(id, why);
    };
    switch (status.state) {
      case MirrorState::complete:
        retries_.erase(id);
        started_.erase(id);
        mirroring();
        continue;
      case MirrorState::fetching:
        mirroring();
        continue;
      case MirrorState::failed:
        // A failure not counted yet: of a fetch this follower started, or one it finds failed.
        if (started_.erase(id) > 0 || retries_.count(id) == 0) failed(id, status.error, now);
        break;
      case MirrorState::absent:
        break;
    }
    if (const auto r = retries_.find(id); r != retries_.end() && now < r->second.next) {
      const auto wait = std::chrono::duration_cast<std::chrono::seconds>(r->second.next - now);
      refused(fmt::format("fetch failed: {}; trying again in {} s (failure {} in a row)",
                          r->second.error, wait.count(), r->second.failures),
              true);
      continue;
    }
    // Never accepted silently: only a follow made with --accept-license accepts new terms.
    if (c.target.license && upstream::needs_acceptance(*c.target.license) && !accept) {
      const auto& terms = *c.target.license;
      auto known = host_.license_accepted(c.target.repo, terms.id);
      if (!known) {
        refused(known.error().message);
        continue;
      }
      if (!*known) {
        refused(
            fmt::format("licence {} not accepted ({}); read it, then follow the catalog with "
                        "--accept-license or fetch {} --accept-license",
                        terms.id, upstream::describe_terms(terms), c.target.alias.value_or(id)));
        continue;
      }
    }
    if (in_flight >= settings_.max_in_flight) {
      mirroring();  // waits for a fetch slot
      continue;
    }
    FetchRequest req;
    req.name = c.target.alias.value_or(c.target.repo);
    req.revision = c.target.commit;
    req.requested_by = Requester::follow;
    req.accept_license = accept;
    if (auto st = host_.fetch_pinned(c.target, req); !st) {
      if (st.error().code == Errc::license_not_accepted) {
        refused(st.error().message);
      } else {
        failed(id, st.error().message, now);
        refused(fmt::format("fetch failed: {}", st.error().message), true);
      }
      continue;
    }
    log::info("follow catalog: mirroring {}{}", id,
              accept ? " (the follow accepts its licence terms)" : "");
    started_.insert(id);
    ++in_flight;
    mirroring();
  }
  // Releases no follow selects any more are forgotten.
  std::erase_if(retries_, [&](const auto& r) { return plan.held.count(r.first) == 0; });
  std::erase_if(said_, [&](const auto& r) { return plan.held.count(r.first) == 0; });
  std::erase_if(started_, [&](const std::string& s) { return plan.held.count(s) == 0; });
  return out;
}

}  // namespace weights::daemon
