// Store::materialise_hf_cache: the Hugging Face cache layout built from store entries.
#include <fstream>

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "core/atomic_file.hpp"
#include "core/crypto.hpp"
#include "core/hf_hub.hpp"
#include "daemon/store.hpp"
#include "support/temp_dir.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

void write(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << data;
}

ino_t inode(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_ino;
}

std::string stored(const Store& store, const fs::path& tmp, const std::string& data) {
  const std::string sha = crypto::sha256_hex(data);
  write(tmp, data);
  REQUIRE(store.adopt(tmp, sha));
  return sha;
}

}  // namespace

TEST_CASE("an HF cache snapshot links blobs to the store and writes refs last", "[store]") {
  testing::TempDir t;
  Store store(t / "state");
  REQUIRE(store.ensure_layout());
  const std::string cfg = stored(store, t / "in/config.json", "{\"a\": 1}\n");
  const std::string w = stored(store, t / "in/w", std::string(4096, 'w'));
  const std::string rev(40, 'd');
  const std::string git_oid(40, '5');
  const std::vector<HfCacheFile> files{
      {"config.json", cfg, git_oid},
      {"model.safetensors", w, w},
      {"sub/dir/extra.safetensors", w, w},
  };
  const fs::path cache = t / "hub";
  auto snap = store.materialise_hf_cache(cache, "org/model", rev, files);
  REQUIRE(snap);
  const fs::path repo = cache / "models--org--model";
  CHECK(*snap == repo / "snapshots" / rev);
  // Blobs are the store's inodes: no second copy.
  CHECK(inode(repo / "blobs" / git_oid) == inode(store.store_file(cfg)));
  CHECK(inode(repo / "blobs" / w) == inode(store.store_file(w)));
  // Snapshot entries are relative links into ../../blobs, one more ".." per subdirectory.
  CHECK(fs::read_symlink(*snap / "config.json") == fs::path("../../blobs") / git_oid);
  CHECK(fs::read_symlink(*snap / "sub/dir/extra.safetensors") == fs::path("../../../../blobs") / w);
  CHECK(fs::equivalent(*snap / "sub/dir/extra.safetensors", repo / "blobs" / w));
  auto ref = read_file(repo / "refs" / "main", 100);
  REQUIRE(ref);
  CHECK(*ref == rev);

  // Idempotent; a torn blob (wrong size) is replaced, a stale link is re-pointed.
  fs::remove(repo / "blobs" / git_oid);
  write(repo / "blobs" / git_oid, "torn");
  fs::remove(*snap / "model.safetensors");
  fs::create_symlink("../../blobs/" + git_oid, *snap / "model.safetensors");
  REQUIRE(store.materialise_hf_cache(cache, "org/model", rev, files));
  CHECK(inode(repo / "blobs" / git_oid) == inode(store.store_file(cfg)));
  CHECK(fs::read_symlink(*snap / "model.safetensors") == fs::path("../../blobs") / w);
  // Nothing but blobs, snapshots and refs (no temp names left behind).
  for (const auto& e : fs::directory_iterator(repo / "blobs")) {
    CHECK(e.path().filename().string().front() != '.');
  }

  // The independent checks of the hub import accept this layout.
  auto opened = hf::open_cache_snapshot(repo, std::nullopt);
  REQUIRE(opened);
  CHECK(opened->files.size() == 3);
  CHECK(opened->revision == rev);
}

TEST_CASE("an HF cache entry whose store file is missing fails cleanly", "[store]") {
  testing::TempDir t;
  Store store(t / "state");
  REQUIRE(store.ensure_layout());
  const std::vector<HfCacheFile> files{{"a.json", std::string(64, '0'), std::string(64, '0')}};
  auto snap = store.materialise_hf_cache(t / "hub", "org/m", "r1", files);
  REQUIRE_FALSE(snap);
  CHECK(snap.error().code == Errc::io_error);
  // refs/main is written only after every file: a loader never resolves a partial snapshot.
  CHECK_FALSE(fs::exists(t / "hub/models--org--m/refs/main"));
}
