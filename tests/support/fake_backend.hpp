#pragma once
// A TorrentBackend that records what it is asked, for unit tests of the engine's components
// without a session. Calls are logged as "<verb> <id>[ <arg>]"; connect_peer can be made to
// refuse, and status() answers from `statuses`. Adds are kept in `adds` (add logs
// "add <id> <as>", add_async "add_async <cookie> <as>"); load_torrent answers from `torrents`
// and read_resume from `resumes`.
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "daemon/engine/torrent_backend.hpp"

namespace weights::testing {

class FakeBackend final : public daemon::TorrentBackend {
 public:
  using TorrentId = daemon::TorrentId;

  std::vector<std::string> calls;
  std::set<TorrentId> refuse_connect;  // connect_peer returns false for these
  std::map<TorrentId, daemon::TorrentStatus> statuses;
  std::map<TorrentId, std::vector<daemon::FilePriority>> priorities;
  std::map<std::filesystem::path, daemon::TorrentMeta> torrents;  // what load_torrent reads
  std::map<std::string, daemon::ResumeData> resumes;  // read_resume: resume data by its bytes
  std::vector<daemon::AddRequest> adds;               // add and add_async, in order
  bool refuse_adds = false;                           // add fails
  TorrentId next_id = 100;
  std::uint64_t next_cookie = 1;

  Result<std::shared_ptr<const daemon::TorrentMeta>> load_torrent(
      const std::filesystem::path& file) override {
    const auto it = torrents.find(file);
    if (it == torrents.end()) return fail(Errc::io_error, "cannot load " + file.string());
    return std::make_shared<const daemon::TorrentMeta>(it->second);
  }
  Result<daemon::ResumeData> read_resume(const daemon::TorrentMeta&,
                                         std::string_view data) override {
    const auto it = resumes.find(std::string(data));
    if (it == resumes.end()) return fail(Errc::invalid_argument, "unreadable");
    return it->second;
  }
  Result<TorrentId> add(const daemon::AddRequest& req) override {
    adds.push_back(req);
    if (refuse_adds) {
      calls.push_back("add refused");
      return fail(Errc::internal, "refused");
    }
    const TorrentId t = next_id++;
    log("add", t, as_name(req.as));
    return t;
  }
  std::vector<daemon::MagnetAdd> magnets;  // add_magnet, in order
  Result<TorrentId> add_magnet(const daemon::MagnetAdd& req) override {
    magnets.push_back(req);
    if (refuse_adds) {
      calls.push_back("add_magnet refused");
      return fail(Errc::internal, "refused");
    }
    const TorrentId t = next_id++;
    log("add_magnet", t, req.v2_infohash);
    return t;
  }
  std::uint64_t add_async(const daemon::AddRequest& req) override {
    adds.push_back(req);
    const auto cookie = next_cookie++;
    log("add_async", cookie, as_name(req.as));
    return cookie;
  }

  void prioritize_files(TorrentId t, const std::vector<daemon::FilePriority>& p) override {
    priorities[t] = p;
    log("prioritize_files", t, std::to_string(p.size()));
  }
  void file_priority(TorrentId t, int file_index, daemon::FilePriority p) override {
    auto& v = priorities[t];
    if (v.size() <= static_cast<std::size_t>(file_index)) {
      v.resize(static_cast<std::size_t>(file_index) + 1, daemon::FilePriority::normal);
    }
    v[static_cast<std::size_t>(file_index)] = p;
    log("file_priority", t, std::to_string(file_index));
  }
  void pause(TorrentId t) override { log("pause", t); }
  void resume(TorrentId t) override { log("resume", t); }
  void clear_error(TorrentId t) override { log("clear_error", t); }
  void leave_upload_mode(TorrentId t) override { log("leave_upload_mode", t); }
  void force_recheck(TorrentId t) override { log("force_recheck", t); }
  void clear_peers(TorrentId t) override { log("clear_peers", t); }
  void force_reannounce(TorrentId t) override { log("force_reannounce", t); }
  void seed_priority(TorrentId t, daemon::SeedPriority p) override {
    log(p == daemon::SeedPriority::high ? "seed_priority_high" : "seed_priority_normal", t);
  }
  bool connect_peer(TorrentId t, const boost::asio::ip::tcp::endpoint& peer) override {
    const std::string ep = fmt::format("{}:{}", peer.address().to_string(), peer.port());
    if (refuse_connect.count(t)) {
      log("connect_peer_refused", t, ep);
      return false;
    }
    log("connect_peer", t, ep);
    return true;
  }
  void save_resume(TorrentId t, daemon::ResumeSave how) override {
    log("save_resume", t, std::to_string(static_cast<int>(how)));
  }
  void flush_cache(TorrentId t) override { log("flush_cache", t); }
  void remove(TorrentId t) override { log("remove", t); }
  daemon::TorrentStatus status(TorrentId t) override {
    log("status", t);
    return statuses[t];
  }
  void post_updates() override { calls.push_back("post_updates"); }
  void dht_add_node(const std::string& host, int port) override {
    calls.push_back(fmt::format("dht_add_node {}:{}", host, port));
  }
  void dht_announce(const std::string& key_hex, int port) override {
    calls.push_back(fmt::format("dht_announce {} {}", key_hex, port));
  }
  void dht_lookup(const std::string& key_hex) override {
    calls.push_back(fmt::format("dht_lookup {}", key_hex));
  }
  int dht_node_count() override { return dht_nodes; }
  int dht_nodes = 0;  // what dht_node_count answers

  // The calls since the last take(), and forgets them.
  std::vector<std::string> take() { return std::exchange(calls, {}); }

  static std::string as_name(daemon::AddAs as) {
    switch (as) {
      case daemon::AddAs::download:
        return "download";
      case daemon::AddAs::seed_mode:
        return "seed_mode";
      case daemon::AddAs::upload_mode:
        return "upload_mode";
    }
    return "?";
  }

 private:
  void log(const char* verb, std::uint64_t t, const std::string& arg = {}) {
    calls.push_back(arg.empty() ? fmt::format("{} {}", verb, t)
                                : fmt::format("{} {} {}", verb, t, arg));
  }
};

}  // namespace weights::testing
