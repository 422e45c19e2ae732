#pragma once
// One sequential read per file yields everything a release manifest needs: the plain SHA-256
// (Hugging Face's LFS oid), the BitTorrent v2 (BEP 52) pieces root, and for small files the git
// blob oid (how the HF cache and git name non-LFS files). Files are hashed in parallel.
#include <array>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <vector>

#include "core/util/crypto.hpp"
#include "core/util/error.hpp"

struct evp_md_ctx_st;  // OpenSSL EVP_MD_CTX

namespace weights {

using Sha1 = std::array<std::uint8_t, 20>;

// BEP 52 leaf block size: the merkle tree is built over SHA-256 of each 16 KiB block.
inline constexpr std::uint64_t bt_block_size = 16 * 1024;

enum class GitOid { skip, for_small_files };

// How one file is hashed: on the calling thread, or with the block hashes (the BEP 52 leaves)
// on a second thread while the calling thread reads and computes the plain SHA-256 and git oid.
// The two SHA-256 streams are independent, so two cores hash one file in about the time
// `openssl dgst` takes. hash_files picks two_threads when it has more threads than files.
enum class Pipeline { one_thread, two_threads };

struct HashOptions {
  GitOid git_oid = GitOid::for_small_files;
  std::uint64_t git_oid_max_bytes = 10 * 1024 * 1024;  // inclusive
  unsigned threads = 0;                                // 0 = hardware_concurrency
  // Read size, rounded up to a multiple of 16 KiB. 64 KiB measured best on page-cached data:
  // from 128 KiB up, read() costs ~3x more system time (cache effects of the copy, presumably).
  std::size_t buffer_bytes = 64 * 1024;
  Pipeline pipeline = Pipeline::one_thread;  // for hash_file; hash_files decides per call
};

struct FileDigest {
  std::uint64_t length = 0;
  crypto::Sha256 sha256{};
  std::optional<crypto::Sha256> bt_root;  // absent exactly for empty files (BEP 52)
  std::optional<Sha1> git_oid;            // SHA-1 of "blob <len>\0" + content, if requested
};

// Hashes one regular file (symlinks are followed). io_error if it cannot be read, is not a
// regular file (a FIFO is refused without blocking), or changes size while being read.
Result<FileDigest> hash_file(const std::filesystem::path& path, const HashOptions& options = {});
// hash_file for an open descriptor, read from offset 0 (the offset is moved); `path` is for
// messages. For files taken by descriptor (core/util/safe_fs.hpp).
Result<FileDigest> hash_fd(int fd, const std::filesystem::path& path,
                           const HashOptions& options = {});

// Hashes files on min(threads, files.size()) worker threads; results are in input order. On
// failure returns the error of the first failing file (in input order), with its path.
Result<std::vector<FileDigest>> hash_files(std::span<const std::filesystem::path> files,
                                           const HashOptions& options = {});

// Root of a subtree of 2^height all-zero 16 KiB-block leaves: the padding hash at that height
// (height 0 is 32 zero bytes). height <= 63.
crypto::Sha256 merkle_pad_hash(unsigned height);

// Streaming BEP 52 merkle reduction: O(log n) memory. Leaves are nodes at `leaf_height` (0 for
// block hashes; log2(piece_length / 16 KiB) for a piece layer); the leaf count is padded to a
// power of two with merkle_pad_hash(leaf_height).
class MerkleTreeBuilder {
 public:
  explicit MerkleTreeBuilder(unsigned leaf_height = 0);
  ~MerkleTreeBuilder();
  MerkleTreeBuilder(const MerkleTreeBuilder&) = delete;
  MerkleTreeBuilder& operator=(const MerkleTreeBuilder&) = delete;

  void add_leaf(const crypto::Sha256& leaf);
  std::uint64_t leaf_count() const { return leaves_; }
  // The root, or nullopt when no leaf was added. The builder is reset afterwards.
  std::optional<crypto::Sha256> finish();

 private:
  struct Node {
    crypto::Sha256 hash;
    unsigned height;
  };
  void push(crypto::Sha256 hash, unsigned height);
  crypto::Sha256 parent(const crypto::Sha256& left, const crypto::Sha256& right);

  unsigned leaf_height_;
  std::uint64_t leaves_ = 0;
  std::vector<Node> stack_;  // heights strictly decreasing from bottom to top
  evp_md_ctx_st* ctx_;       // reused for every node
};

// Root over given leaves at leaf_height (see MerkleTreeBuilder); nullopt for no leaves.
std::optional<crypto::Sha256> merkle_root(std::span<const crypto::Sha256> leaves,
                                          unsigned leaf_height = 0);

}  // namespace weights
