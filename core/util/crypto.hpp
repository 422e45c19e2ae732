#pragma once
// SHA-256 and Ed25519 through OpenSSL 3. Private keys never appear in logs or error messages.
#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/util/encoding.hpp"
#include "core/util/error.hpp"

namespace weights::crypto {

using Sha256 = std::array<std::uint8_t, 32>;

Sha256 sha256(std::span<const std::uint8_t> data);
inline Sha256 sha256(std::string_view data) {
  return sha256(as_bytes(data));
}
std::string sha256_hex(std::string_view data);

// Incremental SHA-256 (EVP). Not copyable.
class Sha256Hasher {
 public:
  Sha256Hasher();
  ~Sha256Hasher();
  Sha256Hasher(const Sha256Hasher&) = delete;
  Sha256Hasher& operator=(const Sha256Hasher&) = delete;
  void update(std::span<const std::uint8_t> data);
  Sha256 finish();  // the hasher must not be used afterwards

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

using PublicKeyBytes = std::array<std::uint8_t, 32>;
using SignatureBytes = std::array<std::uint8_t, 64>;

// An Ed25519 public key. Equality is on the raw 32 bytes, which is what thresholds count.
struct PublicKey {
  PublicKeyBytes raw{};
  std::string hex() const;  // 64 lowercase hex chars
  // keyid = hex SHA-256 of exactly
  // {"keytype":"ed25519","keyval":{"public":"<hex>"},"scheme":"ed25519"}
  std::string keyid() const;
  friend bool operator==(const PublicKey&, const PublicKey&) = default;
  friend auto operator<=>(const PublicKey&, const PublicKey&) = default;
};

// parse_error unless 64 lowercase hex chars; bad_signature for small-order points (OpenSSL
// accepts forged signatures for those, e.g. the identity) and non-canonical encodings (y >= p).
Result<PublicKey> public_key_from_hex(std::string_view hex);

// False for any signature that is not 64 bytes or not valid under `key` (incl. S >= L), and for
// small-order/non-canonical keys.
bool verify(const PublicKey& key, std::span<const std::uint8_t> message,
            std::span<const std::uint8_t> signature);

// An Ed25519 private key held in memory (OpenSSL EVP_PKEY). Move-only.
class PrivateKey {
 public:
  static Result<PrivateKey> generate();
  // PKCS#8 PEM ("-----BEGIN PRIVATE KEY-----"), as written by save().
  static Result<PrivateKey> load(const std::filesystem::path& path);
  static Result<PrivateKey> from_pem(std::string_view pem);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  const PublicKey& public_key() const { return public_; }
  Result<SignatureBytes> sign(std::span<const std::uint8_t> message) const;
  // Writes PKCS#8 PEM with mode 0600 atomically; refuses to overwrite an existing file.
  Status save(const std::filesystem::path& path) const;

 private:
  struct Impl;
  explicit PrivateKey(std::unique_ptr<Impl> impl, PublicKey pub);
  std::unique_ptr<Impl> impl_;
  PublicKey public_;
};

}  // namespace weights::crypto
