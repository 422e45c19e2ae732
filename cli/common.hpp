#pragma once
// Small parsing helpers shared by weightsctl's publisher commands.
#include <chrono>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "core/publish/tuf_repo.hpp"
#include "core/util/error.hpp"
#include "core/util/time.hpp"
#include "core/util/units.hpp"

namespace weights::cli {

// `--now` for reproducible runs and tests: empty -> the system clock, else parse_utc.
Result<TimePoint> resolve_now(const std::string& now_option);

// Loads each PEM private key file into `ring`; errors name the file.
Status add_key_files(tuf::KeyRing& ring, const std::vector<std::string>& files);

// Public keys of the given private key files.
Result<std::vector<crypto::PublicKey>> public_keys_of(const std::vector<std::string>& files);

// The publisher's own keys (<dir>/keys/*.pem, if that folder exists) plus `extra` key files.
Result<tuf::KeyRing> publisher_ring(const tuf::Repo& repo, const std::vector<std::string>& extra);

inline std::string human_bytes(std::uint64_t bytes) {
  return units::format_size(bytes);
}

}  // namespace weights::cli
