#pragma once
// Transport seam for feeds: fetch a file by its feed-relative name ("metadata/timestamp.json"),
// never more than a caller-given number of bytes. Fetchers move bytes only; all trust decisions
// are made by the caller on what comes back.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/util/error.hpp"

namespace weights {

class Fetcher {
 public:
  virtual ~Fetcher() = default;
  // The whole file. Errors: not_found if the feed has no such file (the root chain stops on
  // it), too_large if it is longer than max_bytes (detected without reading more than
  // max_bytes + 1 bytes), path_policy for names that are not plain relative paths or that
  // resolve outside the feed, io_error otherwise.
  virtual Result<std::string> fetch(std::string_view relative_name, std::uint64_t max_bytes) = 0;
  // Where the feed comes from, for messages.
  virtual std::string describe() const = 0;
};

// How LocalDirFetcher keeps lookups inside its root.
//  automatic: openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS) where the kernel has it, so
//             symlinks that stay inside the root work; otherwise falls back to component_walk.
//  component_walk: openat() each component with O_NOFOLLOW, so no symlink is followed at all
//             (portable, stricter).
enum class ResolveMode { automatic, component_walk };

class LocalDirFetcher final : public Fetcher {
 public:
  explicit LocalDirFetcher(std::filesystem::path root, ResolveMode mode = ResolveMode::automatic);
  Result<std::string> fetch(std::string_view relative_name, std::uint64_t max_bytes) override;
  std::string describe() const override { return root_.string(); }

 private:
  std::filesystem::path root_;
  ResolveMode mode_;
};

struct HttpOptions;

// A fetcher for a feed location: a directory path, a file:// URL or an http(s):// URL (see
// core/net/http_fetcher.hpp). The one-argument form uses default HTTP options with proxies from
// the environment.
Result<std::unique_ptr<Fetcher>> make_fetcher(std::string_view location);
Result<std::unique_ptr<Fetcher>> make_fetcher(std::string_view location, const HttpOptions& http);

// The local directory a feed location names (a path or a file:// URL, decoded), or nullopt for
// an http(s):// location. Errors as make_fetcher for malformed file:// URLs and other schemes.
Result<std::optional<std::filesystem::path>> local_feed_dir(std::string_view location);

}  // namespace weights
