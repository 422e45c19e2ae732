#pragma once
// What strict TOML readers (the daemon's config, the model catalog) share: how a value's type
// is named in their schema errors ("expected a string, found an integer").
#include <string_view>

#include <toml++/toml.h>

namespace weights::toml_read {

// "a string", "an integer", "a float", "a boolean", "an array", "a table", "a date or time".
std::string_view type_name(const toml::node& n);

}  // namespace weights::toml_read
