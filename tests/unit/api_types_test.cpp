// The typed wire contract (core/api/types.hpp), the target builder and the name@rev parser.
#include <catch2/catch.hpp>

#include "core/api/events.hpp"
#include "core/api/release_ref.hpp"
#include "core/api/targets.hpp"
#include "core/api/types.hpp"

using namespace weights;
using namespace weights::api;
using Json = nlohmann::json;

namespace {

Json sample_release() {
  api::Release r;
  r.id = "org/name@rev";
  r.feed = "demo";
  r.model = "org/name";
  r.revision = "rev";
  r.state = "downloading";
  r.origin = "fetched";
  r.files.push_back({"config.json", 20, true, "pending", 0});
  return Json(r);
}

}  // namespace

TEST_CASE("a release survives to_json and the strict reader unchanged", "[api]") {
  const Json j = sample_release();
  auto back = from_json<api::Release>(j, UnknownFields::reject, "release");
  REQUIRE(back.has_value());
  CHECK(Json(*back) == j);
  CHECK(j["path"].is_null());
  CHECK(j["error"].is_null());
  CHECK_FALSE(j.contains("hf_cache"));  // absent when empty
}

TEST_CASE("a missing required field is a schema error naming it", "[api]") {
  Json j = sample_release();
  j.erase("state");
  auto r = from_json<api::Release>(j, UnknownFields::ignore, "release");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::schema_error);
  CHECK(r.error().message == "release: missing field 'state'");
}

TEST_CASE("an ill-typed nested field is a schema error with its path", "[api]") {
  Json j = sample_release();
  j["files"][0]["length"] = "twenty";
  auto r = from_json<api::Release>(j, UnknownFields::ignore, "release");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "release.files[0].length: expected an unsigned integer, got string");
  j["files"][0]["length"] = -1;
  r = from_json<api::Release>(j, UnknownFields::ignore, "release");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message == "release.files[0].length: expected an unsigned integer, got integer");
}

TEST_CASE("unknown fields are refused or ignored as asked", "[api]") {
  Json j = sample_release();
  j["added_later"] = 1;
  auto strict = from_json<api::Release>(j, UnknownFields::reject, "release");
  REQUIRE_FALSE(strict.has_value());
  CHECK(strict.error().message == "release: unknown field 'added_later'");
  CHECK(from_json<api::Release>(j, UnknownFields::ignore, "release").has_value());
}

TEST_CASE("a non-object body is a schema error, not an exception", "[api]") {
  for (const auto& j : {Json(nullptr), Json(3), Json::array(), Json("x")}) {
    auto r = from_json<FetchRequest>(j, UnknownFields::reject, "request body");
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::schema_error);
  }
}

TEST_CASE("optional request fields are written only when set", "[api]") {
  FetchRequest req;
  req.name = "gemma-4";
  CHECK(Json(req).dump() == R"({"name":"gemma-4"})");
  req.revision = "abc";
  req.include = {"*.json"};
  CHECK(Json(req).dump() == R"({"include":["*.json"],"name":"gemma-4","revision":"abc"})");
  auto back = from_json<FetchRequest>(Json(req), UnknownFields::reject, "request body");
  REQUIRE(back.has_value());
  CHECK(back->revision == "abc");
  CHECK(back->peers.empty());
}

TEST_CASE("status carries the engine's fields at the top level only when present", "[api]") {
  DaemonStatus s;
  s.mode = "user";
  Json j = s;
  CHECK_FALSE(j.contains("listen_port"));
  auto back = from_json<DaemonStatus>(j, UnknownFields::reject, "status");
  REQUIRE(back.has_value());
  CHECK_FALSE(back->engine.has_value());
  s.engine.emplace().listen_port = 6881;
  j = s;
  CHECK(j["listen_port"] == 6881);
  CHECK(j["disk"]["free"].is_null());
  back = from_json<DaemonStatus>(j, UnknownFields::reject, "status");
  REQUIRE(back.has_value());
  REQUIRE(back->engine.has_value());
  CHECK(back->engine->listen_port == 6881);
}

TEST_CASE("name@rev splits at the first '@'", "[api]") {
  auto r = ReleaseRef::parse("org/name@v1");
  REQUIRE(r.has_value());
  CHECK(r->name == "org/name");
  CHECK(r->revision == "v1");
  CHECK(r->id() == "org/name@v1");
  r = ReleaseRef::parse("gemma-4");
  REQUIRE(r.has_value());
  CHECK_FALSE(r->revision.has_value());
  CHECK(r->id() == "gemma-4");
  r = ReleaseRef::parse("org/name@tag@x");
  REQUIRE(r.has_value());
  CHECK(r->revision == "tag@x");
  for (const char* bad : {"", "@rev", "org/name@"}) {
    INFO(bad);
    auto b = ReleaseRef::parse(bad);
    REQUIRE_FALSE(b.has_value());
    CHECK(b.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("targets percent-encode their parameter as one segment", "[api]") {
  CHECK(target::release("org/name@rev") == "/v1/releases/org%2Fname%40rev");
  CHECK(target::release_pin("a b") == "/v1/releases/a%20b/pin");
  CHECK(target::release_remove("o/n", target::DeleteFiles::yes) ==
        "/v1/releases/o%2Fn?delete_files=true");
  CHECK(target::release_events("o/n@r") == "/v1/releases/o%2Fn%40r/events");
  CHECK(target::feed_refresh("demo") == "/v1/feeds/demo/refresh");
  CHECK(target::feed("x/../y") == "/v1/feeds/x%2F..%2Fy");
  CHECK(target::follow(12) == "/v1/follows/12");
  CHECK(target::scrub() == "/v1/scrub");
}

TEST_CASE("event-stream framing survives any split of the bytes", "[api]") {
  const std::string wire = format_event("release", R"({"id":"a"})") + ": keep-alive\n\n" +
                           format_event("error", "line1\nline2");
  CHECK(wire.starts_with("event: release\ndata: {\"id\":\"a\"}\n\n"));
  for (std::size_t cut = 0; cut <= wire.size(); ++cut) {
    EventParser p;
    auto events = p.feed(std::string_view(wire).substr(0, cut));
    auto rest = p.feed(std::string_view(wire).substr(cut));
    events.insert(events.end(), rest.begin(), rest.end());
    INFO(cut);
    REQUIRE(events.size() == 2);
    CHECK(events[0].name == "release");
    CHECK(events[0].data == R"({"id":"a"})");
    CHECK(events[1].name == "error");
    CHECK(events[1].data == "line1\nline2");
    CHECK(p.pending() == 0);
  }
}
