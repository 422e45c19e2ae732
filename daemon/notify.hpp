#pragma once
// The systemd service-manager notification protocol (sd_notify(3)) for weightsd: READY/STATUS/
// RELOADING/STOPPING lines and the watchdog keep-alive. Without $NOTIFY_SOCKET every call is a
// no-op, so the daemon behaves the same outside systemd.
#include <chrono>
#include <optional>
#include <string_view>

namespace weights::daemon {

class Notifier {
 public:
  // Reads $WATCHDOG_USEC/$WATCHDOG_PID once (sd_watchdog_enabled): the watchdog is on only when
  // systemd asked for it and, if WATCHDOG_PID is set, it names this process.
  Notifier();

  // "READY=1" + STATUS: the control socket listens and the state is loaded.
  void ready(std::string_view status) const;
  // "STATUS=<one line>" (newlines are replaced: the protocol is line based).
  void status(std::string_view status) const;
  // "RELOADING=1" + MONOTONIC_USEC (what Type=notify-reload expects; older systemd ignores it).
  void reloading() const;
  void stopping() const;
  // "WATCHDOG=1"; no-op when the watchdog is off.
  void watchdog() const;

  // How often the event loop must call watchdog(): half the interval systemd enforces, so one
  // late tick does not get the daemon killed. nullopt when the watchdog is off.
  std::optional<std::chrono::microseconds> watchdog_period() const { return watchdog_period_; }

 private:
  std::optional<std::chrono::microseconds> watchdog_period_;
};

}  // namespace weights::daemon
