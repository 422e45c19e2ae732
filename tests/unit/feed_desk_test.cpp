// The feeds' API over a real state database and a stand-in for the FeedPoller: what is
// refused before anything is stored, tickets of requested refreshes, removal.
#include "daemon/engine/feed_desk.hpp"

#include <catch2/catch.hpp>

#include "core/db/state_db.hpp"
#include "support/feed_builder.hpp"

using namespace weights;
using namespace weights::daemon;
using namespace weights::testing;

namespace {

std::shared_ptr<db::StateDb> open_db(const std::filesystem::path& dir) {
  auto s = db::StateDb::open(dir);
  if (!s) FAIL(s.error().message);
  return *s;
}

struct Fixture {
  TempDir tmp;
  TestFeed feed{tmp.path()};
  std::shared_ptr<db::StateDb> sdb = open_db(tmp / "state");
  StateStore state{sdb};
  std::vector<std::string> requested, forgotten;
  std::uint64_t ticket = 0;
  FeedDesk desk{state,
                FeedRefreshes{[this](const std::string& n) {
                                requested.push_back(n);
                                return ++ticket;
                              },
                              [](const std::string&) {
                                // FeedPoller::status of a feed it has not refreshed yet.
                                return nlohmann::json{
                                    {"running", false}, {"requested", 0},
                                    {"completed", 0},   {"consecutive_failures", 0},
                                    {"next", nullptr},  {"location", nullptr},
                                    {"last", nullptr}};
                              },
                              [this](const std::string& n) { forgotten.push_back(n); }},
                [] { return t0(); }};
};

}  // namespace

TEST_CASE("a feed with a bad mirror or a malformed URL is refused before anything is stored",
          "[feed_desk]") {
  Fixture f;
  const auto loc = f.feed.public_dir().string();
  SECTION("a mirror that is the location") {
    CHECK_FALSE(f.desk.add("demo", loc, f.feed.root_v1(), {loc}));
  }
  SECTION("an empty mirror") {
    CHECK_FALSE(f.desk.add("demo", loc, f.feed.root_v1(), {""}));
  }
  SECTION("a malformed URL") {
    auto r = f.desk.add("demo", loc, f.feed.root_v1(), {"http://[::1"});
    CHECK_FALSE(r);
  }
  auto all = f.desk.list();
  REQUIRE(all);
  CHECK(all->feeds.empty());
  CHECK(f.requested.empty());
}

TEST_CASE("an added feed is refreshed right away; refresh and remove reach the poller",
          "[feed_desk]") {
  Fixture f;
  auto added = f.desk.add("demo", f.feed.public_dir().string(), f.feed.root_v1(), {});
  REQUIRE(added);
  CHECK(added->ticket == 1);
  CHECK(f.requested == std::vector<std::string>{"demo"});
  auto again = f.desk.refresh("demo");
  REQUIRE(again);
  CHECK(again->ticket == 2);
  auto all = f.desk.list();
  REQUIRE(all);
  REQUIRE(all->feeds.size() == 1);
  const auto shown = f.desk.renderable();
  REQUIRE(shown.size() == 1);
  CHECK(shown[0].name == "demo");
  REQUIRE(f.desk.remove("demo"));
  CHECK(f.desk.renderable().empty());
  CHECK(f.forgotten == std::vector<std::string>{"demo"});
  auto gone = f.desk.get("demo");
  REQUIRE_FALSE(gone);
  CHECK(gone.error().code == Errc::not_found);
  CHECK_FALSE(f.desk.refresh("demo"));
  CHECK(f.requested.size() == 2);
}
