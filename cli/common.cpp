#include "cli/common.hpp"

#include <charconv>

#include <fmt/core.h>

namespace weights::cli {

Result<std::chrono::seconds> parse_duration(std::string_view text) {
  if (text.size() < 2) {
    return fail(Errc::invalid_argument, fmt::format("invalid duration '{}'", text),
                "use a number and a unit: 90d, 12h, 30m or 45s");
  }
  std::uint64_t n = 0;
  const char* begin = text.data();
  const char* end = text.data() + text.size() - 1;
  auto [ptr, ec] = std::from_chars(begin, end, n);
  std::uint64_t unit = 0;
  switch (text.back()) {
    case 'd':
      unit = 86400;
      break;
    case 'h':
      unit = 3600;
      break;
    case 'm':
      unit = 60;
      break;
    case 's':
      unit = 1;
      break;
    default:
      break;
  }
  constexpr std::uint64_t max_seconds = 100ULL * 366 * 86400;
  if (ec != std::errc{} || ptr != end || unit == 0 || n == 0 || n > max_seconds / unit) {
    return fail(Errc::invalid_argument, fmt::format("invalid duration '{}'", text),
                "use a positive number and a unit: 90d, 12h, 30m or 45s (at most 100 years)");
  }
  return std::chrono::seconds(static_cast<std::int64_t>(n * unit));
}

Result<TimePoint> resolve_now(const std::string& now_option) {
  if (now_option.empty()) return now_utc();
  auto t = parse_utc(now_option);
  if (!t) {
    return fail(Errc::invalid_argument, fmt::format("--now: {}", t.error().message),
                "use YYYY-MM-DDTHH:MM:SSZ");
  }
  return *t;
}

Status add_key_files(tuf::KeyRing& ring, const std::vector<std::string>& files) {
  for (const auto& f : files) {
    auto key = crypto::PrivateKey::load(f);
    if (!key) return tl::unexpected(with_context(key.error(), f));
    ring.add(std::move(*key));
  }
  return {};
}

Result<std::vector<crypto::PublicKey>> public_keys_of(const std::vector<std::string>& files) {
  std::vector<crypto::PublicKey> out;
  for (const auto& f : files) {
    auto key = crypto::PrivateKey::load(f);
    if (!key) return tl::unexpected(with_context(key.error(), f));
    out.push_back(key->public_key());
  }
  return out;
}

Result<tuf::KeyRing> publisher_ring(const tuf::Repo& repo, const std::vector<std::string>& extra) {
  tuf::KeyRing ring;
  std::error_code ec;
  if (std::filesystem::is_directory(repo.keys_dir(), ec)) {
    auto loaded = tuf::KeyRing::load_dir(repo.keys_dir());
    if (!loaded) return tl::unexpected(loaded.error());
    ring = std::move(*loaded);
  }
  if (auto st = add_key_files(ring, extra); !st) return tl::unexpected(st.error());
  return ring;
}

std::string human_bytes(std::uint64_t bytes) {
  static constexpr const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  std::size_t u = 0;
  while (v >= 1024.0 && u + 1 < std::size(units)) {
    v /= 1024.0;
    ++u;
  }
  if (u == 0) return fmt::format("{} B", bytes);
  return fmt::format("{:.1f} {}", v, units[u]);
}

}  // namespace weights::cli
