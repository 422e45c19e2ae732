#include "daemon/engine/file_progress.hpp"

namespace weights::daemon {

namespace {

std::int64_t& done_of(FileEntry& f, DownloadSource source) {
  return source == DownloadSource::v1 ? f.v1_done : f.done;
}

}  // namespace

void apply_file_done(std::vector<FileEntry>& files, const std::vector<std::int64_t>& lt_done,
                     DownloadSource source) {
  if (lt_done.empty()) return;
  for (auto& f : files) {
    if (f.lt_index < 0 || static_cast<std::size_t>(f.lt_index) >= lt_done.size()) continue;
    done_of(f, source) = lt_done[static_cast<std::size_t>(f.lt_index)];
  }
}

std::vector<std::size_t> mark_file_completed(std::vector<FileEntry>& files, int lt_index,
                                             DownloadSource source) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    if (files[i].lt_index == lt_index && files[i].wanted) {
      done_of(files[i], source) = static_cast<std::int64_t>(files[i].length);
      out.push_back(i);
    }
  }
  return out;
}

std::vector<FilePriority> file_priorities(const std::vector<FileEntry>& files, int num_files,
                                          VerifiedFiles verified) {
  std::vector<FilePriority> out(static_cast<std::size_t>(num_files), FilePriority::normal);
  for (const auto& f : files) {
    if (f.lt_index < 0 || f.lt_index >= num_files) continue;
    if (!f.wanted || (verified == VerifiedFiles::skip && f.verified)) {
      out[static_cast<std::size_t>(f.lt_index)] = FilePriority::skip;
    }
  }
  return out;
}

std::vector<std::size_t> files_to_hash(const std::vector<FileEntry>& files) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < files.size(); ++i) {
    const auto& f = files[i];
    if (!f.wanted || f.verified || f.hashing) continue;
    if (f.failed && f.attempts >= max_hash_attempts) continue;
    const auto len = static_cast<std::int64_t>(f.length);
    if (len > 0 && (f.done == len || f.v1_done == len)) out.push_back(i);
  }
  return out;
}

}  // namespace weights::daemon
