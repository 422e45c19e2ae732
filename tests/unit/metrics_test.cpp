#include "daemon/metrics.hpp"

#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

using namespace weights;
using namespace weights::daemon;

TEST_CASE("metrics families carry HELP and TYPE once and samples escape label values",
          "[metrics]") {
  MetricsWriter m;
  m.family("weightsd_x_total", "a help\nwith a \\ newline", MetricType::counter);
  m.sample({{"release", "org/a@r\"1\"\\\n"}}, 3);
  m.sample({}, 2.5);
  m.family("weightsd_g", "gauge", MetricType::gauge);
  m.sample({{"a", "1"}, {"b", "2"}}, 0);
  CHECK(m.text() ==
        "# HELP weightsd_x_total a help\\nwith a \\\\ newline\n"
        "# TYPE weightsd_x_total counter\n"
        "weightsd_x_total{release=\"org/a@r\\\"1\\\"\\\\\\n\"} 3\n"
        "weightsd_x_total 2.5\n"
        "# HELP weightsd_g gauge\n# TYPE weightsd_g gauge\n"
        "weightsd_g{a=\"1\",b=\"2\"} 0\n");
}

TEST_CASE("metrics refuse invalid names (a bug, not input)", "[metrics]") {
  MetricsWriter m;
  CHECK_THROWS(m.family("9bad", "x", MetricType::gauge));
  m.family("ok", "x", MetricType::gauge);
  CHECK_THROWS(m.sample({{"bad-label", "v"}}, 1));
}

namespace {

std::string http_get(unsigned short port, const std::string& request) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket s(io);
  s.connect({boost::asio::ip::make_address("127.0.0.1"), port});
  boost::asio::write(s, boost::asio::buffer(request));
  std::string out;
  boost::system::error_code ec;
  boost::asio::read(s, boost::asio::dynamic_buffer(out), ec);  // until the server closes
  return out;
}

}  // namespace

TEST_CASE("the metrics server answers GET /metrics and refuses everything else", "[metrics]") {
  boost::asio::io_context ioc;
  int renders = 0;
  auto server = MetricsServer::start(ioc, "127.0.0.1:0", [&] {
    ++renders;
    return std::string("weightsd_up 1\n");
  });
  REQUIRE(server);
  const auto ep = (*server)->local_endpoint();
  const auto port = static_cast<unsigned short>(std::stoi(ep.substr(ep.rfind(':') + 1)));
  auto guard = boost::asio::make_work_guard(ioc);
  std::thread t([&] { ioc.run(); });

  const auto ok = http_get(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200", 0) == 0);
  CHECK_THAT(ok, Catch::Contains("text/plain; version=0.0.4"));
  CHECK_THAT(ok, Catch::EndsWith("weightsd_up 1\n"));
  CHECK(http_get(port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(http_get(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .rfind("HTTP/1.1 405", 0) == 0);
  // Oversized headers: the connection is dropped without an answer.
  CHECK(http_get(port, "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n")
            .empty());

  boost::asio::post(ioc, [&] {
    (*server)->stop();
    guard.reset();
  });
  t.join();
  CHECK(renders == 1);
}

TEST_CASE("the metrics server reports a taken port as unavailable", "[metrics]") {
  boost::asio::io_context ioc;
  auto first = MetricsServer::start(ioc, "127.0.0.1:0", [] { return std::string(); });
  REQUIRE(first);
  auto second = MetricsServer::start(ioc, (*first)->local_endpoint(), [] { return std::string(); });
  REQUIRE_FALSE(second);
  CHECK(second.error().code == Errc::unavailable);
  CHECK_FALSE(MetricsServer::start(ioc, "localhost:80", [] { return std::string(); }));
}
