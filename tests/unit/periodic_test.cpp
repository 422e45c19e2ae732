// The engine's repeating timer on a real io_context, with short intervals.
#include "daemon/engine/periodic.hpp"

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>

using weights::daemon::Periodic;
using namespace std::chrono_literals;

TEST_CASE("ticks repeat until the stop condition holds when the timer fires", "[periodic]") {
  boost::asio::io_context io;
  int ticks = 0;
  Periodic p(
      io, 1ms, [&] { return ticks >= 3; }, [&] { ++ticks; });
  p.start();
  io.run();  // returns once no wait is pending: the fourth firing saw the condition
  CHECK(ticks == 3);
}

TEST_CASE("the first tick waits an interval; stop() cancels the pending one", "[periodic]") {
  boost::asio::io_context io;
  int ticks = 0;
  Periodic p(
      io, 1h, [] { return false; }, [&] { ++ticks; });
  p.start();
  io.poll();
  CHECK(ticks == 0);
  p.stop();
  io.run();  // the cancelled wait completes at once, without a tick
  CHECK(ticks == 0);
}
