#include "core/api/client.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "core/api.hpp"

namespace weights::api {

template <class T>
Result<T> Client::request(std::string_view method, const std::string& target,
                          const nlohmann::json& body) const {
  auto j = call_json(endpoint_, method, target, body.is_null() ? std::string() : body.dump());
  if (!j) return tl::unexpected(j.error());
  auto parsed = from_json<T>(*j, UnknownFields::ignore, "response");
  if (!parsed) {
    return tl::unexpected(
        with_context(parsed.error(), fmt::format("weightsd {} {}", method, target)));
  }
  return parsed;
}

Result<VersionInfo> Client::version() const {
  return request<VersionInfo>(method::get, target::version());
}
Result<DaemonStatus> Client::status() const {
  return request<DaemonStatus>(method::get, target::status());
}
Result<LogLevelResult> Client::set_log_level(const LogLevelRequest& req) const {
  return request<LogLevelResult>(method::put, target::log_level(), req);
}

Result<Feed> Client::add_feed(const AddFeedRequest& req) const {
  return request<Feed>(method::post, target::feeds(), req);
}
Result<FeedList> Client::feeds() const {
  return request<FeedList>(method::get, target::feeds());
}
Result<Feed> Client::feed(std::string_view name) const {
  return request<Feed>(method::get, target::feed(name));
}
Result<Feed> Client::refresh_feed(std::string_view name) const {
  return request<Feed>(method::post, target::feed_refresh(name));
}
Result<Removed> Client::remove_feed(std::string_view name) const {
  return request<Removed>(method::del, target::feed(name));
}

Result<Release> Client::fetch(const FetchRequest& req) const {
  return request<Release>(method::post, target::fetch(), req);
}
Result<Release> Client::seed(const SeedRequest& req) const {
  return request<Release>(method::post, target::seed(), req);
}
Result<ReleaseList> Client::releases() const {
  return request<ReleaseList>(method::get, target::releases());
}
Result<Release> Client::release(std::string_view id) const {
  return request<Release>(method::get, target::release(id));
}
Result<Release> Client::set_pinned(std::string_view id, Pin pin) const {
  return request<Release>(method::post,
                          pin == Pin::pin ? target::release_pin(id) : target::release_unpin(id));
}
Result<Removed> Client::remove_release(std::string_view id, target::DeleteFiles files) const {
  return request<Removed>(method::del, target::release_remove(id, files));
}
Result<Release> Client::verify(std::string_view id) const {
  return request<Release>(method::post, target::release_verify(id));
}
Result<Release> Client::add_peers(std::string_view id, const PeersRequest& req) const {
  return request<Release>(method::post, target::release_peers(id), req);
}
Result<ExportResult> Client::export_release(std::string_view id, const ExportRequest& req) const {
  return request<ExportResult>(method::post, target::release_export(id), req);
}

Result<Follow> Client::add_follow(const FollowRequest& req) const {
  return request<Follow>(method::post, target::follows(), req);
}
Result<FollowList> Client::follows() const {
  return request<FollowList>(method::get, target::follows());
}
Result<FollowRemoved> Client::remove_follow(std::int64_t id) const {
  return request<FollowRemoved>(method::del, target::follow(id));
}
Result<ScrubResult> Client::scrub(const ScrubRequest& req) const {
  return request<ScrubResult>(method::post, target::scrub(), req);
}

Result<Release> Client::watch_release(std::string_view id, const OnRelease& on_event,
                                      const KeepGoing& keep_going) const {
  for (;;) {
    auto r = release(id);
    if (!r) return r;
    on_event(*r);
    if (r->finished()) return r;
    for (int i = 0; i < 5; ++i) {
      if (!keep_going()) {
        return fail(Errc::unavailable, fmt::format("stopped following {}", id));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace weights::api
