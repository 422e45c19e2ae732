// The swarm's metadata checked against the pin before a byte is requested: name, every path
// and size, piece length; the first difference is named.
#include "daemon/engine/pinned_swarm.hpp"

#include <catch2/catch.hpp>

#include "core/publish/pinned_torrent.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

const std::string commit(40, 'c');

upstream::PinnedTree tree() {
  upstream::PinnedTree t;
  t.commit = commit;
  t.files = {{".gitattributes", 10, "", "", upstream::FileKind::blob},
             {"config.json", 20, "", "", upstream::FileKind::blob},
             {"model.safetensors", 3 << 20, "", "", upstream::FileKind::lfs},
             {"sub/extra.json", 0, "", "", upstream::FileKind::blob}};
  return t;
}

// As libtorrent lists it: v1 order, pad files between (they take indices).
TorrentShape shape() {
  TorrentShape s;
  s.name = commit;
  s.piece_length = 1 << 20;
  s.files = {{".gitattributes", 10, 0},
             {"config.json", 20, 2},
             {"model.safetensors", 3 << 20, 4},
             {"sub/extra.json", 0, 5}};
  return s;
}

void refused(const TorrentShape& s, const std::string& named) {
  auto got = match_pinned_shape(s, tree());
  REQUIRE_FALSE(got);
  CHECK(got.error().code == Errc::wrong_target);
  INFO(got.error().message);
  CHECK(got.error().message.find(named) != std::string::npos);
  CHECK(got.error().message.find(commit) != std::string::npos);
}

}  // namespace

TEST_CASE("the pinned torrent's shape gives each pinned file's index in the torrent", "[swarm]") {
  auto got = match_pinned_shape(shape(), tree());
  REQUIRE(got);
  CHECK(*got == std::vector<int>{0, 2, 4, 5});
  CHECK(pinned_piece_length(10 + 20 + (3 << 20)) == 1 << 20);
}

TEST_CASE("another name, file, size or piece length is refused naming it", "[swarm]") {
  auto s = shape();
  s.name = std::string(40, 'd');
  refused(s, "name");
  s = shape();
  s.files[1].size = 21;
  refused(s, "config.json has 21 bytes");
  s = shape();
  s.files.erase(s.files.begin() + 2);
  refused(s, "model.safetensors is missing");
  s = shape();
  s.files.push_back({"evil.bin", 1, 6});
  refused(s, "evil.bin is not a file of the commit");
  s = shape();
  s.files[3].path = "sub/Extra.json";
  refused(s, "sub/extra.json is missing");
  s = shape();
  s.piece_length = 4 << 20;
  refused(s, "piece length");
  s = shape();
  s.files.push_back(s.files[0]);
  refused(s, "twice");
}
