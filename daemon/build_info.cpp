#include "daemon/build_info.hpp"

namespace weights::daemon {
std::string_view version() noexcept {
  return WEIGHTS_VERSION;
}
}  // namespace weights::daemon
