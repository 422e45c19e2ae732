// Fuzzes the daemon's TOML configuration (apply_toml onto the defaults, as load_config does with
// weightsd.toml) and the size/duration/endpoint parsers (core/units) its values go through. Checks
// that an accepted config renders (render_toml, --check-config) to a document apply_toml accepts
// with the same result, and that describe_changes (SIGHUP reload) copes with it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "tests/fuzz/fuzz_check.hpp"

#include "core/util/units.hpp"
#include "daemon/config.hpp"

using weights::fuzz::check;

namespace {

using namespace weights;
using namespace weights::daemon;

std::optional<std::string> no_env(const char* /*name*/) {
  return std::nullopt;
}

const Config& defaults() {
  static const Config c = default_config(Mode::system, &no_env);
  return c;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text = weights::fuzz::text_of(data, size);
  if (size <= 64) {
    if (auto n = units::parse_size(text)) check(units::parse_size(std::to_string(*n)) == *n);
    (void)units::parse_duration(text);
    for (auto zero : {units::PortZero::allowed, units::PortZero::refused}) {
      auto ep = units::parse_endpoint(text, zero);
      if (!ep) continue;
      auto back = units::parse_endpoint(units::format_endpoint(*ep), zero);
      check(back && back->address == ep->address && back->port == ep->port);
    }
  }
  auto config = apply_toml(defaults(), text, "weightsd.toml");
  if (!config) return 0;
  const std::string rendered = render_toml(*config);
  auto again = apply_toml(defaults(), rendered, "rendered.toml");
  check(again.has_value());
  check(*again == *config);
  check(render_toml(*again) == rendered);
  (void)describe_changes(defaults(), *config);
  return 0;
}
