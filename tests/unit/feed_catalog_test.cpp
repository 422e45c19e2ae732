#include "daemon/engine/feed_catalog.hpp"

#include <catch2/catch.hpp>

#include "core/publish/catalog_targets.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "support/feed_builder.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;
using namespace weights::testing;

namespace {

std::string family_file(const std::string& family, const std::string& id,
                        const std::string& commit) {
  return "schema = 1\nfamily = \"" + family + "\"\ndefault = \"base\"\n\n[[model]]\nid = \"" + id +
         "\"\nvariant = \"base\"\nupstream = \"huggingface\"\nrepo = \"" + id + "\"\ncommit = \"" +
         commit +
         "\"\nlicense = \"mit\"\n\n[[model.source]]\nurl = \"https://example.invalid/\"\n"
         "confidence = \"high\"\n";
}

// A published flat feed carrying catalog/x.toml; returns the trusted targets.
std::vector<tuf::TargetInfo> publish_x(const std::filesystem::path& dir, const std::string& text) {
  auto repo = tuf::Repo::open(dir);
  if (!repo) repo = tuf::Repo::init(dir, tuf::InitOptions{}, t0());
  REQUIRE(repo);
  auto ring = tuf::KeyRing::load_dir(repo->keys_dir());
  REQUIRE(ring);
  REQUIRE(add_catalog_target(*repo, text, "x.toml"));
  REQUIRE(repo->publish(*ring, t0()));
  return repo->targets();
}

}  // namespace

TEST_CASE(
    "the catalog step stages the trusted files, then does nothing while they are "
    "installed",
    "[feed][catalog]") {
  TempDir tmp;
  const auto targets = publish_x(tmp / "pub", family_file("x", "org/m", std::string(40, 'a')));
  LocalDirFetcher fetcher(tmp / "pub" / "public");
  catalog::FeedLayers layers(tmp / "layers");

  auto step = prepare_catalog(layers, "acme", targets, 1, {&fetcher});
  REQUIRE_FALSE(step.error);
  REQUIRE(step.action == CatalogStep::Action::install);
  CHECK(layers.dirs().empty());  // staged only
  REQUIRE(apply_catalog(layers, "acme", step));
  REQUIRE(layers.dirs().size() == 1);

  auto again = prepare_catalog(layers, "acme", targets, 2, {&fetcher});
  CHECK(again.action == CatalogStep::Action::none);
  CHECK_FALSE(again.error);

  // The feed stops carrying catalog files: the layer goes.
  auto gone = prepare_catalog(layers, "acme", {}, 3, {&fetcher});
  CHECK(gone.action == CatalogStep::Action::remove);
  REQUIRE(apply_catalog(layers, "acme", gone));
  CHECK(layers.dirs().empty());
}

TEST_CASE(
    "a tampered catalog file is refused and the installed layer stays; another location "
    "with the signed bytes is used",
    "[feed][catalog]") {
  TempDir tmp;
  const auto old_targets = publish_x(tmp / "pub", family_file("x", "org/m", std::string(40, 'a')));
  catalog::FeedLayers layers(tmp / "layers");
  LocalDirFetcher good(tmp / "pub" / "public");
  auto first = prepare_catalog(layers, "acme", old_targets, 1, {&good});
  REQUIRE(apply_catalog(layers, "acme", first));

  const std::string v2 = family_file("x", "org/m", std::string(40, 'b'));
  const auto targets = publish_x(tmp / "pub", v2);
  // A mirror whose copy of the new file has other bytes of the same length.
  std::filesystem::copy(tmp / "pub" / "public", tmp / "mirror",
                        std::filesystem::copy_options::recursive);
  const auto t = catalog::catalog_targets(targets).at(0);
  std::string changed = v2;
  changed[changed.find("bbbb")] = 'c';
  REQUIRE(write_file_atomic(tmp / "mirror" / tuf::consistent_target_name(t), changed));
  LocalDirFetcher mirror(tmp / "mirror");

  auto refused = prepare_catalog(layers, "acme", targets, 2, {&mirror});
  REQUIRE(refused.error);
  CHECK(refused.error->code == Errc::hash_mismatch);
  CHECK(refused.error->message.find("catalog/x.toml") != std::string::npos);
  CHECK(refused.action == CatalogStep::Action::none);
  REQUIRE(apply_catalog(layers, "acme", refused));
  CHECK(layers.holds("acme", catalog::catalog_targets(old_targets)));

  auto recovered = prepare_catalog(layers, "acme", targets, 2, {&mirror, &good});
  REQUIRE_FALSE(recovered.error);
  REQUIRE(apply_catalog(layers, "acme", recovered));
  CHECK(layers.holds("acme", catalog::catalog_targets(targets)));
}

TEST_CASE("a signed catalog file that does not validate is refused with its line",
          "[feed][catalog]") {
  TempDir tmp;
  const auto targets = publish_x(tmp / "pub", family_file("x", "org/m", std::string(40, 'a')));
  auto t = catalog::catalog_targets(targets).at(0);
  // The bytes of an invalid file under a listing that matches them (what a publisher that
  // skipped the checks would sign).
  const std::string bad = family_file("x", "org/m", "abc123");
  t.length = bad.size();
  t.sha256 = crypto::sha256_hex(bad);
  REQUIRE(write_file_atomic(tmp / "pub" / "public" / tuf::consistent_target_name(t), bad));
  LocalDirFetcher fetcher(tmp / "pub" / "public");
  catalog::FeedLayers layers(tmp / "layers");
  auto step = prepare_catalog(layers, "acme", {t}, 1, {&fetcher});
  REQUIRE(step.error);
  CHECK(step.error->code == Errc::schema_error);
  CHECK(step.error->message.find("feed acme: catalog/x.toml:") != std::string::npos);
  CHECK(step.error->message.find("not a full commit id") != std::string::npos);
  CHECK(layers.dirs().empty());
}
