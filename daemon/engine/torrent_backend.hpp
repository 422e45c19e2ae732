#pragma once
// The seam between the engine's rules and the BitTorrent session: how a torrent is added and
// what the engine asks of it afterwards, in plain types. LtBackend (lt_backend.hpp) implements
// it over libtorrent; unit tests use a fake that records the calls
// (tests/support/fake_backend.hpp). A TorrentId names a torrent once it is added.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "core/util/error.hpp"

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
enum class SeedPriority { normal, high };

// Who a connection downloads from: a BitTorrent peer, or a BEP 19 / BEP 17 web seed.
enum class SourceKind { peer, web_seed };

// One connection of a torrent and the payload it has downloaded so far (libtorrent's
// peer_info::total_download; it starts at 0 for every new connection).
struct ConnectionBytes {
  SourceKind kind = SourceKind::peer;
  std::string address;   // peer: its IP address; web seed: the server's "ip:port"
  std::string endpoint;  // "ip:port" of the connection (tells two connections apart)
  std::int64_t downloaded = 0;
};

// The shape of a torrent's metadata: what a check against a pin needs (no piece hashes).
struct TorrentShape {
  struct File {
    std::string path;  // relative to `name` (a multi-file torrent's root directory)
    std::int64_t size = 0;
    int index = -1;  // libtorrent file index (pad files count)
  };
  std::string name;
  std::int64_t piece_length = 0;
  std::vector<File> files;  // real files, pad files left out, in the torrent's order
};

// A torrent added by its v2 info-hash alone (a magnet): the metadata comes from peers.
struct MagnetAdd {
  std::string v2_infohash;  // 64 hex
  std::filesystem::path save_path;
  std::vector<std::string> web_seeds;
  std::vector<std::string> trackers;
  std::vector<boost::asio::ip::tcp::endpoint> peers;
};

enum class ResumeSave {
  plain,             // what libtorrent has now (pieces in the page cache are on disk for us)
  flush_disk_cache,  // after flushing libtorrent's write cache
  only_if_modified,  // nothing if libtorrent thinks nothing changed
};

// A .torrent the backend read (load_torrent): what the engine needs of it, and the metadata
// itself, which only the backend that read it looks into (so a TorrentMeta, like a ResumeData,
// goes back only to the backend that made it).
struct TorrentMeta {
  int files = 0;  // pad files included
  int pieces = 0;
  bool has_v1 = false;  // v1 (SHA-1) piece hashes: a hybrid or a v1-only torrent
  // Equal for two torrents with the same piece space: same piece length and count, same files
  // (pads included) at the same offsets. Then both address the same bytes of the same files
  // under one save path, and their file and piece indices are interchangeable.
  std::string layout;
  std::map<std::string, int> file_index;  // real (non-pad) files: path in the torrent -> index
  std::shared_ptr<const void> data;       // the backend's own; null in a fake's

  int num_files() const { return files; }
  int num_pieces() const { return pieces; }
};

// A torrent's resume state: read from a resume file (read_resume), recovered by a disk scan
// (disk_scan.hpp), or just the pieces another torrent of the same layout had.
struct ResumeData {
  std::vector<bool> have;  // per piece
  // Payload counters of earlier sessions.
  std::int64_t downloaded = 0;
  std::int64_t uploaded = 0;
  // The backend's own (unfinished pieces, counters, times); null: only `have` is known.
  std::shared_ptr<const void> data;
};

// How a torrent starts (besides not paused and not auto-managed, which every add is).
enum class AddAs {
  download,     // checks what it is told it has (or the files), downloads the wanted rest
  seed_mode,    // takes every piece as had; each is checked the first time it is uploaded
  upload_mode,  // announces and connects but requests nothing (leave_upload_mode ends it)
};
enum class SuperSeed { off, on };  // BEP 16

struct AddRequest {
  std::shared_ptr<const TorrentMeta> torrent;
  std::filesystem::path save_path;
  AddAs as = AddAs::download;
  SuperSeed super_seed = SuperSeed::off;
  // Per file index (pad files included); empty: none set (every file at normal priority).
  std::vector<FilePriority> priorities;
  // The pieces had (the backend then checks nothing), and what else the resume state holds.
  std::optional<ResumeData> resume;
  std::vector<std::string> trackers;
  std::optional<std::vector<std::string>> web_seeds;  // unset: the .torrent's own
  std::vector<boost::asio::ip::tcp::endpoint> peers;
};

class TorrentBackend {
 public:
  virtual ~TorrentBackend() = default;

  // Reads a .torrent (at most max_torrent_bytes).
  virtual Result<std::shared_ptr<const TorrentMeta>> load_torrent(
      const std::filesystem::path& file) = 0;
  // Reads resume data for torrent `t`; an error says why it is not used (unreadable, or
  // another torrent's).
  virtual Result<ResumeData> read_resume(const TorrentMeta& t, std::string_view data) = 0;
  // Adds a torrent now.
  virtual Result<TorrentId> add(const AddRequest& req) = 0;
  // Adds a torrent by its info-hash, in upload mode (it fetches the metadata, announces and
  // connects, but requests no piece until leave_upload_mode). MetadataReceived reports the
  // metadata.
  virtual Result<TorrentId> add_magnet(const MagnetAdd& req) = 0;
  // Queues an add (no round trip to the session's thread); answered by a TorrentAdded event
  // carrying the returned cookie.
  virtual std::uint64_t add_async(const AddRequest& req) = 0;

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
  // SeedPriority::high: the torrent's peers are unchoked before those of normal torrents, and
  // weigh more when a rate limit shares the bandwidth (docs/architecture.md "Upstream watch").
  virtual void seed_priority(TorrentId t, SeedPriority p) = 0;
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

  // ---- the DHT (BEP 5), for the pin rendezvous (docs/pinned-releases.md §4). A key is 40 hex
  // digits (20 bytes, the size of a v1 info-hash). Each call is a no-op while the DHT is off.
  // Asks `host`:`port` to join the routing table (it enters once it answers a ping).
  virtual void dht_add_node(const std::string& host, int port) = 0;
  // Announces this node's address with `port` under `key_hex`. Lost silently while the routing
  // table is empty (dht_node_count() == 0), and never repeated by the session: the caller
  // re-announces on its own timer.
  virtual void dht_announce(const std::string& key_hex, int port) = 0;
  // Looks `key_hex` up: answered by DhtPeers events, one per node that returned peers (none
  // when no node knows the key). At most one lookup a second per key (nodes ban pollers).
  virtual void dht_lookup(const std::string& key_hex) = 0;
  // Nodes in the DHT routing table as of the last post_updates answer; 0 while the DHT is off.
  virtual int dht_node_count() = 0;
};

}  // namespace weights::daemon
