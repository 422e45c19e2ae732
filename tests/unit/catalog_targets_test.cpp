#include "core/publish/catalog_targets.hpp"

#include <catch2/catch.hpp>

#include "core/catalog/feed_layer.hpp"
#include "support/feed_builder.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::testing;

namespace {

std::string family_file(const std::string& family, const std::string& id, char commit_digit) {
  return "schema = 1\nfamily = \"" + family + "\"\ndefault = \"base\"\n\n[[model]]\nid = \"" + id +
         "\"\nvariant = \"base\"\nupstream = \"huggingface\"\nrepo = \"" + id + "\"\ncommit = \"" +
         std::string(40, commit_digit) +
         "\"\nlicense = \"mit\"\n\n[[model.source]]\nurl = \"https://example.invalid/\"\n"
         "confidence = \"high\"\n";
}

Status accept_all(const tuf::TargetInfo&, std::string_view) {
  return {};
}

}  // namespace

TEST_CASE(
    "catalog files are published as targets of flat and hashed-bin feeds, and a client "
    "trusts them",
    "[publish][catalog]") {
  const std::uint32_t bins = GENERATE(0u, 4u);
  INFO("bins " << bins);
  TempDir tmp;
  tuf::InitOptions options;
  options.bins.count = bins;
  auto repo = tuf::Repo::init(tmp / "pub", options, t0());
  REQUIRE(repo);
  auto ring = tuf::KeyRing::load_dir(repo->keys_dir());
  REQUIRE(ring);

  const std::string x = family_file("x", "org/m", 'a');
  auto added = add_catalog_target(*repo, x, "x.toml");
  REQUIRE(added);
  CHECK(added->path == "catalog/x.toml");
  CHECK(added->kind == tuf::TargetKind::catalog);
  REQUIRE(repo->publish(*ring, t0()));

  auto outcome = repo->verify(t0(), accept_all);
  REQUIRE(outcome);
  const auto listed = catalog::catalog_targets(outcome->trusted_targets);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0] == *added);

  // Another file that defines the same id would make the layer invalid: refused, not staged.
  auto clash = add_catalog_target(*repo, family_file("y", "org/m", 'b'), "y.toml");
  REQUIRE_FALSE(clash);
  CHECK(clash.error().message.find("already defined") != std::string::npos);
  CHECK(listed_catalog_targets(*repo).size() == 1);
  // A new version of the same family replaces it.
  auto replaced = add_catalog_target(*repo, family_file("x", "org/m", 'b'), "x.toml");
  REQUIRE(replaced);
  CHECK(replaced->sha256 != added->sha256);
  CHECK(listed_catalog_targets(*repo).size() == 1);

  REQUIRE(remove_catalog_target(*repo, "x"));
  CHECK(listed_catalog_targets(*repo).empty());
  auto missing = remove_catalog_target(*repo, "x");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
}

TEST_CASE("an invalid catalog file is never staged", "[publish][catalog]") {
  TempDir tmp;
  auto repo = tuf::Repo::init(tmp / "pub", tuf::InitOptions{}, t0());
  REQUIRE(repo);
  auto bad = add_catalog_target(*repo, "schema = 1\nfamily = \"x\"\n", "x.toml");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::schema_error);
  CHECK(bad.error().message.find("x.toml") == 0);
  CHECK(repo->targets().empty());
}
