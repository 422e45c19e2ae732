#pragma once
// A TorrentBackend that records what it is asked, for unit tests of the engine's components
// without a session. Calls are logged as "<verb> <id>[ <arg>]"; connect_peer can be made to
// refuse, and status() answers from `statuses`.
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

  // The calls since the last take(), and forgets them.
  std::vector<std::string> take() { return std::exchange(calls, {}); }

 private:
  void log(const char* verb, TorrentId t, const std::string& arg = {}) {
    calls.push_back(arg.empty() ? fmt::format("{} {}", verb, t)
                                : fmt::format("{} {} {}", verb, t, arg));
  }
};

}  // namespace weights::testing
