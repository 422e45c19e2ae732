#include "daemon/notify.hpp"

#include <algorithm>
#include <cstdint>
#include <ctime>
#include <string>

#include <fmt/format.h>
#include <systemd/sd-daemon.h>

namespace weights::daemon {
namespace {

std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) out.push_back(c == '\n' || c == '\r' ? ' ' : c);
  return out;
}

void send(const std::string& message) {
  // Failures (no manager, socket gone) are deliberately ignored: notification is advisory and
  // the daemon must keep serving without a service manager.
  ::sd_notify(0, message.c_str());
}

}  // namespace

Notifier::Notifier() {
  std::uint64_t usec = 0;
  if (::sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    // At least 1 ms: a pathological WATCHDOG_USEC must not turn the timer into a busy loop.
    watchdog_period_ = std::chrono::microseconds(
        std::max<std::int64_t>(static_cast<std::int64_t>(usec / 2), 1000));
  }
}

void Notifier::ready(std::string_view status) const {
  send(fmt::format("READY=1\nSTATUS={}", one_line(status)));
}

void Notifier::status(std::string_view status) const {
  send(fmt::format("STATUS={}", one_line(status)));
}

void Notifier::reloading() const {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  const auto usec = static_cast<std::uint64_t>(ts.tv_sec) * 1000000U +
                    static_cast<std::uint64_t>(ts.tv_nsec) / 1000U;
  send(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading configuration", usec));
}

void Notifier::stopping() const {
  send("STOPPING=1\nSTATUS=stopping: saving resume data");
}

void Notifier::watchdog() const {
  if (watchdog_period_) send("WATCHDOG=1");
}

}  // namespace weights::daemon
