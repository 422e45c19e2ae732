#include "daemon/policy.hpp"

#include <algorithm>
#include <charconv>
#include <map>
#include <unordered_map>

#include <fmt/format.h>

#include "core/util/units.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
  }
  return out;
}

}  // namespace

bool follow_matches(const Follow& f, const FollowCandidate& c) {
  if (f.source != c.source) return false;
  if (f.source == FollowSource::feed && f.feed != c.feed) return false;
  if (!f.model_glob.empty() && !glob_match(f.model_glob, c.model)) return false;
  if (f.alias.empty()) return true;
  if (f.source == FollowSource::catalog) {
    const std::string pattern = lower(f.alias);
    return std::any_of(c.aliases.begin(), c.aliases.end(),
                       [&](const std::string& a) { return glob_match(pattern, lower(a)); });
  }
  return std::find(c.aliases.begin(), c.aliases.end(), f.alias) != c.aliases.end();
}

namespace {

// "1.5 GiB (1610612736 bytes)": exact next to readable in refusal reasons.
std::string human(std::uint64_t bytes) {
  const std::string size = units::format_size(bytes);
  return bytes < 1024 ? size : fmt::format("{} ({} bytes)", size, bytes);
}

}  // namespace

FollowPlan plan_follows(std::span<const Follow> follows,
                        std::span<const FollowCandidate> candidates) {
  FollowPlan plan;
  std::set<std::string> skipped_ids;
  for (const auto& f : follows) {
    // model -> its matching releases, newest first
    std::map<std::string, std::vector<const FollowCandidate*>> by_model;
    for (const auto& c : candidates) {
      if (follow_matches(f, c)) by_model[c.model].push_back(&c);
    }
    for (auto& [model, list] : by_model) {
      std::sort(list.begin(), list.end(), [](const auto* a, const auto* b) {
        if (a->release_seq != b->release_seq) return a->release_seq > b->release_seq;
        return a->revision < b->revision;
      });
      const std::size_t n =
          f.latest == 0 ? list.size() : std::min<std::size_t>(f.latest, list.size());
      for (std::size_t i = 0; i < n; ++i) {
        const auto& c = *list[i];
        const std::string id = c.id();
        if (f.max_size != 0 && !c.size_known) {
          // Refused rather than guessed: --max-size is a promise about disk use.
          if (skipped_ids.insert(id).second) {
            plan.skipped.emplace_back(
                id, fmt::format("{}: size not known (the catalog entry does not list every file "
                                "with its size), and follow {} has a max size of {}",
                                id, f.id, human(f.max_size)));
          }
          continue;
        }
        if (f.max_size != 0 && c.total_length > f.max_size) {
          if (skipped_ids.insert(id).second) {
            plan.skipped.emplace_back(
                id, fmt::format("{} is {}, larger than follow {}'s max size {}", id,
                                human(c.total_length), f.id, human(f.max_size)));
          }
          continue;
        }
        if (plan.held.insert(id).second) plan.mirror.push_back(id);
      }
    }
  }
  // A release another follow accepts is not skipped.
  std::erase_if(plan.skipped, [&](const auto& s) { return plan.held.count(s.first) > 0; });
  return plan;
}

std::uint64_t reserved_bytes(std::span<const StoredRelease> releases) {
  std::unordered_map<std::string, std::uint64_t> unique;
  for (const auto& r : releases) {
    for (const auto& c : r.content) unique.emplace(c.sha256, c.length);
  }
  std::uint64_t total = 0;
  for (const auto& [sha, len] : unique) total += len;
  return total;
}

bool fetch_protected(const FetchInProgress& f) {
  return f.requester == FetchRequester::user || f.held;
}

Result<EvictionPlan> plan_eviction(std::span<const StoredRelease> existing,
                                   const StoredRelease& incoming, std::uint64_t budget) {
  EvictionPlan plan;
  std::vector<StoredRelease> kept(existing.begin(), existing.end());
  // The incoming release may already be present (e.g. a wider selection): count it once.
  std::erase_if(kept, [&](const StoredRelease& r) { return r.id == incoming.id; });
  plan.used_before = reserved_bytes(existing);
  auto used_with_incoming = [&] {
    auto all = kept;
    all.push_back(incoming);
    return reserved_bytes(all);
  };
  plan.used_after = used_with_incoming();
  if (budget == 0 || plan.used_after <= budget) return plan;

  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < kept.size(); ++i) {
    if (!kept[i].pinned && !kept[i].held && !kept[i].protect) order.push_back(i);
  }
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (kept[a].upstream_refused != kept[b].upstream_refused) return !kept[a].upstream_refused;
    if (kept[a].last_requested != kept[b].last_requested) {
      return kept[a].last_requested < kept[b].last_requested;
    }
    return kept[a].id < kept[b].id;
  });
  std::vector<std::string> evict;
  std::set<std::string> gone;
  for (const auto i : order) {
    evict.push_back(kept[i].id);
    gone.insert(kept[i].id);
    std::vector<StoredRelease> rest;
    for (const auto& r : kept) {
      if (!gone.count(r.id)) rest.push_back(r);
    }
    rest.push_back(incoming);
    const auto used = reserved_bytes(rest);
    if (used <= budget) {
      plan.evict = std::move(evict);
      plan.used_after = used;
      return plan;
    }
  }
  std::vector<StoredRelease> keep_only;
  for (const auto& r : kept) {
    if (r.pinned || r.held || r.protect) keep_only.push_back(r);
  }
  keep_only.push_back(incoming);
  const auto floor = reserved_bytes(keep_only);
  const auto need = reserved_bytes(std::span(&incoming, 1));
  const auto others = floor - std::min(floor, need);
  return fail(Errc::no_space,
              fmt::format("{} needs {} but the disk budget is {}: pinned, followed and active "
                          "releases already reserve {}, so even evicting every other release "
                          "leaves only {}",
                          incoming.id, human(need), human(budget), human(others),
                          human(budget > others ? budget - others : 0)),
              "raise max_disk in the config, unpin releases (weightsctl unpin), narrow the "
              "follows (weightsctl follows) or remove releases (weightsctl remove)");
}

Result<int> parse_clock_time(std::string_view text, bool allow_24) {
  auto bad = [&] {
    return fail(Errc::invalid_argument,
                fmt::format("'{}' is not a time of day HH:MM (00:00 to 23:59{})", text,
                            allow_24 ? ", or 24:00 as an end" : ""));
  };
  if (text.size() != 5 || text[2] != ':') return bad();
  int h = 0, m = 0;
  auto [p1, e1] = std::from_chars(text.data(), text.data() + 2, h);
  auto [p2, e2] = std::from_chars(text.data() + 3, text.data() + 5, m);
  if (e1 != std::errc() || e2 != std::errc() || p1 != text.data() + 2 || p2 != text.data() + 5) {
    return bad();
  }
  if (h == 24 && m == 0 && allow_24) return 24 * 60;
  if (h < 0 || h > 23 || m < 0 || m > 59) return bad();
  return h * 60 + m;
}

Rates rates_at(Rates base, std::span<const RateWindow> windows, int minute_of_day) {
  for (const auto& w : windows) {
    const bool in = w.start_minute <= w.end_minute
                        ? minute_of_day >= w.start_minute && minute_of_day < w.end_minute
                        : minute_of_day >= w.start_minute || minute_of_day < w.end_minute;
    if (!in) continue;
    if (w.download_rate) base.download = *w.download_rate;
    if (w.upload_rate) base.upload = *w.upload_rate;
    return base;
  }
  return base;
}

}  // namespace weights::daemon
