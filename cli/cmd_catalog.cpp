// `weightsctl catalog ...`: the model catalog (docs/catalog.md), offline: list, show, search,
// validate. Reads the shipped, operator and user catalog directories, or --catalog-dir.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/api/api.hpp"
#include "core/catalog/catalog.hpp"

namespace weights::cli {
namespace {

struct CatalogArgs {
  std::vector<std::string> dirs;   // --catalog-dir: replaces the default layers
  std::string name;                // show NAME / search TEXT
  std::vector<std::string> files;  // validate FILE...
};

catalog::CatalogPaths paths_for(const CatalogArgs& a) {
  if (!a.dirs.empty()) {
    catalog::CatalogPaths p;
    for (const auto& d : a.dirs) p.dirs.push_back({"explicit", d});
    return p;
  }
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  return catalog::default_catalog_paths(ec ? std::filesystem::path() : exe, &api::process_env);
}

std::string gated_name(const std::optional<bool>& gated) {
  if (!gated) return "unknown";
  return *gated ? "yes" : "no";
}

nlohmann::json problems_json(const std::vector<Error>& problems) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& p : problems) {
    out.push_back(
        {{"code", std::string(code_name(p.code))}, {"message", p.message}, {"hint", p.hint}});
  }
  return out;
}

nlohmann::json entry_json(const catalog::Entry& e) {
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : e.sources) {
    nlohmann::json j = {{"confidence", std::string(catalog::confidence_name(s.confidence))}};
    if (!s.url.empty()) j["url"] = s.url;
    if (!s.repo.empty()) j["repo"] = s.repo;
    if (!s.path.empty()) j["path"] = s.path;
    if (!s.quote.empty()) j["quote"] = s.quote;
    sources.push_back(std::move(j));
  }
  nlohmann::json files = nlohmann::json::array();
  for (const auto& f : e.files) {
    nlohmann::json j = {{"path", f.path}};
    if (f.size) j["size"] = *f.size;
    if (!f.sha256.empty()) j["sha256"] = f.sha256;
    if (!f.git_sha1.empty()) j["git_sha1"] = f.git_sha1;
    files.push_back(std::move(j));
  }
  nlohmann::json j = {{"id", e.id},
                      {"family", e.family},
                      {"variant", e.variant},
                      {"default", e.is_default},
                      {"aliases", e.all_aliases()},
                      {"upstream", e.upstream},
                      {"repo", e.repo},
                      {"commit", e.commit},
                      {"license", e.license},
                      {"gated", e.gated ? nlohmann::json(*e.gated) : nlohmann::json(nullptr)},
                      {"sources", sources},
                      {"files", files},
                      {"files_complete", e.files_complete},
                      {"defined_at", e.where.to_string()},
                      {"layer", e.layer}};
  if (!e.license_url.empty()) j["license_url"] = e.license_url;
  if (!e.note.empty()) j["note"] = e.note;
  if (!e.info_hash_v2.empty()) j["info_hash_v2"] = e.info_hash_v2;
  return j;
}

// Problems go to stderr as warnings: the catalog still serves every good file.
void warn_problems(const std::vector<Error>& problems) {
  for (const auto& p : problems) {
    fmt::print(stderr, "weightsctl: warning: {}\n", p.message);
    if (!p.hint.empty()) fmt::print(stderr, "hint: {}\n", p.hint);
  }
}

std::string table(const std::vector<const catalog::Entry*>& entries) {
  std::string out =
      fmt::format("{:<36} {:<45} {:<12} {:<24} {}\n", "ALIAS", "ID", "COMMIT", "LICENCE", "GATED");
  for (const auto* e : entries) {
    out += fmt::format("{:<36} {:<45} {:<12} {:<24} {}\n", e->all_aliases().front(), e->id,
                       e->commit.substr(0, 12), e->license, gated_name(e->gated));
  }
  return out;
}

Status list_or_search(const Context& ctx, const CatalogArgs& a, bool search) {
  const auto cat = catalog::Catalog::load(paths_for(a));
  auto entries = search ? cat.search(a.name) : cat.entries();
  // By family, the family's default first, then by id.
  std::stable_sort(entries.begin(), entries.end(), [](const auto* x, const auto* y) {
    return std::tuple(x->family, !x->is_default) < std::tuple(y->family, !y->is_default);
  });
  nlohmann::json arr = nlohmann::json::array();
  for (const auto* e : entries) arr.push_back(entry_json(*e));
  std::string human;
  if (entries.empty()) {
    human = search ? fmt::format("no catalog entry matches '{}' (see `weightsctl catalog list`)\n",
                                 a.name)
                   : std::string("the catalog is empty\n");
  } else {
    human = table(entries);
  }
  emit(ctx, {{"entries", arr}, {"problems", problems_json(cat.problems())}}, human);
  warn_problems(cat.problems());
  return {};
}

std::string show_text(const catalog::Entry& e) {
  std::string aliases;
  for (const auto& a : e.all_aliases()) aliases += (aliases.empty() ? "" : ", ") + a;
  std::string out = fmt::format("{}\n", e.id);
  out += fmt::format("  aliases:    {}\n", aliases);
  if (e.is_default) {
    out += fmt::format("              (the default variant of `{}`)\n", e.family);
  }
  out += fmt::format("  upstream:   {} {}\n", e.upstream, e.repo);
  out += fmt::format("  commit:     {}\n", e.commit);
  out += fmt::format("  licence:    {}{}\n", e.license,
                     e.license_url.empty() ? "" : fmt::format(" <{}>", e.license_url));
  out += fmt::format("  gated:      {}\n",
                     e.gated ? gated_name(e.gated) : "unknown (treated as gated)");
  for (const auto& s : e.sources) {
    std::string where = !s.url.empty()    ? s.url
                        : !s.repo.empty() ? fmt::format("github.com/{}, file {}", s.repo, s.path)
                                          : std::string("public text, repository not identified");
    out += fmt::format("  source:     {} ({} confidence)\n", where,
                       catalog::confidence_name(s.confidence));
    if (!s.quote.empty()) out += fmt::format("              \"{}\"\n", s.quote);
  }
  if (!e.files.empty()) {
    out += fmt::format("  files:      {} {}\n", e.files.size(),
                       e.files_complete ? "(the complete list)" : "known (not a complete list)");
    for (const auto& f : e.files) {
      std::string line = fmt::format("    {}", f.path);
      if (f.size) line += fmt::format("  {} ({} bytes)", human_bytes(*f.size), *f.size);
      if (!f.sha256.empty()) line += fmt::format("  sha256 {}", f.sha256);
      if (!f.git_sha1.empty()) line += fmt::format("  git {}", f.git_sha1);
      out += line + "\n";
    }
  }
  if (!e.info_hash_v2.empty()) out += fmt::format("  info-hash:  {} (v2)\n", e.info_hash_v2);
  if (!e.note.empty()) out += fmt::format("  note:       {}\n", e.note);
  out += fmt::format("  defined at: {} ({} catalog)\n", e.where.to_string(), e.layer);
  return out;
}

Status run_show(const Context& ctx, const CatalogArgs& a) {
  const auto cat = catalog::Catalog::load(paths_for(a));
  auto e = cat.lookup(a.name);
  if (!e) {
    warn_problems(cat.problems());
    return tl::unexpected(e.error());
  }
  nlohmann::json j = entry_json(**e);
  j["problems"] = problems_json(cat.problems());
  emit(ctx, j, show_text(**e));
  warn_problems(cat.problems());
  return {};
}

Status run_validate(const Context& ctx, const CatalogArgs& a) {
  std::vector<std::filesystem::path> files;
  catalog::Catalog cat;
  if (!a.files.empty()) {
    for (const auto& f : a.files) files.emplace_back(f);
    cat = catalog::Catalog::load_files(files);
  } else {
    const auto paths = paths_for(a);
    for (const auto& d : paths.dirs) {
      auto names = catalog::catalog_files(d.dir);
      if (names) files.insert(files.end(), names->begin(), names->end());
    }
    cat = catalog::Catalog::load(paths);
  }
  const auto& problems = cat.problems();
  if (problems.empty()) {
    nlohmann::json names = nlohmann::json::array();
    for (const auto& f : files) names.push_back(f.string());
    emit(ctx, {{"valid", true}, {"files", names}, {"entries", cat.entries().size()}},
         fmt::format("valid: {} file(s), {} entries\n", files.size(), cat.entries().size()));
    return {};
  }
  warn_problems(problems);
  Error first = problems.front();
  if (problems.size() > 1) {
    first.message += fmt::format(" (and {} more problem(s), above)", problems.size() - 1);
  }
  return tl::unexpected(std::move(first));
}

}  // namespace

void register_catalog_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<CatalogArgs>();
  auto* cat = app.add_subcommand("catalog", "The model catalog: real releases by pinned commit");
  cat->require_subcommand(1);
  cat->fallthrough();
  cat->add_option("--catalog-dir", a->dirs,
                  "Read only this catalog directory (repeat: later ones override earlier)");
  cat->footer(
      "The catalog names upstream models (Hugging Face repositories) by their full commit id.\n"
      "It is read from the shipped catalog (share/weightsd/catalog), /etc/weightsd/catalog.d\n"
      "and $XDG_CONFIG_HOME/weightsd/catalog.d; later ones override earlier (docs/catalog.md).\n"
      "Examples:\n"
      "  weightsctl catalog list\n"
      "  weightsctl catalog show gemma-4\n"
      "  weightsctl catalog validate ~/.config/weightsd/catalog.d/my-models.toml");

  auto* cl = cat->add_subcommand("list", "List every catalog entry");
  cl->footer(
      "Examples:\n  weightsctl catalog list\n  weightsctl --json catalog list | jq -r "
      "'.entries[].id'");
  cl->callback([&ctx, a] { ctx.action = [&ctx, a] { return list_or_search(ctx, *a, false); }; });

  auto* cs = cat->add_subcommand("show", "Show one entry: commit, licence, sources, files");
  cs->add_option("name", a->name, "An alias (gemma-4, gpt-oss:120b) or a model id (ORG/NAME)")
      ->required();
  cs->footer(
      "Examples:\n  weightsctl catalog show gemma-4\n"
      "  weightsctl catalog show openai/gpt-oss-120b");
  cs->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_show(ctx, *a); }; });

  auto* cf = cat->add_subcommand("search", "Find entries by part of an id, alias or family");
  cf->add_option("text", a->name, "Text to look for (case-insensitive)")->required();
  cf->footer("Examples:\n  weightsctl catalog search qwen\n  weightsctl catalog search 8b");
  cf->callback([&ctx, a] { ctx.action = [&ctx, a] { return list_or_search(ctx, *a, true); }; });

  auto* cv = cat->add_subcommand("validate", "Check catalog files strictly (exit 65 if invalid)");
  cv->add_option("file", a->files,
                 "Catalog files, checked together as one directory (default: every catalog "
                 "directory)");
  cv->footer(
      "Every error names the file and line. Files given together must not define one alias\n"
      "for different models.\n"
      "Examples:\n"
      "  weightsctl catalog validate\n"
      "  weightsctl catalog validate my-models.toml");
  cv->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_validate(ctx, *a); }; });
}

}  // namespace weights::cli
