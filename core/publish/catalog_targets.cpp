#include "core/publish/catalog_targets.hpp"

#include <fmt/format.h>

#include "core/catalog/feed_layer.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/crypto.hpp"

namespace weights {

std::vector<tuf::TargetInfo> listed_catalog_targets(const tuf::Repo& repo) {
  return catalog::catalog_targets(repo.targets());
}

Result<tuf::TargetInfo> add_catalog_target(tuf::Repo& repo, std::string_view bytes,
                                           std::string_view source) {
  if (bytes.size() > catalog::max_file_bytes) {
    return fail(Errc::too_large,
                fmt::format("{}: larger than {} bytes", source, catalog::max_file_bytes));
  }
  auto parsed = catalog::parse_catalog(bytes, source);
  if (!parsed) return tl::unexpected(parsed.error());
  tuf::TargetInfo t;
  t.path = tuf::catalog_target_path(parsed->family);
  t.length = bytes.size();
  t.sha256 = crypto::sha256_hex(bytes);
  t.kind = tuf::TargetKind::catalog;
  // Exactly the follower's check of the target (family and path agree by construction).
  auto checked = catalog::check_catalog_target(t, bytes, source);
  if (!checked) return tl::unexpected(checked.error());

  // The layer the followers will install: the other staged catalog files plus this one. Each
  // is read back from the feed's public tree and must still hash to its listing.
  std::vector<catalog::CatalogFile> layer{std::move(*checked)};
  for (const auto& other : listed_catalog_targets(repo)) {
    if (other.path == t.path) continue;
    const auto file = repo.public_dir() / tuf::consistent_target_name(other);
    auto b = read_file(file, catalog::max_file_bytes);
    if (!b) return tl::unexpected(with_context(b.error(), other.path));
    if (b->size() != other.length || crypto::sha256_hex(*b) != other.sha256) {
      return fail(Errc::hash_mismatch,
                  fmt::format("{}: does not match its listing in repo.json", file.string()),
                  "add that catalog file again");
    }
    auto f = catalog::parse_catalog(*b, other.path);
    if (!f) return tl::unexpected(f.error());
    layer.push_back(std::move(*f));
  }
  if (auto ok = catalog::check_layer(std::move(layer)); !ok) {
    return tl::unexpected(with_context(ok.error(), "with the feed's other catalog files"));
  }
  if (auto ok = repo.add_target(t.path, bytes, {tuf::TargetKind::catalog, "", "", 0}); !ok) {
    return tl::unexpected(ok.error());
  }
  return t;
}

Status remove_catalog_target(tuf::Repo& repo, std::string_view family) {
  const std::string path = tuf::catalog_target_path(family);
  if (!tuf::catalog_target_family(path)) {
    return fail(Errc::invalid_argument, fmt::format("'{}' is not a catalog family", family));
  }
  for (const auto& t : listed_catalog_targets(repo)) {
    if (t.path == path) return repo.remove_target(path);
  }
  return fail(Errc::not_found, fmt::format("the feed lists no {}", path),
              "`weightsctl feed catalog list DIR` shows what it lists");
}

}  // namespace weights
