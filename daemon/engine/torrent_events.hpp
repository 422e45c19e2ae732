#pragma once
// What the BitTorrent session reports to the engine, as plain events (no libtorrent types).
// LtBackend turns libtorrent alerts into these on the io thread; unit tests make them by hand.
// A TorrentId of no_torrent means the torrent is not (or no longer) registered.
#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "daemon/engine/torrent_backend.hpp"

namespace weights::daemon {

// An add_async answered: `torrent` is registered, or no_torrent with `error` set.
struct TorrentAdded {
  std::uint64_t cookie = 0;  // add_async's return value
  TorrentId torrent = no_torrent;
  std::string error;
};

// One torrent's periodic status (answers post_updates).
struct TorrentUpdate {
  TorrentId torrent = no_torrent;
  TorrentStatus status;
  // Bytes of each file (by libtorrent file index) the torrent has, from its piece bitfield;
  // empty when the torrent's metadata is not available.
  std::vector<std::int64_t> file_done;
  // Its connections and what each downloaded, while the torrent downloads (and shortly after,
  // while its download rate is not 0); empty otherwise.
  std::vector<ConnectionBytes> connections;
};

// One post_updates answered (also when no torrent changed).
struct StatusBatch {
  std::vector<TorrentUpdate> updates;
};

// Status batches were dropped (the alert queue overflowed): their answers will not come.
struct UpdatesLost {};

// Every piece of file `file_index` passed libtorrent's hash check (it may not be on disk yet).
struct FileCompleted {
  TorrentId torrent = no_torrent;
  int file_index = -1;
};

// Every wanted piece is there.
struct TorrentFinished {
  TorrentId torrent = no_torrent;
};

// A torrent added by info-hash (add_magnet) has its metadata (from peers: untrusted).
struct MetadataReceived {
  TorrentId torrent = no_torrent;
  TorrentShape shape;
};

// A check of the files (force_recheck, or resume data at add) is over.
struct TorrentChecked {
  TorrentId torrent = no_torrent;
};

// flush_cache answered.
struct CacheFlushed {
  TorrentId torrent = no_torrent;
};

struct PieceHashFailed {
  TorrentId torrent = no_torrent;
};

struct PeerBanned {
  TorrentId torrent = no_torrent;
  std::string message;
};

// save_resume answered with data. `encode` gives the resume file's bytes (without the
// block-level Merkle trees) with the payload counters raised to at least the given ones.
struct ResumeSaved {
  TorrentId torrent = no_torrent;
  int have_pieces = 0;
  bool all_pieces = false;  // has every piece (and at least one)
  std::function<std::string(std::int64_t min_downloaded, std::int64_t min_uploaded)> encode;
};

// save_resume answered without data (failed, or nothing modified).
struct ResumeSaveFailed {
  TorrentId torrent = no_torrent;
  bool not_modified = false;
  std::string message;
};

// What a TorrentError is about, where the engine answers it differently.
enum class TorrentErrorKind {
  other,
  no_space,  // ENOSPC
  // libtorrent's torrent_inconsistent_hashes: a hybrid's SHA-1 and SHA-256 checks disagreed on a
  // piece; the torrent is paused in error (hash_recheck.hpp).
  inconsistent_hashes,
};

// A torrent's storage or a file of it failed (torrent and file errors alike), or libtorrent
// stopped the torrent in error.
struct TorrentError {
  TorrentId torrent = no_torrent;
  TorrentErrorKind kind = TorrentErrorKind::other;
  std::string message;
};

// Peers a DHT node returned for a key looked up with dht_lookup (untrusted leads). Their
// port is the one they announced (for a pin's key: their pin exchange's).
struct DhtPeers {
  std::string key_hex;  // 40 lowercase hex
  std::vector<boost::asio::ip::tcp::endpoint> peers;
};

using TorrentEvent =
    std::variant<TorrentAdded, StatusBatch, UpdatesLost, FileCompleted, TorrentFinished,
                 TorrentChecked, CacheFlushed, PieceHashFailed, PeerBanned, ResumeSaved,
                 ResumeSaveFailed, TorrentError, MetadataReceived, DhtPeers>;

// Called on the io thread; the event is valid only during the call.
using TorrentEventSink = std::function<void(const TorrentEvent&)>;

}  // namespace weights::daemon
