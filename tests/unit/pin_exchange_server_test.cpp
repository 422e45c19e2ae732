#include "daemon/pin_exchange_server.hpp"

#include <atomic>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

using namespace weights::daemon;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// One raw request; the whole answer (the server closes the connection).
std::string ask(int port, const std::string& request) {
  asio::io_context io;
  tcp::socket s(io);
  s.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  asio::write(s, asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  char buf[4096];
  for (;;) {
    const auto n = s.read_some(asio::buffer(buf), ec);
    out.append(buf, n);
    if (ec) break;
  }
  return out;
}

}  // namespace

TEST_CASE("the pin exchange server frames the handler's answer", "[pin_exchange_server]") {
  std::atomic<int> calls{0};
  auto server = PinExchangeServer::start(
      "127.0.0.1:0", [&](const std::string& method, const std::string& target) {
        ++calls;
        if (target == "/weightsd-pin/1/x") return PinHttpAnswer{200, "application/json", "{}"};
        return PinHttpAnswer{404, "text/plain", method + " " + target};
      });
  REQUIRE(server);
  const int port = (*server)->port();
  CHECK(port > 0);
  auto ok = ask(port, "GET /weightsd-pin/1/x HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK_THAT(ok, Catch::StartsWith("HTTP/1.1 200"));
  CHECK_THAT(ok, Catch::Contains("Content-Type: application/json"));
  CHECK_THAT(ok, Catch::EndsWith("\r\n\r\n{}"));
  auto missing = ask(port, "GET /other HTTP/1.1\r\nHost: a\r\n\r\n");
  CHECK_THAT(missing, Catch::StartsWith("HTTP/1.1 404"));
  CHECK_THAT(missing, Catch::EndsWith("GET /other"));
  CHECK(calls == 2);
}

TEST_CASE("a request head over 8 KiB or with a body gets no answer from the handler",
          "[pin_exchange_server]") {
  std::atomic<int> calls{0};
  auto server =
      PinExchangeServer::start("127.0.0.1:0", [&](const std::string&, const std::string&) {
        ++calls;
        return PinHttpAnswer{200, "text/plain", "x"};
      });
  REQUIRE(server);
  const int port = (*server)->port();
  CHECK(ask(port, "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n").empty());
  CHECK(ask(port, "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello").empty());
  CHECK(calls == 0);
}

TEST_CASE("a port that is taken is an error naming the endpoint", "[pin_exchange_server]") {
  auto first = PinExchangeServer::start(
      "127.0.0.1:0", [](const std::string&, const std::string&) { return PinHttpAnswer{}; });
  REQUIRE(first);
  const auto taken = (*first)->local_endpoint();
  auto second = PinExchangeServer::start(
      taken, [](const std::string&, const std::string&) { return PinHttpAnswer{}; });
  // SO_REUSEADDR does not let two listeners share a port on Linux.
  REQUIRE_FALSE(second);
  CHECK_THAT(second.error().message, Catch::Contains(taken));
}

TEST_CASE("connections over the per-address limit are answered 503", "[pin_exchange_server]") {
  PinServerLimits limits;
  limits.max_per_address = 1;
  auto server = PinExchangeServer::start(
      "127.0.0.1:0",
      [](const std::string&, const std::string&) {
        return PinHttpAnswer{200, "text/plain", "x"};
      },
      limits);
  REQUIRE(server);
  const int port = (*server)->port();
  // One connection held open (no request yet), then a second from the same address.
  asio::io_context io;
  tcp::socket held(io);
  held.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  // The server counts the held connection once it accepted it: retry until it answers 503.
  std::string second;
  for (int i = 0; i < 50 && second.rfind("HTTP/1.1 503", 0) != 0; ++i) {
    second = ask(port, "GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  }
  CHECK_THAT(second, Catch::StartsWith("HTTP/1.1 503"));
  held.close();
}
