// Views, Hugging Face cache naming and the export bundle, from plain data and a real store in
// a temp dir (no release, no session).
#include "daemon/engine/views.hpp"

#include <catch2/catch.hpp>

#include "core/api/export_info.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/crypto.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::release_file;
using weights::testing::slurp;
using weights::testing::TempDir;
using weights::testing::write_text;

namespace {

std::vector<FileEntry> entries(std::initializer_list<std::pair<bool, bool>> wanted_verified) {
  std::vector<FileEntry> out;
  for (const auto& [w, v] : wanted_verified) {
    FileEntry e;
    e.wanted = w;
    e.verified = v;
    out.push_back(e);
  }
  return out;
}

// A release with two files in the store, its record and a feed whose trusted targets pin the
// manifest and the torrent.
struct Fixture {
  TempDir tmp;
  Store store{tmp / "state"};
  ReleaseManifest manifest;
  ReleaseRecord rec;
  FeedState feed;

  Fixture() {
    REQUIRE(store.ensure_layout());
    manifest.model = "org/model";
    manifest.revision = "r1";
    manifest.files = {release_file("config.json", "{}"), release_file("w/model.bin", "weights")};
    manifest.total_length = 2 + 7;
    manifest.torrent.v2_infohash = std::string(64, 'a');
    for (const auto& [name, content] : {std::pair{"a", std::string("{}")}, {"b", "weights"}}) {
      write_text(tmp / name, content);
      REQUIRE(store.adopt(tmp / name, crypto::sha256_hex(content)));
    }
    rec.id = "org/model@r1";
    rec.feed = "main";
    rec.model = "org/model";
    rec.revision = "r1";
    rec.release_seq = 3;
    rec.v2_infohash = manifest.torrent.v2_infohash;
    rec.manifest = R"({"manifest":"bytes"})";
    const std::string torrent = "d4:infod...ee";
    write_text(store.torrent_file(rec.v2_infohash), torrent);
    feed.name = "main";
    feed.location = "/nonexistent";
    feed.root = TrustedRole{1, "root-bytes", {}};
    feed.timestamp = TrustedRole{5, "ts-bytes", {}};
    feed.snapshot = TrustedRole{6, "snap-bytes", {}};
    feed.targets = TrustedRole{7, "targets-bytes", {}};
    tuf::TargetInfo m;
    m.path = "org/model/r1/release.json";
    m.length = rec.manifest.size();
    m.sha256 = crypto::sha256_hex(rec.manifest);
    m.kind = tuf::TargetKind::release;
    m.model = "org/model";
    m.revision = "r1";
    tuf::TargetInfo t = m;
    t.path = "org/model/r1/release.torrent";
    t.length = torrent.size();
    t.sha256 = crypto::sha256_hex(torrent);
    t.kind = tuf::TargetKind::torrent;
    feed.trusted_targets = {m, t};
  }
};

}  // namespace

TEST_CASE("a view lists the wanted files once all of them are verified", "[views]") {
  ReleaseManifest m;
  m.files = {release_file("a", "1"), release_file("b", "2"), release_file("c", "3")};
  CHECK_FALSE(complete_view(m, entries({{true, true}, {true, false}, {false, false}})));
  const auto v = complete_view(m, entries({{true, true}, {false, false}, {true, true}}));
  REQUIRE(v);
  REQUIRE(v->size() == 2);
  CHECK((*v)[0].path == "a");
  CHECK((*v)[1].path == "c");
  CHECK((*v)[1].sha256 == m.files[2].sha256);
}

TEST_CASE("a published view is kept while the record and the view dir agree", "[views]") {
  Fixture fx;
  const auto view = complete_view(fx.manifest, entries({{true, true}, {true, true}}));
  REQUIRE(view);
  fx.rec.state = "complete";
  CHECK_FALSE(view_intact(fx.store, fx.rec, *view));  // no view yet
  const auto first = publish_view(fx.store, fx.rec, *view);
  REQUIRE(first);
  CHECK(*first);  // the recorded path changed
  CHECK(fx.rec.view_path == fx.store.view_dir("org/model", "r1").string());
  CHECK(slurp(std::filesystem::path(fx.rec.view_path) / "w/model.bin") == "weights");
  CHECK(view_intact(fx.store, fx.rec, *view));
  const auto again = publish_view(fx.store, fx.rec, *view);
  REQUIRE(again);
  CHECK_FALSE(*again);

  fx.rec.state = "downloading";
  CHECK_FALSE(view_intact(fx.store, fx.rec, *view));
  fx.rec.state = "complete";
  std::filesystem::remove(std::filesystem::path(fx.rec.view_path) / "config.json");
  CHECK_FALSE(view_intact(fx.store, fx.rec, *view));
}

TEST_CASE("a Hugging Face snapshot links the wanted files under the hub's layout", "[views][hf]") {
  Fixture fx;
  const HfCacheTarget target{fx.tmp / "hf", std::nullopt};
  const auto snap =
      make_hf_snapshot(fx.store, target, fx.manifest, "r1", entries({{false, true}, {true, true}}));
  REQUIRE(snap);
  CHECK(*snap == fx.tmp / "hf" / "models--org--model" / "snapshots" / "r1");
  CHECK(slurp(*snap / "w" / "model.bin") == "weights");
  CHECK_FALSE(std::filesystem::exists(*snap / "config.json"));
  // A subset of the release moves no ref, not even for a request that named no revision.
  CHECK(std::filesystem::is_empty(fx.tmp / "hf" / "models--org--model" / "refs"));
}

TEST_CASE("a complete Hugging Face snapshot moves the refs its request allows", "[views][hf]") {
  Fixture fx;
  const auto refs = fx.tmp / "hf" / "models--org--model" / "refs";
  const auto all = entries({{true, true}, {true, true}});
  // "r1" is not a commit id: it is upstream's ref name, and the request named no revision.
  REQUIRE(make_hf_snapshot(fx.store, {fx.tmp / "hf", std::nullopt}, fx.manifest, "r1", all));
  CHECK(slurp(refs / "main") == "r1");
  CHECK(slurp(refs / "r1") == "r1");
  // The same release asked for by a commit id (another snapshot) moves nothing.
  std::filesystem::remove(refs / "main");
  std::filesystem::remove(refs / "r1");
  const std::string commit(40, 'f');
  fx.manifest.revision = commit;
  REQUIRE(make_hf_snapshot(fx.store, {fx.tmp / "hf", commit}, fx.manifest, commit, all));
  CHECK(std::filesystem::is_empty(refs));
}

TEST_CASE("the Hugging Face cache is filed under the upstream repo when it names one",
          "[views][hf]") {
  ReleaseManifest m;
  m.model = "mirror/llama";
  CHECK(hf_cache_repo(m) == "mirror/llama");
  m.upstream = ReleaseUpstream{"huggingface", "meta/llama"};
  CHECK(hf_cache_repo(m) == "meta/llama");
  m.upstream = ReleaseUpstream{"huggingface", "not a repo id"};
  CHECK(hf_cache_repo(m) == "mirror/llama");
  m.upstream = ReleaseUpstream{"modelscope", "meta/llama"};
  CHECK(hf_cache_repo(m) == "mirror/llama");

  m.files = {release_file("a", "1"), release_file("b", "2")};
  m.files[1].git_oid = std::string(40, 'b');
  const auto files = hf_cache_files(m, entries({{false, false}, {true, true}}));
  REQUIRE(files.size() == 1);
  CHECK(files[0].path == "b");
  CHECK(files[0].blob_name == std::string(40, 'b'));  // the git oid when there is one
}

TEST_CASE("only a release with every file verified is exported", "[views][export]") {
  Fixture f;
  auto partial = entries({{true, true}, {false, false}});
  const auto st = check_exportable(f.rec, f.manifest, partial);
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::invalid_argument);
  CHECK(st.error().message.find("w/model.bin is not verified") != std::string::npos);
  CHECK(check_exportable(f.rec, f.manifest, entries({{true, true}, {true, true}})));
}

TEST_CASE("an export writes the trusted metadata, the pinned targets and the files",
          "[views][export]") {
  Fixture f;
  const auto dir = f.tmp / "bundle";
  auto info = export_bundle(f.feed, f.rec, f.manifest, f.store, dir);
  REQUIRE(info);
  CHECK(info->format == "weights-export/v1");
  CHECK(info->id == "org/model@r1");
  CHECK(info->dir == dir.string());
  CHECK(info->feed == f.feed.name);
  CHECK(info->files == 2);
  CHECK(slurp(dir / tuf::root_file_name(1)) == "root-bytes");
  CHECK(slurp(dir / std::string(tuf::timestamp_file_name)) == "ts-bytes");
  CHECK(slurp(dir / "files" / "w" / "model.bin") == "weights");
  CHECK(slurp(dir / tuf::consistent_target_name(f.feed.trusted_targets[0])) == f.rec.manifest);
  // The note the import reads names the release.
  auto note = parse_export_info(slurp(dir / "weights-export.json"));
  REQUIRE(note);
  CHECK(note->model == f.rec.model);
  CHECK(note->revision == f.rec.revision);
  CHECK(note->feed == f.feed.name);
}

TEST_CASE("an export refuses a non-empty directory, a feed without metadata, unpinned bytes",
          "[views][export]") {
  Fixture f;
  write_text(f.tmp / "full" / "x", "x");
  auto busy = export_bundle(f.feed, f.rec, f.manifest, f.store, f.tmp / "full");
  REQUIRE_FALSE(busy);
  CHECK(busy.error().code == Errc::already_exists);

  auto no_ts = f.feed;
  no_ts.timestamp.reset();
  auto unavailable = export_bundle(no_ts, f.rec, f.manifest, f.store, f.tmp / "b1");
  REQUIRE_FALSE(unavailable);
  CHECK(unavailable.error().code == Errc::unavailable);

  // The stored manifest no longer matches the feed's pinned hash.
  auto changed = f.rec;
  changed.manifest = R"({"manifest":"other"})";
  auto stale = export_bundle(f.feed, changed, f.manifest, f.store, f.tmp / "b2");
  REQUIRE_FALSE(stale);
  CHECK(stale.error().code == Errc::not_found);
}
