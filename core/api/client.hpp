#pragma once
// weightsctl's one client of the control API: a method per endpoint, typed requests and
// responses (core/api/types.hpp), targets from core/api/targets.hpp, one transport
// (api::call in core/api/api_client.hpp). Responses are read with UnknownFields::ignore: a newer
// daemon may add fields (docs/protocol.md "Versioning").
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "core/api/api_client.hpp"
#include "core/api/targets.hpp"
#include "core/api/types.hpp"
#include "core/util/error.hpp"

namespace weights::api {

enum class Pin { pin, unpin };

class Client {
 public:
  explicit Client(Endpoint endpoint) : endpoint_(std::move(endpoint)) {}
  const Endpoint& endpoint() const { return endpoint_; }

  Result<VersionInfo> version() const;
  Result<DaemonStatus> status() const;
  Result<LogLevelResult> set_log_level(const LogLevelRequest& req) const;

  Result<Feed> add_feed(const AddFeedRequest& req) const;
  Result<FeedList> feeds() const;
  Result<Feed> feed(std::string_view name) const;
  Result<Feed> refresh_feed(std::string_view name) const;
  Result<Removed> remove_feed(std::string_view name) const;

  Result<Release> fetch(const FetchRequest& req) const;
  Result<Release> seed(const SeedRequest& req) const;
  Result<ReleaseList> releases() const;
  Result<Release> release(std::string_view id) const;
  Result<Release> set_pinned(std::string_view id, Pin pin) const;
  Result<Removed> remove_release(std::string_view id, target::DeleteFiles files) const;
  Result<Release> verify(std::string_view id) const;
  Result<Release> add_peers(std::string_view id, const PeersRequest& req) const;
  Result<ExportResult> export_release(std::string_view id, const ExportRequest& req) const;

  Result<Follow> add_follow(const FollowRequest& req) const;
  Result<FollowList> follows() const;
  Result<FollowRemoved> remove_follow(std::int64_t id) const;
  Result<ScrubResult> scrub(const ScrubRequest& req) const;

  // Follows the release until it is complete or failed and returns that snapshot; on_event
  // sees every snapshot on the way. Reads GET /v1/releases/{id}/events (text/event-stream);
  // polls GET /v1/releases/{id} every 500 ms against a daemon without it. Returns early with
  // `unavailable` when keep_going() turns false (checked every 100 ms) or the stream ends
  // before a final state (naming that).
  using OnRelease = std::function<void(const Release&)>;
  using KeepGoing = std::function<bool()>;
  Result<Release> watch_release(std::string_view id, const OnRelease& on_event,
                                const KeepGoing& keep_going) const;

 private:
  // watch_release against a daemon without the events route: GET every 500 ms.
  Result<Release> poll_release(std::string_view id, const OnRelease& on_event,
                               const KeepGoing& keep_going) const;
  template <class T>
  Result<T> request(std::string_view method, const std::string& target,
                    const nlohmann::json& body = nullptr) const;

  Endpoint endpoint_;
};

}  // namespace weights::api
