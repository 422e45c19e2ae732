#include "daemon/engine/feed_desk.hpp"

#include <fmt/format.h>

#include "core/feed/tuf_client.hpp"
#include "core/net/http_fetcher.hpp"
#include "daemon/engine/render.hpp"

namespace weights::daemon {

FeedDesk::FeedDesk(StateStore& state, FeedRefreshes refreshes, std::function<TimePoint()> clock)
    : state_(state), refreshes_(std::move(refreshes)), clock_(std::move(clock)) {}

Result<api::Feed> FeedDesk::add(const std::string& name, const std::string& location,
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
  if (auto st = tuf::add_feed(state_, name, location, root, clock_(), mirrors); !st) {
    return tl::unexpected(st.error());
  }
  // First refresh right away, off the io thread.
  return with_ticket(name, refreshes_.request(name));
}

Result<api::FeedList> FeedDesk::list() {
  auto names = state_.list_feeds();
  if (!names) return tl::unexpected(names.error());
  api::FeedList out;
  for (const auto& n : *names) {
    auto f = get(n);
    if (!f) return tl::unexpected(f.error());
    out.feeds.push_back(std::move(*f));
  }
  return out;
}

std::vector<api::Feed> FeedDesk::renderable() {
  std::vector<api::Feed> out;
  auto names = state_.list_feeds();
  if (!names) return out;
  for (const auto& n : *names) {
    if (auto f = get(n)) out.push_back(std::move(*f));
  }
  return out;
}

Result<api::Feed> FeedDesk::get(const std::string& name) {
  auto fs = state_.load_feed(name, FeedDetail::summary);
  if (!fs) return tl::unexpected(fs.error());
  FeedFacts facts;
  auto ok = state_.last_success(name);
  if (!ok) return tl::unexpected(ok.error());
  facts.last_success = std::move(*ok);
  auto refused = state_.last_refusal(name);
  if (!refused) return tl::unexpected(refused.error());
  facts.last_refusal = std::move(*refused);
  auto count = state_.count_targets(name, tuf::TargetKind::release);
  if (!count) return tl::unexpected(count.error());
  facts.releases = *count;
  auto refresh = api::from_json<api::FeedRefresh>(refreshes_.status(name),
                                                  api::UnknownFields::reject, "feed refresh");
  if (!refresh) return tl::unexpected(Error{Errc::internal, refresh.error().message, ""});
  facts.refresh = std::move(*refresh);
  api::Feed feed = render_feed(*fs, facts, clock_());
  if (refreshes_.catalog) {
    auto cat = api::from_json<api::FeedCatalog>(refreshes_.catalog(name),
                                                api::UnknownFields::reject, "feed catalog");
    if (!cat) return tl::unexpected(Error{Errc::internal, cat.error().message, ""});
    feed.catalog = std::move(*cat);
  }
  return feed;
}

Result<api::Feed> FeedDesk::refresh(const std::string& name) {
  if (auto f = state_.load_feed(name, FeedDetail::summary); !f) return tl::unexpected(f.error());
  return with_ticket(name, refreshes_.request(name));
}

Result<api::Removed> FeedDesk::remove(const std::string& name) {
  if (auto st = state_.remove_feed(name); !st) return tl::unexpected(st.error());
  refreshes_.forget(name);
  return api::Removed{name};
}

// Refreshes run on the FeedPoller's workers and commit back on the io thread; the API answers
// with the ticket of the refresh that will include the request.
Result<api::Feed> FeedDesk::with_ticket(const std::string& name, std::uint64_t ticket) {
  auto f = get(name);
  if (f) f->ticket = ticket;
  return f;
}

}  // namespace weights::daemon
