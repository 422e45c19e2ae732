#pragma once
// HTTP/1.1 control server on a Unix socket (Boost.Beast). It only frames bytes: every complete
// request under /v1 goes to the RequestHandler on the io_context thread, and the returned
// api::Response is written back. Everything else (not HTTP/1.1, not /v1, over the limits) is
// answered with a JSON error here and never reaches the handler. Beast stays inside the .cpp.
#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>

#include "core/api/api.hpp"
#include "core/api/caller_access.hpp"
#include "core/util/error.hpp"

namespace boost::asio {
class io_context;
}  // namespace boost::asio

namespace weights::daemon {

struct ServerLimits {
  std::size_t max_body_bytes = api::max_body_bytes;            // larger -> 413, connection closed
  std::size_t max_header_bytes = api::max_header_bytes;        // larger -> 431, connection closed
  std::chrono::milliseconds read_timeout = api::read_timeout;  // per request, and idle keep-alive
  std::size_t max_connections = api::max_connections;          // more -> 503 and close
  // Per peer uid (SO_PEERCRED), root exempt: one user's idle connections cannot take every slot.
  std::size_t max_connections_per_uid = api::max_connections_per_uid;  // more -> 503 and close
};

// Gets the peer's credentials with every request: the handler checks paths against them.
using RequestHandler = std::function<api::Response(const api::Request&, const Caller&)>;

class ControlServer {
 public:
  // Creates the socket (parent directory 0750 if missing, socket mode 0660) and starts
  // accepting on `ioc`. An existing socket file is removed only when nothing answers on it; if
  // another process listens there, fails with already_exists. A non-socket file is never removed.
  static Result<std::unique_ptr<ControlServer>> start(boost::asio::io_context& ioc,
                                                      const std::filesystem::path& socket_path,
                                                      RequestHandler handler,
                                                      ServerLimits limits = {});
  ~ControlServer();
  ControlServer(const ControlServer&) = delete;
  ControlServer& operator=(const ControlServer&) = delete;

  // Stops accepting, removes the socket file (if it is still ours), closes idle connections and
  // lets responses being written finish, then closes those too. Call on the io_context thread;
  // idempotent.
  void stop();

  const std::filesystem::path& socket_path() const;
  std::size_t active_connections() const;

  struct Impl;

 private:
  explicit ControlServer(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace weights::daemon
