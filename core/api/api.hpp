#pragma once
// The control API's single source of truth, shared by weightsd (server) and weightsctl (client):
// protocol version, paths, field names, limits, plain-data request/response types and the error
// body format. docs/protocol.md documents everything here; change both together.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/util/error.hpp"

namespace weights::api {

// Bumped only for incompatible changes; additive changes (new endpoints, new response fields)
// keep it. The path prefix carries the same number.
inline constexpr int protocol_version = 1;
inline constexpr std::string_view prefix = "/v1";

namespace path {
inline constexpr std::string_view version = "/v1/version";
inline constexpr std::string_view status = "/v1/status";
// PUT {"log_level":"debug"}: runtime log level until the next reload or restart.
inline constexpr std::string_view log_level = "/v1/log_level";
// Feeds (weightsctl feed ...). {name} is the feed name.
inline constexpr std::string_view feeds = "/v1/feeds";
inline constexpr std::string_view feed = "/v1/feeds/{name}";
inline constexpr std::string_view feed_refresh = "/v1/feeds/{name}/refresh";
// Releases. {id} is "org/name@revision", percent-encoded as one segment (release_target()).
inline constexpr std::string_view fetch = "/v1/fetch";
inline constexpr std::string_view seed = "/v1/seed";
inline constexpr std::string_view releases = "/v1/releases";
inline constexpr std::string_view release = "/v1/releases/{id}";
inline constexpr std::string_view release_pin = "/v1/releases/{id}/pin";
inline constexpr std::string_view release_unpin = "/v1/releases/{id}/unpin";
inline constexpr std::string_view release_verify = "/v1/releases/{id}/verify";
inline constexpr std::string_view release_peers = "/v1/releases/{id}/peers";
// GET: text/event-stream of the release's progress until it is complete or failed.
inline constexpr std::string_view release_events = "/v1/releases/{id}/events";
// Seed-node policy: follows (weightsctl follow/unfollow/follows) and scrubs.
inline constexpr std::string_view follows = "/v1/follows";
inline constexpr std::string_view follow = "/v1/follows/{id}";
inline constexpr std::string_view scrub = "/v1/scrub";
// POST {"dir": "/abs"}: write the release, its torrents and the feed metadata that verifies them
// into dir (an offline-importable feed directory; weightsctl export/import).
inline constexpr std::string_view release_export = "/v1/releases/{id}/export";
}  // namespace path

// Percent-encodes everything but unreserved characters (RFC 3986), so "org/name@rev" becomes
// one path segment: "org%2Fname%40rev".
inline std::string encode_path_segment(std::string_view text) {
  static constexpr char digits[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += ch;
    } else {
      out += '%';
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

// "/v1/releases/org%2Fname%40rev" + suffix ("", "/pin", "/verify", ...).
inline std::string release_target(std::string_view id, std::string_view suffix = {}) {
  return "/v1/releases/" + encode_path_segment(id) + std::string(suffix);
}

namespace field {
inline constexpr const char* version = "version";
inline constexpr const char* protocol_version = "protocol_version";
inline constexpr const char* uptime_s = "uptime_s";
inline constexpr const char* state_dir = "state_dir";
inline constexpr const char* control_socket = "control_socket";
inline constexpr const char* mode = "mode";
inline constexpr const char* pid = "pid";
inline constexpr const char* log_level = "log_level";
inline constexpr const char* previous = "previous";
inline constexpr const char* error = "error";
inline constexpr const char* code = "code";
inline constexpr const char* message = "message";
inline constexpr const char* hint = "hint";
}  // namespace field

namespace content_type {
inline constexpr std::string_view json = "application/json";
inline constexpr std::string_view event_stream = "text/event-stream";
}  // namespace content_type

// Transport limits enforced by the server (documented in docs/protocol.md).
inline constexpr std::size_t max_body_bytes = 1024 * 1024;
inline constexpr std::size_t max_header_bytes = 16 * 1024;
inline constexpr std::chrono::seconds read_timeout{30};
inline constexpr std::size_t max_connections = 64;
// Connections one non-root uid may hold at once (of max_connections); `[limits]
// control_connections_per_user` in weightsd.toml.
inline constexpr std::size_t max_connections_per_uid = 16;

namespace method {
inline constexpr std::string_view get = "GET";
inline constexpr std::string_view post = "POST";
inline constexpr std::string_view put = "PUT";
inline constexpr std::string_view del = "DELETE";
}  // namespace method

using Headers = std::vector<std::pair<std::string, std::string>>;

// One HTTP request as the handler sees it: the transport has already enforced the limits above.
struct Request {
  std::string method;  // "GET", "POST", ... (case-sensitive, as sent)
  std::string target;  // path + optional "?query", e.g. "/v1/releases?feed=demo"
  Headers headers;     // subset the handler may need (content-type, accept), lower-case names
  std::string body;

  std::string_view path() const;   // target without the query
  std::string_view query() const;  // after '?', empty if none
  // First header with this (lower-case) name, or empty.
  std::string_view header(std::string_view name) const;
};

// A response body produced over time (text/event-stream). The server sends the status and
// headers, then calls next() on the io_context thread every `interval` and sends what it
// returns as one chunk (nothing when empty) until a step is `done`; then it ends the response
// and closes the connection. A client that goes away, or a server shutdown, stops the calls.
struct EventSource {
  struct Step {
    std::string data;
    bool done = false;
  };
  std::function<Step()> next;
  std::chrono::milliseconds interval{250};
};

struct Response {
  int status = 200;
  std::string content_type = std::string(content_type::json);
  std::string body;
  Headers headers;                      // extra headers, e.g. {"allow", "GET, POST"}
  std::shared_ptr<EventSource> stream;  // set: `body` is sent first, then the stream's steps
};

// 200-style JSON response with a compact body and trailing newline. Strings that are not valid
// UTF-8 are written with U+FFFD in place of the bad bytes (never an exception).
Response json_response(int status, const nlohmann::json& body);

// A failed trust check: a signature, a threshold, an expiry, a rollback, a version, hash or
// length other than the pinned one, content where it does not belong. The one list: HTTP 422
// (http_status_for) and weightsctl's exit code 75 (cli::exit_code_for) both follow it, so a new
// code decided here is decided for both.
bool is_verification_error(Errc code) noexcept;

// HTTP status for an error code: invalid_argument/parse_error 400, not_found 404,
// already_exists 409, too_large 413, schema and verification errors 422, unsupported 501,
// unavailable 503, I/O/database/internal 500, permission_denied and license_not_accepted 403.
int http_status_for(Errc code) noexcept;

// {"error":{"code":"...","message":"...","hint":"..."}} (hint omitted when empty).
nlohmann::json error_body(const Error& err);
Response error_response(const Error& err);
Response error_response(int status, const Error& err);

// Inverse of code_name; nullopt for names this build does not know (a newer daemon).
std::optional<Errc> errc_from_name(std::string_view name) noexcept;

// Turns a non-2xx response into an Error: uses the body's error object when it has one,
// otherwise describes the status. Unknown codes map to Errc::internal, message kept.
Error error_from_response(const Response& res);

// Parses a JSON request body strictly (duplicate keys, depth, size): errors are parse_error with
// a message that starts with "request body: ".
Result<nlohmann::json> parse_json_body(const Request& req);

enum class PlusIsSpace { no, yes };
// Decodes %XX escapes (and '+' as space in query strings); malformed escapes are invalid_argument.
Result<std::string> percent_decode(std::string_view text, PlusIsSpace plus = PlusIsSpace::no);

// Splits a query string "a=1&b=x%20y" into decoded pairs, in order. Malformed percent escapes are
// an invalid_argument error.
Result<std::vector<std::pair<std::string, std::string>>> parse_query(std::string_view query);

// --- Where the socket lives -------------------------------------------------------------------

enum class Mode { system, user };
std::string_view mode_name(Mode mode) noexcept;

// Environment lookup, injectable for tests. process_env reads the real environment.
using GetEnv = std::function<std::optional<std::string>(const char* name)>;
std::optional<std::string> process_env(const char* name);

inline constexpr std::string_view socket_env = "WEIGHTSD_SOCKET";
inline constexpr std::string_view system_socket_path = "/run/weightsd/control.sock";

// User mode: $XDG_RUNTIME_DIR/weightsd/control.sock; without XDG_RUNTIME_DIR it falls back to
// $XDG_STATE_HOME/weightsd/control.sock (i.e. ~/.local/state/weightsd/control.sock).
std::filesystem::path default_socket_path(Mode mode, const GetEnv& env = process_env);
// $XDG_STATE_HOME or $HOME/.local/state; $XDG_CONFIG_HOME or $HOME/.config.
std::filesystem::path xdg_state_home(const GetEnv& env = process_env);
std::filesystem::path xdg_config_home(const GetEnv& env = process_env);

// Largest path accepted for a Unix socket (sun_path minus the terminating NUL).
std::size_t max_socket_path_length() noexcept;

}  // namespace weights::api
