#include "core/catalog/feed_layer.hpp"

#include <catch2/catch.hpp>

#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::catalog;
using weights::testing::TempDir;

namespace {

const std::string commit_a(40, 'a');
const std::string commit_b(40, 'b');

std::string family_file(const std::string& family, const std::string& id, const std::string& commit,
                        const std::string& alias = "") {
  std::string aliases = alias.empty() ? "" : "aliases = [\"" + alias + "\"]\n";
  return "schema = 1\nfamily = \"" + family + "\"\ndefault = \"base\"\n\n[[model]]\nid = \"" + id +
         "\"\nvariant = \"base\"\n" + aliases + "upstream = \"huggingface\"\nrepo = \"" + id +
         "\"\ncommit = \"" + commit +
         "\"\nlicense = \"mit\"\n\n[[model.source]]\nurl = \"https://example.invalid/\"\n"
         "confidence = \"high\"\n";
}

tuf::TargetInfo target_of(const std::string& family, const std::string& bytes) {
  tuf::TargetInfo t;
  t.path = tuf::catalog_target_path(family);
  t.length = bytes.size();
  t.sha256 = crypto::sha256_hex(bytes);
  t.kind = tuf::TargetKind::catalog;
  return t;
}

std::filesystem::path layer_dir(TempDir& tmp, const std::string& name,
                                const std::vector<std::pair<std::string, std::string>>& files) {
  const auto dir = tmp / name;
  std::filesystem::create_directories(dir);
  for (const auto& [file, text] : files) REQUIRE(write_file_atomic(dir / file, text));
  return dir;
}

}  // namespace

TEST_CASE("a catalog target must parse strictly and name its own family", "[catalog][feed]") {
  const std::string good = family_file("x", "org/m", commit_a);
  auto ok = check_catalog_target(target_of("x", good), good, "feed f: catalog/x.toml");
  REQUIRE(ok);
  CHECK(ok->family == "x");
  auto other = check_catalog_target(target_of("y", good), good, "feed f: catalog/y.toml");
  REQUIRE_FALSE(other);
  CHECK(other.error().code == Errc::wrong_target);
  const std::string shorty = family_file("x", "org/m", "abc123");
  auto bad = check_catalog_target(target_of("x", shorty), shorty, "feed f: catalog/x.toml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::schema_error);
  CHECK(bad.error().message.find("feed f: catalog/x.toml:") == 0);
}

TEST_CASE("files that define one id twice are not one layer", "[catalog][feed]") {
  auto a = parse_catalog(family_file("x", "org/m", commit_a), "x.toml");
  auto b = parse_catalog(family_file("y", "org/m", commit_b), "y.toml");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(check_layer({*a}));
  auto both = check_layer({*a, *b});
  REQUIRE_FALSE(both);
  CHECK(both.error().message.find("already defined") != std::string::npos);
}

TEST_CASE("a staged layer becomes current in one step and replaces the previous one",
          "[catalog][feed]") {
  TempDir tmp;
  FeedLayers layers(tmp / "feed-catalog");
  auto none = layers.installed("acme");
  REQUIRE(none);
  CHECK_FALSE(*none);
  CHECK(layers.holds("acme", {}));

  const std::string v1 = family_file("x", "org/m", commit_a);
  const auto t1 = target_of("x", v1);
  auto staged = layers.stage("acme", 3, {{t1, v1}});
  REQUIRE(staged);
  // Staged is not current yet: readers still see nothing.
  CHECK(layers.dirs().empty());
  CHECK_FALSE(layers.holds("acme", {t1}));
  REQUIRE(layers.activate("acme", *staged));
  CHECK(layers.holds("acme", {t1}));
  auto inst = layers.installed("acme");
  REQUIRE(inst);
  REQUIRE(*inst);
  CHECK((*inst)->snapshot_version == 3);
  REQUIRE(layers.dirs().size() == 1);
  CHECK(layers.dirs()[0].layer == "feed:acme");
  auto cat = Catalog::load({layers.dirs()});
  REQUIRE(cat.lookup("x"));
  CHECK((*cat.lookup("x"))->commit == commit_a);
  CHECK((*cat.lookup("x"))->layer == "feed:acme");

  const std::string v2 = family_file("x", "org/m", commit_b);
  const auto t2 = target_of("x", v2);
  auto staged2 = layers.stage("acme", 4, {{t2, v2}});
  REQUIRE(staged2);
  REQUIRE(layers.activate("acme", *staged2));
  CHECK(layers.holds("acme", {t2}));
  // The previous directory is gone: one layer per feed.
  std::size_t dirs = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp / "feed-catalog" / "acme")) {
    dirs += e.is_directory() && !e.is_symlink() ? 1 : 0;
  }
  CHECK(dirs == 1);
  CHECK((*Catalog::load({layers.dirs()}).lookup("x"))->commit == commit_b);

  REQUIRE(layers.remove("acme"));
  CHECK(layers.dirs().empty());
  CHECK_FALSE(std::filesystem::exists(tmp / "feed-catalog" / "acme"));
}

TEST_CASE("feeds form one tier: operators override them, they override the shipped layer",
          "[catalog][feed]") {
  TempDir tmp;
  const auto shipped = layer_dir(tmp, "shipped", {{"x.toml", family_file("x", "org/m", commit_a)}});
  const auto feed_b = layer_dir(tmp, "b", {{"x.toml", family_file("x", "org/m", commit_b)}});
  const auto operator_dir =
      layer_dir(tmp, "system", {{"x.toml", family_file("x", "org/m", commit_a)}});

  auto cat = Catalog::load({{{"shipped", shipped}, {"feed:b", feed_b}}});
  REQUIRE(cat.lookup("org/m"));
  CHECK((*cat.lookup("org/m"))->commit == commit_b);
  CHECK((*cat.lookup("x"))->layer == "feed:b");

  cat = Catalog::load({{{"shipped", shipped}, {"feed:b", feed_b}, {"system", operator_dir}}});
  CHECK((*cat.lookup("x"))->commit == commit_a);
  CHECK((*cat.lookup("x"))->layer == "system");
}

TEST_CASE(
    "an id two feeds define with different commits is ambiguous until a later layer "
    "settles it",
    "[catalog][feed]") {
  TempDir tmp;
  const auto shipped = layer_dir(tmp, "shipped", {{"x.toml", family_file("x", "org/m", commit_a)}});
  const auto feed_a = layer_dir(tmp, "a", {{"x.toml", family_file("x", "org/m", commit_a)}});
  const auto feed_b = layer_dir(tmp, "b", {{"y.toml", family_file("y", "org/m", commit_b)}});
  const auto same = layer_dir(tmp, "same", {{"z.toml", family_file("z", "org/m", commit_a)}});

  auto cat = Catalog::load({{{"shipped", shipped}, {"feed:a", feed_a}, {"feed:b", feed_b}}});
  for (const char* name : {"org/m", "x", "y"}) {
    INFO(name);
    auto e = cat.lookup(name);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Errc::schema_error);
    CHECK(e.error().message.find("feed:a") != std::string::npos);
    CHECK(e.error().message.find("feed:b") != std::string::npos);
  }
  CHECK_FALSE(cat.problems().empty());

  // Agreeing feeds are no conflict: the first feed (by name) is the one shown.
  cat = Catalog::load({{{"feed:a", feed_a}, {"feed:same", same}}});
  REQUIRE(cat.lookup("org/m"));
  CHECK((*cat.lookup("org/m"))->layer == "feed:a");
  CHECK(cat.problems().empty());

  const auto user = layer_dir(tmp, "user", {{"x.toml", family_file("x", "org/m", commit_b)}});
  cat = Catalog::load({{{"feed:a", feed_a}, {"feed:b", feed_b}, {"user", user}}});
  REQUIRE(cat.lookup("org/m"));
  CHECK((*cat.lookup("org/m"))->commit == commit_b);
}

TEST_CASE("an alias two feeds give different ids is ambiguous", "[catalog][feed]") {
  TempDir tmp;
  const auto feed_a = layer_dir(tmp, "a", {{"x.toml", family_file("x", "org/a", commit_a, "top")}});
  const auto feed_b = layer_dir(tmp, "b", {{"y.toml", family_file("y", "org/b", commit_b, "top")}});
  auto cat = Catalog::load({{{"feed:a", feed_a}, {"feed:b", feed_b}}});
  auto e = cat.lookup("top");
  REQUIRE_FALSE(e);
  CHECK(e.error().message.find("ambiguous") != std::string::npos);
  CHECK(cat.lookup("x"));
  CHECK(cat.lookup("y"));
}
