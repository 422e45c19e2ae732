#include "core/toml/toml_read.hpp"

#include <fmt/format.h>

namespace weights::toml_read {

Result<toml::table> parse(std::string_view text, std::string_view source_name) {
  try {
    return toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return fail(Errc::parse_error,
                fmt::format("{}:{}: {}", source_name, e.source().begin.line, e.description()));
  }
}

std::string_view type_name(const toml::node& n) {
  switch (n.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

}  // namespace weights::toml_read
