#include "core/publish/pinned_torrent.hpp"

#include <algorithm>
#include <system_error>

#include <fmt/format.h>
#include <libtorrent/hasher.hpp>

#include "core/util/encoding.hpp"
#include "core/util/path_policy.hpp"

namespace weights {
namespace {

bool is_upstream_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// ASCII only: repository ids are [A-Za-z0-9._-], so this is the whole case folding.
std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string quote(std::string_view s) {
  return "\"" + escape_path_for_message(s) + "\"";
}

}  // namespace

Result<UpstreamPin> canonical_pin(std::string_view upstream, std::string_view repo,
                                  std::string_view commit) {
  if (upstream.empty() || upstream.size() > 32 ||
      !std::all_of(upstream.begin(), upstream.end(), is_upstream_char)) {
    return fail(Errc::invalid_argument,
                fmt::format("upstream {}: expected 1-32 bytes of [a-z0-9_-]", quote(upstream)));
  }
  UpstreamPin pin;
  pin.upstream = std::string(upstream);
  pin.repo = ascii_lower(repo);
  if (!is_valid_model_id(pin.repo)) {
    return fail(Errc::invalid_argument,
                fmt::format("repo {}: expected \"org/name\" of [A-Za-z0-9._-]", quote(repo)));
  }
  if (commit.size() != 40 || !std::all_of(commit.begin(), commit.end(), is_hex_digit)) {
    return fail(Errc::invalid_argument,
                fmt::format("commit {}: expected the full 40-hex commit id", quote(commit)),
                "a short id can match several commits; give all 40 digits");
  }
  pin.commit = ascii_lower(commit);
  return pin;
}

std::string pin_rendezvous_preimage(const UpstreamPin& pin) {
  return fmt::format("{}\n{}\n{}\n{}\n", pin_rendezvous_rule, pin.upstream, pin.repo, pin.commit);
}

RendezvousKey pin_rendezvous_key(const UpstreamPin& pin) {
  const std::string preimage = pin_rendezvous_preimage(pin);
  const lt::sha1_hash digest =
      lt::hasher(preimage.data(), static_cast<int>(preimage.size())).final();
  RendezvousKey key{};
  std::copy(digest.begin(), digest.end(), reinterpret_cast<char*>(key.data()));
  return key;
}

std::uint64_t pinned_piece_length(std::uint64_t total_length) {
  constexpr std::uint64_t MiB = 1024ULL * 1024;
  constexpr std::uint64_t GiB = 1024 * MiB;
  if (total_length <= 1 * GiB) return 1 * MiB;
  if (total_length <= 96 * GiB) return 4 * MiB;
  if (total_length <= 1024 * GiB) return 16 * MiB;
  if (total_length <= 4096 * GiB) return 32 * MiB;
  return 64 * MiB;
}

Result<std::vector<ReleaseFile>> hash_pinned_files(const std::filesystem::path& source_dir,
                                                   std::vector<PinnedFileRef> files,
                                                   const HashOptions& options) {
  std::sort(files.begin(), files.end(),
            [](const PinnedFileRef& a, const PinnedFileRef& b) { return a.path < b.path; });
  std::vector<std::string> paths;
  paths.reserve(files.size());
  for (const auto& f : files) {
    if (!is_lower_hex(f.sha256, 32)) {
      return fail(Errc::invalid_argument, fmt::format("{}: sha256 {} is not 64 lowercase hex",
                                                      quote(f.path), quote(f.sha256)));
    }
    paths.push_back(f.path);
  }
  // Duplicates and collisions first, so a bad pin is reported before any file is read.
  if (auto st = check_path_set(paths); !st) return tl::unexpected(st.error());
  // Sizes before contents: a truncated or missing file is named without hashing the others.
  for (const auto& f : files) {
    std::error_code ec;
    const auto p = source_dir / f.path;
    const auto size = std::filesystem::file_size(p, ec);
    if (ec) {
      return fail(ec == std::errc::no_such_file_or_directory ? Errc::not_found : Errc::io_error,
                  fmt::format("{}: {}", p.string(), ec.message()));
    }
    if (size != f.size) {
      return fail(Errc::length_mismatch, fmt::format("{} is {} bytes, the pinned commit says {}",
                                                     quote(f.path), size, f.size));
    }
  }
  auto digests = describe_release_files(source_dir, paths, options);
  if (!digests) return tl::unexpected(digests.error());
  for (std::size_t i = 0; i < files.size(); ++i) {
    const ReleaseFile& got = (*digests)[i];
    // The size again: the file may have changed since it was looked at.
    if (got.length != files[i].size) {
      return fail(Errc::length_mismatch, fmt::format("{} is {} bytes, the pinned commit says {}",
                                                     quote(got.path), got.length, files[i].size));
    }
    if (got.sha256 != files[i].sha256) {
      return fail(Errc::hash_mismatch, fmt::format("{} has sha256 {}, the pinned commit says {}",
                                                   quote(got.path), got.sha256, files[i].sha256));
    }
  }
  return digests;
}

Result<PinnedTorrent> build_pinned_torrent(const PinnedTorrentInput& input) {
  auto pin = canonical_pin(input.pin.upstream, input.pin.repo, input.pin.commit);
  if (!pin) return tl::unexpected(pin.error());
  if (*pin != input.pin) {
    return fail(Errc::invalid_argument,
                fmt::format("pin {}/{}@{} is not in canonical form (see canonical_pin)",
                            input.pin.upstream, input.pin.repo, input.pin.commit));
  }
  if (input.files.empty()) {
    return fail(Errc::invalid_argument, "a pinned torrent needs at least one file");
  }
  std::uint64_t total = 0;
  for (const auto& f : input.files) total += f.length;
  TorrentBuildInput build;
  build.source_dir = input.source_dir;
  build.revision = pin->commit;
  build.files = input.files;
  build.piece_length = pinned_piece_length(total);
  build.web_seeds = input.web_seeds;
  build.creator.clear();
  auto torrents = build_torrents(build);
  if (!torrents) {
    return tl::unexpected(with_context(
        torrents.error(), fmt::format("pinned torrent of {}@{}", pin->repo, pin->commit)));
  }
  PinnedTorrent out;
  out.pin = *pin;
  out.torrents = std::move(*torrents);
  out.rendezvous_key = pin_rendezvous_key(out.pin);
  return out;
}

}  // namespace weights
