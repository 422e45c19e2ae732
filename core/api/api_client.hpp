#pragma once
// Synchronous HTTP/1.1 client for the control API over a Unix socket (weightsctl's transport).
// One request per connection; every step (connect, write, read) shares one deadline.
#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>

#include "core/api/api.hpp"
#include "core/util/error.hpp"

namespace weights::api {

// Where the client connects and why that path was chosen (named in error messages).
struct Endpoint {
  std::filesystem::path path;
  std::string source;  // "--socket", "WEIGHTSD_SOCKET", "user default", "system default"
};

// --socket flag (non-empty) > $WEIGHTSD_SOCKET > the user-mode default if that socket exists >
// the system default.
Endpoint discover_socket(std::string_view socket_flag, const GetEnv& env = process_env);

inline constexpr std::chrono::milliseconds default_call_timeout{30000};
// Largest response body the client accepts.
inline constexpr std::size_t max_response_bytes = 64 * 1024 * 1024;

// Sends one request and returns whatever the daemon answered, including 4xx/5xx responses
// (use error_from_response on those). Fails with Errc::unavailable ("cannot reach weightsd at
// <path>") when nothing listens, the socket is missing or access is denied, and on timeout.
Result<Response> call(const Endpoint& endpoint, std::string_view method, std::string_view target,
                      std::string_view body = {},
                      std::chrono::milliseconds timeout = default_call_timeout);
Result<Response> call(const std::filesystem::path& socket_path, std::string_view method,
                      std::string_view target, std::string_view body = {},
                      std::chrono::milliseconds timeout = default_call_timeout);

// call() + error_from_response for non-2xx + strict JSON parse of the body.
Result<nlohmann::json> call_json(const Endpoint& endpoint, std::string_view method,
                                 std::string_view target, std::string_view body = {},
                                 std::chrono::milliseconds timeout = default_call_timeout);

// GET `target` and hand the body of a 2xx answer to on_data piece by piece as it arrives
// (a streamed text/event-stream response), until the server ends the response (success),
// on_data returns false (success, the connection is dropped), nothing arrives for `idle`, the
// connection breaks, or keep_going() turns false (checked every 100 ms); those three are
// Errc::unavailable. A non-2xx answer is returned as its error (error_from_response).
using OnData = std::function<bool(std::string_view)>;
using KeepGoing = std::function<bool()>;
Status call_stream(const Endpoint& endpoint, std::string_view target, const OnData& on_data,
                   const KeepGoing& keep_going, std::chrono::milliseconds idle);

}  // namespace weights::api
