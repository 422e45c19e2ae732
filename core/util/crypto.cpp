#include "core/util/crypto.hpp"

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <utility>

#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "core/util/atomic_file.hpp"

namespace weights::crypto {
namespace {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioFree {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using BioPtr = std::unique_ptr<BIO, BioFree>;

// A hash we cannot compute means a broken OpenSSL install or no memory; returning a wrong digest
// would be a security bug, so stop.
[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "weights: fatal: OpenSSL %s failed\n", what);
  std::abort();
}

// PEM_read_bio_PrivateKey's default callback prompts on the terminal for encrypted keys; a
// daemon must never block on that, so any passphrase request just fails.
int no_passphrase(char* /*buf*/, int /*size*/, int /*rwflag*/, void* /*u*/) {
  return -1;
}

// Keeps OpenSSL's thread-local error queue from leaking failures into unrelated later calls.
void clear_openssl_errors() {
  ERR_clear_error();
}

// Canonical encodings of the points of order 1, 2, 4 and 8, compared with the x sign bit masked
// (with is_non_canonical below this is libsodium's blocklist). Such a key verifies forged
// signatures (the identity key accepts R = identity, S = 0 for every message), so it can never be a
// trusted key.
constexpr PublicKeyBytes kSmallOrder[] = {
    {0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00},
    {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4,
     0x89, 0xf2, 0xef, 0x98, 0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6,
     0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
    {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b,
     0x76, 0x0d, 0x10, 0x67, 0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39,
     0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
    {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
};

bool has_small_order(const PublicKeyBytes& raw) {
  PublicKeyBytes masked = raw;
  masked[31] &= 0x7f;
  for (const auto& bad : kSmallOrder) {
    if (masked == bad) return true;
  }
  return false;
}

// y >= p = 2^255 - 19: a second spelling of a point with small y. One point, one key.
bool is_non_canonical(const PublicKeyBytes& raw) {
  if ((raw[31] & 0x7f) != 0x7f) return false;
  for (std::size_t i = 1; i < 31; ++i) {
    if (raw[i] != 0xff) return false;
  }
  return raw[0] >= 0xed;
}

PkeyPtr raw_public_key(const PublicKey& key) {
  return PkeyPtr(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, key.raw.data(), key.raw.size()));
}

Result<PublicKey> public_from_pkey(EVP_PKEY* pkey) {
  PublicKey pub;
  std::size_t len = pub.raw.size();
  if (EVP_PKEY_get_raw_public_key(pkey, pub.raw.data(), &len) != 1 || len != pub.raw.size()) {
    clear_openssl_errors();
    return fail(Errc::bad_signature, "cannot derive the Ed25519 public key");
  }
  return pub;
}

}  // namespace

Sha256 sha256(std::span<const std::uint8_t> data) {
  Sha256 out{};
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), out.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != out.size()) {
    die("SHA-256");
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  return to_hex(sha256(data));
}

struct Sha256Hasher::Impl {
  MdCtxPtr ctx{EVP_MD_CTX_new()};
};

Sha256Hasher::Sha256Hasher() : impl_(std::make_unique<Impl>()) {
  if (!impl_->ctx || EVP_DigestInit_ex(impl_->ctx.get(), EVP_sha256(), nullptr) != 1) {
    die("SHA-256 init");
  }
}

Sha256Hasher::~Sha256Hasher() = default;

void Sha256Hasher::update(std::span<const std::uint8_t> data) {
  if (data.empty()) return;
  if (EVP_DigestUpdate(impl_->ctx.get(), data.data(), data.size()) != 1) die("SHA-256 update");
}

Sha256 Sha256Hasher::finish() {
  Sha256 out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(impl_->ctx.get(), out.data(), &len) != 1 || len != out.size()) {
    die("SHA-256 final");
  }
  return out;
}

std::string PublicKey::hex() const {
  return to_hex(raw);
}

std::string PublicKey::keyid() const {
  return sha256_hex(fmt::format(
      R"({{"keytype":"ed25519","keyval":{{"public":"{}"}},"scheme":"ed25519"}})", hex()));
}

Result<PublicKey> public_key_from_hex(std::string_view hex) {
  auto bytes = from_hex_exact(hex, 32);
  if (!bytes) {
    return fail(Errc::parse_error, "Ed25519 public key must be 64 lowercase hex characters");
  }
  PublicKey key;
  std::copy(bytes->begin(), bytes->end(), key.raw.begin());
  if (has_small_order(key.raw)) {
    return fail(Errc::bad_signature,
                fmt::format("Ed25519 public key {} is a small-order point", key.hex()));
  }
  if (is_non_canonical(key.raw)) {
    return fail(Errc::bad_signature,
                fmt::format("Ed25519 public key {} is not canonically encoded", key.hex()));
  }
  return key;
}

bool verify(const PublicKey& key, std::span<const std::uint8_t> message,
            std::span<const std::uint8_t> signature) {
  if (signature.size() != SignatureBytes{}.size()) return false;
  // Also checked here because PublicKey can be built from raw bytes without public_key_from_hex.
  if (has_small_order(key.raw) || is_non_canonical(key.raw)) return false;
  PkeyPtr pkey = raw_public_key(key);
  MdCtxPtr ctx(EVP_MD_CTX_new());
  // OpenSSL reads the (empty) message through this pointer even for length 0.
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* msg = message.empty() ? &kEmpty : message.data();
  const bool ok =
      pkey && ctx && EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, pkey.get()) == 1 &&
      EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), msg, message.size()) == 1;
  clear_openssl_errors();
  return ok;
}

struct PrivateKey::Impl {
  PkeyPtr pkey;
};

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl, PublicKey pub)
    : impl_(std::move(impl)), public_(pub) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::generate() {
  PkeyPtr pkey(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!pkey) {
    clear_openssl_errors();
    return fail(Errc::internal, "cannot generate an Ed25519 key");
  }
  auto pub = public_from_pkey(pkey.get());
  if (!pub) return tl::unexpected(pub.error());
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey)}), *pub);
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
  if (pem.size() > INT_MAX) return fail(Errc::too_large, "private key PEM is too large");
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  if (!bio) return fail(Errc::internal, "out of memory reading a private key");
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, no_passphrase, nullptr));
  clear_openssl_errors();
  // Messages below never include the PEM text or OpenSSL's diagnostics about it.
  if (!pkey) {
    return fail(Errc::parse_error, "not an unencrypted PEM private key",
                "expected an unencrypted PKCS#8 Ed25519 key (-----BEGIN PRIVATE KEY-----)");
  }
  if (EVP_PKEY_get_base_id(pkey.get()) != EVP_PKEY_ED25519) {
    const char* type = EVP_PKEY_get0_type_name(pkey.get());
    return fail(Errc::unsupported,
                fmt::format("private key is {}, not Ed25519", type != nullptr ? type : "unknown"),
                "only Ed25519 signing keys are supported");
  }
  auto pub = public_from_pkey(pkey.get());
  if (!pub) return tl::unexpected(pub.error());
  return PrivateKey(std::make_unique<Impl>(Impl{std::move(pkey)}), *pub);
}

Result<PrivateKey> PrivateKey::load(const std::filesystem::path& path) {
  auto pem = read_file(path, 64 * 1024);
  if (!pem) return tl::unexpected(with_context(pem.error(), "private key"));
  auto key = from_pem(*pem);
  OPENSSL_cleanse(pem->data(), pem->size());
  if (!key) return tl::unexpected(with_context(key.error(), path.string()));
  return key;
}

Result<SignatureBytes> PrivateKey::sign(std::span<const std::uint8_t> message) const {
  if (!impl_ || !impl_->pkey) return fail(Errc::internal, "signing with a moved-from key");
  SignatureBytes sig{};
  std::size_t len = sig.size();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  static const std::uint8_t kEmpty = 0;
  const std::uint8_t* msg = message.empty() ? &kEmpty : message.data();
  const bool ok =
      ctx && EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->pkey.get()) == 1 &&
      EVP_DigestSign(ctx.get(), sig.data(), &len, msg, message.size()) == 1 && len == sig.size();
  clear_openssl_errors();
  if (!ok) return fail(Errc::internal, "Ed25519 signing failed");
  return sig;
}

Status PrivateKey::save(const std::filesystem::path& path) const {
  if (!impl_ || !impl_->pkey) return fail(Errc::internal, "saving a moved-from key");
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), impl_->pkey.get(), nullptr, nullptr, 0, nullptr,
                                       nullptr) != 1) {
    clear_openssl_errors();
    return fail(Errc::internal, "cannot encode the private key");
  }
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return fail(Errc::internal, "cannot encode the private key");
  auto st = write_file_atomic(path, std::string_view(data, static_cast<std::size_t>(len)), 0600,
                              Overwrite::refuse);
  // The memory BIO holds the key in the clear; wipe it before it is freed.
  OPENSSL_cleanse(data, static_cast<std::size_t>(len));
  return st;
}

}  // namespace weights::crypto
