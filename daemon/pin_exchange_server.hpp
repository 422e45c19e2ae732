#pragma once
// The socket side of the pin exchange (docs/pinned-releases.md §4b): a small HTTP/1.1 server on
// its own thread and io_context, so reading a commit's git object bundle from disk never holds
// up the engine's event loop. It only frames bytes: each request's method and target go to
// `handle` (on the server's thread), whose answer is written back. One request per connection;
// at most `max_connections` at once and `max_per_address` from one address (more are answered
// 503), a request head of at most 8 KiB and no body, `read_timeout` to send it, `write_timeout`
// to take the answer (docs/pinned-releases.md §4b "Server limits").
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/util/error.hpp"

namespace weights::daemon {

struct PinHttpAnswer {
  int status = 404;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

struct PinServerLimits {
  int max_connections = 8;
  int max_per_address = 2;
  std::chrono::seconds read_timeout{10};
  std::chrono::seconds write_timeout{300};
};

class PinExchangeServer {
 public:
  using Handler =
      std::function<PinHttpAnswer(const std::string& method, const std::string& target)>;

  // Listens on `endpoint` ("ADDR:PORT", port 0 = ephemeral). Errors: unavailable (cannot bind).
  static Result<std::unique_ptr<PinExchangeServer>> start(const std::string& endpoint,
                                                          Handler handle,
                                                          PinServerLimits limits = {});
  ~PinExchangeServer();  // stops and joins the thread
  PinExchangeServer(const PinExchangeServer&) = delete;
  PinExchangeServer& operator=(const PinExchangeServer&) = delete;

  int port() const { return port_; }
  std::string local_endpoint() const { return local_; }

  struct Impl;
  struct Context;

 private:
  PinExchangeServer() = default;
  // The io_context lives outside Impl: its pending handlers hold the Impl, and only destroying
  // the context (after the thread is joined) destroys them and so releases it.
  std::unique_ptr<Context> ctx_;
  std::shared_ptr<Impl> impl_;
  int port_ = 0;
  std::string local_;
};

// The pin exchange's listen endpoint for `configured` ([network] pin_exchange): "off" -> empty;
// "auto" -> the first listen interface's address with port 0, or empty while the DHT is off
// (nothing would find it); "ADDR:PORT" as given.
std::string pin_exchange_endpoint(const std::string& configured,
                                  const std::vector<std::string>& listen_interfaces, bool dht);

}  // namespace weights::daemon
