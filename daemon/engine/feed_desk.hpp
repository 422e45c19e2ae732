#pragma once
// The feeds' side of the control API: add (mirrors and URLs checked before anything is stored,
// then a first refresh requested), list, get, refresh, remove, and the API's feed object
// gathered from the state database and the refresh status (render_feed). The refreshes
// themselves are the FeedPoller's, reached through FeedRefreshes. Io thread only.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/api/types.hpp"
#include "core/db/state_store.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"

namespace weights::daemon {

// The FeedPoller as the desk sees it.
struct FeedRefreshes {
  // Requests a refresh off the io thread: the ticket of the refresh that will include it.
  std::function<std::uint64_t(const std::string& feed)> request;
  // FeedPoller::status: which ticket completed last and how.
  std::function<nlohmann::json(const std::string& feed)> status;
  // Also removes the feed's catalog layer.
  std::function<void(const std::string& feed)> forget;
  // FeedPoller::catalog_status; unset: the feed object has no "catalog".
  std::function<nlohmann::json(const std::string& feed)> catalog = {};
};

class FeedDesk {
 public:
  FeedDesk(StateStore& state, FeedRefreshes refreshes, std::function<TimePoint()> clock);

  // A mirror that is empty or the location, or a malformed http(s) URL, is refused before
  // anything is stored; the first refresh's refusal is in the feed's status, not an error.
  Result<api::Feed> add(const std::string& name, const std::string& location,
                        const std::string& root, const std::vector<std::string>& mirrors);
  Result<api::FeedList> list();
  // Every feed whose object renders (/metrics): one that does not is left out, not an error.
  std::vector<api::Feed> renderable();
  Result<api::Feed> get(const std::string& name);
  // Requests a refresh of a known feed; the answer carries its ticket.
  Result<api::Feed> refresh(const std::string& name);
  Result<api::Removed> remove(const std::string& name);

 private:
  Result<api::Feed> with_ticket(const std::string& name, std::uint64_t ticket);

  StateStore& state_;
  FeedRefreshes refreshes_;
  std::function<TimePoint()> clock_;
};

}  // namespace weights::daemon
