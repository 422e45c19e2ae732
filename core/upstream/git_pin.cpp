#include "core/upstream/git_pin.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>

#include <fmt/format.h>
#include <git2.h>
#include <git2/sys/repository.h>

#include "core/net/url.hpp"
#include "core/upstream/git_process.hpp"
#include "core/upstream/lfs_pointer.hpp"
#include "core/upstream/libgit2_util.hpp"
#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

namespace weights::upstream {
namespace {

using namespace detail;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr int max_tree_depth = 64;
constexpr int deepen_step = 64;
constexpr std::string_view pin_ref = "refs/weightsd/pin";

std::string shown_path(std::string_view path) {
  return "\"" + escape_path_for_message(path) + "\"";
}

// One tree entry's name, before it becomes part of a path: what git's own fsck should refuse
// but libgit2 hands over (and git only warns about).
Status check_entry_name(std::string_view dir, std::string_view name) {
  const std::string shown = dir.empty() ? std::string(name) : fmt::format("{}/{}", dir, name);
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos ||
      name.find('\0') != std::string_view::npos) {
    return fail(Errc::path_policy,
                fmt::format("tree entry {}: not a valid file name", shown_path(shown)));
  }
  if (ascii_lower(name) == ".git") {
    return fail(Errc::path_policy,
                fmt::format("tree entry {}: a \".git\" entry in a release", shown_path(shown)));
  }
  return {};
}

struct RawEntry {
  std::string path;
  git_oid oid;
};

// Every entry visited counts, directories too: trees are a DAG, so a few small trees that name
// each other many times would otherwise make an exponential walk without a single file.
constexpr std::size_t max_tree_entries = 4 * max_tree_files;

// Collects the regular files below `tree`, refusing every other kind of entry.
Status collect_files(git_repository* repo, const git_tree* tree, const std::string& dir, int depth,
                     std::size_t& visited, std::vector<RawEntry>& out) {
  if (depth > max_tree_depth) {
    return fail(Errc::too_large, fmt::format("tree {}: nested deeper than {} directories",
                                             shown_path(dir), max_tree_depth));
  }
  const std::size_t n = git_tree_entrycount(tree);
  for (std::size_t i = 0; i < n; ++i) {
    const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
    if (++visited > max_tree_entries) {
      return fail(Errc::too_large,
                  fmt::format("the commit's trees have more than {} entries", max_tree_entries));
    }
    const std::string_view name = git_tree_entry_name(entry);
    if (auto ok = check_entry_name(dir, name); !ok) return ok;
    std::string path = dir.empty() ? std::string(name) : fmt::format("{}/{}", dir, name);
    switch (git_tree_entry_filemode_raw(entry)) {
      case GIT_FILEMODE_BLOB:
      case GIT_FILEMODE_BLOB_EXECUTABLE:
        if (out.size() >= max_tree_files) {
          return fail(Errc::too_large,
                      fmt::format("the commit has more than {} files", max_tree_files));
        }
        out.push_back(RawEntry{std::move(path), *git_tree_entry_id(entry)});
        break;
      case GIT_FILEMODE_TREE: {
        git_tree* sub_raw = nullptr;
        if (git_tree_lookup(&sub_raw, repo, git_tree_entry_id(entry)) != 0) {
          return fail(Errc::hash_mismatch,
                      fmt::format("directory {}: tree {} unreadable: {}", shown_path(path),
                                  oid_hex(git_tree_entry_id(entry)), git_message()));
        }
        TreePtr sub(sub_raw);
        if (auto ok = collect_files(repo, sub.get(), path, depth + 1, visited, out); !ok) {
          return ok;
        }
        break;
      }
      case GIT_FILEMODE_LINK:
        return fail(Errc::path_policy,
                    fmt::format("tree entry {}: a symbolic link (a release holds regular files "
                                "only)",
                                shown_path(path)));
      case GIT_FILEMODE_COMMIT:
        return fail(Errc::path_policy,
                    fmt::format("tree entry {}: a submodule (gitlink; a release holds regular "
                                "files only)",
                                shown_path(path)));
      default:
        return fail(Errc::path_policy,
                    fmt::format("tree entry {}: unknown mode {:o}", shown_path(path),
                                static_cast<unsigned>(git_tree_entry_filemode_raw(entry))));
    }
  }
  return {};
}

// Whether `path` has `filter=lfs` under the .gitattributes files of `commit` alone: the
// repository is a bare wrapper of the object database with an empty configuration, so neither
// a work tree, an index, info/attributes nor a user's core.attributesFile take part.
Result<bool> is_lfs(git_repository* repo, const git_oid& commit, const std::string& path) {
  git_attr_options opts{};
  opts.version = GIT_ATTR_OPTIONS_VERSION;
  opts.flags = GIT_ATTR_CHECK_INDEX_ONLY | GIT_ATTR_CHECK_NO_SYSTEM | GIT_ATTR_CHECK_INCLUDE_COMMIT;
  git_oid_cpy(&opts.attr_commit_id, &commit);
  const char* value = nullptr;
  if (git_attr_get_ext(&value, repo, &opts, path.c_str(), "filter") != 0) {
    return fail(Errc::parse_error, fmt::format("file {}: .gitattributes lookup failed: {}",
                                               shown_path(path), git_message()));
  }
  return git_attr_value(value) == GIT_ATTR_VALUE_STRING && std::string_view(value) == "lfs";
}

Result<PinnedFile> read_file(git_repository* repo, git_odb* odb, const git_oid& commit,
                             const RawEntry& raw) {
  PinnedFile file;
  file.path = raw.path;
  file.git_oid = oid_hex(&raw.oid);
  // The header first, so an oversized blob is refused before it is loaded (the full read
  // below re-hashes whatever is accepted).
  std::size_t len = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  if (git_odb_read_header(&len, &type, odb, &raw.oid) != 0) {
    return fail(Errc::not_found, fmt::format("file {}: blob {} missing: {}", shown_path(raw.path),
                                             file.git_oid, git_message()));
  }
  if (type != GIT_OBJECT_BLOB) {
    return fail(Errc::parse_error,
                fmt::format("file {}: object {} is a {}, not a blob", shown_path(raw.path),
                            file.git_oid, git_object_type2string(type)));
  }
  if (len > max_small_blob_bytes) {
    return fail(Errc::too_large,
                fmt::format("file {}: a {}-byte blob in git; files stored in git are at most {} "
                            "bytes (larger ones are LFS pointers)",
                            shown_path(raw.path), len, max_small_blob_bytes));
  }
  git_blob* blob_raw = nullptr;
  if (git_blob_lookup(&blob_raw, repo, &raw.oid) != 0) {
    return fail(Errc::hash_mismatch,
                fmt::format("file {}: blob {} unreadable: {}", shown_path(raw.path), file.git_oid,
                            git_message()));
  }
  BlobPtr blob(blob_raw);
  const std::string_view bytes(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                               static_cast<std::size_t>(git_blob_rawsize(blob.get())));
  auto lfs = is_lfs(repo, commit, raw.path);
  if (!lfs) return tl::unexpected(lfs.error());
  if (*lfs && looks_like_lfs_pointer(bytes)) {
    auto pointer = parse_lfs_pointer(bytes);
    if (!pointer) {
      return tl::unexpected(with_context(
          pointer.error(), fmt::format("file {} (blob {})", shown_path(raw.path), file.git_oid)));
    }
    file.kind = FileKind::lfs;
    file.size = pointer->size;
    file.sha256 = std::move(pointer->sha256);
  } else {
    file.kind = FileKind::blob;
    file.size = bytes.size();
    file.sha256 = crypto::sha256_hex(bytes);
  }
  return file;
}

// The URL git is given, checked: http(s) as the one URL parser accepts it and without
// credentials, file:// or an absolute local path without control characters. Anything else
// (ext::, ssh, "-option") never reaches git.
enum class Transport { http, local };

Result<Transport> check_url(std::string_view url) {
  if (url.starts_with("http://") || url.starts_with("https://")) {
    auto parsed = parse_url(url);
    if (!parsed) return tl::unexpected(with_context(parsed.error(), "git URL"));
    if (!parsed->userinfo.empty()) {
      return fail(Errc::invalid_argument, "git URL: credentials in the URL are refused",
                  "pass a token instead (HF_TOKEN)");
    }
    return Transport::http;
  }
  std::string_view path = url;
  if (path.starts_with("file://")) path.remove_prefix(7);
  if (!path.starts_with("/")) {
    return fail(Errc::invalid_argument,
                fmt::format("git URL \"{}\": only http://, https://, file:// and absolute paths",
                            printable_excerpt(url, 80)));
  }
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) {
      return fail(Errc::invalid_argument,
                  fmt::format("git URL \"{}\": control character", printable_excerpt(url, 80)));
    }
  }
  return Transport::local;
}

// A fresh temporary directory (repository and git's HOME), removed with everything in it.
class TempRepo {
 public:
  static Result<TempRepo> create() {
    std::error_code ec;
    const fs::path base = fs::temp_directory_path(ec);
    if (ec) return fail(Errc::io_error, fmt::format("temporary directory: {}", ec.message()));
    std::string pattern = (base / "weightsd-git-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) {
      return fail(Errc::io_error,
                  fmt::format("mkdtemp in {}: {}", base.string(), std::strerror(errno)));
    }
    TempRepo t{fs::path(pattern)};
    fs::create_directory(t.home(), ec);
    if (ec) return fail(Errc::io_error, fmt::format("{}: {}", t.home().string(), ec.message()));
    return t;
  }
  TempRepo(TempRepo&& o) noexcept : dir_(std::exchange(o.dir_, {})) {}
  TempRepo& operator=(TempRepo&&) = delete;
  ~TempRepo() {
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }
  fs::path repo() const { return dir_ / "repo.git"; }
  fs::path home() const { return dir_ / "home"; }
  const fs::path& dir() const { return dir_; }

 private:
  explicit TempRepo(fs::path dir) : dir_(std::move(dir)) {}
  fs::path dir_;
};

// git's environment: nothing from ours. No system or user config, no prompt, no askpass, only
// the http, https and file transports; the token and the proxy as config entries in the
// environment (GIT_CONFIG_COUNT), so they never show on a command line.
std::vector<std::string> git_env(const TempRepo& tmp, std::string_view url, Transport transport,
                                 const GitFetchOptions& options) {
  std::vector<std::string> env = {
      "PATH=/usr/local/bin:/usr/bin:/bin",
      "HOME=" + tmp.home().string(),
      "XDG_CONFIG_HOME=" + (tmp.home() / ".config").string(),
      "TMPDIR=" + tmp.dir().string(),
      "LC_ALL=C",
      "GIT_CONFIG_NOSYSTEM=1",
      "GIT_CONFIG_GLOBAL=/dev/null",
      "GIT_TERMINAL_PROMPT=0",
      "GIT_ALLOW_PROTOCOL=http:https:file",
  };
  std::vector<std::pair<std::string, std::string>> config;
  if (transport == Transport::http) {
    const Url parsed = *parse_url(url);  // check_url accepted it
    if (!options.token.empty()) {
      const std::string origin = fmt::format(
          "{}://{}/", parsed.scheme == UrlScheme::https ? "https" : "http", parsed.host_port());
      config.emplace_back(fmt::format("http.{}.extraHeader", origin),
                          "Authorization: Bearer " + options.token);
    }
    if (auto proxy = options.proxy.proxy_for(parsed)) {
      std::string value = "http://";
      if (!proxy->userinfo.empty()) value += proxy->userinfo + "@";
      value += proxy->host_port();
      config.emplace_back("http.proxy", value);
    }
  }
  env.push_back(fmt::format("GIT_CONFIG_COUNT={}", config.size()));
  for (std::size_t i = 0; i < config.size(); ++i) {
    env.push_back(fmt::format("GIT_CONFIG_KEY_{}={}", i, config[i].first));
    env.push_back(fmt::format("GIT_CONFIG_VALUE_{}={}", i, config[i].second));
  }
  return env;
}

std::vector<std::string> fetch_argv(const TempRepo& tmp, std::vector<std::string> tail) {
  std::vector<std::string> argv = {
      "git",
      "-c",
      "transfer.fsckObjects=true",
      "-c",
      "http.followRedirects=false",
      "-c",
      "protocol.version=2",
      "-c",
      "gc.auto=0",
      "-c",
      "maintenance.auto=false",
      "-c",
      "fetch.writeCommitGraph=false",
      "--git-dir=" + tmp.repo().string(),
      "fetch",
      "--quiet",
      "--no-tags",
      "--no-write-fetch-head",
      "--no-auto-gc",
  };
  argv.insert(argv.end(), std::make_move_iterator(tail.begin()),
              std::make_move_iterator(tail.end()));
  return argv;
}

// The last non-empty line of git's output, for messages (printable only).
std::string last_line(std::string_view output) {
  while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) {
    output.remove_suffix(1);
  }
  const auto nl = output.find_last_of('\n');
  if (nl != std::string_view::npos) output.remove_prefix(nl + 1);
  return printable_excerpt(output, 200);
}

// Whether git failed because the server would not give out the commit by id (or does not
// know it): the case the deepening fallback is for.
bool refused_by_id(std::string_view output) {
  return output.find("not our ref") != std::string_view::npos ||
         output.find("unadvertised object") != std::string_view::npos ||
         output.find("couldn't find remote ref") != std::string_view::npos ||
         output.find("upload-pack: not our") != std::string_view::npos;
}

struct Fetcher {
  const TempRepo& tmp;
  std::string url;
  std::vector<std::string> env;
  GitRunLimits limits;

  // Runs one fetch; a limit hit or a failure becomes an error, `output` keeps git's words.
  Status run(std::vector<std::string> tail, std::string* output = nullptr) {
    auto r = run_git(fetch_argv(tmp, std::move(tail)), env, limits);
    if (!r) return tl::unexpected(r.error());
    if (output) *output = r->output;
    switch (r->end) {
      case GitRunEnd::too_large:
        return fail(Errc::too_large,
                    fmt::format("git fetch from {}: more than {} bytes, aborted",
                                printable_excerpt(url, 120), limits.max_bytes),
                    "a pinned commit's git objects are small; is this a model repository?");
      case GitRunEnd::deadline:
        return fail(Errc::unavailable,
                    fmt::format("git fetch from {}: timed out", printable_excerpt(url, 120)));
      case GitRunEnd::stalled:
        return fail(
            Errc::unavailable,
            fmt::format("git fetch from {}: no data for {} s, aborted", printable_excerpt(url, 120),
                        std::chrono::duration_cast<std::chrono::seconds>(limits.stall).count()));
      case GitRunEnd::exited:
        break;
    }
    if (r->exit_code != 0) {
      // transfer.fsckObjects refused what the server sent ("error: object <id>: hasDotdot:
      // contains '..'", then "fatal: fsck error in packed object"): malformed objects, not an
      // outage, and the error line is the one that says why.
      const auto fsck = r->output.find("fsck error");
      if (fsck != std::string::npos) {
        const auto error_line = r->output.find("error: ");
        return fail(Errc::parse_error,
                    fmt::format("git fetch from {}: objects refused by git's fsck: {}",
                                printable_excerpt(url, 120),
                                last_line(std::string_view(r->output).substr(
                                    0, r->output.find('\n', error_line)))));
      }
      return fail(Errc::unavailable,
                  fmt::format("git fetch from {} failed: {}", printable_excerpt(url, 120),
                              last_line(r->output)));
    }
    return {};
  }
};

bool has_object(const fs::path& repo_dir, const git_oid& oid) {
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, repo_dir.c_str()) != 0) return false;
  RepoPtr repo(raw);
  git_odb* odb_raw = nullptr;
  if (git_repository_odb(&odb_raw, repo.get()) != 0) return false;
  OdbPtr odb(odb_raw);
  return git_odb_exists(odb.get(), &oid) == 1;
}

std::string read_small_file(const fs::path& p) {
  std::string out;
  if (FILE* f = std::fopen(p.c_str(), "rb")) {
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    std::fclose(f);
  }
  return out;
}

// By id first; if the server refuses a want by id, the default branch shallowly, deepened
// until the commit arrives, the history is complete or max_deepen_commits is reached.
Status fetch_commit(Fetcher& fetcher, std::string_view commit, const git_oid& oid) {
  std::string by_id_output;
  auto by_id = fetcher.run(
      {"--depth=1", "--end-of-options", fetcher.url, fmt::format("{}:{}", commit, pin_ref)},
      &by_id_output);
  if (by_id) return {};
  if (by_id.error().code != Errc::unavailable || !refused_by_id(by_id_output)) return by_id;

  const std::string head_spec = fmt::format("HEAD:{}", "refs/weightsd/head");
  if (auto ok = fetcher.run({"--depth=1", "--end-of-options", fetcher.url, head_spec}); !ok) {
    return tl::unexpected(with_context(
        ok.error(), fmt::format("commit {} refused by id ({}); fetching the default branch", commit,
                                last_line(by_id_output))));
  }
  const fs::path shallow = fetcher.tmp.repo() / "shallow";
  for (int depth = 1;;) {
    if (has_object(fetcher.tmp.repo(), oid)) return {};
    const std::string before = read_small_file(shallow);
    if (before.empty() || depth >= max_deepen_commits) break;  // whole history, or the bound
    if (auto ok = fetcher.run(
            {fmt::format("--deepen={}", deepen_step), "--end-of-options", fetcher.url, head_spec});
        !ok) {
      return ok;
    }
    depth += deepen_step;
    if (read_small_file(shallow) == before) break;  // deepening added nothing
  }
  return fail(Errc::not_found,
              fmt::format("commit {} not found at {}: refused by id ({}) and not among the "
                          "newest {} commits of the default branch",
                          commit, printable_excerpt(fetcher.url, 120), last_line(by_id_output),
                          max_deepen_commits),
              "check the commit id; a mirror must serve commits by id (git protocol v2)");
}

Result<PinnedTree> read_tree_isolated(git_odb* odb, std::string_view commit) {
  git_oid oid;
  if (git_oid_fromstrn(&oid, commit.data(), commit.size()) != 0) {
    return fail(Errc::invalid_argument, "not a commit id");
  }
  // A repository of the object database alone: see is_lfs.
  git_repository* raw = nullptr;
  if (git_repository_wrap_odb(&raw, odb) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  RepoPtr repo(raw);
  git_config* cfg_raw = nullptr;
  if (git_config_new(&cfg_raw) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  ConfigPtr cfg(cfg_raw);
  git_repository_set_config(repo.get(), cfg.get());

  // What the id names, first: missing, or another kind of object (a tree or blob id given as
  // the pin). The header read does not re-hash; the commit lookup below does.
  std::size_t header_len = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  if (git_odb_read_header(&header_len, &type, odb, &oid) != 0) {
    return fail(Errc::not_found,
                fmt::format("commit {} is not in the repository ({})", commit, git_message()));
  }
  if (type != GIT_OBJECT_COMMIT) {
    return fail(Errc::wrong_target,
                fmt::format("{} is a {}, not a commit", commit, git_object_type2string(type)));
  }
  git_commit* commit_raw = nullptr;
  if (git_commit_lookup(&commit_raw, repo.get(), &oid) != 0) {
    return fail(Errc::hash_mismatch, fmt::format("commit {}: {}", commit, git_message()));
  }
  CommitPtr c(commit_raw);
  git_tree* tree_raw = nullptr;
  if (git_commit_tree(&tree_raw, c.get()) != 0) {
    return fail(Errc::hash_mismatch,
                fmt::format("commit {}: root tree unreadable: {}", commit, git_message()));
  }
  TreePtr tree(tree_raw);
  std::vector<RawEntry> raws;
  std::size_t visited = 0;
  if (auto ok = collect_files(repo.get(), tree.get(), "", 0, visited, raws); !ok) {
    return tl::unexpected(with_context(ok.error(), fmt::format("commit {}", commit)));
  }
  PinnedTree out;
  out.commit = std::string(commit);
  out.files.reserve(raws.size());
  std::vector<std::string> paths;
  paths.reserve(raws.size());
  for (const auto& r : raws) {
    if (auto ok = check_path(r.path); !ok) {
      return tl::unexpected(with_context(ok.error(), fmt::format("commit {}", commit)));
    }
    paths.push_back(r.path);
  }
  if (auto ok = check_path_set(paths); !ok) {
    return tl::unexpected(with_context(ok.error(), fmt::format("commit {}", commit)));
  }
  for (const auto& r : raws) {
    auto file = read_file(repo.get(), odb, oid, r);
    if (!file) return tl::unexpected(with_context(file.error(), fmt::format("commit {}", commit)));
    out.files.push_back(std::move(*file));
  }
  std::sort(out.files.begin(), out.files.end(),
            [](const PinnedFile& a, const PinnedFile& b) { return a.path < b.path; });
  return out;
}

}  // namespace

bool is_commit_id(std::string_view commit) {
  return is_lower_hex(commit, 20);
}

Result<PinnedTree> read_pinned_tree(git_repository* repo, std::string_view commit) {
  if (!is_commit_id(commit)) {
    return fail(Errc::invalid_argument,
                fmt::format("commit \"{}\": not 40 lowercase hex characters",
                            printable_excerpt(commit, 60)));
  }
  LibGit2 lib;
  git_odb* odb_raw = nullptr;
  if (git_repository_odb(&odb_raw, repo) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  OdbPtr odb(odb_raw);
  return read_tree_isolated(odb.get(), commit);
}

Result<std::string> read_blob(git_repository* repo, std::string_view oid_hex,
                              std::uint64_t max_bytes) {
  if (!is_commit_id(oid_hex)) {
    return fail(Errc::invalid_argument, fmt::format("blob \"{}\": not 40 lowercase hex characters",
                                                    printable_excerpt(oid_hex, 60)));
  }
  LibGit2 lib;
  git_oid oid;
  git_oid_fromstrn(&oid, oid_hex.data(), oid_hex.size());
  git_odb* odb_raw = nullptr;
  if (git_repository_odb(&odb_raw, repo) != 0) {
    return fail(Errc::internal, fmt::format("libgit2: {}", git_message()));
  }
  OdbPtr odb(odb_raw);
  std::size_t len = 0;
  git_object_t type = GIT_OBJECT_INVALID;
  if (git_odb_read_header(&len, &type, odb.get(), &oid) != 0) {
    return fail(Errc::not_found, fmt::format("blob {} missing: {}", oid_hex, git_message()));
  }
  if (type != GIT_OBJECT_BLOB) {
    return fail(Errc::parse_error, fmt::format("object {} is a {}, not a blob", oid_hex,
                                               git_object_type2string(type)));
  }
  if (len > max_bytes) {
    return fail(Errc::too_large,
                fmt::format("blob {}: {} bytes, more than {}", oid_hex, len, max_bytes));
  }
  git_blob* blob_raw = nullptr;
  if (git_blob_lookup(&blob_raw, repo, &oid) != 0) {
    return fail(Errc::hash_mismatch, fmt::format("blob {} unreadable: {}", oid_hex, git_message()));
  }
  BlobPtr blob(blob_raw);
  return std::string(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                     static_cast<std::size_t>(git_blob_rawsize(blob.get())));
}

Status fetch_commit_objects(std::string_view url, std::string_view commit,
                            const GitFetchOptions& options,
                            const std::function<Status(git_repository*)>& use) {
  if (!is_commit_id(commit)) {
    return fail(Errc::invalid_argument,
                fmt::format("commit \"{}\": not 40 lowercase hex characters",
                            printable_excerpt(commit, 60)),
                "give the full commit id (40 hex characters)");
  }
  auto transport = check_url(url);
  if (!transport) return tl::unexpected(transport.error());
  LibGit2 lib;
  git_oid oid;
  git_oid_fromstrn(&oid, commit.data(), commit.size());

  auto tmp = TempRepo::create();
  if (!tmp) return tl::unexpected(tmp.error());
  {
    git_repository* raw = nullptr;
    if (git_repository_init(&raw, tmp->repo().c_str(), 1) != 0) {
      return fail(Errc::io_error,
                  fmt::format("git init {}: {}", tmp->repo().string(), git_message()));
    }
    git_repository_free(raw);
  }
  Fetcher fetcher{*tmp, std::string(url), git_env(*tmp, url, *transport, options),
                  GitRunLimits{Clock::now() + options.timeout,
                               std::chrono::duration_cast<std::chrono::milliseconds>(options.stall),
                               options.max_bytes, tmp->repo()}};
  if (auto ok = fetch_commit(fetcher, commit, oid); !ok) return ok;

  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, tmp->repo().c_str()) != 0) {
    return fail(Errc::io_error,
                fmt::format("git open {}: {}", tmp->repo().string(), git_message()));
  }
  RepoPtr repo(raw);
  if (auto ok = use(repo.get()); !ok) {
    return tl::unexpected(
        with_context(ok.error(), fmt::format("from {}", printable_excerpt(url, 120))));
  }
  return {};
}

Result<PinnedTree> fetch_pinned_tree(std::string_view url, std::string_view commit,
                                     const GitFetchOptions& options) {
  PinnedTree tree;
  auto ok = fetch_commit_objects(url, commit, options, [&](git_repository* repo) -> Status {
    auto read = read_pinned_tree(repo, commit);
    if (!read) return tl::unexpected(read.error());
    tree = std::move(*read);
    return {};
  });
  if (!ok) return tl::unexpected(ok.error());
  return tree;
}

}  // namespace weights::upstream
