// Store::materialise_hf_cache: the Hugging Face cache layout built from store entries, and the
// rule for which refs a snapshot moves (hf_cache_refs).
#include <fstream>

#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "core/net/hf_hub.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"
#include "daemon/store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;

using weights::testing::write_text;

using weights::testing::inode_of;

namespace {

std::string stored(const Store& store, const fs::path& tmp, const std::string& data) {
  const std::string sha = crypto::sha256_hex(data);
  write_text(tmp, data);
  REQUIRE(store.adopt(tmp, sha));
  return sha;
}

const std::vector<std::string> main_ref{"main"};

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
  auto snap = store.materialise_hf_cache(cache, "org/model", rev, files, main_ref);
  REQUIRE(snap);
  const fs::path repo = cache / "models--org--model";
  CHECK(*snap == repo / "snapshots" / rev);
  // Blobs are the store's inodes: no second copy.
  CHECK(inode_of(repo / "blobs" / git_oid) == inode_of(store.store_file(cfg)));
  CHECK(inode_of(repo / "blobs" / w) == inode_of(store.store_file(w)));
  // Snapshot entries are relative links into ../../blobs, one more ".." per subdirectory.
  CHECK(fs::read_symlink(*snap / "config.json") == fs::path("../../blobs") / git_oid);
  CHECK(fs::read_symlink(*snap / "sub/dir/extra.safetensors") == fs::path("../../../../blobs") / w);
  CHECK(fs::equivalent(*snap / "sub/dir/extra.safetensors", repo / "blobs" / w));
  auto ref = read_file(repo / "refs" / "main", 100);
  REQUIRE(ref);
  CHECK(*ref == rev);

  // Idempotent; a torn blob (wrong size) is replaced, a stale link is re-pointed.
  fs::remove(repo / "blobs" / git_oid);
  write_text(repo / "blobs" / git_oid, "torn");
  fs::remove(*snap / "model.safetensors");
  fs::create_symlink("../../blobs/" + git_oid, *snap / "model.safetensors");
  REQUIRE(store.materialise_hf_cache(cache, "org/model", rev, files, main_ref));
  CHECK(inode_of(repo / "blobs" / git_oid) == inode_of(store.store_file(cfg)));
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
  auto snap = store.materialise_hf_cache(t / "hub", "org/m", "r1", files, main_ref);
  REQUIRE_FALSE(snap);
  CHECK(snap.error().code == Errc::io_error);
  // Refs are written only after every file: a loader never resolves a partial snapshot.
  CHECK_FALSE(fs::exists(t / "hub/models--org--m/refs/main"));
}

TEST_CASE("an HF cache with planted links or a wrong blob of the right size is not trusted",
          "[store]") {
  testing::TempDir t;
  Store store(t / "state");
  REQUIRE(store.ensure_layout());
  const std::string data(4096, 'w');
  const std::string w = stored(store, t / "in/w", data);
  const std::vector<HfCacheFile> files{{"model.safetensors", w, w}};
  const std::string rev(40, 'e');
  const fs::path cache = t / "hub";
  const fs::path repo = cache / "models--org--model";
  write_text(t / "outside/keep", "outside");

  SECTION("a symlinked blobs, snapshots, refs or repo folder is refused, nothing written there") {
    for (const std::string part : {"blobs", "snapshots", "refs", ""}) {
      fs::remove_all(cache);
      fs::remove_all(t / "outside/target");
      fs::create_directories(t / "outside/target");
      fs::create_directories(part.empty() ? cache : repo);
      fs::create_symlink(t / "outside/target", part.empty() ? repo : repo / part);
      auto snap = store.materialise_hf_cache(cache, "org/model", rev, files, main_ref);
      REQUIRE_FALSE(snap);
      CHECK(snap.error().code == Errc::path_policy);
      CHECK(fs::is_empty(t / "outside/target"));
    }
  }
  SECTION("a blob of the right size with other bytes is replaced by the store's inode") {
    write_text(repo / "blobs" / w, std::string(4096, 'x'));
    REQUIRE(store.materialise_hf_cache(cache, "org/model", rev, files, main_ref));
    CHECK(inode_of(repo / "blobs" / w) == inode_of(store.store_file(w)));
  }
  SECTION("a copy of the daemon's with the right content is kept (another filesystem)") {
    write_text(repo / "blobs" / w, data);
    const ino_t before = inode_of(repo / "blobs" / w);
    REQUIRE(store.materialise_hf_cache(cache, "org/model", rev, files, main_ref));
    CHECK(inode_of(repo / "blobs" / w) == before);
  }
  SECTION("refs/main and a blob planted as links are replaced, not written through") {
    fs::create_directories(repo / "refs");
    fs::create_directories(repo / "blobs");
    fs::create_symlink(t / "outside/keep", repo / "refs/main");
    fs::create_symlink(t / "outside/keep", repo / "blobs" / w);
    REQUIRE(store.materialise_hf_cache(cache, "org/model", rev, files, main_ref));
    CHECK_FALSE(fs::is_symlink(repo / "refs/main"));
    CHECK_FALSE(fs::is_symlink(repo / "blobs" / w));
    CHECK(inode_of(repo / "blobs" / w) == inode_of(store.store_file(w)));
    auto keep = read_file(t / "outside/keep", 100);
    REQUIRE(keep);
    CHECK(*keep == "outside");
  }
}

TEST_CASE("only a complete snapshot asked for without a revision moves refs/main", "[store]") {
  const std::string commit(40, 'a');
  using S = SnapshotScope;
  const std::vector<std::string> none;
  const std::vector<std::string> main{"main"};
  CHECK(hf_cache_refs(commit, std::nullopt, S::complete) == main);
  CHECK(hf_cache_refs(commit, std::nullopt, S::partial) == none);
  // An explicit commit id, the current one or an older one, names no ref (huggingface_hub
  // writes none for a download by commit id).
  CHECK(hf_cache_refs(commit, commit, S::complete) == none);
  // A commit id in upper case is not one (the hub's ids are lowercase): a name like any other.
  const std::string upper(40, 'A');
  CHECK(hf_cache_refs(upper, upper, S::complete) == std::vector<std::string>{upper});
}

TEST_CASE("a revision that is not a commit id gets refs/<name>, complete snapshots only",
          "[store]") {
  using S = SnapshotScope;
  const std::vector<std::string> none;
  CHECK(hf_cache_refs("v1.0", std::string("v1.0"), S::complete) ==
        std::vector<std::string>{"v1.0"});
  CHECK(hf_cache_refs("v1.0", std::nullopt, S::complete) ==
        (std::vector<std::string>{"main", "v1.0"}));
  CHECK(hf_cache_refs("main", std::string("main"), S::complete) ==
        std::vector<std::string>{"main"});
  CHECK(hf_cache_refs("v1.0", std::string("v1.0"), S::partial) == none);
  // A branch the upstream resolved to a commit: the ref names the commit's snapshot.
  const std::string commit(40, 'c');
  CHECK(hf_cache_refs(commit, std::string("release"), S::complete) ==
        std::vector<std::string>{"release"});
  // A ref name that could not be one file under refs/ is dropped, never written.
  CHECK(hf_cache_refs(commit, std::string("../x"), S::complete) == none);
  CHECK(hf_cache_refs(commit, std::string(".hidden"), S::complete) == none);
}

TEST_CASE("refs name the snapshot, other refs are kept, and a snapshot without refs moves none",
          "[store]") {
  testing::TempDir t;
  Store store(t / "state");
  REQUIRE(store.ensure_layout());
  const std::string w = stored(store, t / "in/w", std::string(1024, 'w'));
  const std::vector<HfCacheFile> files{{"model.safetensors", w, w}};
  const fs::path cache = t / "hub";
  const fs::path refs = cache / "models--org--model" / "refs";
  const std::string a(40, 'a');
  const std::string b(40, 'b');
  REQUIRE(store.materialise_hf_cache(cache, "org/model", a, files, main_ref));
  // An older commit fetched explicitly: its snapshot appears, refs/main stays.
  const std::vector<std::string> no_refs;
  auto snap_b = store.materialise_hf_cache(cache, "org/model", b, files, no_refs);
  REQUIRE(snap_b);
  CHECK(fs::is_symlink(*snap_b / "model.safetensors"));
  CHECK(read_file(refs / "main", 100).value_or("") == a);
  // A named revision without a commit id: refs/<name> names the snapshot folder of that name.
  const std::vector<std::string> tag{"v1.0"};
  REQUIRE(store.materialise_hf_cache(cache, "org/model", "v1.0", files, tag));
  CHECK(read_file(refs / "v1.0", 100).value_or("") == "v1.0");
  CHECK(read_file(refs / "main", 100).value_or("") == a);
  CHECK(fs::is_directory(cache / "models--org--model/snapshots/v1.0"));
  // The refs directory holds exactly the refs written (no temp names left behind).
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(refs)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  CHECK(names == (std::vector<std::string>{"main", "v1.0"}));
}

TEST_CASE("an HF cache ref or snapshot name that is not one path component is refused first",
          "[store]") {
  testing::TempDir t;
  Store store(t / "state");
  REQUIRE(store.ensure_layout());
  const std::string w = stored(store, t / "in/w", std::string(64, 'w'));
  const std::vector<HfCacheFile> files{{"model.safetensors", w, w}};
  for (const std::string bad : {"../main", "a/b", ".", ""}) {
    const std::vector<std::string> refs{bad};
    auto snap =
        store.materialise_hf_cache(t / "hub", "org/model", std::string(40, 'a'), files, refs);
    REQUIRE_FALSE(snap);
    CHECK(snap.error().code == Errc::invalid_argument);
    auto bad_rev = store.materialise_hf_cache(t / "hub", "org/model", bad, files, main_ref);
    REQUIRE_FALSE(bad_rev);
    CHECK(bad_rev.error().code == Errc::invalid_argument);
  }
  CHECK_FALSE(fs::exists(t / "hub"));
}
