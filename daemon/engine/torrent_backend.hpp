#pragma once
// The seam between the engine's rules and the BitTorrent session: what the engine asks of a
// torrent once it is added, in plain types. LtBackend (lt_backend.hpp) implements it over
// libtorrent; unit tests use a fake that records the calls (tests/support/fake_backend.hpp).
// Adding a torrent (metadata, resume data, the disk scan) is libtorrent-specific and stays in
// LtBackend's users; a TorrentId names the torrent afterwards.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

namespace weights::daemon {

// A torrent in the session; no_torrent: none (never added, or removed).
using TorrentId = std::uint64_t;
inline constexpr TorrentId no_torrent = 0;

// The largest .torrent the daemon reads (the feed's pinned targets are checked before).
inline constexpr std::size_t max_torrent_bytes = 64 * 1024 * 1024;

inline bool valid(TorrentId t) {
  return t != no_torrent;
}

// libtorrent's torrent states, by the same names.
enum class TorrentPhase {
  checking_files,
  checking_resume_data,
  downloading_metadata,
  downloading,
  finished,
  seeding,
  other,
};

// A torrent's status (the fields the engine reads; names as in libtorrent's torrent_status).
struct TorrentStatus {
  TorrentPhase state = TorrentPhase::other;
  bool paused = false;
  bool is_seeding = false;
  int num_peers = 0;
  int num_seeds = 0;
  int list_peers = 0;
  int list_seeds = 0;
  int num_connections = 0;
  int num_pieces = 0;
  std::int64_t total_wanted_done = 0;
  std::int64_t total_wanted = 0;
  std::int64_t total_payload_download = 0;  // this session
  std::int64_t total_payload_upload = 0;    // this session
  int download_payload_rate = 0;
  int upload_payload_rate = 0;

  bool checking() const {
    return state == TorrentPhase::checking_files || state == TorrentPhase::checking_resume_data;
  }
};

enum class FilePriority { skip, normal };

enum class ResumeSave {
  plain,             // what libtorrent has now (pieces in the page cache are on disk for us)
  flush_disk_cache,  // after flushing libtorrent's write cache
  only_if_modified,  // nothing if libtorrent thinks nothing changed
};

class TorrentBackend {
 public:
  virtual ~TorrentBackend() = default;

  // Per libtorrent file index (pad files included).
  virtual void prioritize_files(TorrentId t, const std::vector<FilePriority>& priorities) = 0;
  virtual void file_priority(TorrentId t, int file_index, FilePriority p) = 0;
  virtual void pause(TorrentId t) = 0;
  virtual void resume(TorrentId t) = 0;
  virtual void clear_error(TorrentId t) = 0;
  virtual void leave_upload_mode(TorrentId t) = 0;
  virtual void force_recheck(TorrentId t) = 0;
  virtual void clear_peers(TorrentId t) = 0;
  virtual void force_reannounce(TorrentId t) = 0;
  // False if the torrent refuses now (libtorrent 2.0.8 does while checking): try again later.
  virtual bool connect_peer(TorrentId t, const boost::asio::ip::tcp::endpoint& peer) = 0;
  // Answered later by a save (or save-failed) report.
  virtual void save_resume(TorrentId t, ResumeSave how) = 0;
  // Answered later by a cache-flushed report.
  virtual void flush_cache(TorrentId t) = 0;
  virtual void remove(TorrentId t) = 0;
  // A round trip to the session's thread: use the periodic updates where they do.
  virtual TorrentStatus status(TorrentId t) = 0;
  // Asks for a status update of every torrent (answered once, later).
  virtual void post_updates() = 0;
};

}  // namespace weights::daemon
