// The engine behind the control API, end to end in one process: a publisher feed made with
// tuf::Repo + add_release, a seeding engine, fetching engines over loopback, all driven through
// the Handler's HTTP routes.
#include "daemon/engine.hpp"

#include <fstream>

#include <arpa/inet.h>
#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/publish/publisher.hpp"
#include "core/trust/release_target.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "core/util/json.hpp"
#include "daemon/handler.hpp"
#include "daemon/log.hpp"
#include "support/api_request.hpp"
#include "support/feed_builder.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::body_of;
using weights::testing::request;
using namespace std::chrono_literals;

using weights::testing::slurp;
using weights::testing::write_text;

namespace {

namespace asio = boost::asio;

std::string pattern(std::size_t n, unsigned seed) {
  std::string s(n, '\0');
  std::uint32_t x = seed * 2654435761u + 1;
  for (auto& c : s) {
    x = x * 1664525u + 1013904223u;
    c = static_cast<char>(x >> 24);
  }
  return s;
}

// Runs the loop until `pred` holds (false after `limit`).
template <class F>
bool run_until(asio::io_context& ioc, F pred, std::chrono::seconds limit = 60s) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    ioc.restart();
    ioc.run_for(20ms);
    if (pred()) return true;
  }
  return false;
}

struct Node {
  Node(asio::io_context& io, const std::filesystem::path& dir,
       const std::function<void(Config&)>& tweak = nullptr)
      : ioc(io) {
    if (const char* l = std::getenv("WEIGHTS_TEST_LOG")) {
      if (auto level = parse_log_level(l)) log::set_level(*level);
    }
    config.state_dir = dir;
    config.control_socket = dir / "c.sock";
    // Loopback only: no DHT, no bootstrap router looked up, no LSD multicast.
    apply_network_profile(config, NetworkProfile::private_network);
    config.listen_interfaces = {"127.0.0.1:0"};
    config.allow_multiple_connections_per_ip = Toggle::on;
    config.hashing_threads = 1;
    if (tweak) tweak(config);
    auto e = Engine::start(ioc, config);
    REQUIRE(e);
    engine = std::move(*e);
    handler =
        std::make_unique<Handler>(DaemonInfo{"test", 1, api::Mode::user, dir, dir / "c.sock", {}},
                                  &std::chrono::steady_clock::now, engine.get());
  }
  ~Node() {
    bool done = false;
    engine->shutdown([&] { done = true; });
    run_until(
        ioc, [&] { return done; }, 30s);
    handler.reset();
    engine.reset();
  }
  api::Response call(std::string method, std::string target, const json::Json& body = nullptr) {
    return call_as(testing::root_caller, std::move(method), std::move(target), body);
  }
  api::Response call_as(const Caller& caller, std::string method, std::string target,
                        const json::Json& body = nullptr) {
    return handler->handle(
        request(std::move(method), std::move(target), body.is_null() ? "" : body.dump()), caller);
  }
  // POST /v1/feeds, then runs the loop until the feed's first refresh (on the poller's
  // workers) has completed; answers 201 with the feed as it is then.
  api::Response add_feed(const json::Json& body) {
    auto res = call("POST", "/v1/feeds", body);
    if (res.status != 201) return res;
    const auto ticket = body_of(res)["ticket"].get<std::uint64_t>();
    const std::string target = "/v1/feeds/" + body["name"].get<std::string>();
    REQUIRE(run_until(ioc, [&] {
      return body_of(call("GET", target))["refresh"]["completed"].get<std::uint64_t>() >= ticket;
    }));
    auto done = call("GET", target);
    done.status = 201;
    return done;
  }
  json::Json release(const std::string& id) {
    auto res = call("GET", api::release_target(id));
    REQUIRE(res.status == 200);
    return body_of(res);
  }
  std::string state(const std::string& id) { return release(id)["state"].get<std::string>(); }
  int port() { return body_of(call("GET", "/v1/status"))["listen_port"].get<int>(); }

  asio::io_context& ioc;
  Config config;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Handler> handler;
};

struct World {
  testing::TempDir tmp;
  testing::TestFeed feed{tmp.path() / "feed"};
  std::filesystem::path files = tmp.path() / "files";
  std::map<std::string, std::string> content{
      {"config.json", "{\"hidden_size\": 64}\n"},
      {"model.safetensors", pattern(3 * 1024 * 1024 + 12345, 1)},
      {"tokenizer/vocab.txt", pattern(70000, 2)},
  };
  asio::io_context ioc;

  World() {
    for (const auto& [p, data] : content) write_text(files / p, data);
    publish("org/tiny", "r1", {"tiny"});
  }
  void publish(const std::string& model, const std::string& rev, std::vector<std::string> aliases) {
    ReleaseOptions o;
    o.model = model;
    o.revision = rev;
    o.aliases = std::move(aliases);
    o.license = "apache-2.0";
    REQUIRE(add_release(feed.repo(), files, o, now_utc()));
    feed.publish(now_utc());
  }
  json::Json feed_body(const std::string& name) {
    return {{"name", name}, {"location", feed.public_dir().string()}, {"root", feed.root_v1()}};
  }
};

}  // namespace

TEST_CASE("a publisher seeds without re-download and a fetcher gets every verified byte",
          "[engine]") {
  World w;
  Node seeder(w.ioc, w.tmp.path() / "seeder");
  auto added = seeder.add_feed(w.feed_body("demo"));
  REQUIRE(added.status == 201);
  CHECK(body_of(added)["releases"] == 1);
  CHECK(body_of(added)["result"] == "updated");
  CHECK(body_of(added)["stale"] == false);

  auto seeded = seeder.call(
      "POST", "/v1/seed",
      {{"feed", "demo"}, {"model", "org/tiny"}, {"revision", "r1"}, {"dir", w.files.string()}});
  REQUIRE(seeded.status == 202);
  REQUIRE(run_until(w.ioc, [&] { return seeder.state("org/tiny@r1") == "complete"; }));
  const auto s = seeder.release("org/tiny@r1");
  CHECK(s["seeding"] == true);
  CHECK(s["verified_length"] == s["total_length"]);
  CHECK(s["downloaded_bytes"] == 0);
  REQUIRE(seeder.port() > 0);

  Node fetcher(w.ioc, w.tmp.path() / "fetcher");
  REQUIRE(fetcher.add_feed(w.feed_body("demo")).status == 201);
  const std::string peer = fmt::format("127.0.0.1:{}", seeder.port());
  auto fetched = fetcher.call("POST", "/v1/fetch", {{"name", "tiny"}, {"peers", {peer}}});
  REQUIRE(fetched.status == 202);
  CHECK(body_of(fetched)["id"] == "org/tiny@r1");
  if (!run_until(w.ioc, [&] { return fetcher.state("org/tiny@r1") == "complete"; })) {
    FAIL("fetcher: " << fetcher.release("org/tiny@r1").dump()
                     << "\nseeder: " << seeder.release("org/tiny@r1").dump());
  }
  const auto f = fetcher.release("org/tiny@r1");
  const std::filesystem::path view = f["path"].get<std::string>();
  for (const auto& [p, data] : w.content) CHECK(slurp(view / p) == data);
  CHECK(f["downloaded_bytes"].get<std::uint64_t>() >= f["total_length"].get<std::uint64_t>());
  for (const auto& file : f["files"]) CHECK(file["state"] == "verified");

  SECTION("a selective fetch downloads and shows only the included files") {
    Node partial(w.ioc, w.tmp.path() / "partial");
    REQUIRE(partial.add_feed(w.feed_body("demo")).status == 201);
    auto r = partial.call("POST", "/v1/fetch",
                          {{"name", "org/tiny"}, {"include", {"*.json"}}, {"peers", {peer}}});
    REQUIRE(r.status == 202);
    REQUIRE(run_until(w.ioc, [&] { return partial.state("org/tiny@r1") == "complete"; }));
    const auto p = partial.release("org/tiny@r1");
    const std::filesystem::path pv = p["path"].get<std::string>();
    CHECK(slurp(pv / "config.json") == w.content["config.json"]);
    CHECK_FALSE(std::filesystem::exists(pv / "model.safetensors"));
    CHECK(p["wanted_length"] == w.content["config.json"].size());
    CHECK(p["downloaded_bytes"].get<std::uint64_t>() < 3 * 1024 * 1024);
  }

  SECTION("verify re-hashes, pin is kept, remove deletes the view and files") {
    auto v = fetcher.call("POST", api::release_target("org/tiny@r1", "/verify"));
    REQUIRE(v.status == 202);
    if (!run_until(w.ioc, [&] { return fetcher.state("org/tiny@r1") == "complete"; })) {
      FAIL("fetcher: " << fetcher.release("org/tiny@r1").dump()
                       << "\nseeder: " << seeder.release("org/tiny@r1").dump());
    }
    CHECK(fetcher.release("org/tiny@r1")["error"].is_null());
    auto pin = fetcher.call("POST", api::release_target("org/tiny@r1", "/pin"));
    REQUIRE(pin.status == 200);
    CHECK(body_of(pin)["pinned"] == true);
    auto del = fetcher.call("DELETE", api::release_target("org/tiny@r1") + "?delete_files=true");
    REQUIRE(del.status == 200);
    CHECK(body_of(del)["removed"] == "org/tiny@r1");
    CHECK_FALSE(std::filesystem::exists(view));
    CHECK(fetcher.call("GET", api::release_target("org/tiny@r1")).status == 404);
    CHECK(body_of(fetcher.call("GET", "/v1/releases"))["releases"].empty());
  }
}

TEST_CASE("another user may have the daemon use only the paths it could use itself",
          "[engine][caller_access]") {
  World w;
  namespace fs = std::filesystem;
  REQUIRE(::chmod(w.tmp.path().c_str(), 0755) == 0);
  Node node(w.ioc, w.tmp.path() / "node");
  REQUIRE(node.add_feed(w.feed_body("demo")).status == 201);
  const Caller alice{42001, 42001, 1, {}};
  auto seed = [&](const fs::path& dir) {
    return node.call_as(
        alice, "POST", "/v1/seed",
        {{"feed", "demo"}, {"model", "org/tiny"}, {"revision", "r1"}, {"dir", dir.string()}});
  };
  auto no_secrets = [&](const api::Response& res) {
    for (const auto& [p, data] : w.content) {
      CHECK(res.body.find(crypto::sha256_hex(data)) == std::string::npos);
      // Short lengths ("20") could be any number in the text; the large ones are telling.
      if (data.size() >= 1000) {
        CHECK(res.body.find(std::to_string(data.size())) == std::string::npos);
      }
    }
  };

  SECTION("seeding from a directory it cannot search is refused before anything is read") {
    REQUIRE(::chmod(w.files.c_str(), 0700) == 0);
    auto res = seed(w.files);
    CHECK(res.status == 403);
    CHECK(body_of(res)["error"]["code"] == "permission_denied");
    no_secrets(res);
    CHECK(node.call("GET", api::release_target("org/tiny@r1")).status == 404);
  }
  SECTION("seeding a file it cannot read names the file, not its digest") {
    REQUIRE(::chmod((w.files / "model.safetensors").c_str(), 0600) == 0);
    auto res = seed(w.files);
    CHECK(res.status == 403);
    CHECK(body_of(res)["error"]["message"].get<std::string>().find("model.safetensors") !=
          std::string::npos);
    no_secrets(res);
  }
  SECTION("a readable directory is seeded as for anyone") {
    auto res = seed(w.files);
    CHECK(res.status == 202);
    REQUIRE(run_until(w.ioc, [&] { return node.state("org/tiny@r1") == "complete"; }));

    SECTION("export into a directory it cannot write, or inside the state dir, writes nothing") {
      fs::create_directories(w.tmp / "roots");
      for (const auto& dir : {w.tmp / "roots" / "out", w.tmp / "node" / "out", w.tmp / "node"}) {
        auto r = node.call_as(alice, "POST", api::release_target("org/tiny@r1", "/export"),
                              {{"dir", dir.string()}});
        CHECK(r.status == 403);
        CHECK_FALSE(fs::exists(dir / "weights-export.json"));
      }
      CHECK(fs::is_empty(w.tmp / "roots"));
      fs::create_directories(w.tmp / "alice");
      REQUIRE(::chown((w.tmp / "alice").c_str(), 42001, 42001) == 0);
      auto ok = node.call_as(alice, "POST", api::release_target("org/tiny@r1", "/export"),
                             {{"dir", (w.tmp / "alice" / "out").string()}});
      CHECK(ok.status == 200);
      CHECK(fs::exists(w.tmp / "alice" / "out" / "weights-export.json"));
    }
    SECTION("an HF cache it cannot write is refused, and so is another user's repo dir in it") {
      auto r = node.call_as(alice, "POST", "/v1/fetch",
                            {{"name", "tiny"}, {"hf_cache", (w.tmp / "roots-hub").string()}});
      CHECK(r.status == 403);
      fs::create_directories(w.tmp / "hub" / "models--org--tiny");
      REQUIRE(::chown((w.tmp / "hub").c_str(), 42001, 42001) == 0);
      r = node.call_as(alice, "POST", "/v1/fetch",
                       {{"name", "tiny"}, {"hf_cache", (w.tmp / "hub").string()}});
      CHECK(r.status == 403);
      REQUIRE(::chown((w.tmp / "hub" / "models--org--tiny").c_str(), 42001, 42001) == 0);
      r = node.call_as(alice, "POST", "/v1/fetch",
                       {{"name", "tiny"}, {"hf_cache", (w.tmp / "hub").string()}});
      CHECK(r.status == 202);
    }
  }
  SECTION("a feed it cannot read, or a name that is not a name, is refused") {
    auto body = w.feed_body("mine");
    REQUIRE(::chmod(w.feed.public_dir().c_str(), 0700) == 0);
    CHECK(node.call_as(alice, "POST", "/v1/feeds", body).status == 403);
    REQUIRE(::chmod(w.feed.public_dir().c_str(), 0755) == 0);
    for (const char* bad : {"../../evil", "two\nlines", "-x", "a/b"}) {
      body["name"] = bad;
      auto r = node.call_as(alice, "POST", "/v1/feeds", body);
      CHECK(r.status == 400);
    }
  }
}

TEST_CASE("the HF cache refs a fetch moves follow how it names the release", "[engine][hf]") {
  namespace fs = std::filesystem;
  World w;
  const std::string commit(40, 'c');
  w.publish("org/tiny", commit, {"tiny"});  // newer than r1: the model's current release
  Node node(w.ioc, w.tmp.path() / "node");
  REQUIRE(node.add_feed(w.feed_body("demo")).status == 201);
  for (const auto& rev : {std::string("r1"), commit}) {
    REQUIRE(node.call("POST", "/v1/seed",
                      {{"feed", "demo"},
                       {"model", "org/tiny"},
                       {"revision", rev},
                       {"dir", w.files.string()}})
                .status == 202);
    REQUIRE(run_until(w.ioc, [&] { return node.state("org/tiny@" + rev) == "complete"; }));
  }
  const fs::path hub = w.tmp.path() / "hub";
  const fs::path refs = hub / "models--org--tiny" / "refs";
  auto fetch_into_hub = [&](json::Json body, const std::string& id) {
    body["hf_cache"] = hub.string();
    REQUIRE(node.call("POST", "/v1/fetch", body).status == 202);
    REQUIRE(run_until(w.ioc, [&] { return !node.release(id)["hf_cache"]["snapshot"].is_null(); }));
  };
  // A commit id given in the name: no ref.
  fetch_into_hub({{"name", "org/tiny@" + commit}}, "org/tiny@" + commit);
  CHECK(fs::is_directory(hub / "models--org--tiny" / "snapshots" / commit));
  CHECK(fs::is_empty(refs));
  // A revision field that is not a commit id: refs/<name>, and main stays untouched.
  fetch_into_hub({{"name", "org/tiny"}, {"revision", "r1"}}, "org/tiny@r1");
  CHECK(slurp(refs / "r1") == "r1");
  CHECK_FALSE(fs::exists(refs / "main"));
  // An alias without a revision: the current release, refs/main.
  fetch_into_hub({{"name", "tiny"}}, "org/tiny@" + commit);
  CHECK(slurp(refs / "main") == commit);
  CHECK(slurp(refs / "r1") == "r1");
}

TEST_CASE("a path segment that is not UTF-8 is 400, never 500", "[engine]") {
  World w;
  Node node(w.ioc, w.tmp.path() / "node");
  for (const char* target : {"/v1/feeds/%FF", "/v1/releases/org%2F%C0%AFx%40r", "/v1/feeds/a%0Ab",
                             "/v1/releases/%ZZ", "/v1/feeds/%E2%82"}) {
    auto res = node.call("GET", target);
    CHECK(res.status == 400);
    CHECK(body_of(res)["error"]["code"] == "invalid_argument");
  }
  CHECK(node.call("GET", "/v1/feeds/caf%C3%A9").status == 404);
}

TEST_CASE("status reports the network exposure the session runs with", "[engine]") {
  World w;
  Node node(w.ioc, w.tmp.path() / "node", [](Config& c) {
    c.dht = Toggle::on;  // a private DHT: on, with no router to look up
    c.dht_bootstrap_nodes.clear();
  });
  const auto net = body_of(node.call("GET", "/v1/status"))["network"];
  CHECK(net["profile"] == "private");
  CHECK(net["listen_interfaces"] == json::Json::array({"127.0.0.1:0"}));
  CHECK(net["dht"] == true);
  CHECK(net["dht_bootstrap_nodes"] == json::Json::array());
  CHECK(net["lsd"] == false);
  CHECK(net["upnp"] == false);
  CHECK(net["natpmp"] == false);
}

TEST_CASE("a restarted node seeds its completed release again without rehashing", "[engine]") {
  World w;
  Node seeder(w.ioc, w.tmp.path() / "seeder");
  REQUIRE(seeder.add_feed(w.feed_body("demo")).status == 201);
  REQUIRE(seeder
              .call("POST", "/v1/seed",
                    {{"feed", "demo"},
                     {"model", "org/tiny"},
                     {"revision", "r1"},
                     {"dir", w.files.string()}})
              .status == 202);
  REQUIRE(run_until(w.ioc, [&] { return seeder.state("org/tiny@r1") == "complete"; }));
  const std::string peer = fmt::format("127.0.0.1:{}", seeder.port());
  const auto dir = w.tmp.path() / "fetcher";
  std::uint64_t downloaded = 0;
  {
    Node fetcher(w.ioc, dir);
    REQUIRE(fetcher.add_feed(w.feed_body("demo")).status == 201);
    REQUIRE(fetcher.call("POST", "/v1/fetch", {{"name", "tiny"}, {"peers", {peer}}}).status == 202);
    REQUIRE(run_until(w.ioc, [&] { return fetcher.state("org/tiny@r1") == "complete"; }));
    downloaded = fetcher.release("org/tiny@r1")["downloaded_bytes"].get<std::uint64_t>();
  }  // shutdown saves resume data
  const auto v2 = seeder.release("org/tiny@r1")["v2_infohash"].get<std::string>();
  CHECK(std::filesystem::exists(dir / "resume" / (v2 + ".resume")));
  CHECK(std::filesystem::exists(dir / "torrents" / (v2 + ".torrent")));

  const auto resume = dir / "resume" / (v2 + ".resume");
  const auto saved_at = std::filesystem::last_write_time(resume);
  {
    Node again(w.ioc, dir);
    // Listed at once; its torrent is added from the event loop, `loading` until libtorrent
    // answers. Requests that would add or remove its torrent wait for that.
    CHECK(again.state("org/tiny@r1") == "loading");
    CHECK(again.call("DELETE", api::release_target("org/tiny@r1")).status == 503);
    CHECK(body_of(again.call("GET", "/v1/status"))["releases_loading"] == 1);
    REQUIRE(run_until(w.ioc, [&] {
      const auto r = again.release("org/tiny@r1");
      return r["state"] == "complete" && r["seeding"] == true;
    }));
    CHECK(body_of(again.call("GET", "/v1/status"))["releases_loading"] == 0);
    const auto r = again.release("org/tiny@r1");
    CHECK(r["downloaded_bytes"].get<std::uint64_t>() == downloaded);
    CHECK(r["pinned"] == false);
    const std::filesystem::path view = r["path"].get<std::string>();
    for (const auto& [p, data] : w.content) CHECK(slurp(view / p) == data);
  }  // nothing changed: neither the start-up nor the shutdown rewrites the resume data
  CHECK(std::filesystem::last_write_time(resume) == saved_at);
}

TEST_CASE("release names resolve by alias, newest release_seq, and refuse ambiguity", "[engine]") {
  World w;
  w.publish("org/tiny", "r2", {"tiny"});  // newer release_seq of the same model
  Node node(w.ioc, w.tmp.path() / "node");
  REQUIRE(node.add_feed(w.feed_body("demo")).status == 201);

  auto newest = node.call("POST", "/v1/fetch", {{"name", "tiny"}});
  REQUIRE(newest.status == 202);
  CHECK(body_of(newest)["id"] == "org/tiny@r2");
  CHECK(body_of(newest)["release_seq"] == 2);
  auto pinned_rev = node.call("POST", "/v1/fetch", {{"name", "tiny"}, {"revision", "r1"}});
  REQUIRE(pinned_rev.status == 202);
  CHECK(body_of(pinned_rev)["id"] == "org/tiny@r1");

  auto missing = node.call("POST", "/v1/fetch", {{"name", "nope"}});
  CHECK(missing.status == 404);
  auto bad_glob = node.call("POST", "/v1/fetch", {{"name", "tiny"}, {"include", {"*.gguf"}}});
  CHECK(bad_glob.status == 400);
  auto bad_peer = node.call("POST", "/v1/fetch", {{"name", "tiny"}, {"peers", {"nope"}}});
  CHECK(bad_peer.status == 400);
  auto unknown = node.call("POST", "/v1/fetch", {{"name", "tiny"}, {"dest", "/x"}});
  CHECK(unknown.status == 422);

  // A second feed publishing another model under the same alias makes "tiny" ambiguous.
  testing::TestFeed other(w.tmp.path() / "other");
  ReleaseOptions o;
  o.model = "acme/tiny";
  o.revision = "v1";
  o.aliases = {"tiny"};
  o.license = "mit";
  REQUIRE(add_release(other.repo(), w.files, o, now_utc()));
  other.publish(now_utc());
  REQUIRE(node.add_feed({{"name", "other"},
                         {"location", other.public_dir().string()},
                         {"root", other.root_v1()}})
              .status == 201);
  auto ambiguous = node.call("POST", "/v1/fetch", {{"name", "tiny"}});
  CHECK(ambiguous.status == 400);
  CHECK_THAT(body_of(ambiguous)["error"]["message"].get<std::string>(),
             Catch::Contains("acme/tiny") && Catch::Contains("org/tiny"));
  CHECK(node.call("POST", "/v1/fetch", {{"name", "acme/tiny"}}).status == 202);

  auto feeds = body_of(node.call("GET", "/v1/feeds"));
  CHECK(feeds["feeds"].size() == 2);
  CHECK(node.call("POST", "/v1/feeds/demo/refresh").status == 202);
  CHECK(node.call("GET", "/v1/feeds/nope").status == 404);
  CHECK(body_of(node.call("DELETE", "/v1/feeds/other"))["removed"] == "other");
}

TEST_CASE("a torrent that differs from its manifest is refused before any payload", "[engine]") {
  World w;
  // Re-sign the release's torrent target with the torrent of other files: the TUF hash pins
  // match, but the metadata is not what the manifest describes.
  testing::TestFeed scratch(w.tmp.path() / "scratch");
  write_text(w.tmp.path() / "evil/config.json", "{\"evil\": true}\n");
  ReleaseOptions o;
  o.model = "org/tiny";
  o.revision = "r1";
  o.license = "mit";
  auto evil = add_release(scratch.repo(), w.tmp.path() / "evil", o, now_utc());
  REQUIRE(evil);
  const auto evil_torrent = slurp(scratch.public_dir() / "targets/models/org/tiny" / [&] {
    for (const auto& t : scratch.repo().targets()) {
      if (t.path == torrent_target_path("org/tiny", "r1")) {
        return t.sha256 + ".r1.torrent";
      }
    }
    return std::string();
  }());
  tuf::TargetCustom custom{tuf::TargetKind::torrent, "org/tiny", "r1", 1};
  REQUIRE(w.feed.repo().add_target(torrent_target_path("org/tiny", "r1"), evil_torrent, custom));
  w.feed.publish(now_utc());

  Node node(w.ioc, w.tmp.path() / "node");
  REQUIRE(node.add_feed(w.feed_body("demo")).status == 201);
  // The torrent is downloaded off the io thread: the fetch answers with the release resolving,
  // which then fails.
  auto res = node.call("POST", "/v1/fetch", {{"name", "org/tiny"}});
  CHECK(res.status == 202);
  CHECK(body_of(res)["state"] == "resolving");
  REQUIRE(run_until(w.ioc, [&] { return node.release("org/tiny@r1")["state"] == "failed"; }));
  const auto r = node.release("org/tiny@r1");
  CHECK_THAT(r["error"]["message"].get<std::string>(), Catch::Contains("refused before download"));
  CHECK(r["error"]["code"] == "wrong_target");
  CHECK(r["downloaded_bytes"] == 0);
}

TEST_CASE("a second fetch of a release still resolving joins it and widens its selection",
          "[engine]") {
  World w;
  Node node(w.ioc, w.tmp.path() / "node");
  REQUIRE(node.add_feed(w.feed_body("demo")).status == 201);
  // The loop does not run between the calls: the torrents cannot have arrived.
  auto first = node.call("POST", "/v1/fetch", {{"name", "tiny"}, {"include", {"config.json"}}});
  REQUIRE(first.status == 202);
  CHECK(body_of(first)["state"] == "resolving");
  auto second = node.call("POST", "/v1/fetch", {{"name", "tiny"}, {"include", {"tokenizer/*"}}});
  REQUIRE(second.status == 202);
  CHECK(body_of(second)["state"] == "resolving");
  CHECK(body_of(second)["include"] == json::Json::array({"config.json", "tokenizer/*"}));
  REQUIRE(run_until(w.ioc, [&] { return node.state("org/tiny@r1") != "resolving"; }));
  const auto r = node.release("org/tiny@r1");
  CHECK(r["state"] == "downloading");
  CHECK(r["error"].is_null());
  for (const auto& f : r["files"]) {
    CHECK(f["wanted"] == (f["path"] != "model.safetensors"));
  }
  CHECK(body_of(node.call("GET", "/v1/releases"))["releases"].size() == 1);
}

TEST_CASE("a release recorded while resolving goes on resolving after a restart", "[engine]") {
  World w;
  {
    Node node(w.ioc, w.tmp.path() / "node");
    REQUIRE(node.add_feed(w.feed_body("demo")).status == 201);
    REQUIRE(node.call("POST", "/v1/fetch", {{"name", "tiny"}}).status == 202);
    // Pinning writes its record before the torrents have arrived.
    REQUIRE(node.call("POST", api::release_target("org/tiny@r1") + "/pin").status == 200);
    CHECK(node.state("org/tiny@r1") == "resolving");
  }
  // Whatever the worker wrote during the shutdown is gone too: nothing to load.
  std::filesystem::remove_all(w.tmp.path() / "node/torrents");
  std::filesystem::create_directories(w.tmp.path() / "node/torrents");
  Node again(w.ioc, w.tmp.path() / "node");
  REQUIRE(run_until(w.ioc, [&] { return again.state("org/tiny@r1") != "resolving"; }));
  const auto r = again.release("org/tiny@r1");
  CHECK(r["state"] == "downloading");
  CHECK(r["pinned"] == true);
  CHECK(r["error"].is_null());
}

TEST_CASE("an http feed refresh runs off the io thread and its timeout becomes the refusal",
          "[engine][feeds]") {
  World w;
  // A listener that never accepts: connections complete in the kernel and no byte comes back.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(fd, 8) == 0);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  const std::string url = fmt::format("http://127.0.0.1:{}/feed", ntohs(a.sin_port));

  Node node(w.ioc, w.tmp.path() / "node", [](Config& c) { c.feed_http_timeout = 1s; });
  const auto start = std::chrono::steady_clock::now();
  auto res = node.call("POST", "/v1/feeds",
                       {{"name", "web"}, {"location", url}, {"root", w.feed.root_v1()}});
  CHECK(std::chrono::steady_clock::now() - start < 500ms);
  REQUIRE(res.status == 201);
  auto added = body_of(res);
  CHECK(added["ticket"] == 1);
  CHECK(added["result"] == "never");
  CHECK(added["refresh"]["running"] == true);
  CHECK(added["location"] == url);
  CHECK(node.call("POST", "/v1/feeds",
                  {{"name", "bad"}, {"location", "http://bad host/x"}, {"root", w.feed.root_v1()}})
            .status == 400);
  CHECK(node.call("POST", "/v1/feeds",
                  {{"name", "bad"},
                   {"location", url},
                   {"mirrors", {"https://u:p@host/"}},
                   {"root", w.feed.root_v1()}})
            .status == 400);
  // The loop keeps answering while the worker waits on the silent server.
  CHECK(node.call("GET", "/v1/status").status == 200);
  CHECK(node.call("POST", "/v1/feeds/web/refresh").status == 202);
  REQUIRE(run_until(
      w.ioc,
      [&] { return body_of(node.call("GET", "/v1/feeds/web"))["refresh"]["completed"] == 2; },
      20s));
  const auto done = body_of(node.call("GET", "/v1/feeds/web"));
  CHECK(done["result"] == "refused");
  CHECK(done["refresh"]["last"]["result"] == "refused");
  // Back-off: two failures in a row -> retry_interval (60 s) * 2, +-10 % jitter.
  CHECK(done["refresh"]["consecutive_failures"] == 2);
  auto next = parse_utc(done["refresh"]["next"].get<std::string>());
  REQUIRE(next);
  const auto wait = *next - now_utc();
  CHECK(wait >= 100s);
  CHECK(wait <= 133s);
  CHECK(done["last_refusal"]["code"] == "unavailable");
  CHECK_THAT(done["last_refusal"]["message"].get<std::string>(),
             Catch::Contains("feed web: root v2: " + url + "/metadata/2.root.json") &&
                 Catch::Contains("timed out: no data for 1s"));
  ::close(fd);
}

TEST_CASE("feed and release routes without an engine answer 503", "[engine]") {
  Handler h(DaemonInfo{"t", 1, api::Mode::user, "/s", "/s/c", {}});
  CHECK(h.handle(request("GET", "/v1/releases"), testing::root_caller).status == 503);
  CHECK(h.handle(request("GET", "/v1/releases/org%2Fx%40r"), testing::root_caller).status == 503);
}
