#include "core/api/targets.hpp"

#include "core/api/api.hpp"

namespace weights::api::target {

std::string expand(std::string_view pattern, std::string_view value) {
  const auto open = pattern.find('{');
  const auto close = pattern.find('}', open);
  if (open == std::string_view::npos || close == std::string_view::npos) {
    return std::string(pattern);
  }
  return std::string(pattern.substr(0, open)) + encode_path_segment(value) +
         std::string(pattern.substr(close + 1));
}

std::string version() {
  return std::string(path::version);
}
std::string status() {
  return std::string(path::status);
}
std::string log_level() {
  return std::string(path::log_level);
}
std::string feeds() {
  return std::string(path::feeds);
}
std::string feed(std::string_view name) {
  return expand(path::feed, name);
}
std::string feed_refresh(std::string_view name) {
  return expand(path::feed_refresh, name);
}
std::string fetch() {
  return std::string(path::fetch);
}
std::string seed() {
  return std::string(path::seed);
}
std::string releases() {
  return std::string(path::releases);
}
std::string release(std::string_view id) {
  return expand(path::release, id);
}
std::string release_remove(std::string_view id, DeleteFiles files) {
  return release(id) + (files == DeleteFiles::yes ? "?delete_files=true" : "?delete_files=false");
}
std::string release_pin(std::string_view id) {
  return expand(path::release_pin, id);
}
std::string release_unpin(std::string_view id) {
  return expand(path::release_unpin, id);
}
std::string release_verify(std::string_view id) {
  return expand(path::release_verify, id);
}
std::string release_peers(std::string_view id) {
  return expand(path::release_peers, id);
}
std::string release_export(std::string_view id) {
  return expand(path::release_export, id);
}
std::string release_events(std::string_view id) {
  return expand(path::release_events, id);
}
std::string follows() {
  return std::string(path::follows);
}
std::string follow(std::int64_t id) {
  return expand(path::follow, std::to_string(id));
}
std::string scrub() {
  return std::string(path::scrub);
}

}  // namespace weights::api::target
