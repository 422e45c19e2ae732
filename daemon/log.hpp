#pragma once
// Minimal leveled logger for weightsd: one line per message on stderr. Under systemd
// (JOURNAL_STREAM names our stderr) lines carry a "<N>" syslog priority prefix so journald
// records the level; otherwise they carry a timestamp and the level name. Never log secrets.
#include <optional>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace weights::daemon {

enum class LogLevel { error, warning, info, debug };

std::string_view log_level_name(LogLevel level) noexcept;
std::optional<LogLevel> parse_log_level(std::string_view name) noexcept;

namespace log {

void set_level(LogLevel level) noexcept;
LogLevel level() noexcept;
bool enabled(LogLevel level) noexcept;
// Writes one already-formatted line. Every message goes through escape() first, so no call site
// can let an untrusted string (a feed name, a path, a peer's message) forge a log line or send
// terminal controls: one event is always one line.
void write(LogLevel level, std::string_view message);

// The message as written: C0 controls, DEL and C1 controls (U+0080..U+009F) become "\n", "\r",
// "\t" or "\xNN"/"\u00NN"; bytes that are not valid UTF-8 become "\xNN"; everything else,
// backslashes included, is kept as is.
std::string escape(std::string_view message);

template <class... Args>
void error(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::error)) write(LogLevel::error, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void warning(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::warning)) {
    write(LogLevel::warning, fmt::format(f, std::forward<Args>(args)...));
  }
}
template <class... Args>
void info(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::info)) write(LogLevel::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void debug(fmt::format_string<Args...> f, Args&&... args) {
  if (enabled(LogLevel::debug)) write(LogLevel::debug, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace log
}  // namespace weights::daemon
