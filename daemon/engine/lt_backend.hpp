#pragma once
// TorrentBackend over libtorrent: owns the TorrentSession and the TorrentId <-> torrent_handle
// registry, makes the adds, and turns libtorrent's alerts into TorrentEvents (torrent_events.hpp)
// for the engine. Includes libtorrent: only engine.cpp and lt_backend.cpp.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert.hpp>
#include <libtorrent/bitfield.hpp>
#include <libtorrent/download_priority.hpp>
#include <libtorrent/error_code.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/torrent_events.hpp"
#include "daemon/torrent_session.hpp"

namespace weights::daemon {

class LtBackend final : public TorrentBackend {
 public:
  explicit LtBackend(std::unique_ptr<TorrentSession> session);
  ~LtBackend() override;  // aborts the session (blocks until it stops)

  lt::session& session() { return session_->session(); }
  int listen_port() const { return session_->listen_port(); }
  void set_rate_limits(std::uint64_t download, std::uint64_t upload) {
    session_->set_rate_limits(download, upload);
  }

  // Where events go (set before the first alert is delivered).
  void set_sink(TorrentEventSink sink) { sink_ = std::move(sink); }
  // Translates one alert into events for the sink (on the io thread).
  void on_alert(lt::alert* a);

  // Registers a torrent added to session(); the same handle always gets the same id.
  TorrentId adopt(const lt::torrent_handle& h);
  // The id of a registered torrent, or no_torrent.
  TorrentId find(const lt::torrent_handle& h) const;
  lt::torrent_handle handle(TorrentId t) const;

  // The metadata and the resume state LtBackend put into a TorrentMeta / ResumeData.
  // What TorrentMeta::data holds: the metadata and the .torrent's own web seeds.
  struct Loaded {
    std::shared_ptr<lt::torrent_info> ti;
    std::vector<std::string> url_seeds;
    // The .torrent's piece layers: load_torrent_file moves them out of `ti`, so every add must
    // pass them, or the session fetches them from peers (see params_of).
    decltype(lt::add_torrent_params::merkle_trees) merkle_trees;
    decltype(lt::add_torrent_params::merkle_tree_mask) merkle_tree_mask;
  };
  static const Loaded& loaded(const TorrentMeta& t);
  static const lt::add_torrent_params* resume_params(const ResumeData& r);
  static ResumeData to_resume(lt::add_torrent_params params);
  // The have bitfield as plain data and back.
  static std::vector<bool> to_bools(const lt::typed_bitfield<lt::piece_index_t>& b);
  static lt::typed_bitfield<lt::piece_index_t> to_bitfield(const std::vector<bool>& v);

  static TorrentStatus to_status(const lt::torrent_status& st);
  // What the engine tells apart in a torrent or file error (exposed for tests).
  static TorrentErrorKind error_kind(const lt::error_code& ec);
  // The metadata's name, piece length and real files (paths relative to the name).
  static TorrentShape shape_of(const lt::torrent_info& ti);
  static std::vector<lt::download_priority_t> to_lt(const std::vector<FilePriority>& p);
  // What an add hands libtorrent (exposed for tests).
  static lt::add_torrent_params params_of(const AddRequest& req);
  // TorrentMeta::layout: equal for the same piece length and count, the same files (pads
  // included) at the same offsets.
  static std::string layout_of(const lt::torrent_info& ti);
  // load_torrent without a session (at most max_torrent_bytes).
  static Result<std::shared_ptr<const TorrentMeta>> read_torrent(const std::filesystem::path& file);
  // Bytes of libtorrent file `file_index` that `st`'s torrent has, from its piece bitfield.
  static std::int64_t file_bytes_done(const lt::torrent_status& st, const lt::file_storage& files,
                                      int file_index);

  Result<std::shared_ptr<const TorrentMeta>> load_torrent(
      const std::filesystem::path& file) override;
  Result<ResumeData> read_resume(const TorrentMeta& t, std::string_view data) override;
  // Registered on success.
  Result<TorrentId> add(const AddRequest& req) override;
  Result<TorrentId> add_magnet(const MagnetAdd& req) override;
  std::uint64_t add_async(const AddRequest& req) override;
  void prioritize_files(TorrentId t, const std::vector<FilePriority>& priorities) override;
  void file_priority(TorrentId t, int file_index, FilePriority p) override;
  void pause(TorrentId t) override;
  void resume(TorrentId t) override;
  void clear_error(TorrentId t) override;
  void leave_upload_mode(TorrentId t) override;
  void force_recheck(TorrentId t) override;
  void clear_peers(TorrentId t) override;
  void force_reannounce(TorrentId t) override;
  void seed_priority(TorrentId t, SeedPriority p) override;
  bool connect_peer(TorrentId t, const boost::asio::ip::tcp::endpoint& peer) override;
  void save_resume(TorrentId t, ResumeSave how) override;
  void flush_cache(TorrentId t) override;
  void remove(TorrentId t) override;
  TorrentStatus status(TorrentId t) override;
  void post_updates() override;
  void dht_add_node(const std::string& host, int port) override;
  void dht_announce(const std::string& key_hex, int port) override;
  void dht_lookup(const std::string& key_hex) override;
  int dht_node_count() override { return dht_nodes_; }

 private:
  void emit(const TorrentEvent& e) {
    if (sink_) sink_(e);
  }
  void added(std::uint64_t cookie, const lt::torrent_handle& h, const lt::error_code& ec);
  // add_torrent_alerts were dropped: find those adds' torrents in the session.
  void find_dropped_adds();
  StatusBatch status_batch(const std::vector<lt::torrent_status>& statuses);

  std::unique_ptr<TorrentSession> session_;
  TorrentEventSink sink_;
  std::map<lt::info_hash_t, std::uint64_t> pending_adds_;  // add_async cookies
  std::uint64_t next_cookie_ = 1;
  std::unordered_map<TorrentId, lt::torrent_handle> handles_;
  std::unordered_map<lt::torrent_handle, TorrentId> ids_;
  TorrentId next_id_ = 1;
  int dht_nodes_ = 0;
  int dht_nodes_metric_ = -1;  // index of dht.dht_nodes in session_stats_alert's counters
};

}  // namespace weights::daemon
