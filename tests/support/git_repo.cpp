#include "support/git_repo.hpp"

#include <cstdio>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <git2.h>

#include "core/upstream/lfs_pointer.hpp"
#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "support/test_files.hpp"

namespace weights::testing {

namespace fs = std::filesystem;

const std::string big_sha = crypto::sha256_hex("the large file's bytes");

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

SourceRepo::SourceRepo(const fs::path& dir) : dir_(dir) {
  fs::create_directories(dir_);
  git("init -q -b main");
}

std::string SourceRepo::git(const std::string& args) const {
  const std::string cmd = fmt::format(
      "env -i PATH=/usr/bin:/bin HOME={0} GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null "
      "GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.invalid GIT_COMMITTER_NAME=t "
      "GIT_COMMITTER_EMAIL=t@example.invalid GIT_AUTHOR_DATE=2026-01-01T00:00:00Z "
      "GIT_COMMITTER_DATE=2026-01-01T00:00:00Z git -C {0} {1}",
      shell_quote(dir_.string()), args);
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  std::size_t n = 0;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  const int status = ::pclose(p);
  INFO(cmd << "\n" << out);
  REQUIRE(status == 0);
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void SourceRepo::write(const std::string& path, const std::string& bytes) const {
  write_text(dir_ / path, bytes);
}

std::string SourceRepo::commit_all(const std::string& message) const {
  git("add -A");
  git("commit -q -m " + shell_quote(message));
  return git("rev-parse HEAD");
}

std::string SourceRepo::commit_raw_tree(
    const std::vector<std::pair<std::string, std::string>>& entries,
    const std::string& content) const {
  write("blob.tmp", content);
  const std::string blob = git("hash-object -w blob.tmp");
  std::vector<std::array<std::string, 3>> full;
  for (const auto& [mode, name] : entries) full.push_back({mode, name, blob});
  return git("commit-tree -m raw " + write_raw_tree(full));
}

std::string SourceRepo::write_raw_tree(
    const std::vector<std::array<std::string, 3>>& entries) const {
  std::string tree;
  for (const auto& [mode, name, id] : entries) {
    const auto raw_oid = from_hex(id);
    REQUIRE(raw_oid);
    tree += mode + " " + name + std::string(1, '\0');
    tree.append(reinterpret_cast<const char*>(raw_oid->data()), raw_oid->size());
  }
  write("tree.tmp", tree);
  return git("hash-object -t tree -w --literally tree.tmp");
}

std::string make_model(const SourceRepo& repo) {
  repo.write(".gitattributes", "*.safetensors filter=lfs diff=lfs merge=lfs -text\n");
  repo.write("config.json", "{\"model_type\": \"tiny\"}\n");
  repo.write("model.safetensors", upstream::format_lfs_pointer({big_sha, 123456789}));
  repo.write("tokenizer/tokenizer.json", "{\"version\": \"1.0\"}\n");
  return repo.commit_all("model");
}

LibGit2Repo::LibGit2Repo(const fs::path& dir) {
  git_libgit2_init();
  REQUIRE(git_repository_open(&repo_, dir.c_str()) == 0);
}

LibGit2Repo::~LibGit2Repo() {
  git_repository_free(repo_);
  git_libgit2_shutdown();
}

}  // namespace weights::testing
