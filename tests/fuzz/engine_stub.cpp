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

using Json = nlohmann::json;
using Strings = std::vector<std::string>;

Result<Json> Engine::add_feed(const std::string&, const std::string&, const std::string&,
                              const Strings&) {
  unreachable();
}
Result<Json> Engine::list_feeds() {
  unreachable();
}
Result<Json> Engine::get_feed(const std::string&) {
  unreachable();
}
Result<Json> Engine::refresh_feed(const std::string&) {
  unreachable();
}
Result<Json> Engine::remove_feed(const std::string&) {
  unreachable();
}
Result<Json> Engine::fetch(const FetchRequest&) {
  unreachable();
}
Result<Json> Engine::seed(const SeedRequest&) {
  unreachable();
}
Result<std::vector<std::string>> Engine::seed_paths(const SeedRequest&) {
  unreachable();
}
Result<std::pair<std::string, std::string>> Engine::fetch_target(const FetchRequest&) {
  unreachable();
}
Result<Json> Engine::list_releases() {
  unreachable();
}
Result<Json> Engine::get_release(const std::string&) {
  unreachable();
}
Result<Json> Engine::set_pinned(const std::string&, bool) {
  unreachable();
}
Result<Json> Engine::remove_release(const std::string&, DeleteFiles) {
  unreachable();
}
Result<Json> Engine::verify(const std::string&) {
  unreachable();
}
Result<Json> Engine::add_peers(const std::string&, const Strings&) {
  unreachable();
}
Result<Json> Engine::export_release(const std::string&, const std::filesystem::path&) {
  unreachable();
}
Result<Json> Engine::add_follow(const FollowSpec&) {
  unreachable();
}
Result<Json> Engine::list_follows() {
  unreachable();
}
Result<Json> Engine::remove_follow(std::int64_t) {
  unreachable();
}
Result<Json> Engine::scrub(const std::optional<std::string>&) {
  unreachable();
}
Json Engine::status_fields() {
  unreachable();
}

}  // namespace weights::daemon
