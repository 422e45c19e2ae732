// `weightsctl catalog ...`: the model catalog (docs/catalog.md). Offline: list, show, search,
// validate; on a connected machine: pin (an entry's fields from its commit's git objects) and
// check (entries against the hub). Reads the shipped, operator and user catalog directories, or
// --catalog-dir.
#include <algorithm>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/api/api.hpp"
#include "core/catalog/catalog.hpp"
#include "core/catalog/pin.hpp"
#include "core/net/hf_hub.hpp"
#include "core/net/url.hpp"
#include "core/publish/pinned_torrent.hpp"
#include "core/upstream/git_pin.hpp"

namespace weights::cli {
namespace {

struct CatalogArgs {
  std::vector<std::string> dirs;   // --catalog-dir: replaces the default layers
  std::string name;                // show NAME / search TEXT / pin NAME / check NAME
  std::vector<std::string> files;  // validate FILE...
  bool all = false;                // pin --all / check --all
  bool write = false;              // pin --write
  std::string files_dir;           // pin --files DIR
  std::string endpoint;            // pin/check --endpoint (else HF_ENDPOINT)
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

// ---- pin and check: against the hub (HF_ENDPOINT), trusting only the commit's git objects ----

Result<hf::HubOptions> hub_options(const CatalogArgs& a) {
  hf::HubOptions ho = hf::hub_options_from_env();
  if (ho.config_error) return tl::unexpected(*ho.config_error);
  if (!a.endpoint.empty()) ho.endpoint = a.endpoint;
  while (!ho.endpoint.empty() && ho.endpoint.back() == '/') ho.endpoint.pop_back();
  return ho;
}

// The entries NAME or --all names (every entry, by id).
Result<std::vector<const catalog::Entry*>> selected(const catalog::Catalog& cat,
                                                    const CatalogArgs& a) {
  if (a.all) return cat.entries();
  auto e = cat.lookup(a.name);
  if (!e) return tl::unexpected(e.error());
  return std::vector<const catalog::Entry*>{*e};
}

struct Pinned {
  upstream::PinnedTree tree;
  catalog::PinnedFields fields;
};

// The entry's commit fetched from {endpoint}/{repo} over git smart HTTP and read from its git
// objects alone (core/upstream/git_pin.hpp): every file's size and SHA-256, and the git blob id
// of files stored in git itself.
Result<Pinned> pin_from_git(const catalog::Entry& e, const hf::HubOptions& ho) {
  upstream::GitFetchOptions go;
  go.token = ho.token;  // to the endpoint's origin only
  go.proxy = ho.proxy;
  auto tree = upstream::fetch_pinned_tree(fmt::format("{}/{}", ho.endpoint, e.repo), e.commit, go);
  if (!tree) {
    Error err = with_context(tree.error(), fmt::format("{}@{}", e.repo, e.commit.substr(0, 12)));
    if (err.hint.empty()) {
      err.hint = err.code == Errc::not_found
                     ? "the hub's git repository does not have this commit: check the entry's "
                       "repo and commit against its source"
                     : "check the endpoint's git service (HF_ENDPOINT / --endpoint); a gated "
                       "repository needs HF_TOKEN";
    }
    return tl::unexpected(std::move(err));
  }
  Pinned p;
  p.fields.commit = tree->commit;
  for (const auto& f : tree->files) {
    catalog::File c;
    c.path = f.path;
    c.size = f.size;
    c.sha256 = f.sha256;
    if (f.kind == upstream::FileKind::blob) c.git_sha1 = f.git_oid;
    p.fields.files.push_back(std::move(c));
  }
  p.tree = std::move(*tree);
  return p;
}

// The v2 info-hash of the pinned torrent (docs/pinned-releases.md) built from the commit's files
// in `dir`, each checked against the pin first.
Result<std::string> pinned_info_hash(const catalog::Entry& e, const upstream::PinnedTree& tree,
                                     const std::filesystem::path& dir) {
  auto pin = canonical_pin(e.upstream, e.repo, tree.commit);
  if (!pin) return tl::unexpected(pin.error());
  std::vector<PinnedFileRef> refs;
  refs.reserve(tree.files.size());
  for (const auto& f : tree.files) refs.push_back({f.path, f.size, f.sha256});
  auto files = hash_pinned_files(dir, std::move(refs));
  if (!files) return tl::unexpected(files.error());
  PinnedTorrentInput in;
  in.pin = *pin;
  in.files = std::move(*files);
  in.source_dir = dir;
  auto built = build_pinned_torrent(in);
  if (!built) return tl::unexpected(built.error());
  return built->torrents.v2_infohash;
}

nlohmann::json files_json(const std::vector<catalog::File>& files) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& f : files) {
    nlohmann::json j = {{"path", f.path}};
    if (f.size) j["size"] = *f.size;
    if (!f.sha256.empty()) j["sha256"] = f.sha256;
    if (!f.git_sha1.empty()) j["git_sha1"] = f.git_sha1;
    out.push_back(std::move(j));
  }
  return out;
}

nlohmann::json error_json(const Error& e) {
  return {{"code", std::string(code_name(e.code))}, {"message", e.message}, {"hint", e.hint}};
}

// The first way the pinned fields contradict what the entry records, as the error that refuses
// the pin (naming the file).
Status refuse_contradicted(const catalog::Entry& e, const catalog::PinnedFields& fields) {
  const auto diffs = catalog::compare_with_pin(e, fields);
  if (diffs.empty()) return {};
  std::string more =
      diffs.size() > 1 ? fmt::format(" (and {} more difference(s))", diffs.size() - 1) : "";
  return fail(diffs.front().code,
              fmt::format("{}: {}: {}{}", e.where.to_string(), e.id, diffs.front().message, more),
              fmt::format("the commit's git objects contradict the entry: correct it, or see "
                          "`weightsctl catalog check {}`",
                          e.id));
}

// One entry pinned: its fields, where the info-hash came from, and what --write did.
Result<nlohmann::json> pin_one(const catalog::Entry& e, const CatalogArgs& a,
                               const hf::HubOptions& ho, std::string& human) {
  auto pinned = pin_from_git(e, ho);
  if (!pinned) return tl::unexpected(pinned.error());
  catalog::PinnedFields& fields = pinned->fields;
  // Before hashing any local file: the git objects alone may already contradict the entry.
  if (auto st = refuse_contradicted(e, fields); !st) return tl::unexpected(st.error());
  std::uint64_t total = 0;
  for (const auto& f : fields.files) total += f.size.value_or(0);
  // The files at hand: --files DIR, else the Hugging Face cache's snapshot of the commit.
  std::filesystem::path dir = a.files_dir;
  std::string info_note;
  if (dir.empty()) {
    std::error_code ec;
    const auto snapshot =
        hf::default_cache_dir() / hf::cache_repo_folder(e.repo) / "snapshots" / fields.commit;
    if (std::filesystem::is_directory(snapshot, ec)) {
      dir = snapshot;
    } else {
      info_note =
          "info_hash_v2 not computed: the files are not at hand (give --files DIR, or "
          "fetch the commit into the Hugging Face cache)";
    }
  }
  std::string info_from;
  if (!dir.empty()) {
    auto ih = pinned_info_hash(e, pinned->tree, dir);
    if (!ih && !a.files_dir.empty()) {
      return tl::unexpected(with_context(ih.error(), fmt::format("--files {}", a.files_dir)));
    }
    if (ih) {
      fields.info_hash_v2 = *ih;
      info_from = dir.string();
    } else {
      info_note = fmt::format("info_hash_v2 not computed from the cache snapshot {}: {}",
                              dir.string(), ih.error().message);
    }
  }
  // Once more with the info-hash, if one was computed.
  if (auto st = refuse_contradicted(e, fields); !st) return tl::unexpected(st.error());
  std::optional<bool> written;
  if (a.write) {
    auto w = catalog::write_pinned_entry(e.where.file, e.id, fields);
    if (!w) return tl::unexpected(w.error());
    written = *w;
    human += *w ? fmt::format("{}: wrote {} files ({}){} into {}\n", e.id, fields.files.size(),
                              human_bytes(total),
                              fields.info_hash_v2.empty() ? "" : " and info_hash_v2", e.where.file)
                : fmt::format("{}: {} already has every pinned field\n", e.id, e.where.file);
  } else {
    human += catalog::pinned_fields_toml(e, fields);
  }
  if (!info_from.empty()) {
    human += fmt::format("# info_hash_v2 from the files in {}\n", info_from);
  } else if (!info_note.empty()) {
    human += "# " + info_note + "\n";
  }
  human += "\n";
  const catalog::Entry full = catalog::with_pinned_fields(e, fields);
  nlohmann::json j = {
      {"id", e.id},
      {"defined_at", e.where.to_string()},
      {"commit", fields.commit},
      {"files", files_json(full.files)},
      {"files_complete", true},
      {"total_length", total},
      {"info_hash_v2",
       fields.info_hash_v2.empty() ? nlohmann::json(nullptr) : nlohmann::json(fields.info_hash_v2)},
      {"info_hash_from", info_from.empty() ? nlohmann::json(nullptr) : nlohmann::json(info_from)},
      {"written", written ? nlohmann::json(*written) : nlohmann::json(nullptr)}};
  if (!info_note.empty()) j["note"] = info_note;
  return j;
}

Status run_pin(Context& ctx, const CatalogArgs& a) {
  if (a.all == !a.name.empty()) {
    return fail(Errc::invalid_argument, "give one entry (NAME) or --all");
  }
  if (a.all && !a.files_dir.empty()) {
    return fail(Errc::invalid_argument, "--files holds one entry's files: give NAME, not --all");
  }
  auto ho = hub_options(a);
  if (!ho) return tl::unexpected(ho.error());
  const auto cat = catalog::Catalog::load(paths_for(a));
  warn_problems(cat.problems());
  auto entries = selected(cat, a);
  if (!entries) return tl::unexpected(entries.error());
  nlohmann::json arr = nlohmann::json::array();
  nlohmann::json errors = nlohmann::json::array();
  std::string human;
  std::optional<Error> first;
  for (const auto* e : *entries) {
    auto j = pin_one(*e, a, *ho, human);
    if (j) {
      arr.push_back(std::move(*j));
      continue;
    }
    if (!a.all) return tl::unexpected(j.error());
    // --all goes on with the other entries and fails at the end.
    fmt::print(stderr, "weightsctl: {}: {}\n", e->id, j.error().message);
    errors.push_back({{"id", e->id}, {"error", error_json(j.error())}});
    if (!first) first = j.error();
  }
  nlohmann::json report = {{"entries", arr}, {"errors", errors}};
  if (first) {
    human += fmt::format("{} of {} entries pinned, {} failed (above)\n", arr.size(),
                         entries->size(), errors.size());
    if (ctx.format == Format::human) fmt::print("{}", human);
    ctx.error_details = std::move(report);
    return fail(first->code,
                fmt::format("{} of {} catalog entries could not be pinned; the first: {}",
                            errors.size(), entries->size(), first->message),
                first->hint);
  }
  emit(ctx, report, human);
  return {};
}

enum class CheckStatus { ok, hints, unverified, differs };

std::string_view check_status_name(CheckStatus s) {
  switch (s) {
    case CheckStatus::ok:
      return "ok";
    case CheckStatus::hints:
      return "hints";
    case CheckStatus::unverified:
      return "unverified";
    case CheckStatus::differs:
      return "differs";
  }
  return "differs";
}

struct CheckResult {
  CheckStatus status = CheckStatus::ok;
  std::vector<catalog::Difference> differences;  // git contradicts the entry
  std::vector<catalog::Difference> hints;        // the hub's API disagrees (not authenticated)
  std::optional<Error> error;                    // why it was not verified, or the API failed
  std::size_t files = 0;                         // files of the commit
};

nlohmann::json differences_json(const std::vector<catalog::Difference>& ds) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& d : ds) {
    out.push_back(
        {{"subject", d.subject}, {"message", d.message}, {"code", std::string(code_name(d.code))}});
  }
  return out;
}

CheckResult check_one(const catalog::Entry& e, const hf::HubOptions& ho, hf::Hub& hub) {
  CheckResult r;
  auto pinned = pin_from_git(e, ho);
  if (pinned) {
    r.files = pinned->fields.files.size();
    r.differences = catalog::compare_with_pin(e, pinned->fields);
  } else if (pinned.error().code == Errc::not_found) {
    r.differences.push_back({"commit",
                             fmt::format("commit {}: not served by the hub's git repository: {}",
                                         e.commit, pinned.error().message),
                             Errc::not_found});
  } else {
    r.error = pinned.error();
  }
  // The API's metadata: what git cannot say (gating, licence, the hub's spelling of the id).
  auto info = hub.get_json(fmt::format("{}/api/models/{}/revision/{}", ho.endpoint,
                                       percent_encode_path(e.repo), e.commit));
  auto hints = info ? catalog::parse_hub_hints(info->body)
                    : Result<catalog::HubHints>(tl::unexpected(info.error()));
  if (hints) {
    r.hints = catalog::compare_hints(e, *hints);
  } else if (!r.error) {
    r.error = with_context(hints.error(), "the hub's API");
  }
  if (!r.differences.empty()) {
    r.status = CheckStatus::differs;
  } else if (!pinned) {
    r.status = CheckStatus::unverified;
  } else if (!r.hints.empty()) {
    r.status = CheckStatus::hints;
  }
  return r;
}

Status run_check(Context& ctx, const CatalogArgs& a) {
  if (a.all && !a.name.empty()) return fail(Errc::invalid_argument, "give NAME or --all, not both");
  auto ho = hub_options(a);
  if (!ho) return tl::unexpected(ho.error());
  const auto cat = catalog::Catalog::load(paths_for(a));
  warn_problems(cat.problems());
  CatalogArgs which = a;
  which.all = a.name.empty();
  auto entries = selected(cat, which);
  if (!entries) return tl::unexpected(entries.error());
  hf::Hub hub(*ho);
  nlohmann::json arr = nlohmann::json::array();
  std::string human;
  std::size_t counts[4] = {0, 0, 0, 0};
  std::optional<Error> first_difference;
  std::optional<Error> first_unverified;
  std::vector<std::string> differing;
  for (const auto* e : *entries) {
    const CheckResult r = check_one(*e, *ho, hub);
    ++counts[static_cast<int>(r.status)];
    std::string label;
    switch (r.status) {
      case CheckStatus::ok:
        label = fmt::format("ok          {} ({} files of commit {})", e->id, r.files,
                            e->commit.substr(0, 12));
        break;
      case CheckStatus::hints:
        label = fmt::format("ok, hints   {} ({} files of commit {})", e->id, r.files,
                            e->commit.substr(0, 12));
        break;
      case CheckStatus::unverified:
        label = fmt::format("UNVERIFIED  {} ({})", e->id, e->where.to_string());
        break;
      case CheckStatus::differs:
        label = fmt::format("DIFFERS     {} ({})", e->id, e->where.to_string());
        break;
    }
    human += label + "\n";
    for (const auto& d : r.differences) human += fmt::format("    {}\n", d.message);
    if (r.status == CheckStatus::unverified && r.error) {
      human += fmt::format("    not verified: {}\n", r.error->message);
    }
    for (const auto& h : r.hints) {
      human += fmt::format("    hint (the hub's API, not authenticated): {}\n", h.message);
    }
    if (r.status != CheckStatus::unverified && r.error) {
      human += fmt::format("    no hints: {}\n", r.error->message);
    }
    if (r.status == CheckStatus::differs) {
      differing.push_back(e->id);
      if (!first_difference) {
        const auto& d = r.differences.front();
        first_difference = Error{d.code, fmt::format("{}: {}", e->id, d.message), {}};
      }
    }
    if (r.status == CheckStatus::unverified && !first_unverified) {
      first_unverified = *r.error;  // names repo@commit
    }
    nlohmann::json j = {{"id", e->id},
                        {"defined_at", e->where.to_string()},
                        {"commit", e->commit},
                        {"status", std::string(check_status_name(r.status))},
                        {"files", r.files},
                        {"differences", differences_json(r.differences)},
                        {"hints", differences_json(r.hints)},
                        {"error", r.error ? error_json(*r.error) : nlohmann::json(nullptr)}};
    arr.push_back(std::move(j));
  }
  human += fmt::format(
      "{} entries checked against {}: {} match, {} differ, {} not verified; {} with hints from "
      "the hub's API\n",
      entries->size(), ho->endpoint, counts[0] + counts[1], counts[3], counts[2], counts[1]);
  nlohmann::json report = {{"endpoint", ho->endpoint},   {"entries", arr},
                           {"checked", entries->size()}, {"differ", counts[3]},
                           {"unverified", counts[2]},    {"with_hints", counts[1]}};
  if (!first_difference && !first_unverified) {
    emit(ctx, report, human);
    return {};
  }
  if (ctx.format == Format::human) fmt::print("{}", human);
  ctx.error_details = std::move(report);
  if (first_difference) {
    std::string ids;
    for (const auto& id : differing) ids += (ids.empty() ? "" : ", ") + id;
    return fail(first_difference->code,
                fmt::format("{} of {} catalog entries differ from the hub ({}); the first: {}",
                            differing.size(), entries->size(), ids, first_difference->message),
                "the commit's git objects are the truth: correct the entry's recorded files, or "
                "its commit if the source was wrong (`weightsctl catalog pin NAME` shows what the "
                "commit pins)");
  }
  return fail(first_unverified->code,
              fmt::format("{} of {} catalog entries could not be checked; the first: {}", counts[2],
                          entries->size(), first_unverified->message),
              first_unverified->hint);
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
      "  weightsctl catalog validate ~/.config/weightsd/catalog.d/my-models.toml\n"
      "  weightsctl catalog check gemma-4");

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

  auto* cp = cat->add_subcommand(
      "pin", "Fill an entry's files (size, SHA-256) and info-hash from its commit's git objects");
  cp->add_option("name", a->name, "An alias or a model id (ORG/NAME)");
  cp->add_flag("--all", a->all, "Pin every catalog entry");
  cp->add_flag("--write", a->write,
               "Write the fields into the entry's catalog file (in place, atomically) instead of "
               "printing them");
  cp->add_option("--files", a->files_dir,
                 "A directory holding the commit's files, for the info-hash (default: the "
                 "Hugging Face cache's snapshot of the commit, if present)");
  cp->add_option("--endpoint", a->endpoint,
                 "Hub endpoint (default $HF_ENDPOINT or https://huggingface.co)");
  cp->footer(
      "Fetches the entry's commit from the hub's git repository (HF_ENDPOINT/ORG/NAME, smart\n"
      "HTTP; HF_TOKEN for gated ones) and reads every file's size and SHA-256 from the git\n"
      "objects alone: the hub is not trusted. Refuses an entry whose recorded fields the commit\n"
      "contradicts. Prints the fields as TOML to paste, or with --write edits the entry's file\n"
      "in place, keeping every comment and every other entry (docs/catalog.md).\n"
      "Examples:\n"
      "  weightsctl catalog pin gemma-4\n"
      "  weightsctl catalog pin qwen:3-0.6b --files ./Qwen3-0.6B --write\n"
      "  weightsctl catalog --catalog-dir ~/.config/weightsd/catalog.d pin --all --write");
  cp->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_pin(ctx, *a); }; });

  auto* cc = cat->add_subcommand("check",
                                 "Re-verify entries against the hub; exit non-zero if one differs");
  cc->add_option("name", a->name, "An alias or a model id (default: every entry)");
  cc->add_flag("--all", a->all, "Check every catalog entry (the default)");
  cc->add_option("--endpoint", a->endpoint,
                 "Hub endpoint (default $HF_ENDPOINT or https://huggingface.co)");
  cc->footer(
      "For each entry: its commit must be fetchable from the hub's git repository and hold the\n"
      "files the entry records, with their sizes and digests. The hub's API is asked for the\n"
      "gated flag and licence, reported as hints: they are not authenticated. Exit 0 when every\n"
      "entry matches (hints do not count), else the code of the first difference (75, or 66 for\n"
      "a commit the hub does not have) or of the first entry that could not be checked.\n"
      "Examples:\n"
      "  weightsctl catalog check\n"
      "  weightsctl --json catalog check gpt-oss:20b | jq '.entries[].status'");
  cc->callback([&ctx, a] { ctx.action = [&ctx, a] { return run_check(ctx, *a); }; });
}

}  // namespace weights::cli
