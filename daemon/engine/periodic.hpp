#pragma once
// A repeating timer on the io thread: `tick` runs one `interval` after start(), then one
// interval after the end of each tick, until stop() or until `stopped()` (asked when the timer
// fires) says so. The engine's status updates, periodic resume saves and policy checks are one
// each.
#include <chrono>
#include <functional>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace weights::daemon {

class Periodic {
 public:
  Periodic(boost::asio::io_context& io, std::chrono::steady_clock::duration interval,
           std::function<bool()> stopped, std::function<void()> tick)
      : timer_(io), interval_(interval), stopped_(std::move(stopped)), tick_(std::move(tick)) {}
  Periodic(const Periodic&) = delete;
  Periodic& operator=(const Periodic&) = delete;

  void start() {
    timer_.expires_after(interval_);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopped_()) return;
      tick_();
      start();
    });
  }
  // No further tick (the pending wait is cancelled).
  void stop() { timer_.cancel(); }

 private:
  boost::asio::steady_timer timer_;
  std::chrono::steady_clock::duration interval_;
  std::function<bool()> stopped_;
  std::function<void()> tick_;
};

}  // namespace weights::daemon
