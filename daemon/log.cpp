#include "daemon/log.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/encoding.hpp"

namespace weights::daemon {

std::string_view log_level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::error:
      return "error";
    case LogLevel::warning:
      return "warning";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "info";
}

std::optional<LogLevel> parse_log_level(std::string_view name) noexcept {
  for (auto l : {LogLevel::error, LogLevel::warning, LogLevel::info, LogLevel::debug}) {
    if (log_level_name(l) == name) return l;
  }
  return std::nullopt;
}

namespace log {
namespace {

// Atomic because libtorrent and worker threads will log too; writes are single fwrite calls.
std::atomic<LogLevel> g_level{LogLevel::info};

// systemd sets JOURNAL_STREAM=<dev>:<inode> of the stream it connected; only trust it when it
// still names our stderr (a child that inherited the variable may have been redirected).
bool stderr_is_journal() {
  const char* v = std::getenv("JOURNAL_STREAM");
  if (v == nullptr) return false;
  unsigned long long dev = 0;
  unsigned long long ino = 0;
  if (std::sscanf(v, "%llu:%llu", &dev, &ino) != 2) return false;
  struct stat st {};
  if (::fstat(STDERR_FILENO, &st) != 0) return false;
  return static_cast<unsigned long long>(st.st_dev) == dev &&
         static_cast<unsigned long long>(st.st_ino) == ino;
}

int syslog_priority(LogLevel level) {
  switch (level) {
    case LogLevel::error:
      return 3;
    case LogLevel::warning:
      return 4;
    case LogLevel::info:
      return 6;
    case LogLevel::debug:
      return 7;
  }
  return 6;
}

}  // namespace

std::string escape(std::string_view message) {
  std::string out;
  out.reserve(message.size());
  std::size_t i = 0;
  while (i < message.size()) {
    const auto c = static_cast<unsigned char>(message[i]);
    if (c >= 0x20 && c < 0x7F) {
      out.push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      out += "\\n";
      ++i;
    } else if (c == '\r') {
      out += "\\r";
      ++i;
    } else if (c == '\t') {
      out += "\\t";
      ++i;
    } else if (c < 0x80) {  // other C0 controls (ESC, NUL, ...) and DEL
      out += fmt::format("\\x{:02x}", c);
      ++i;
    } else {
      char32_t cp = 0;
      const std::size_t len = utf8_sequence(message.substr(i), cp);
      if (len == 0) {
        out += fmt::format("\\x{:02x}", c);
        ++i;
      } else if (cp <= 0x9F) {  // C1 controls (0x9B is a one-byte CSI on some terminals)
        out += fmt::format("\\u{:04x}", static_cast<unsigned>(cp));
        i += len;
      } else {
        out.append(message.substr(i, len));
        i += len;
      }
    }
  }
  return out;
}

void set_level(LogLevel level) noexcept {
  g_level.store(level);
}
LogLevel level() noexcept {
  return g_level.load();
}
bool enabled(LogLevel l) noexcept {
  return static_cast<int>(l) <= static_cast<int>(g_level.load());
}

void write(LogLevel l, std::string_view message) {
  static const bool journal = stderr_is_journal();
  std::string line;
  if (journal) {
    line = fmt::format("<{}>", syslog_priority(l));
  } else {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    ::gmtime_r(&t, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
    line = fmt::format("{} weightsd[{}] {}: ", stamp, ::getpid(), log_level_name(l));
  }
  line += escape(message);
  line.push_back('\n');
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace log
}  // namespace weights::daemon
