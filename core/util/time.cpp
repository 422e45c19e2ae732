#include "core/util/time.hpp"

#include <fmt/format.h>

#include "core/util/encoding.hpp"

namespace weights {
namespace {

// Reads exactly `n` ASCII digits at `pos`; -1 if any is not a digit (no signs, no spaces).
int digits(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

}  // namespace

Result<TimePoint> parse_utc(std::string_view text) {
  using namespace std::chrono;
  auto bad = [&](std::string_view why) {
    return fail(Errc::parse_error,
                fmt::format("invalid UTC time \"{}\": {}", printable_excerpt(text), why));
  };
  // "YYYY-MM-DDTHH:MM:SSZ": fixed width, so the layout check is positional.
  constexpr std::string_view layout = "dddd-dd-ddTdd:dd:ddZ";
  if (text.size() != layout.size()) return bad("expected YYYY-MM-DDTHH:MM:SSZ");
  for (std::size_t i = 0; i < layout.size(); ++i) {
    if (layout[i] == 'd' ? (text[i] < '0' || text[i] > '9') : text[i] != layout[i]) {
      return bad("expected YYYY-MM-DDTHH:MM:SSZ");
    }
  }
  const int y = digits(text, 0, 4), mo = digits(text, 5, 2), d = digits(text, 8, 2);
  const int h = digits(text, 11, 2), mi = digits(text, 14, 2), s = digits(text, 17, 2);
  const year_month_day date{year{y}, month{static_cast<unsigned>(mo)},
                            day{static_cast<unsigned>(d)}};
  if (!date.ok()) return bad("no such date");
  // 60 is refused: leap seconds have no sys_seconds value and would give two spellings.
  if (h > 23 || mi > 59 || s > 59) return bad("time of day out of range");
  return TimePoint{sys_days{date}.time_since_epoch() + hours{h} + minutes{mi} + seconds{s}};
}

std::string format_utc(TimePoint t) {
  using namespace std::chrono;
  const sys_days day_point = floor<days>(t);
  const year_month_day date{day_point};
  const hh_mm_ss<seconds> tod{t - day_point};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     tod.hours().count(), tod.minutes().count(), tod.seconds().count());
}

TimePoint now_utc() {
  return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now());
}

}  // namespace weights
