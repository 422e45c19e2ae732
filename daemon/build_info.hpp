#pragma once
#include <string_view>

namespace weights::daemon {
std::string_view version() noexcept;
}  // namespace weights::daemon
