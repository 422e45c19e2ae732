#include "daemon/engine/lt_backend.hpp"

#include <algorithm>

#include <libtorrent/session.hpp>

namespace weights::daemon {

LtBackend::LtBackend(std::unique_ptr<TorrentSession> session) : session_(std::move(session)) {}

LtBackend::~LtBackend() = default;

TorrentId LtBackend::adopt(const lt::torrent_handle& h) {
  if (const auto it = ids_.find(h); it != ids_.end()) return it->second;
  const TorrentId t = next_id_++;
  handles_[t] = h;
  ids_[h] = t;
  return t;
}

TorrentId LtBackend::find(const lt::torrent_handle& h) const {
  const auto it = ids_.find(h);
  return it == ids_.end() ? no_torrent : it->second;
}

lt::torrent_handle LtBackend::handle(TorrentId t) const {
  const auto it = handles_.find(t);
  return it == handles_.end() ? lt::torrent_handle() : it->second;
}

TorrentStatus LtBackend::to_status(const lt::torrent_status& st) {
  TorrentStatus out;
  switch (st.state) {
    case lt::torrent_status::checking_files:
      out.state = TorrentPhase::checking_files;
      break;
    case lt::torrent_status::checking_resume_data:
      out.state = TorrentPhase::checking_resume_data;
      break;
    case lt::torrent_status::downloading_metadata:
      out.state = TorrentPhase::downloading_metadata;
      break;
    case lt::torrent_status::downloading:
      out.state = TorrentPhase::downloading;
      break;
    case lt::torrent_status::finished:
      out.state = TorrentPhase::finished;
      break;
    case lt::torrent_status::seeding:
      out.state = TorrentPhase::seeding;
      break;
    default:
      out.state = TorrentPhase::other;
      break;
  }
  out.paused = static_cast<bool>(st.flags & lt::torrent_flags::paused);
  out.is_seeding = st.is_seeding;
  out.num_peers = st.num_peers;
  out.num_seeds = st.num_seeds;
  out.list_peers = st.list_peers;
  out.list_seeds = st.list_seeds;
  out.num_connections = st.num_connections;
  out.num_pieces = st.num_pieces;
  out.total_wanted_done = st.total_wanted_done;
  out.total_wanted = st.total_wanted;
  out.total_payload_download = st.total_payload_download;
  out.total_payload_upload = st.total_payload_upload;
  out.download_payload_rate = st.download_payload_rate;
  out.upload_payload_rate = st.upload_payload_rate;
  return out;
}

std::vector<lt::download_priority_t> LtBackend::to_lt(const std::vector<FilePriority>& p) {
  std::vector<lt::download_priority_t> out;
  out.reserve(p.size());
  for (const auto x : p) {
    out.push_back(x == FilePriority::skip ? lt::dont_download : lt::default_priority);
  }
  return out;
}

bool LtBackend::same_layout(const lt::torrent_info& a, const lt::torrent_info& b) {
  const auto& fa = a.files();
  const auto& fb = b.files();
  if (fa.piece_length() != fb.piece_length() || fa.num_pieces() != fb.num_pieces() ||
      fa.num_files() != fb.num_files() || fa.total_size() != fb.total_size()) {
    return false;
  }
  for (const auto fi : fa.file_range()) {
    if (fa.file_path(fi) != fb.file_path(fi) || fa.file_size(fi) != fb.file_size(fi) ||
        fa.file_offset(fi) != fb.file_offset(fi) || fa.pad_file_at(fi) != fb.pad_file_at(fi)) {
      return false;
    }
  }
  return true;
}

std::int64_t LtBackend::file_bytes_done(const lt::torrent_status& st, const lt::file_storage& files,
                                        int file_index) {
  const std::int64_t plen = files.piece_length();
  const lt::file_index_t fi(file_index);
  const std::int64_t size = files.file_size(fi);
  if (st.is_seeding) return size;
  if (size == 0 || st.pieces.empty()) return 0;
  const std::int64_t first = files.file_offset(fi) / plen;
  const std::int64_t n = (size + plen - 1) / plen;
  std::int64_t done = 0;
  for (std::int64_t k = 0; k < n; ++k) {
    const lt::piece_index_t p(static_cast<int>(first + k));
    if (static_cast<int>(p) < st.pieces.size() && st.pieces.get_bit(p)) {
      done += std::min(plen, size - k * plen);
    }
  }
  return done;
}

void LtBackend::prioritize_files(TorrentId t, const std::vector<FilePriority>& priorities) {
  handle(t).prioritize_files(to_lt(priorities));
}

void LtBackend::file_priority(TorrentId t, int file_index, FilePriority p) {
  handle(t).file_priority(lt::file_index_t(file_index),
                          p == FilePriority::skip ? lt::dont_download : lt::default_priority);
}

void LtBackend::pause(TorrentId t) {
  handle(t).pause();
}

void LtBackend::resume(TorrentId t) {
  handle(t).resume();
}

void LtBackend::clear_error(TorrentId t) {
  handle(t).clear_error();
}

void LtBackend::leave_upload_mode(TorrentId t) {
  handle(t).unset_flags(lt::torrent_flags::upload_mode);
}

void LtBackend::force_recheck(TorrentId t) {
  handle(t).force_recheck();
}

void LtBackend::clear_peers(TorrentId t) {
  handle(t).clear_peers();
}

void LtBackend::force_reannounce(TorrentId t) {
  handle(t).force_reannounce();
}

bool LtBackend::connect_peer(TorrentId t, const boost::asio::ip::tcp::endpoint& peer) {
  try {
    handle(t).connect_peer(peer);
  } catch (const std::exception&) {
    return false;
  }
  return true;
}

void LtBackend::save_resume(TorrentId t, ResumeSave how) {
  switch (how) {
    case ResumeSave::plain:
      handle(t).save_resume_data({});
      return;
    case ResumeSave::flush_disk_cache:
      handle(t).save_resume_data(lt::torrent_handle::flush_disk_cache);
      return;
    case ResumeSave::only_if_modified:
      handle(t).save_resume_data(lt::torrent_handle::only_if_modified);
      return;
  }
}

void LtBackend::flush_cache(TorrentId t) {
  handle(t).flush_cache();
}

void LtBackend::remove(TorrentId t) {
  const auto it = handles_.find(t);
  if (it == handles_.end()) return;
  const auto h = it->second;
  ids_.erase(h);
  handles_.erase(it);
  session_->session().remove_torrent(h);
}

TorrentStatus LtBackend::status(TorrentId t) {
  return to_status(handle(t).status({}));
}

void LtBackend::post_updates() {
  session_->session().post_torrent_updates(lt::torrent_handle::query_pieces);
}

}  // namespace weights::daemon
