#pragma once
// The one place that turns the route patterns of core/api/api.hpp into request targets: every
// {name}/{id} is percent-encoded as one path segment (api::encode_path_segment).
#include <cstdint>
#include <string>
#include <string_view>

namespace weights::api::target {

enum class DeleteFiles { no, yes };

std::string version();
std::string status();
std::string log_level();
std::string feeds();
std::string feed(std::string_view name);
std::string feed_refresh(std::string_view name);
std::string fetch();
std::string seed();
std::string releases();
std::string release(std::string_view id);
std::string release_remove(std::string_view id, DeleteFiles files);
std::string release_pin(std::string_view id);
std::string release_unpin(std::string_view id);
std::string release_verify(std::string_view id);
std::string release_peers(std::string_view id);
std::string release_export(std::string_view id);
std::string release_events(std::string_view id);
std::string follows();
std::string follow(std::int64_t id);
std::string scrub();

// Substitutes the one "{param}" of `pattern` with the encoded `value` (exposed for tests).
std::string expand(std::string_view pattern, std::string_view value);

}  // namespace weights::api::target
