#include "daemon/engine/lt_backend.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <libtorrent/alert_types.hpp>
#include <libtorrent/load_torrent.hpp>
#include <libtorrent/peer_info.hpp>
#include <libtorrent/read_resume_data.hpp>
#include <libtorrent/session.hpp>
#include <libtorrent/session_stats.hpp>
#include <libtorrent/write_resume_data.hpp>

#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "daemon/log.hpp"

namespace weights::daemon {

// SeedPriority::high as libtorrent's torrent priority (0-255, default 1): the unchoke order is
// strict whatever the value; under a rate limit this is the weight against a normal torrent.
constexpr int high_seed_priority = 16;

LtBackend::LtBackend(std::unique_ptr<TorrentSession> session) : session_(std::move(session)) {}

LtBackend::~LtBackend() = default;

Result<std::shared_ptr<const TorrentMeta>> LtBackend::load_torrent(
    const std::filesystem::path& file) {
  return read_torrent(file);
}

Result<std::shared_ptr<const TorrentMeta>> LtBackend::read_torrent(
    const std::filesystem::path& file) {
  lt::load_torrent_limits limits;
  limits.max_buffer_size = static_cast<int>(max_torrent_bytes);
  auto atp = std::make_shared<lt::add_torrent_params>();
  try {
    *atp = lt::load_torrent_file(file.string(), limits);
  } catch (const std::exception& e) {
    return fail(Errc::io_error, fmt::format("cannot load {}: {}", file.string(), e.what()));
  }
  auto t = std::make_shared<TorrentMeta>();
  const auto& ti = *atp->ti;
  // Kept per release for its lifetime: the metadata (shared with the session once added), the
  // .torrent's web seeds and its piece layers (32 bytes a piece, plus a mask of about 2 bits a
  // 16 KiB block: ~24 KiB per GiB at 4 MiB pieces), not the whole
  // add_torrent_params (~1 KiB more per torrent).
  auto kept = std::make_shared<Loaded>();
  kept->ti = atp->ti;
  kept->url_seeds = std::move(atp->url_seeds);
  kept->merkle_trees = std::move(atp->merkle_trees);
  kept->merkle_tree_mask = std::move(atp->merkle_tree_mask);
  const auto& files = ti.files();
  t->files = ti.num_files();
  t->pieces = ti.num_pieces();
  t->has_v1 = ti.info_hashes().has_v1();
  t->layout = layout_of(ti);
  for (const auto fi : files.file_range()) {
    if (!files.pad_file_at(fi)) t->file_index[files.file_path(fi)] = static_cast<int>(fi);
  }
  t->data = std::move(kept);
  return t;
}

const LtBackend::Loaded& LtBackend::loaded(const TorrentMeta& t) {
  return *static_cast<const Loaded*>(t.data.get());
}

const lt::add_torrent_params* LtBackend::resume_params(const ResumeData& r) {
  return static_cast<const lt::add_torrent_params*>(r.data.get());
}

ResumeData LtBackend::to_resume(lt::add_torrent_params params) {
  ResumeData r;
  r.have = to_bools(params.have_pieces);
  r.downloaded = params.total_downloaded;
  r.uploaded = params.total_uploaded;
  r.data = std::make_shared<const lt::add_torrent_params>(std::move(params));
  return r;
}

std::vector<bool> LtBackend::to_bools(const lt::typed_bitfield<lt::piece_index_t>& b) {
  std::vector<bool> out(static_cast<std::size_t>(b.size()), false);
  for (const auto i : b.range()) {
    if (b.get_bit(i)) out[static_cast<std::size_t>(static_cast<int>(i))] = true;
  }
  return out;
}

lt::typed_bitfield<lt::piece_index_t> LtBackend::to_bitfield(const std::vector<bool>& v) {
  lt::typed_bitfield<lt::piece_index_t> out(static_cast<int>(v.size()), false);
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i]) out.set_bit(lt::piece_index_t(static_cast<int>(i)));
  }
  return out;
}

Result<ResumeData> LtBackend::read_resume(const TorrentMeta& t, std::string_view data) {
  lt::error_code ec;
  auto rd = lt::read_resume_data({data.data(), static_cast<std::ptrdiff_t>(data.size())}, ec);
  if (ec) return fail(Errc::invalid_argument, ec.message());
  // 2.0.8 accepts resume data of another torrent (fixed in 2.0.10): check it ourselves.
  if (rd.info_hashes != loaded(t).ti->info_hashes()) {
    return fail(Errc::invalid_argument, "info-hash mismatch");
  }
  return to_resume(std::move(rd));
}

// The .torrent's parameters (metadata, and its own trackers and web seeds unless the request
// names them), with the request's flags, selection, peers and resume state.
lt::add_torrent_params LtBackend::params_of(const AddRequest& req) {
  const Loaded& t = loaded(*req.torrent);
  lt::add_torrent_params atp;
  atp.ti = t.ti;
  atp.url_seeds = t.url_seeds;
  // With the piece layers from the start, every piece is checked against its v2 hashes as it
  // completes. Without them 2.0.8 asks peers for the layers, keeps the block hashes of pieces
  // that failed the v1 check, and once a layer arrives bans whoever is downloading those blocks
  // again by then: an honest peer, for a dishonest one's data.
  atp.merkle_trees = t.merkle_trees;
  atp.merkle_tree_mask = t.merkle_tree_mask;
  atp.save_path = req.save_path.string();
  atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
  switch (req.as) {
    case AddAs::download:
      break;
    case AddAs::seed_mode:
      atp.flags |= lt::torrent_flags::seed_mode;
      break;
    case AddAs::upload_mode:
      atp.flags |= lt::torrent_flags::upload_mode;
      break;
  }
  if (req.super_seed == SuperSeed::on) atp.flags |= lt::torrent_flags::super_seeding;
  if (!req.priorities.empty()) atp.file_priorities = to_lt(req.priorities);
  if (req.web_seeds) atp.url_seeds = *req.web_seeds;
  atp.trackers = req.trackers;
  for (const auto& p : req.peers) atp.peers.push_back(p);
  if (req.resume) {
    atp.have_pieces = to_bitfield(req.resume->have);
    if (const auto* rd = resume_params(*req.resume)) {
      atp.verified_pieces = rd->verified_pieces;
      atp.unfinished_pieces = rd->unfinished_pieces;
      atp.total_uploaded = rd->total_uploaded;
      atp.total_downloaded = rd->total_downloaded;
      atp.active_time = rd->active_time;
      atp.finished_time = rd->finished_time;
      atp.seeding_time = rd->seeding_time;
      atp.added_time = rd->added_time;
      atp.completed_time = rd->completed_time;
    }
  }
  return atp;
}

Result<TorrentId> LtBackend::add(const AddRequest& req) {
  lt::error_code ec;
  auto h = session_->session().add_torrent(params_of(req), ec);
  if (ec) return fail(Errc::internal, ec.message());
  return adopt(h);
}

Result<TorrentId> LtBackend::add_magnet(const MagnetAdd& req) {
  lt::add_torrent_params atp;
  auto raw = from_hex_exact(req.v2_infohash, lt::sha256_hash::size());
  if (!raw) {
    return fail(Errc::invalid_argument,
                fmt::format("'{}' is not a v2 info-hash (64 hex digits)", req.v2_infohash));
  }
  atp.info_hashes.v2 = lt::sha256_hash(reinterpret_cast<const char*>(raw->data()));
  atp.save_path = req.save_path.string();
  atp.flags &= ~(lt::torrent_flags::paused | lt::torrent_flags::auto_managed);
  // Nothing is requested before the engine has checked the metadata.
  atp.flags |= lt::torrent_flags::upload_mode;
  atp.url_seeds = req.web_seeds;
  atp.trackers = req.trackers;
  for (const auto& p : req.peers) atp.peers.push_back(p);
  lt::error_code ec;
  auto h = session_->session().add_torrent(std::move(atp), ec);
  if (ec) return fail(Errc::internal, ec.message());
  return adopt(h);
}

std::uint64_t LtBackend::add_async(const AddRequest& req) {
  auto atp = params_of(req);
  const auto cookie = next_cookie_++;
  pending_adds_[atp.ti->info_hashes()] = cookie;
  session_->session().async_add_torrent(std::move(atp));
  return cookie;
}

void LtBackend::added(std::uint64_t cookie, const lt::torrent_handle& h, const lt::error_code& ec) {
  TorrentAdded e;
  e.cookie = cookie;
  if (ec || !h.is_valid()) {
    e.error = ec ? ec.message() : std::string("no handle");
  } else {
    e.torrent = adopt(h);
  }
  emit(e);
}

// The adds those alerts answered are done, so their torrents are in the session; adds not
// found yet are still queued and will answer.
void LtBackend::find_dropped_adds() {
  for (auto it = pending_adds_.begin(); it != pending_adds_.end();) {
    const auto& ih = it->first;
    const lt::sha1_hash key = ih.has_v1() ? ih.v1 : lt::sha1_hash(ih.v2.data());
    const auto h = session_->session().find_torrent(key);
    if (!h.is_valid()) {
      ++it;
      continue;
    }
    const auto cookie = it->second;
    it = pending_adds_.erase(it);
    added(cookie, h, {});
  }
}

StatusBatch LtBackend::status_batch(const std::vector<lt::torrent_status>& statuses) {
  StatusBatch batch;
  batch.updates.reserve(statuses.size());
  for (const auto& st : statuses) {
    const TorrentId t = find(st.handle);
    if (!valid(t)) continue;
    TorrentUpdate u;
    u.torrent = t;
    u.status = to_status(st);
    log::debug(
        "{} {}: lt state {} peers {} seeds {} list_seeds {} conns {} have {} flags {:x} err {} "
        "wanted {}/{}",
        listen_port(), st.name, static_cast<int>(st.state), st.num_peers, st.num_seeds,
        st.list_seeds, st.num_connections, st.num_pieces, static_cast<std::uint64_t>(st.flags),
        st.errc.message(), st.total_wanted_done, st.total_wanted);
    if (log::level() == LogLevel::debug) {
      std::vector<lt::peer_info> pi;
      st.handle.get_peer_info(pi);
      for (const auto& p : pi) {
        log::debug("  peer {}:{} flags {:x} src {:x} progress {} client '{}' down {} up {}",
                   p.ip.address().to_string(), p.ip.port(), static_cast<std::uint32_t>(p.flags),
                   static_cast<std::uint32_t>(p.source), p.progress, p.client, p.total_download,
                   p.total_upload);
      }
    }
    // Per-connection payload while the torrent downloads, and while its rate says bytes came in
    // lately (the last ones before it finished).
    if (!st.is_seeding || st.download_payload_rate > 0) {
      std::vector<lt::peer_info> peers;
      st.handle.get_peer_info(peers);
      for (const auto& p : peers) {
        const bool web = p.connection_type == lt::peer_info::web_seed ||
                         p.connection_type == lt::peer_info::http_seed;
        const auto ip = p.ip.address().to_string();
        const auto ep =
            fmt::format("{}:{}", p.ip.address().is_v6() ? "[" + ip + "]" : ip, p.ip.port());
        u.connections.push_back(
            {web ? SourceKind::web_seed : SourceKind::peer, web ? ep : ip, ep, p.total_download});
      }
    }
    if (auto ti = st.torrent_file.lock()) {
      const auto& files = ti->files();
      u.file_done.assign(static_cast<std::size_t>(files.num_files()), 0);
      for (const auto fi : files.file_range()) {
        if (files.pad_file_at(fi)) continue;
        u.file_done[static_cast<std::size_t>(static_cast<int>(fi))] =
            file_bytes_done(st, files, static_cast<int>(fi));
      }
    }
    batch.updates.push_back(std::move(u));
  }
  return batch;
}

void LtBackend::on_alert(lt::alert* a) {
  if (auto* at = lt::alert_cast<lt::add_torrent_alert>(a)) {
    const auto it = pending_adds_.find(at->params.info_hashes);
    if (it == pending_adds_.end()) return;  // a synchronous add: handled where it was made
    const auto cookie = it->second;
    pending_adds_.erase(it);
    added(cookie, at->handle, at->error);
  } else if (auto* ad = lt::alert_cast<lt::alerts_dropped_alert>(a)) {
    log::warning("libtorrent dropped alerts (queue full): {}", ad->message());
    if (ad->dropped_alerts.test(static_cast<std::size_t>(lt::add_torrent_alert::alert_type))) {
      find_dropped_adds();
    }
    if (ad->dropped_alerts.test(static_cast<std::size_t>(lt::state_update_alert::alert_type))) {
      emit(UpdatesLost{});
    }
  } else if (auto* su = lt::alert_cast<lt::state_update_alert>(a)) {
    emit(status_batch(su->status));
  } else if (auto* fc = lt::alert_cast<lt::file_completed_alert>(a)) {
    emit(FileCompleted{find(fc->handle), static_cast<int>(fc->index)});
  } else if (auto* tf = lt::alert_cast<lt::torrent_finished_alert>(a)) {
    emit(TorrentFinished{find(tf->handle)});
  } else if (auto* cf = lt::alert_cast<lt::cache_flushed_alert>(a)) {
    emit(CacheFlushed{find(cf->handle)});
  } else if (auto* hf = lt::alert_cast<lt::hash_failed_alert>(a)) {
    emit(PieceHashFailed{find(hf->handle)});
  } else if (auto* pb = lt::alert_cast<lt::peer_ban_alert>(a)) {
    emit(PeerBanned{find(pb->handle), pb->message()});
  } else if (auto* md = lt::alert_cast<lt::metadata_received_alert>(a)) {
    if (auto ti = md->handle.torrent_file())
      emit(MetadataReceived{find(md->handle), shape_of(*ti)});
  } else if (auto* gp = lt::alert_cast<lt::dht_get_peers_reply_alert>(a)) {
    const auto* raw = reinterpret_cast<const std::uint8_t*>(gp->info_hash.data());
    emit(DhtPeers{to_hex({raw, lt::sha1_hash::size()}), gp->peers()});
  } else if (auto* ss = lt::alert_cast<lt::session_stats_alert>(a)) {
    if (dht_nodes_metric_ < 0) dht_nodes_metric_ = lt::find_metric_idx("dht.dht_nodes");
    const auto counters = ss->counters();
    if (dht_nodes_metric_ >= 0 && dht_nodes_metric_ < static_cast<int>(counters.size())) {
      dht_nodes_ = static_cast<int>(counters[static_cast<std::size_t>(dht_nodes_metric_)]);
    }
  } else if (auto* tc = lt::alert_cast<lt::torrent_checked_alert>(a)) {
    emit(TorrentChecked{find(tc->handle)});
  } else if (auto* sr = lt::alert_cast<lt::save_resume_data_alert>(a)) {
    ResumeSaved e;
    e.torrent = find(sr->handle);
    e.have_pieces = static_cast<int>(sr->params.have_pieces.count());
    e.all_pieces = !sr->params.have_pieces.empty() && sr->params.have_pieces.all_set();
    e.encode = [&params = sr->params](std::int64_t min_downloaded, std::int64_t min_uploaded) {
      // Our restart reads only the have bitfield and counters (the piece layers come from the
      // .torrent): the block-level Merkle trees (~2.2 MB per GiB) are not written.
      params.merkle_trees.clear();
      params.merkle_tree_mask.clear();
      params.verified_leaf_hashes.clear();
      params.total_downloaded = std::max(params.total_downloaded, min_downloaded);
      params.total_uploaded = std::max(params.total_uploaded, min_uploaded);
      const auto buf = lt::write_resume_data_buf(params);
      return std::string(buf.data(), buf.size());
    };
    emit(e);
  } else if (auto* sf = lt::alert_cast<lt::save_resume_data_failed_alert>(a)) {
    emit(ResumeSaveFailed{find(sf->handle), sf->error == lt::errors::resume_data_not_modified,
                          sf->message()});
  } else if (auto* te = lt::alert_cast<lt::torrent_error_alert>(a)) {
    emit(TorrentError{find(te->handle), error_kind(te->error), te->message()});
  } else if (auto* fe = lt::alert_cast<lt::file_error_alert>(a)) {
    emit(TorrentError{find(fe->handle), error_kind(fe->error), fe->message()});
  }
}

TorrentErrorKind LtBackend::error_kind(const lt::error_code& ec) {
  if (ec == boost::system::errc::no_space_on_device) return TorrentErrorKind::no_space;
  if (ec == lt::errors::torrent_inconsistent_hashes) return TorrentErrorKind::inconsistent_hashes;
  return TorrentErrorKind::other;
}

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

TorrentShape LtBackend::shape_of(const lt::torrent_info& ti) {
  const auto& fs = ti.files();
  TorrentShape out;
  out.name = fs.name();
  out.piece_length = fs.piece_length();
  const std::string root = out.name + "/";
  for (const auto fi : fs.file_range()) {
    if (fs.pad_file_at(fi)) continue;
    std::string path = fs.file_path(fi);
    // A multi-file torrent's paths start with its name; a single-file torrent's path is it.
    if (path.rfind(root, 0) == 0) path.erase(0, root.size());
    out.files.push_back({std::move(path), fs.file_size(fi), static_cast<int>(fi)});
  }
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

std::string LtBackend::layout_of(const lt::torrent_info& ti) {
  const auto& fs = ti.files();
  std::string text = fmt::format("{} {} {} {}\n", fs.piece_length(), fs.num_pieces(),
                                 fs.num_files(), fs.total_size());
  for (const auto fi : fs.file_range()) {
    const auto path = fs.file_path(fi);
    text += fmt::format("{} {} {} {}:{}\n", fs.file_size(fi), fs.file_offset(fi),
                        fs.pad_file_at(fi) ? 1 : 0, path.size(), path);
  }
  return crypto::sha256_hex(text);
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

// The engine never auto-manages (every torrent is active: queue positions decide nothing), so
// the scarce thing a seed competes for is the session's unchoke slots and, under a rate limit,
// bandwidth. libtorrent 2.0.8 weighs both by the priority of the torrent's peer class, which only
// torrent_handle::set_priority sets (deprecated since 1.2 but built in Debian's library, whose
// ABI version is 1): peers of a higher-priority torrent are unchoked first, strictly, and get a
// larger share of a limited rate. 1 is libtorrent's default.
void LtBackend::seed_priority(TorrentId t, SeedPriority p) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  handle(t).set_priority(p == SeedPriority::high ? high_seed_priority : 1);
#pragma GCC diagnostic pop
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
  if (session_->session().is_dht_running()) session_->session().post_session_stats();
}

namespace {

std::optional<lt::sha1_hash> dht_key(const std::string& key_hex) {
  auto raw = from_hex_exact(key_hex, lt::sha1_hash::size());
  if (!raw) return std::nullopt;
  return lt::sha1_hash(reinterpret_cast<const char*>(raw->data()));
}

}  // namespace

void LtBackend::dht_add_node(const std::string& host, int port) {
  session_->session().add_dht_node({host, port});
}

void LtBackend::dht_announce(const std::string& key_hex, int port) {
  if (auto key = dht_key(key_hex)) session_->session().dht_announce(*key, port);
}

void LtBackend::dht_lookup(const std::string& key_hex) {
  if (auto key = dht_key(key_hex)) session_->session().dht_get_peers(*key);
}

}  // namespace weights::daemon
