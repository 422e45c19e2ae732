#include "core/api/client.hpp"

#include <chrono>
#include <thread>

#include <fmt/format.h>

#include "core/api/api.hpp"
#include "core/api/events.hpp"
#include "core/util/json.hpp"

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

namespace {

// A daemon without the events route answers the router's 404 for the path itself.
bool no_such_endpoint(const Error& e) {
  return e.code == Errc::not_found && e.message.starts_with("no such endpoint");
}

}  // namespace

Result<Release> Client::watch_release(std::string_view id, const OnRelease& on_event,
                                      const KeepGoing& keep_going) const {
  EventParser parser;
  std::optional<Release> last;
  std::optional<Error> failure;
  bool finished = false;
  auto on_data = [&](std::string_view bytes) {
    for (auto& ev : parser.feed(bytes)) {
      auto j = json::parse_strict(ev.data, json::Limits{max_response_bytes, 64});
      if (!j) {
        failure = with_context(j.error(), fmt::format("progress event of {}", id));
        return false;
      }
      if (ev.name == "error") {
        auto body = from_json<ErrorBody>(*j, UnknownFields::ignore, "error event");
        failure = body ? body->error.to_error() : body.error();
        return false;
      }
      if (ev.name != "release") continue;
      auto r = from_json<Release>(*j, UnknownFields::ignore, "release event");
      if (!r) {
        failure = r.error();
        return false;
      }
      on_event(*r);
      finished = r->finished();
      last = std::move(*r);
      if (finished) return false;
    }
    if (parser.pending() > EventParser::max_event_bytes) {
      failure = Error{Errc::too_large, fmt::format("a progress event of {} is too large", id), ""};
      return false;
    }
    return true;
  };
  // The daemon sends at least every 15 s while the stream is open.
  auto st = call_stream(endpoint_, target::release_events(id), on_data, keep_going,
                        std::chrono::seconds(60));
  if (!st && no_such_endpoint(st.error())) return poll_release(id, on_event, keep_going);
  if (failure) return tl::unexpected(std::move(*failure));
  if (!st) return tl::unexpected(st.error());
  if (!finished || !last) {
    return fail(Errc::unavailable,
                fmt::format("weightsd ended the progress stream of {} before it finished{}", id,
                            last ? fmt::format(" (it was {})", last->state) : std::string()),
                fmt::format("weightsd may be restarting; re-attach with `weightsctl wait {}`", id));
  }
  return std::move(*last);
}

Result<Release> Client::poll_release(std::string_view id, const OnRelease& on_event,
                                     const KeepGoing& keep_going) const {
  for (;;) {
    auto r = release(id);
    if (!r) return r;
    on_event(*r);
    if (r->finished()) return r;
    for (int i = 0; i < 5; ++i) {
      if (!keep_going()) return fail(Errc::unavailable, "stopped");
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace weights::api
