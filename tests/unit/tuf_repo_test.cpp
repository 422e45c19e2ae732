#include "core/publish/tuf_repo.hpp"

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "core/util/atomic_file.hpp"
#include "support/feed_builder.hpp"

using namespace weights;
using namespace weights::tuf;
using namespace weights::testing;
using namespace std::chrono_literals;

namespace {

Status accept_all(const TargetInfo&, std::string_view) {
  return {};
}

TargetCustom release(std::string model, std::string revision, std::uint64_t seq) {
  return TargetCustom{TargetKind::release, std::move(model), std::move(revision), seq};
}

}  // namespace

TEST_CASE("feed init creates keys, repo.json and a self-signed root v1", "[tuf][repo]") {
  TempDir tmp;
  auto repo = Repo::init(tmp / "pub", InitOptions{}, t0());
  REQUIRE(repo);
  CHECK(std::filesystem::exists(tmp / "pub" / "repo.json"));
  CHECK(std::filesystem::exists(tmp / "pub" / "public" / "metadata" / "1.root.json"));
  auto ring = KeyRing::load_dir(repo->keys_dir());
  REQUIRE(ring);
  CHECK(ring->size() == 6);  // 3 root + targets + snapshot + timestamp
  for (const auto& e : std::filesystem::directory_iterator(repo->keys_dir())) {
    struct stat st {};
    REQUIRE(::stat(e.path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
  }
  auto root_bytes = read_file(repo->public_dir() / "metadata" / "1.root.json", max_root_bytes);
  REQUIRE(root_bytes);
  auto root = verify_initial_root(*root_bytes);
  REQUIRE(root);
  CHECK(root->version == 1);
  CHECK(root->expires == t0() + Days(365));
  // Keys never land in the served tree.
  for (const auto& e : std::filesystem::recursive_directory_iterator(repo->public_dir())) {
    CHECK(e.path().extension() != ".pem");
  }
  auto again = Repo::init(tmp / "pub", InitOptions{}, t0());
  REQUIRE_FALSE(again);
  CHECK(again.error().code == Errc::already_exists);
}

TEST_CASE("add, publish and verify produce a feed a client accepts", "[tuf][repo]") {
  TempDir tmp;
  auto repo = Repo::init(tmp / "pub", InitOptions{}, t0());
  REQUIRE(repo);
  auto ring = KeyRing::load_dir(repo->keys_dir());
  REQUIRE(ring);
  const std::string manifest = release_manifest("org/m", "abc", 1);
  REQUIRE(repo->add_target(release_path("org/m", "abc"), manifest, release("org/m", "abc", 1)));
  REQUIRE(repo->publish(*ring, t0()));
  CHECK(repo->version(Role::targets) == 1);
  CHECK(repo->version(Role::timestamp) == 1);
  const auto pub = repo->public_dir();
  CHECK(std::filesystem::exists(pub / "metadata" / "1.targets.json"));
  CHECK(std::filesystem::exists(pub / "metadata" / "1.snapshot.json"));
  CHECK(std::filesystem::exists(pub / "metadata" / "timestamp.json"));
  const auto stored = pub / "targets" / "models" / "org" / "m" /
                      (crypto::sha256_hex(manifest) + ".abc.release.json");
  CHECK(read_file(stored, 1 << 20).value() == manifest);

  auto outcome = repo->verify(t0() + 1h, &check_release_matches);
  REQUIRE(outcome);
  CHECK(outcome->result == RefreshResult::updated);
  CHECK(outcome->targets.version == 1);
  REQUIRE(outcome->trusted_targets.size() == 1);
  CHECK(outcome->trusted_targets[0].sha256 == crypto::sha256_hex(manifest));

  SECTION("reopening keeps the working state") {
    auto reopened = Repo::open(tmp / "pub");
    REQUIRE(reopened);
    CHECK(reopened->targets() == repo->targets());
    CHECK(reopened->version(Role::snapshot) == 1);
    CHECK(reopened->spec().root.keys == repo->spec().root.keys);
    CHECK(reopened->spec().root.threshold == 2);
    REQUIRE(reopened->publish(*ring, t0() + 1h));
    CHECK(reopened->version(Role::targets) == 2);
  }
  SECTION("verify reports expiry") {
    auto late = repo->verify(t0() + Days(2), &accept_all);
    REQUIRE_FALSE(late);
    CHECK(late.error().code == Errc::expired);
  }
}

TEST_CASE("publish refuses without enough keys and writes nothing", "[tuf][repo]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  auto& repo = feed.repo();
  REQUIRE(repo.add_target(release_path("org/m", "a"), release_manifest("org/m", "a", 1),
                          release("org/m", "a", 1)));
  auto only_targets = TestFeed::ring_of(feed.keys(Role::targets));
  auto r = repo.publish(only_targets, t0());
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::threshold_not_met);
  CHECK_THAT(r.error().message, Catch::Contains("cannot sign snapshot"));
  CHECK(repo.version(Role::targets) == 0);
  CHECK_FALSE(feed.exists("metadata/1.targets.json"));
  CHECK_FALSE(feed.exists("metadata/timestamp.json"));
}

TEST_CASE("publish_timestamp re-signs only the timestamp", "[tuf][repo]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  feed.add_release("org/m", "a", 1, t0());
  auto online = TestFeed::ring_of(feed.keys(Role::timestamp));
  REQUIRE(feed.repo().publish_timestamp(online, t0() + 20h));
  CHECK(feed.repo().version(Role::timestamp) == 2);
  CHECK(feed.repo().version(Role::snapshot) == 1);
  auto outcome = feed.repo().verify(t0() + 30h, &check_release_matches);
  REQUIRE(outcome);
  CHECK(outcome->timestamp.version == 2);
  CHECK(outcome->timestamp.expires == t0() + 44h);
}

TEST_CASE("targets are checked by the path policy when added", "[tuf][repo][paths]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  auto& repo = feed.repo();
  CHECK(repo.add_target("../x.release.json", "x", release("org/m", "a", 1)).error().code ==
        Errc::path_policy);
  CHECK(repo.add_target("models/org/m/a.json", "x", release("bad", "a", 1)).error().code ==
        Errc::schema_error);
  REQUIRE(repo.add_target("models/org/m/a.json", "x", release("org/m", "a", 1)));
  CHECK(repo.add_target("models/org/m/A.json", "x", release("org/m", "a", 2)).error().code ==
        Errc::path_policy);
  CHECK(repo.remove_target("models/org/m/nope.json").error().code == Errc::not_found);
  REQUIRE(repo.remove_target("models/org/m/a.json"));
  CHECK(repo.targets().empty());
}

TEST_CASE("rotate_root requires old and new root thresholds", "[tuf][repo][root]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  RolesSpec next = feed.repo().spec();
  std::vector<KeyPtr> fresh{make_key(), make_key(), make_key()};
  next.root.keys.clear();
  for (const auto& k : fresh) next.root.keys.push_back(k->public_key());

  SECTION("new keys only") {
    auto ring = TestFeed::ring_of({fresh[0].get(), fresh[1].get(), fresh[2].get()});
    auto r = feed.repo().rotate_root(next, ring, t0());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::threshold_not_met);
    CHECK_THAT(r.error().message, Catch::Contains("by the current root keys"));
    CHECK_FALSE(feed.exists("metadata/2.root.json"));
    CHECK(feed.repo().version(Role::root) == 1);
  }
  SECTION("old keys only") {
    auto r = feed.repo().rotate_root(next, TestFeed::ring_of(feed.keys(Role::root)), t0());
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("by its own keys"));
  }
  SECTION("threshold of both") {
    auto ring = TestFeed::ring_of(
        {&feed.key(Role::root, 0), &feed.key(Role::root, 1), fresh[0].get(), fresh[1].get()});
    REQUIRE(feed.repo().rotate_root(next, ring, t0()));
    CHECK(feed.repo().version(Role::root) == 2);
    CHECK(feed.exists("metadata/2.root.json"));
    auto reopened = Repo::open(feed.repo().dir());
    REQUIRE(reopened);
    CHECK(reopened->version(Role::root) == 2);
    CHECK(reopened->spec().root.keys == next.root.keys);
  }
  SECTION("an invalid configuration") {
    next.root.threshold = 4;
    auto r = feed.repo().rotate_root(next, feed.ring(), t0());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == Errc::invalid_argument);
  }
}

TEST_CASE("a feed rotated and republished verifies from root v1", "[tuf][repo][root]") {
  TempDir tmp;
  TestFeed feed(tmp.path());
  feed.add_release("org/m", "a", 1, t0());
  feed.rotate_role_keys(Role::timestamp, t0() + 1h);
  feed.rotate_role_keys(Role::root, t0() + 2h);
  feed.rotate_role_keys(Role::targets, t0() + 3h);
  auto outcome = feed.repo().verify(t0() + 4h, &check_release_matches);
  REQUIRE(outcome);
  CHECK(outcome->root.version == 4);
  CHECK(outcome->targets.version == 4);
}
