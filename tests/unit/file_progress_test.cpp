// How progress reports move a release's per-file record, without a session: bytes per source,
// completed files, and which files are due for a SHA-256 check.
#include "daemon/engine/file_progress.hpp"

#include <catch2/catch.hpp>

using namespace weights::daemon;

namespace {

// Three wanted files at libtorrent indices 0, 2 (1 is a pad file) and 3.
std::vector<FileEntry> three_files() {
  std::vector<FileEntry> files(3);
  const int lt[] = {0, 2, 3};
  for (std::size_t i = 0; i < files.size(); ++i) {
    files[i].length = 100 * (i + 1);
    files[i].wanted = true;
    files[i].lt_index = lt[i];
  }
  return files;
}

}  // namespace

TEST_CASE("bytes done are taken per libtorrent index for the source that reported them",
          "[file_progress]") {
  auto files = three_files();
  apply_file_done(files, {10, 999, 20, 30}, DownloadSource::hybrid);
  CHECK(files[0].done == 10);
  CHECK(files[1].done == 20);
  CHECK(files[2].done == 30);
  CHECK(files[0].v1_done == 0);
  apply_file_done(files, {1, 0, 2, 3}, DownloadSource::v1);
  CHECK(files[1].v1_done == 2);
  CHECK(files[1].done == 20);
}

TEST_CASE("a report without metadata, or files outside the torrent, change nothing",
          "[file_progress]") {
  auto files = three_files();
  files[2].lt_index = -1;
  files[0].done = 5;
  apply_file_done(files, {}, DownloadSource::hybrid);
  CHECK(files[0].done == 5);
  apply_file_done(files, {7, 0, 8}, DownloadSource::hybrid);  // index 3 beyond the report
  CHECK(files[0].done == 7);
  CHECK(files[2].done == 0);
}

TEST_CASE("a completed libtorrent file marks the wanted file there complete for its source",
          "[file_progress]") {
  auto files = three_files();
  CHECK(mark_file_completed(files, 2, DownloadSource::v1) == std::vector<std::size_t>{1});
  CHECK(files[1].v1_done == 200);
  CHECK(files[1].done == 0);
  CHECK(mark_file_completed(files, 1, DownloadSource::hybrid).empty());  // the pad file
  files[2].wanted = false;
  CHECK(mark_file_completed(files, 3, DownloadSource::hybrid).empty());
  CHECK(files[2].done == 0);
}

TEST_CASE(
    "files one source has completely are due for a hash unless verified, hashing or "
    "given up",
    "[file_progress]") {
  auto files = three_files();
  CHECK(files_to_hash(files).empty());
  files[0].done = 100;
  files[1].v1_done = 200;
  files[2].done = 299;
  CHECK(files_to_hash(files) == std::vector<std::size_t>{0, 1});
  files[0].hashing = true;
  CHECK(files_to_hash(files) == std::vector<std::size_t>{1});
  files[1].failed = true;
  files[1].attempts = max_hash_attempts - 1;
  CHECK(files_to_hash(files) == std::vector<std::size_t>{1});
  files[1].attempts = max_hash_attempts;
  CHECK(files_to_hash(files).empty());
  files[0].hashing = false;
  files[0].verified = true;
  CHECK(files_to_hash(files).empty());
}

TEST_CASE("priorities skip unwanted files, and verified ones only with two sources",
          "[file_progress]") {
  auto files = three_files();
  files[1].wanted = false;
  files[2].verified = true;
  using P = FilePriority;
  CHECK(file_priorities(files, 4, VerifiedFiles::download) ==
        std::vector<P>{P::normal, P::normal, P::skip, P::normal});  // index 1: the pad file
  CHECK(file_priorities(files, 4, VerifiedFiles::skip) ==
        std::vector<P>{P::normal, P::normal, P::skip, P::skip});
  files[2].lt_index = 7;  // outside the torrent: ignored
  CHECK(file_priorities(files, 4, VerifiedFiles::skip).size() == 4);
}

TEST_CASE("empty and unwanted files are never hashed from progress", "[file_progress]") {
  auto files = three_files();
  files[0].length = 0;
  files[1].wanted = false;
  files[1].done = 200;
  CHECK(files_to_hash(files).empty());
}
