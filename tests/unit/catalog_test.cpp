#include "core/catalog/catalog.hpp"

#include <fstream>
#include <set>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::catalog;
using weights::testing::TempDir;

namespace {

constexpr const char* commit_a = "842da3794eaa0b77d5f08bae87a17459d91ff475";
constexpr const char* commit_b = "ee0ef6023621cff504d758262d4e04895a5af4a2";

// A valid two-entry family file; `extra` is appended to the first entry.
std::string family_file(std::string_view family = "gemma-4", std::string_view extra = "",
                        std::string_view first_id = "google/gemma-4-31B-it") {
  return fmt::format(R"(schema = 1
family = "{0}"
default = "31b-it"

[[model]]
id = "{2}"
variant = "31b-it"
aliases = ["{0}-big"]
upstream = "huggingface"
repo = "{2}"
commit = "{3}"
license = "unknown"
{1}
[[model.source]]
url = "https://github.com/example/proof/blob/main/pins.md"
confidence = "high"

[[model]]
id = "google/gemma-4-E4B-it"
variant = "e4b-it"
upstream = "huggingface"
repo = "google/gemma-4-E4B-it"
commit = "{4}"
license = "unknown"
gated = false

[[model.source]]
repo = "example/proof"
path = "stager.py"
quote = "MODEL_REVISION = ..."
confidence = "medium"

[[model.files]]
path = "model.safetensors"
size = 15992595884
sha256 = "cfbd3d2f1cd71bd471c37fe2bf8546d5028d41e5736f64e1ca6c6b8893125503"
)",
                     family, extra, first_id, commit_a, commit_b);
}

void write(const std::filesystem::path& p, std::string_view text) {
  std::filesystem::create_directories(p.parent_path());
  std::ofstream(p) << text;
}

std::string error_of(std::string_view text) {
  auto f = parse_catalog(text, "t.toml");
  REQUIRE_FALSE(f);
  return f.error().message;
}

// `text` with the first occurrence of `from` replaced by `to`.
std::string replaced(std::string text, std::string_view from, std::string_view to) {
  const auto pos = text.find(from);
  REQUIRE(pos != std::string::npos);
  text.replace(pos, from.size(), to);
  return text;
}

}  // namespace

TEST_CASE("a family file parses into entries with their aliases and the default variant",
          "[catalog]") {
  auto f = parse_catalog(family_file(), "gemma-4.toml");
  REQUIRE(f);
  CHECK(f->family == "gemma-4");
  CHECK(f->default_variant == "31b-it");
  REQUIRE(f->entries.size() == 2);
  const Entry& big = f->entries[0];
  CHECK(big.id == "google/gemma-4-31B-it");
  CHECK(big.commit == commit_a);
  CHECK(big.is_default);
  CHECK_FALSE(big.gated.has_value());
  CHECK(big.all_aliases() == std::vector<std::string>{"gemma-4", "gemma-4:31b-it", "gemma-4-big"});
  CHECK(big.where.line == 5);
  const Entry& small = f->entries[1];
  CHECK_FALSE(small.is_default);
  CHECK(small.gated == false);
  CHECK(small.all_aliases() == std::vector<std::string>{"gemma-4:e4b-it"});
  REQUIRE(small.files.size() == 1);
  CHECK(small.files[0].size == 15992595884ULL);
  CHECK(small.sources[0].confidence == Confidence::medium);
  CHECK(small.sources[0].repo == "example/proof");
}

TEST_CASE("catalog errors name the file, the line and the key", "[catalog]") {
  const std::string good = family_file();
  SECTION("TOML syntax") {
    CHECK_THAT(error_of(replaced(good, "variant = \"e4b-it\"", "variant = e4b-it\"")),
               Catch::Matchers::StartsWith("t.toml:20:"));
  }
  SECTION("unknown key, with its line") {
    const auto msg = error_of(family_file("gemma-4", "colour = \"blue\""));
    CHECK(msg == "t.toml:13: model[0].colour: unknown key");
  }
  SECTION("unknown top-level key") {
    CHECK(error_of("schema = 1\nfamliy = \"x\"\n") == "t.toml:2: famliy: unknown key");
  }
  SECTION("short commit id") {
    const auto msg = error_of(replaced(good, commit_a, "842da379"));
    CHECK(msg ==
          "t.toml:11: model[0].commit: '842da379' is not a full commit id (40 lowercase "
          "hex digits)");
  }
  SECTION("non-hex commit id") {
    const auto msg = error_of(replaced(good, commit_b, "ze0ef6023621cff504d758262d4e04895a5af4a2"));
    CHECK_THAT(msg, Catch::Matchers::StartsWith("t.toml:23: model[1].commit: 'ze0ef"));
  }
  SECTION("upper-case commit id") {
    CHECK_THAT(error_of(replaced(good, commit_a, "842DA3794EAA0B77D5F08BAE87A17459D91FF475")),
               Catch::Matchers::StartsWith("t.toml:11: model[0].commit:"));
  }
  SECTION("bad model id") {
    CHECK(error_of(replaced(good, "id = \"google/gemma-4-31B-it\"", "id = \"gemma-4-31B-it\"")) ==
          "t.toml:6: model[0].id: 'gemma-4-31B-it' is not a model id (\"ORG/NAME\")");
    CHECK_THAT(error_of(replaced(good, "id = \"google/gemma-4-31B-it\"", "id = \"google/../x\"")),
               Catch::Matchers::StartsWith("t.toml:6: model[0].id:"));
  }
  SECTION("missing key") {
    CHECK(error_of(replaced(good, "license = \"unknown\"\ngated", "gated")) ==
          "t.toml:18: model[1]: missing required key 'license'");
  }
  SECTION("wrong type") {
    CHECK(error_of(replaced(good, "gated = false", "gated = \"no\"")) ==
          "t.toml:25: model[1].gated: expected true or false, found a string");
  }
  SECTION("an alias defined twice in one file") {
    CHECK(error_of(replaced(good, "variant = \"e4b-it\"",
                            "variant = \"e4b-it\"\naliases = [\"gemma-4-big\"]")) ==
          "t.toml:18: aliases: alias 'gemma-4-big' is defined twice in this file (line 5 and "
          "line 18)");
  }
  SECTION("the default variant must exist") {
    CHECK_THAT(error_of(replaced(good, "default = \"31b-it\"", "default = \"2b\"")),
               Catch::Matchers::StartsWith("t.toml:3: default: no [[model]] has variant '2b'"));
  }
  SECTION("an entry without evidence") {
    CHECK_THAT(
        error_of(replaced(good,
                          "[[model.source]]\nurl = \"https://github.com/example/proof/blob/main/"
                          "pins.md\"\nconfidence = \"high\"",
                          "")),
        Catch::Matchers::Contains("no [[model.source]]"));
  }
  SECTION("a bad alias, a bad file path, a bad digest, a bad confidence, an unknown upstream") {
    CHECK_THAT(
        error_of(replaced(good, "[\"gemma-4-big\"]", "[\"Gemma 4\"]")),
        Catch::Matchers::StartsWith("t.toml:8: model[0].aliases[0]: 'Gemma 4' is not an alias"));
    CHECK_THAT(error_of(replaced(good, "path = \"model.safetensors\"", "path = \"../x\"")),
               Catch::Matchers::StartsWith("t.toml:34: model[1].files[0].path:"));
    CHECK_THAT(error_of(replaced(good, "sha256 = \"cfbd", "sha256 = \"cfb")),
               Catch::Matchers::StartsWith("t.toml:36: model[1].files[0].sha256:"));
    CHECK_THAT(error_of(replaced(good, "confidence = \"high\"", "confidence = \"sure\"")),
               Catch::Matchers::StartsWith("t.toml:16: model[0].source[0].confidence:"));
    CHECK_THAT(error_of(replaced(good, "upstream = \"huggingface\"", "upstream = \"gitlab\"")),
               Catch::Matchers::StartsWith("t.toml:9: model[0].upstream:"));
  }
  SECTION("schema version") {
    CHECK_THAT(error_of(replaced(good, "schema = 1", "schema = 2")),
               Catch::Matchers::StartsWith("t.toml:1: schema: unsupported schema"));
  }
}

TEST_CASE("layers: later directories override entries by id and aliases by name", "[catalog]") {
  TempDir tmp;
  write(tmp / "shipped/gemma-4.toml", family_file());
  // The operator pins the 31B model elsewhere and makes `gemma-4` mean the small one.
  write(tmp / "system/gemma-4.toml",
        replaced(replaced(family_file(), commit_a, "0000000000000000000000000000000000000001"),
                 "default = \"31b-it\"", "default = \"e4b-it\""));
  auto cat = Catalog::load({{{"shipped", tmp / "shipped"}, {"system", tmp / "system"}}});
  CHECK(cat.problems().empty());
  auto big = cat.lookup("google/gemma-4-31B-it");
  REQUIRE(big);
  CHECK((*big)->commit == "0000000000000000000000000000000000000001");
  CHECK((*big)->layer == "system");
  auto def = cat.lookup("gemma-4");
  REQUIRE(def);
  CHECK((*def)->id == "google/gemma-4-E4B-it");
  auto variant = cat.lookup("GEMMA-4:31B-IT");  // aliases are case-insensitive
  REQUIRE(variant);
  CHECK((*variant)->id == "google/gemma-4-31B-it");
  CHECK(cat.entries().size() == 2);

  SECTION("a user layer without the file leaves the others as they are") {
    std::filesystem::create_directories(tmp / "user");
    auto again = Catalog::load(
        {{{"shipped", tmp / "shipped"}, {"system", tmp / "system"}, {"user", tmp / "user"}}});
    CHECK(again.lookup("gemma-4").value()->id == "google/gemma-4-E4B-it");
  }
}

TEST_CASE("lookup and search", "[catalog]") {
  TempDir tmp;
  write(tmp / "a/gemma-4.toml", family_file());
  auto cat = Catalog::load({{{"shipped", tmp / "a"}}});
  auto missing = cat.lookup("gemma-5");
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::not_found);
  CHECK(missing.error().hint == "try `weightsctl catalog search gemma-5`");
  CHECK_FALSE(cat.lookup("GOOGLE/GEMMA-4-31B-IT"));  // ids are exact
  CHECK(cat.search("E4B").size() == 1);
  CHECK(cat.search("gemma").size() == 2);
  CHECK(cat.search("big").size() == 1);
  CHECK(cat.search("llama").empty());
}

TEST_CASE("one alias defined by two files of a layer with different targets is ambiguous",
          "[catalog]") {
  TempDir tmp;
  write(tmp / "d/a.toml", family_file());
  // b.toml claims the alias "gemma-4-big" for another model.
  write(
      tmp / "d/b.toml",
      replaced(
          replaced(replaced(replaced(family_file("other"), "google/gemma-4-31B-it", "example/big"),
                            "google/gemma-4-31B-it", "example/big"),
                   "other-big", "gemma-4-big"),
          "google/gemma-4-E4B-it\"\nvariant", "example/small\"\nvariant"));
  auto cat = Catalog::load({{{"user", tmp / "d"}}});
  REQUIRE(cat.problems().size() == 1);
  const std::string b = (tmp / "d/b.toml").string();
  const std::string a = (tmp / "d/a.toml").string();
  CHECK(cat.problems()[0].message ==
        fmt::format("{}:5: alias 'gemma-4-big' names example/big but {}:5 defines it as "
                    "google/gemma-4-31B-it; the alias is ambiguous",
                    b, a));
  auto amb = cat.lookup("gemma-4-big");
  REQUIRE_FALSE(amb);
  CHECK(amb.error().message == fmt::format("alias 'gemma-4-big' is ambiguous: {}:5 "
                                           "(google/gemma-4-31B-it), {}:5 (example/big)",
                                           a, b));
  // Everything else still resolves.
  CHECK(cat.lookup("gemma-4").value()->id == "google/gemma-4-31B-it");
  CHECK(cat.lookup("other").value()->id == "example/big");

  SECTION("a later layer settles the ambiguity") {
    write(tmp / "later/c.toml",
          replaced(family_file("third", "aliases = [\"gemma-4-big\"]", "example/third"),
                   "aliases = [\"third-big\"]\n", ""));
    auto settled = Catalog::load({{{"shipped", tmp / "d"}, {"user", tmp / "later"}}});
    CHECK(settled.lookup("gemma-4-big").value()->id == "example/third");
  }
}

TEST_CASE("a broken file is reported and skipped; the rest of the catalog loads", "[catalog]") {
  TempDir tmp;
  write(tmp / "d/a-broken.toml", "schema = 1\nfamily = [\n");
  write(tmp / "d/b-short.toml", replaced(family_file("short"), commit_a, "842da379"));
  write(tmp / "d/gemma-4.toml", family_file());
  write(tmp / "d/notes.txt", "not a catalog file");
  auto cat = Catalog::load({{{"shipped", tmp / "d"}}});
  REQUIRE(cat.problems().size() == 2);
  CHECK(cat.problems()[0].code == Errc::parse_error);
  CHECK_THAT(cat.problems()[0].message,
             Catch::Matchers::StartsWith((tmp / "d/a-broken.toml").string() + ":"));
  CHECK_THAT(cat.problems()[0].message, Catch::Matchers::EndsWith("; file skipped"));
  CHECK_THAT(
      cat.problems()[1].message,
      Catch::Matchers::StartsWith((tmp / "d/b-short.toml").string() + ":11: model[0].commit:"));
  CHECK(cat.files().size() == 1);
  CHECK(cat.lookup("gemma-4"));
  CHECK_FALSE(cat.lookup("short"));
}

TEST_CASE("a missing directory is no problem; the default paths honour XDG_CONFIG_HOME",
          "[catalog]") {
  TempDir tmp;
  auto cat = Catalog::load({{{"user", tmp / "nowhere"}}});
  CHECK(cat.problems().empty());
  CHECK(cat.entries().empty());

  std::filesystem::create_directories(tmp / "cfg/weightsd/catalog.d");
  std::filesystem::create_directories(tmp / "prefix/bin");
  std::filesystem::create_directories(tmp / "prefix/share/weightsd/catalog");
  const auto env = [&](const char* name) -> std::optional<std::string> {
    if (std::string_view(name) == "XDG_CONFIG_HOME") return (tmp / "cfg").string();
    return std::nullopt;
  };
  auto paths = default_catalog_paths(tmp / "prefix/bin/weightsctl", env);
  REQUIRE(paths.dirs.size() >= 2);
  CHECK(paths.dirs.front().layer == "shipped");
  CHECK(paths.dirs.front().dir == tmp / "prefix/share/weightsd/catalog");
  CHECK(paths.dirs.back().layer == "user");
  CHECK(paths.dirs.back().dir == tmp / "cfg/weightsd/catalog.d");
}

TEST_CASE("the shipped catalog: every file valid, every family present, every entry cited",
          "[catalog]") {
  const std::filesystem::path dir = std::filesystem::path(WEIGHTS_SOURCE_DIR) / "manifests/catalog";
  auto cat = Catalog::load({{{"shipped", dir}}});
  for (const auto& p : cat.problems()) INFO(p.message);
  CHECK(cat.problems().empty());
  std::set<std::string> families;
  std::set<std::string> commits;
  for (const Entry* e : cat.entries()) {
    INFO(e->id);
    families.insert(e->family);
    CHECK(e->repo == e->id);
    CHECK(e->commit.size() == 40);
    CHECK_FALSE(e->sources.empty());
    for (const auto& s : e->sources) CHECK((!s.url.empty() || !s.repo.empty() || !s.quote.empty()));
    for (const auto& a : e->all_aliases()) {
      auto hit = cat.lookup(a);
      REQUIRE(hit);
      CHECK((*hit)->id == e->id);
    }
  }
  for (const char* f :
       {"gemma-4", "gpt-oss", "deepseek", "olmo", "mimo", "qwen", "llama", "mistral"}) {
    INFO(f);
    CHECK(families.count(f) == 1);
    auto def = cat.lookup(f);
    CHECK(def);
  }
  // The documented default variants.
  CHECK(cat.lookup("gpt-oss").value()->id == "openai/gpt-oss-20b");
  CHECK(cat.lookup("gpt-oss:120b").value()->id == "openai/gpt-oss-120b");
  CHECK(cat.lookup("gemma-4:31b-it").value()->commit == "842da3794eaa0b77d5f08bae87a17459d91ff475");
}
