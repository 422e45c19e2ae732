#pragma once
// Control API request handling as plain functions over api::Request/api::Response: no sockets,
// so every route is testable in-process. The control server calls Handler::handle on the
// io_context thread.
//
// Adding an endpoint: put its path (and new field names) in core/api/api.hpp, write a member
// function `Result<api::Response> Handler::x(const Call&)` and register it in the constructor:
//   router_.add(api::method::post, "/v1/feeds/{name}/refresh", BodyKind::json,
//               [this](const Call& c) { return refresh_feed(c); });
// Path parameters arrive percent-decoded in Call::params; a JSON body arrives parsed (strictly) in
// Call::body; returning an Error produces the standard error body with its HTTP status.
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/api/api.hpp"
#include "core/api/caller_access.hpp"
#include "core/api/types.hpp"
#include "core/util/error.hpp"

namespace weights::daemon {

// optional_json: an empty body is accepted (Call::body is null), anything else must be JSON.
enum class BodyKind { none, json, optional_json };

class Engine;
struct FetchRequest;

struct RouteParams {
  std::vector<std::pair<std::string, std::string>> values;
  // Value of "{name}" in the matched pattern, or empty.
  std::string_view get(std::string_view name) const;
};

// What a route function receives.
struct Call {
  const api::Request& request;
  const RouteParams& params;
  const nlohmann::json& body;  // parsed body for BodyKind::json, null otherwise
  const Caller& caller;        // who sent it (SO_PEERCRED), for path checks
};

using RouteFn = std::function<Result<api::Response>(const Call&)>;

// Matches method + path against registered patterns ("/v1/feeds/{name}"). A path segment with a
// malformed %-escape or that decodes to invalid UTF-8 or a control character -> 400, unknown
// path -> 404, known path with another method -> 405 with an Allow header, body too large ->
// 413, body on a route that takes none -> 400, malformed JSON -> 400 naming the problem,
// exceptions -> 500.
class Router {
 public:
  void add(std::string_view method, std::string_view pattern, BodyKind body, RouteFn fn);
  api::Response dispatch(const api::Request& req, const Caller& caller) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" marks a parameter
    BodyKind body;
    RouteFn fn;
  };
  std::vector<Route> routes_;
};

// Facts about the running daemon reported by /v1/status.
struct DaemonInfo {
  std::string version;
  long pid = 0;
  api::Mode mode = api::Mode::system;
  std::filesystem::path state_dir;
  std::filesystem::path control_socket;
  std::chrono::steady_clock::time_point started{};
  uid_t euid = 0;  // the daemon's effective uid: callers with it are not path-checked
};

using SteadyNow = std::function<std::chrono::steady_clock::time_point()>;

// The steps of GET /v1/releases/{id}/events over `snapshot` (the engine's get_release): an
// `event: release` with the release on one line when it changed or `keep_alive` passed since the
// last one, done once it is complete or failed; an `event: error` with the error body, done,
// when the release is gone.
std::function<api::EventSource::Step()> release_event_source(
    std::function<Result<api::Release>()> snapshot, SteadyNow now,
    std::chrono::milliseconds keep_alive = std::chrono::seconds(15));

class Handler {
 public:
  // Without an engine (tests of the transport, the fuzz target), feed and release routes answer
  // 503 once their request is decoded: a malformed request is still refused as such.
  explicit Handler(DaemonInfo info, SteadyNow now = &std::chrono::steady_clock::now,
                   Engine* engine_ptr = nullptr);
  // Routes capture `this`.
  Handler(const Handler&) = delete;
  Handler& operator=(const Handler&) = delete;

  // `caller` is checked against every path the request names (docs/threat-model.md).
  api::Response handle(const api::Request& req, const Caller& caller) const {
    return router_.dispatch(req, caller);
  }

 private:
  Result<api::Response> version(const Call& call) const;
  Result<api::Response> status(const Call& call) const;
  Result<api::Response> set_log_level(const Call& call) const;

  // Feed and release routes (docs/protocol.md); each forwards to the engine.
  Result<Engine*> engine() const;
  Result<api::Response> add_feed(const Call& call) const;
  Result<api::Response> fetch(const Call& call) const;
  Result<api::Response> seed(const Call& call) const;
  Result<api::Response> remove_release(const Call& call) const;
  Result<api::Response> add_peers(const Call& call) const;
  Result<api::Response> release_events(const Call& call) const;
  Result<api::Response> add_follow(const Call& call) const;
  Result<api::Response> remove_follow(const Call& call) const;
  Result<api::Response> scrub(const Call& call) const;
  Result<api::Response> export_release(const Call& call) const;

  // The caller may have the daemon do `access` on `path`; returns the path to act on.
  Result<std::filesystem::path> allowed(const Caller& caller, const std::filesystem::path& path,
                                        Access access) const;
  Status check_hf_cache(const Call& call, Engine& e, const std::filesystem::path& cache,
                        const FetchRequest& req) const;

  DaemonInfo info_;
  AccessPolicy access_;
  SteadyNow now_;
  Engine* engine_;
  Router router_;
};

}  // namespace weights::daemon
