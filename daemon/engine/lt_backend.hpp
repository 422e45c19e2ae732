#pragma once
// TorrentBackend over libtorrent: owns the TorrentSession and the TorrentId <-> torrent_handle
// registry, makes the adds, and turns libtorrent's alerts into TorrentEvents (torrent_events.hpp)
// for the engine. Includes libtorrent: only engine.cpp and lt_backend.cpp.
#include <filesystem>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <libtorrent/add_torrent_params.hpp>
#include <libtorrent/alert.hpp>
#include <libtorrent/download_priority.hpp>
#include <libtorrent/torrent_handle.hpp>
#include <libtorrent/torrent_info.hpp>
#include <libtorrent/torrent_status.hpp>

#include "daemon/engine/torrent_backend.hpp"
#include "daemon/engine/torrent_events.hpp"
#include "daemon/torrent_session.hpp"

namespace weights::daemon {

// How a torrent is added (besides not paused and not auto-managed, which every add is).
enum class AddFlag { none, seed_mode, super_seeding, upload_mode };

// Payload counters of earlier sessions, from resume data.
struct ResumeCounters {
  std::int64_t downloaded = 0;
  std::int64_t uploaded = 0;
};

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

  // Adds a torrent now; registered on success.
  Result<TorrentId> add(lt::add_torrent_params atp);
  // Queues an add (no round trip to libtorrent's thread); answered by a TorrentAdded event
  // carrying the returned cookie.
  std::uint64_t add_async(lt::add_torrent_params atp);

  // Registers a torrent added to session(); the same handle always gets the same id.
  TorrentId adopt(const lt::torrent_handle& h);
  // The id of a registered torrent, or no_torrent.
  TorrentId find(const lt::torrent_handle& h) const;
  lt::torrent_handle handle(TorrentId t) const;

  // Reads a .torrent (at most max_torrent_bytes).
  static Result<lt::add_torrent_params> load_torrent(const std::filesystem::path& file);
  // libtorrent file index of each real (non-pad) file, by path with `prefix` stripped.
  static std::map<std::string, int> file_indices(const lt::torrent_info& ti,
                                                 std::string_view prefix);
  // Takes the have bitfield, counters and times from resume data of the same torrent into
  // `atp` (libtorrent 2.0.8 accepts another torrent's resume data: checked here). An error
  // says why the data was not used.
  static Result<ResumeCounters> apply_resume(lt::add_torrent_params& atp, std::string_view data);
  static void set_flags(lt::add_torrent_params& atp, std::initializer_list<AddFlag> flags);

  static TorrentStatus to_status(const lt::torrent_status& st);
  static std::vector<lt::download_priority_t> to_lt(const std::vector<FilePriority>& p);
  // True if the companion has exactly the hybrid's piece space: same piece length and count,
  // same files (pads included) at the same offsets. Then the two torrents address the same bytes
  // of the same files in staging, and libtorrent file indices are interchangeable.
  static bool same_layout(const lt::torrent_info& a, const lt::torrent_info& b);
  // Bytes of libtorrent file `file_index` that `st`'s torrent has, from its piece bitfield.
  static std::int64_t file_bytes_done(const lt::torrent_status& st, const lt::file_storage& files,
                                      int file_index);

  void prioritize_files(TorrentId t, const std::vector<FilePriority>& priorities) override;
  void file_priority(TorrentId t, int file_index, FilePriority p) override;
  void pause(TorrentId t) override;
  void resume(TorrentId t) override;
  void clear_error(TorrentId t) override;
  void leave_upload_mode(TorrentId t) override;
  void force_recheck(TorrentId t) override;
  void clear_peers(TorrentId t) override;
  void force_reannounce(TorrentId t) override;
  bool connect_peer(TorrentId t, const boost::asio::ip::tcp::endpoint& peer) override;
  void save_resume(TorrentId t, ResumeSave how) override;
  void flush_cache(TorrentId t) override;
  void remove(TorrentId t) override;
  TorrentStatus status(TorrentId t) override;
  void post_updates() override;

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
};

}  // namespace weights::daemon
