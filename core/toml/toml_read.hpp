#pragma once
// What strict TOML readers (the daemon's config, the model catalog) share: parsing with an error
// that names the file and line, and how a value's type is named in their schema errors
// ("expected a string, found an integer").
#include <string_view>

#include <toml++/toml.h>

#include "core/util/error.hpp"

namespace weights::toml_read {

// The document `text` read from `source_name`. Errors: parse_error "<source>:<line>: <what>".
Result<toml::table> parse(std::string_view text, std::string_view source_name);

// "a string", "an integer", "a float", "a boolean", "an array", "a table", "a date or time".
std::string_view type_name(const toml::node& n);

}  // namespace weights::toml_read
