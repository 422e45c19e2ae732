// UpstreamNames: a fetch no feed answered, named upstream through a catalog read from real files
// in a temp dir (no daemon, no session).
#include "daemon/engine/upstream_names.hpp"

#include <fstream>
#include <string>

#include <catch2/catch.hpp>

#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::TempDir;

namespace {

const std::string commit_a(40, 'a');
const std::string commit_c(40, 'c');

FetchRequest named(const std::string& name, std::optional<std::string> revision = {}) {
  FetchRequest r;
  r.name = name;
  r.revision = std::move(revision);
  return r;
}

std::string family(const std::string& fam, const std::string& id, const std::string& commit) {
  return "schema = 1\nfamily = \"" + fam + "\"\ndefault = \"base\"\n\n[[model]]\nid = \"" + id +
         "\"\nvariant = \"base\"\nupstream = \"huggingface\"\nrepo = \"" + id + "\"\ncommit = \"" +
         commit +
         "\"\nlicense = \"unknown\"\n\n[[model.source]]\nurl = "
         "\"https://example.invalid/pins.md\"\nconfidence = \"high\"\n";
}

void write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p, std::ios::binary) << text;
}

UpstreamNames names_in(const TempDir& dir) {
  return UpstreamNames(catalog::CatalogPaths{{{"explicit", dir.path()}}});
}

}  // namespace

TEST_CASE("an alias resolves to the catalog entry's repository and pinned commit",
          "[upstream_names]") {
  TempDir dir;
  write(dir / "tiny.toml", family("tiny", "test-org/Tiny", commit_a));
  auto names = names_in(dir);
  auto t = names.target(named("tiny"));
  REQUIRE(t);
  CHECK(t->repo == "test-org/Tiny");
  CHECK(t->commit == commit_a);
  CHECK(t->alias == "tiny");
}

TEST_CASE("org/name@commit is taken as given; org/name alone prefers the catalog's pin",
          "[upstream_names]") {
  TempDir dir;
  write(dir / "tiny.toml", family("tiny", "test-org/Tiny", commit_a));
  auto names = names_in(dir);
  auto given = names.target(named("other-org/x@" + commit_c));
  REQUIRE(given);
  CHECK(given->repo == "other-org/x");
  CHECK(given->commit == commit_c);
  auto id = names.target(named("test-org/Tiny"));
  REQUIRE(id);
  CHECK(id->commit == commit_a);
  auto unknown_id = names.target(named("other-org/x"));
  REQUIRE(unknown_id);
  CHECK(unknown_id->repo == "other-org/x");
  CHECK_FALSE(unknown_id->commit);  // the hub's default branch, resolved later
}

TEST_CASE("an unknown alias says to search the catalog", "[upstream_names]") {
  TempDir dir;
  auto names = names_in(dir);
  auto t = names.target(named("gemma-99"));
  REQUIRE_FALSE(t);
  CHECK(t.error().code == Errc::not_found);
  CHECK(t.error().hint.find("weightsctl catalog search") != std::string::npos);
}

TEST_CASE("a catalog file added after start is found without a restart", "[upstream_names]") {
  TempDir dir;
  auto names = names_in(dir);
  REQUIRE_FALSE(names.target(named("tiny")));
  write(dir / "tiny.toml", family("tiny", "test-org/Tiny", commit_a));
  auto t = names.target(named("tiny"));
  REQUIRE(t);
  CHECK(t->commit == commit_a);
}

TEST_CASE("a broken catalog file is skipped; the other files still answer", "[upstream_names]") {
  TempDir dir;
  write(dir / "a-broken.toml", "schema = 1\nfamily = [\n");
  write(dir / "tiny.toml", family("tiny", "test-org/Tiny", commit_a));
  auto names = names_in(dir);
  CHECK_FALSE(names.catalog().problems().empty());
  auto t = names.target(named("tiny"));
  REQUIRE(t);
  CHECK(t->repo == "test-org/Tiny");
}
