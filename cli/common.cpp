#include "cli/common.hpp"

#include <fmt/core.h>

namespace weights::cli {

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

}  // namespace weights::cli
