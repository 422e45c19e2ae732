// Engine members that daemon/handler.cpp references, for fuzz_api_request: the handler runs
// without an engine (every engine route answers 503 once its request decoded), so none of these
// is ever called; linking the real engine would drag libtorrent and SQLite into the fuzz build.
// Keep the signatures in step with daemon/engine.hpp (a mismatch is a link error).
#include <cstdlib>

#include "daemon/engine.hpp"

namespace weights::daemon {
namespace {
[[noreturn]] void unreachable() {
  std::abort();
}
}  // namespace

using Strings = std::vector<std::string>;

Result<api::Feed> Engine::add_feed(const std::string&, const std::string&, const std::string&,
                                   const Strings&) {
  unreachable();
}
Result<api::FeedList> Engine::list_feeds() {
  unreachable();
}
Result<api::Feed> Engine::get_feed(const std::string&) {
  unreachable();
}
Result<api::Feed> Engine::refresh_feed(const std::string&) {
  unreachable();
}
Result<api::Removed> Engine::remove_feed(const std::string&) {
  unreachable();
}
Result<api::Release> Engine::fetch(const FetchRequest&) {
  unreachable();
}
Result<api::Release> Engine::seed(const SeedRequest&) {
  unreachable();
}
Result<std::vector<std::string>> Engine::seed_paths(const SeedRequest&) {
  unreachable();
}
Result<std::pair<std::string, std::string>> Engine::fetch_target(const FetchRequest&) {
  unreachable();
}
Result<api::ReleaseList> Engine::list_releases() {
  unreachable();
}
Result<api::Release> Engine::get_release(const std::string&) {
  unreachable();
}
Result<api::Release> Engine::set_pinned(const std::string&, bool) {
  unreachable();
}
Result<api::Removed> Engine::remove_release(const std::string&, DeleteFiles) {
  unreachable();
}
Result<api::Release> Engine::verify(const std::string&) {
  unreachable();
}
Result<api::Release> Engine::add_peers(const std::string&, const Strings&) {
  unreachable();
}
Result<api::ExportResult> Engine::export_release(const std::string&, const std::filesystem::path&) {
  unreachable();
}
Result<api::Follow> Engine::add_follow(const FollowSpec&) {
  unreachable();
}
Result<api::FollowList> Engine::list_follows() {
  unreachable();
}
Result<api::FollowRemoved> Engine::remove_follow(std::int64_t) {
  unreachable();
}
Result<api::ScrubResult> Engine::scrub(const std::optional<std::string>&) {
  unreachable();
}
api::EngineStatus Engine::status_fields() {
  unreachable();
}

}  // namespace weights::daemon
