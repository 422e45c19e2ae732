#pragma once
// UTC timestamps as used in metadata: exactly "YYYY-MM-DDTHH:MM:SSZ" (RFC 3339, 'Z' only,
// no fractions), so each instant has exactly one accepted spelling.
#include <chrono>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace weights {

using TimePoint = std::chrono::sys_seconds;

Result<TimePoint> parse_utc(std::string_view text);
std::string format_utc(TimePoint t);
TimePoint now_utc();

}  // namespace weights
