#include "daemon/piece_scan.hpp"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <libtorrent/hasher.hpp>
#include <unistd.h>

namespace weights::daemon {

namespace {

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// True if [offset, offset + len) of `fd` is all data (no hole, not past the end). Filesystems
// without SEEK_HOLE report the whole file as data, which only costs a hash.
bool all_data(int fd, std::int64_t offset, std::int64_t len, std::int64_t file_size) {
  if (offset + len > file_size) return false;
  const off_t hole = ::lseek(fd, static_cast<off_t>(offset), SEEK_HOLE);
  return hole < 0 || hole >= static_cast<off_t>(offset + len);
}

bool read_all(int fd, char* buf, std::int64_t len, std::int64_t offset) {
  while (len > 0) {
    const ssize_t n = ::pread(fd, buf, static_cast<std::size_t>(len), static_cast<off_t>(offset));
    if (n <= 0) return false;
    buf += n;
    len -= n;
    offset += n;
  }
  return true;
}

}  // namespace

PieceScanResult scan_pieces(
    const lt::torrent_info& ti, const std::filesystem::path& save_path,
    const std::function<bool(lt::piece_index_t)>& candidate, std::int64_t progress_bytes,
    const std::function<void(const lt::typed_bitfield<lt::piece_index_t>&)>& progress) {
  PieceScanResult out;
  const auto& fs = ti.files();
  out.found.resize(ti.num_pieces(), false);
  if (!ti.info_hashes().has_v1()) return out;
  struct Open {
    std::unique_ptr<Fd> fd;
    std::int64_t size = -1;  // -1: missing or unreadable
  };
  std::map<lt::file_index_t, Open> open;
  auto get = [&](lt::file_index_t fi) -> Open& {
    auto it = open.find(fi);
    if (it != open.end()) return it->second;
    Open o;
    const auto path = save_path / fs.file_path(fi);
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
      o.fd = std::make_unique<Fd>(fd);
      const off_t end = ::lseek(fd, 0, SEEK_END);
      o.size = end < 0 ? -1 : static_cast<std::int64_t>(end);
    }
    return open.emplace(fi, std::move(o)).first->second;
  };
  std::vector<char> buf(static_cast<std::size_t>(ti.piece_length()));
  std::int64_t since_progress = 0;
  for (const auto p : fs.piece_range()) {
    if (!candidate(p)) continue;
    const int size = fs.piece_size(p);
    const auto slices = fs.map_block(p, 0, size);
    bool complete = true;
    for (const auto& s : slices) {
      if (fs.pad_file_at(s.file_index)) continue;
      auto& f = get(s.file_index);
      if (!f.fd || !all_data(f.fd->fd, s.offset, s.size, f.size)) {
        complete = false;
        break;
      }
    }
    if (!complete) continue;
    char* at = buf.data();
    for (const auto& s : slices) {
      if (fs.pad_file_at(s.file_index)) {
        std::fill(at, at + s.size, '\0');
      } else if (!read_all(get(s.file_index).fd->fd, at, s.size, s.offset)) {
        complete = false;
        break;
      }
      at += s.size;
    }
    if (!complete) continue;
    ++out.pieces_hashed;
    out.bytes_hashed += size;
    since_progress += size;
    if (lt::hasher(buf.data(), size).final() == ti.hash_for_piece(p)) out.found.set_bit(p);
    if (progress && progress_bytes > 0 && since_progress >= progress_bytes) {
      since_progress = 0;
      progress(out.found);
    }
  }
  return out;
}

int drop_pieces_past_eof(const lt::torrent_info& ti, const std::filesystem::path& save_path,
                         lt::typed_bitfield<lt::piece_index_t>& have) {
  const auto& fs = ti.files();
  std::vector<std::int64_t> sizes(static_cast<std::size_t>(fs.num_files()), -2);  // -2: unknown
  auto size_of = [&](lt::file_index_t fi) {
    auto& sz = sizes[static_cast<std::size_t>(static_cast<int>(fi))];
    if (sz == -2) {
      std::error_code ec;
      const auto n = std::filesystem::file_size(save_path / fs.file_path(fi), ec);
      sz = ec ? -1 : static_cast<std::int64_t>(n);
    }
    return sz;
  };
  int dropped = 0;
  for (const auto p : have.range()) {
    if (!have.get_bit(p) || p >= fs.end_piece()) continue;
    for (const auto& s : fs.map_block(p, 0, fs.piece_size(p))) {
      if (fs.pad_file_at(s.file_index)) continue;
      if (size_of(s.file_index) < s.offset + s.size) {
        have.clear_bit(p);
        ++dropped;
        break;
      }
    }
  }
  return dropped;
}

}  // namespace weights::daemon
