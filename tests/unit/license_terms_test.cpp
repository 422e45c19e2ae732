// Which releases need the user's acceptance (core/upstream/license_terms.hpp) and the licence
// gate that records it (daemon/engine/license_gate.hpp), over plain data.
#include "core/upstream/license_terms.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include "daemon/engine/license_gate.hpp"

using namespace weights;
using namespace weights::upstream;
using weights::daemon::Acceptance;
using weights::daemon::AcceptanceStore;
using weights::daemon::LicenseGate;

namespace {

LicenseTerms terms(std::string id, bool gated) {
  LicenseTerms t;
  t.id = std::move(id);
  t.name = t.id;
  t.gated = gated;
  return t;
}

}  // namespace

TEST_CASE("only a permissive licence of a repository that is not gated needs no acceptance",
          "[license]") {
  for (const auto id : permissive_licenses) {
    CHECK_FALSE(needs_acceptance(terms(std::string(id), false)));
    CHECK(needs_acceptance(terms(std::string(id), true)));
  }
  CHECK(is_permissive("Apache-2.0"));
  CHECK(is_permissive(" MIT "));
  for (const char* id : {"llama3.1", "gemma", "other:deepseek", "cc-by-nc-4.0", "openrail",
                         "unknown", "", "apache-2.0-or-not"}) {
    INFO(id);
    CHECK(needs_acceptance(terms(id, false)));
  }
}

TEST_CASE("licence and use-policy files are found at any depth, in order", "[license]") {
  CHECK(license_files({"config.json", "original/LICENSE", "LICENSE.txt", "USE_POLICY.md",
                       "LICENSE-MODEL", "license.md", "COPYING", "notes/licensed.txt",
                       "model.safetensors", "README.md"}) ==
        std::vector<std::string>{"COPYING", "LICENSE-MODEL", "LICENSE.txt", "USE_POLICY.md",
                                 "license.md", "notes/licensed.txt", "original/LICENSE"});
  CHECK(license_files({"config.json"}).empty());
}

TEST_CASE("a model card's terms: its licence, `other` with its name, gating; else unknown",
          "[license]") {
  const std::vector<std::string> paths{"LICENSE", "config.json"};
  ModelCard c;
  c.has_front_matter = true;
  c.license = "other";
  c.license_name = "DeepSeek";
  c.license_link = "LICENSE";
  c.gated = true;
  auto t = terms_from_card(std::optional<Result<ModelCard>>(c), paths, "abc");
  CHECK(t.id == "other:deepseek");
  CHECK(t.name == "DeepSeek");
  CHECK(t.url == "LICENSE");
  CHECK(t.gated);
  CHECK(t.files == std::vector<std::string>{"LICENSE"});
  CHECK(t.source == LicenseSource::model_card);
  CHECK(t.where == "README.md of abc");

  c.license = "Apache-2.0";
  c.gated = false;
  t = terms_from_card(std::optional<Result<ModelCard>>(c), paths, "abc");
  CHECK(t.id == "apache-2.0");
  CHECK_FALSE(needs_acceptance(t));

  const auto none = terms_from_card(std::nullopt, paths, "abc");
  CHECK(none.id == "unknown");
  CHECK(needs_acceptance(none));
  CHECK(none.problem.find("no README.md") != std::string::npos);

  const auto broken = terms_from_card(
      std::optional<Result<ModelCard>>(Result<ModelCard>(
          tl::unexpected(Error{Errc::parse_error, "model card line 2: license: twice", ""}))),
      paths, "abc");
  CHECK(broken.id == "unknown");
  CHECK(broken.problem == "model card line 2: license: twice");
}

TEST_CASE("the refusal names the licence, its URL, its files and the gating, and how to accept",
          "[license]") {
  LicenseTerms t = terms("llama3.1", true);
  t.url = "https://example.invalid/LICENSE";
  t.files = {"LICENSE", "USE_POLICY.md"};
  t.where = "README.md of abc";
  const Error e = not_accepted_error("org/m@abc", t);
  CHECK(e.code == Errc::license_not_accepted);
  CHECK(e.message ==
        "org/m@abc: licence llama3.1 (https://example.invalid/LICENSE), licence files in the "
        "release: LICENSE, USE_POLICY.md, gated upstream (from the model card, README.md of "
        "abc): its upstream repository is gated; accept it first");
  CHECK(e.hint.find("--accept-license") != std::string::npos);
}

TEST_CASE(
    "the gate admits what needs nothing, what was accepted before, and records a new "
    "acceptance once",
    "[license]") {
  std::map<std::pair<std::string, std::string>, std::int64_t> kept;
  int records = 0;
  LicenseGate gate{AcceptanceStore{
      [&](const std::string& repo, const std::string& license) {
        const auto it = kept.find({repo, license});
        return Result<std::optional<std::int64_t>>(
            it == kept.end() ? std::nullopt : std::optional<std::int64_t>(it->second));
      },
      [&](const std::string& repo, const std::string& license, std::int64_t when) {
        ++records;
        kept.emplace(std::pair{repo, license}, when);
        return Status{};
      }}};
  auto free = gate.admit("x", "org/m", terms("mit", false), Acceptance::not_given, 5);
  REQUIRE(free);
  CHECK_FALSE(free->needed);
  CHECK_FALSE(free->accepted_at);

  const auto llama = terms("llama3.1", false);
  auto refused = gate.admit("x", "org/m", llama, Acceptance::not_given, 5);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().code == Errc::license_not_accepted);
  CHECK(records == 0);

  auto given = gate.admit("x", "org/m", llama, Acceptance::given, 7);
  REQUIRE(given);
  CHECK(given->accepted_at == 7);
  auto later = gate.admit("y", "org/m", llama, Acceptance::not_given, 9);
  REQUIRE(later);
  CHECK(later->accepted_at == 7);
  CHECK(records == 1);
  // Per repository and per licence.
  CHECK_FALSE(gate.admit("z", "org/other", llama, Acceptance::not_given, 9));
  CHECK_FALSE(gate.admit("z", "org/m", terms("gemma", false), Acceptance::not_given, 9));
}

TEST_CASE("a catalog entry's terms: gating not given counts as gated", "[license]") {
  weights::catalog::Entry e;
  e.license = "Apache-2.0";
  e.license_url = "https://www.apache.org/licenses/LICENSE-2.0";
  e.files = {{"LICENSE", std::nullopt, "", ""}, {"config.json", std::nullopt, "", ""}};
  e.where = {"apache.toml", 4};
  auto t = weights::daemon::catalog_terms(e);
  CHECK(t.id == "apache-2.0");
  CHECK(t.gated);
  CHECK(needs_acceptance(t));
  CHECK(t.files == std::vector<std::string>{"LICENSE"});
  CHECK(t.where == "apache.toml:4");
  e.gated = false;
  CHECK_FALSE(needs_acceptance(weights::daemon::catalog_terms(e)));
  e.license = "";
  CHECK(weights::daemon::catalog_terms(e).id == "unknown");
}
