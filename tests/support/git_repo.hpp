#pragma once
// Git repositories for unit tests, made with the git program as a hub's repository would be
// (LFS pointer blobs and .gitattributes written by hand; no git-lfs), in a fixed environment
// without user or system config and with fixed author, committer and dates, so the same steps
// give the same commit ids. A helper that cannot do its job fails the current test.
#include <array>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

struct git_repository;

namespace weights::testing {

class SourceRepo {
 public:
  explicit SourceRepo(const std::filesystem::path& dir);  // `git init -b main`
  const std::filesystem::path& dir() const { return dir_; }
  std::string url() const { return "file://" + dir_.string(); }

  // Runs `git -C dir ARGS` (ARGS through the shell); its stdout without the final newline.
  std::string git(const std::string& args) const;
  void write(const std::string& path, const std::string& bytes) const;
  // `git add -A` and a commit; the new commit's id.
  std::string commit_all(const std::string& message) const;
  // A commit whose root tree is `entries` written as raw tree bytes (git would refuse to build
  // some of them): each {mode, name} with the blob id of `content`.
  std::string commit_raw_tree(const std::vector<std::pair<std::string, std::string>>& entries,
                              const std::string& content) const;
  // A tree object written as raw bytes, each entry {mode, name, object id hex}; its id.
  std::string write_raw_tree(const std::vector<std::array<std::string, 3>>& entries) const;

 private:
  std::filesystem::path dir_;
};

// The LFS oid of the standard model's large file.
extern const std::string big_sha;

// The standard model repository's first commit: .gitattributes (*.safetensors filter=lfs), a
// small config.json, model.safetensors as an LFS pointer (big_sha, 123456789 bytes) and
// tokenizer/tokenizer.json.
std::string make_model(const SourceRepo& repo);

// A repository opened with libgit2 (library initialised while alive).
class LibGit2Repo {
 public:
  explicit LibGit2Repo(const std::filesystem::path& dir);
  ~LibGit2Repo();
  LibGit2Repo(const LibGit2Repo&) = delete;
  LibGit2Repo& operator=(const LibGit2Repo&) = delete;
  git_repository* get() const { return repo_; }

 private:
  git_repository* repo_ = nullptr;
};

std::string shell_quote(const std::string& s);

}  // namespace weights::testing
