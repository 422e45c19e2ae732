#include "daemon/engine/pinned_swarm.hpp"

#include <map>

#include <fmt/format.h>

#include "core/publish/pinned_torrent.hpp"

namespace weights::daemon {

Result<std::vector<int>> match_pinned_shape(const TorrentShape& shape,
                                            const upstream::PinnedTree& tree) {
  auto refuse = [&](const std::string& what) -> Result<std::vector<int>> {
    return fail(Errc::wrong_target,
                fmt::format("the swarm's torrent is not the pinned torrent of commit {}: {}",
                            tree.commit, what),
                "the catalog's info_hash_v2 names another torrent: check the entry with "
                "weightsctl catalog check, or fetch ORG/NAME@<commit> from the hub");
  };
  if (shape.name != tree.commit) {
    return refuse(fmt::format("its name is '{}', not the commit", shape.name));
  }
  std::map<std::string, const TorrentShape::File*> in_swarm;
  for (const auto& f : shape.files) in_swarm.emplace(f.path, &f);
  std::uint64_t total = 0;
  std::vector<int> index;
  index.reserve(tree.files.size());
  for (const auto& f : tree.files) {
    total += f.size;
    const auto it = in_swarm.find(f.path);
    if (it == in_swarm.end()) return refuse(fmt::format("{} is missing", f.path));
    if (it->second->size < 0 || static_cast<std::uint64_t>(it->second->size) != f.size) {
      return refuse(fmt::format("{} has {} bytes, the pin {}", f.path, it->second->size, f.size));
    }
    index.push_back(it->second->index);
    in_swarm.erase(it);
  }
  if (!in_swarm.empty()) {
    return refuse(fmt::format("{} is not a file of the commit", in_swarm.begin()->first));
  }
  if (shape.files.size() != tree.files.size()) return refuse("a file is listed twice");
  const auto want = pinned_piece_length(total);
  if (shape.piece_length < 0 || static_cast<std::uint64_t>(shape.piece_length) != want) {
    return refuse(fmt::format("piece length {}, the rule's is {}", shape.piece_length, want));
  }
  return index;
}

}  // namespace weights::daemon
