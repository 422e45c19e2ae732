#include "core/util/file_hash.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <memory>
#include <semaphore>
#include <string>
#include <thread>

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

namespace weights {
namespace {

// Fetched once: EVP_MD_fetch does a provider lookup that costs more than hashing a 16 KiB block.
const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md;
}
const EVP_MD* sha1_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA1", nullptr);
  return md;
}

struct CtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using CtxPtr = std::unique_ptr<EVP_MD_CTX, CtxFree>;

CtxPtr new_ctx(const EVP_MD* md) {
  CtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex2(ctx.get(), md, nullptr) != 1) std::abort();  // out of memory
  return ctx;
}

template <std::size_t N>
std::array<std::uint8_t, N> final_digest(EVP_MD_CTX* ctx) {
  std::array<std::uint8_t, N> out{};
  unsigned len = 0;
  EVP_DigestFinal_ex(ctx, out.data(), &len);
  return out;
}

struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

std::string errno_text(int err) {
  return std::strerror(err);
}

// Reads until `buf` is full or EOF, so every chunk but the last is a whole number of blocks.
Result<std::size_t> read_full(int fd, std::uint8_t* buf, std::size_t size,
                              const std::filesystem::path& path) {
  std::size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, buf + got, size - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(Errc::io_error, fmt::format("reading {}: {}", path.string(), errno_text(errno)));
    }
    if (n == 0) break;
    got += static_cast<std::size_t>(n);
  }
  return got;
}

// Adds the BEP 52 leaf of every 16 KiB block of data[0, n). One reused context per block
// (EVP_DigestInit_ex2 with a null type keeps SHA-256): measured against one-shot EVP_Digest with
// a prefetched EVP_MD it is within noise; the per-block setup is small next to hashing 16 KiB.
void add_block_leaves(EVP_MD_CTX* block, MerkleTreeBuilder& tree, const std::uint8_t* data,
                      std::size_t n) {
  for (std::size_t off = 0; off < n; off += bt_block_size) {
    const std::size_t len = std::min<std::size_t>(bt_block_size, n - off);
    EVP_DigestInit_ex2(block, nullptr, nullptr);
    EVP_DigestUpdate(block, data + off, len);
    tree.add_leaf(final_digest<32>(block));
  }
}

// Pipeline::two_threads. The calling thread reads slabs (in read_bytes reads, the measured
// sweet spot) and hashes them whole; a second thread adds their block leaves. A slab returns to
// the reader only after the leaf thread is done with it. Returns the number of bytes read.
Result<std::uint64_t> hash_two_threads(int fd, const std::filesystem::path& path,
                                       std::size_t read_bytes, EVP_MD_CTX* whole, EVP_MD_CTX* git,
                                       EVP_MD_CTX* block, MerkleTreeBuilder& tree) {
  constexpr std::size_t slab_count = 4;
  // A multiple of read_bytes, hence of 16 KiB, so only the last slab holds a short block.
  const std::size_t slab_bytes =
      std::max<std::size_t>(read_bytes, 1024 * 1024) / read_bytes * read_bytes;
  std::array<std::unique_ptr<std::uint8_t[]>, slab_count> slabs;
  for (auto& slab : slabs) slab = std::make_unique_for_overwrite<std::uint8_t[]>(slab_bytes);
  std::array<std::size_t, slab_count> sizes{};
  std::counting_semaphore<slab_count> free_slabs(slab_count);
  std::counting_semaphore<slab_count> filled(0);

  std::jthread leaves([&] {
    for (std::size_t i = 0;; ++i) {
      filled.acquire();
      const std::size_t idx = i % slab_count;
      const std::size_t n = sizes[idx];
      if (n != 0) add_block_leaves(block, tree, slabs[idx].get(), n);
      free_slabs.release();
      if (n < slab_bytes) return;  // a short slab marks the end of the file (or an error)
    }
  });

  std::uint64_t length = 0;
  for (std::size_t i = 0;; ++i) {
    free_slabs.acquire();
    const std::size_t idx = i % slab_count;
    std::uint8_t* slab = slabs[idx].get();
    std::size_t n = 0;
    Status status;
    while (n < slab_bytes) {
      auto got = read_full(fd, slab + n, read_bytes, path);
      if (!got) {
        status = tl::unexpected(got.error());
        break;
      }
      if (*got == 0) break;
      EVP_DigestUpdate(whole, slab + n, *got);
      if (git) EVP_DigestUpdate(git, slab + n, *got);
      n += *got;
      if (*got < read_bytes) break;
    }
    // On error an empty slab stops the leaf thread; nothing it computed is used.
    sizes[idx] = status ? n : 0;
    filled.release();
    if (!status) return tl::unexpected(status.error());
    length += n;
    if (n < slab_bytes) return length;  // ~jthread joins the leaf thread
  }
}

}  // namespace

crypto::Sha256 merkle_pad_hash(unsigned height) {
  // Computed once: 64 levels cover any file size.
  static const std::array<crypto::Sha256, 64> table = [] {
    std::array<crypto::Sha256, 64> t{};
    for (std::size_t h = 1; h < t.size(); ++h) {
      std::array<std::uint8_t, 64> pair{};
      std::copy(t[h - 1].begin(), t[h - 1].end(), pair.begin());
      std::copy(t[h - 1].begin(), t[h - 1].end(), pair.begin() + 32);
      unsigned len = 0;
      EVP_Digest(pair.data(), pair.size(), t[h].data(), &len, sha256_md(), nullptr);
    }
    return t;
  }();
  return table.at(height);
}

MerkleTreeBuilder::MerkleTreeBuilder(unsigned leaf_height)
    : leaf_height_(leaf_height), ctx_(new_ctx(sha256_md()).release()) {
  stack_.reserve(64);
}

MerkleTreeBuilder::~MerkleTreeBuilder() {
  EVP_MD_CTX_free(ctx_);
}

crypto::Sha256 MerkleTreeBuilder::parent(const crypto::Sha256& left, const crypto::Sha256& right) {
  EVP_DigestInit_ex2(ctx_, nullptr, nullptr);  // keeps the fetched SHA-256
  EVP_DigestUpdate(ctx_, left.data(), left.size());
  EVP_DigestUpdate(ctx_, right.data(), right.size());
  return final_digest<32>(ctx_);
}

void MerkleTreeBuilder::push(crypto::Sha256 hash, unsigned height) {
  while (!stack_.empty() && stack_.back().height == height) {
    hash = parent(stack_.back().hash, hash);
    stack_.pop_back();
    ++height;
  }
  stack_.push_back({hash, height});
}

void MerkleTreeBuilder::add_leaf(const crypto::Sha256& leaf) {
  ++leaves_;
  push(leaf, leaf_height_);
}

std::optional<crypto::Sha256> MerkleTreeBuilder::finish() {
  if (leaves_ == 0) return std::nullopt;
  // The stack holds complete subtrees of decreasing size; pad the smallest (top) with zero
  // subtrees of its own height until it merges with the next one, as padding the leaf layer to
  // a power of two would.
  while (stack_.size() > 1) {
    Node top = stack_.back();
    stack_.pop_back();
    if (top.height == stack_.back().height) {
      Node below = stack_.back();
      stack_.pop_back();
      stack_.push_back({parent(below.hash, top.hash), top.height + 1});
    } else {
      stack_.push_back({parent(top.hash, merkle_pad_hash(top.height)), top.height + 1});
    }
  }
  const crypto::Sha256 root = stack_.back().hash;
  stack_.clear();
  leaves_ = 0;
  return root;
}

std::optional<crypto::Sha256> merkle_root(std::span<const crypto::Sha256> leaves,
                                          unsigned leaf_height) {
  MerkleTreeBuilder builder(leaf_height);
  for (const auto& leaf : leaves) builder.add_leaf(leaf);
  return builder.finish();
}

Result<FileDigest> hash_file(const std::filesystem::path& path, const HashOptions& options) {
  // O_NONBLOCK: a FIFO must be refused below, not block the open.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) {
    return fail(errno == ENOENT ? Errc::not_found : Errc::io_error,
                fmt::format("opening {}: {}", path.string(), errno_text(errno)));
  }
  FdCloser closer{fd};
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags >= 0) (void)::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
  return hash_fd(fd, path, options);
}

Result<FileDigest> hash_fd(int fd, const std::filesystem::path& path, const HashOptions& options) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(Errc::io_error, fmt::format("stat {}: {}", path.string(), errno_text(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::io_error, fmt::format("{} is not a regular file", path.string()));
  }
  if (::lseek(fd, 0, SEEK_SET) != 0) {
    return fail(Errc::io_error, fmt::format("seek {}: {}", path.string(), errno_text(errno)));
  }
  const auto expected_length = static_cast<std::uint64_t>(st.st_size);
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);

  const std::size_t buffer_bytes =
      std::max<std::size_t>(1, (options.buffer_bytes + bt_block_size - 1) / bt_block_size) *
      bt_block_size;
  const auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(buffer_bytes);

  const CtxPtr whole = new_ctx(sha256_md());
  const CtxPtr block = new_ctx(sha256_md());
  CtxPtr git;
  if (options.git_oid == GitOid::for_small_files && expected_length <= options.git_oid_max_bytes) {
    git = new_ctx(sha1_md());
    const std::string header = fmt::format("blob {}", expected_length);
    EVP_DigestUpdate(git.get(), header.c_str(), header.size() + 1);  // includes the '\0'
  }
  MerkleTreeBuilder tree;

  std::uint64_t length = 0;
  if (options.pipeline == Pipeline::two_threads) {
    auto got = hash_two_threads(fd, path, buffer_bytes, whole.get(), git.get(), block.get(), tree);
    if (!got) return tl::unexpected(got.error());
    length = *got;
  } else {
    for (;;) {
      auto got = read_full(fd, buffer.get(), buffer_bytes, path);
      if (!got) return tl::unexpected(got.error());
      const std::size_t n = *got;
      if (n == 0) break;
      length += n;
      EVP_DigestUpdate(whole.get(), buffer.get(), n);
      if (git) EVP_DigestUpdate(git.get(), buffer.get(), n);
      add_block_leaves(block.get(), tree, buffer.get(), n);
      if (n < buffer_bytes) break;
    }
  }
  if (length != expected_length) {
    return fail(Errc::io_error, fmt::format("{} changed size while being hashed ({} -> {} bytes)",
                                            path.string(), expected_length, length));
  }
  FileDigest digest;
  digest.length = length;
  digest.sha256 = final_digest<32>(whole.get());
  digest.bt_root = tree.finish();
  if (git) digest.git_oid = final_digest<20>(git.get());
  return digest;
}

Result<std::vector<FileDigest>> hash_files(std::span<const std::filesystem::path> files,
                                           const HashOptions& options) {
  std::vector<Result<FileDigest>> results(files.size(), fail(Errc::internal, "not hashed"));
  unsigned threads = options.threads != 0 ? options.threads : std::thread::hardware_concurrency();
  // With at least two threads per file, each file's two SHA-256 streams run in parallel.
  HashOptions per_file = options;
  per_file.pipeline = threads >= 2 * std::max<std::size_t>(1, files.size()) ? Pipeline::two_threads
                                                                            : Pipeline::one_thread;
  threads = static_cast<unsigned>(
      std::clamp<std::size_t>(threads, 1, std::max<std::size_t>(1, files.size())));
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < files.size(); i = next++) {
      results[i] = hash_file(files[i], per_file);
    }
  };
  if (threads <= 1) {
    work();
  } else {
    std::vector<std::jthread> pool;
    pool.reserve(threads);
    for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work);
  }  // jthreads join here
  std::vector<FileDigest> out;
  out.reserve(files.size());
  for (auto& r : results) {
    if (!r) return tl::unexpected(std::move(r.error()));
    out.push_back(std::move(*r));
  }
  return out;
}

}  // namespace weights
