#include "daemon/engine/verifier.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/util/crypto.hpp"
#include "core/util/encoding.hpp"
#include "core/util/file_hash.hpp"
#include "core/util/safe_fs.hpp"
#include "daemon/store.hpp"

namespace weights::daemon {

std::string FileChecked::found() const {
  if (outcome == CheckOutcome::unreadable) return error ? error->message : "unreadable";
  return fmt::format("SHA-256 {} (length {})", sha256, length);
}

Result<std::pair<std::uint64_t, std::string>> sha256_stored(const std::filesystem::path& path) {
  auto file = safe_fs::open_regular(path);
  if (!file) return tl::unexpected(file.error());
  HashOptions o;
  o.git_oid = GitOid::skip;
  auto d = hash_fd(file->fd.get(), path, o);
  if (!d) return tl::unexpected(d.error());
  return std::pair{d->length, to_hex(d->sha256)};
}

Result<std::pair<std::uint64_t, std::string>> sha256_stored_throttled(
    const std::filesystem::path& path, std::uint64_t rate) {
  auto file = safe_fs::open_regular(path);
  if (!file) return tl::unexpected(file.error());
  std::FILE* f = ::fdopen(file->fd.get(), "rb");
  if (!f) {
    return fail(Errc::io_error, fmt::format("opening {}: {}", path.string(), std::strerror(errno)));
  }
  file->fd.release();  // owned by f now
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> closer(f, &std::fclose);
  crypto::Sha256Hasher h;
  std::vector<std::uint8_t> buf(256 * 1024);
  std::uint64_t total = 0;
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    const std::size_t n = std::fread(buf.data(), 1, buf.size(), f);
    if (n > 0) {
      h.update(std::span(buf.data(), n));
      total += n;
      // Pace against the start: sleeping on this pool thread is the throttle itself.
      const auto due =
          start + std::chrono::microseconds(total * 1'000'000 / std::max<std::uint64_t>(rate, 1));
      std::this_thread::sleep_until(due);
    }
    if (n < buf.size()) {
      if (std::ferror(f)) {
        return fail(Errc::io_error,
                    fmt::format("reading {}: {}", path.string(), std::strerror(errno)));
      }
      break;
    }
  }
  return std::pair{total, to_hex(h.finish())};
}

namespace {

FileChecked outcome_of(FileKey key, CheckPurpose purpose, const ExpectedFile& expected,
                       Result<std::pair<std::uint64_t, std::string>> d) {
  FileChecked c;
  c.key = std::move(key);
  c.purpose = purpose;
  if (!d) {
    c.outcome = CheckOutcome::unreadable;
    c.error = d.error();
    return c;
  }
  c.length = d->first;
  c.sha256 = std::move(d->second);
  c.outcome = c.length == expected.length && c.sha256 == expected.sha256 ? CheckOutcome::match
                                                                         : CheckOutcome::mismatch;
  return c;
}

}  // namespace

Verifier::Verifier(WorkPool& pool, VerifierEvents events, ScrubSource source,
                   std::uint64_t scrub_rate)
    : pool_(pool),
      events_(std::move(events)),
      source_(std::move(source)),
      scrub_rate_(scrub_rate) {}

void Verifier::check(FileKey key, std::filesystem::path path, ExpectedFile expected,
                     CheckPurpose purpose) {
  pool_.run([path = std::move(path)] { return sha256_stored(path); },
            [this, key = std::move(key), expected = std::move(expected),
             purpose](Result<std::pair<std::uint64_t, std::string>> d) mutable {
              events_.checked(outcome_of(std::move(key), purpose, expected, std::move(d)));
            });
}

void Verifier::queue_scrub(const std::string& id) {
  if (std::find(scrub_queue_.begin(), scrub_queue_.end(), id) == scrub_queue_.end()) {
    scrub_queue_.push_back(id);
  }
  run_scrub();
}

void Verifier::run_scrub() {
  if (scrub_running_) return;
  while (!scrub_queue_.empty()) {
    const std::string id = scrub_queue_.front();
    scrub_queue_.erase(scrub_queue_.begin());
    const auto generation = source_.start(id);
    if (!generation) continue;
    scrub_running_ = true;
    scrub_file(id, *generation, 0, 0);
    return;
  }
}

void Verifier::scrub_file(const std::string& id, std::uint64_t generation, std::size_t from,
                          int mismatches) {
  if (stopped_) {
    scrub_running_ = false;
    return;
  }
  const auto next = source_.next(id, generation, from);
  if (next.kind == ScrubSource::Next::Kind::gone) {
    scrub_running_ = false;
    run_scrub();
    return;
  }
  if (next.kind == ScrubSource::Next::Kind::done) {
    events_.scrub_finished(ScrubFinished{id, generation, mismatches});
    scrub_running_ = false;
    run_scrub();
    return;
  }
  const auto rate = scrub_rate_;
  pool_.run([path = next.path, rate] { return sha256_stored_throttled(path, rate); },
            [this, id, generation, i = next.index, expected = next.expected,
             mismatches](Result<std::pair<std::uint64_t, std::string>> d) {
              auto c = outcome_of(FileKey{id, generation, i}, CheckPurpose::scrub, expected,
                                  std::move(d));
              const int bad = mismatches + (c.outcome == CheckOutcome::match ? 0 : 1);
              events_.checked(c);
              scrub_file(id, generation, i + 1, bad);
            });
}

void quarantine_stored_file(const Store& store, const std::filesystem::path& quarantine_dir,
                            const std::string& sha256, const std::filesystem::path& staged,
                            std::int64_t stamp) {
  const auto src = store.store_file(sha256);
  // The store name must go either way (unlink removes a link itself, never its target).
  if (auto damaged = safe_fs::open_regular(src)) {
    if (auto q = safe_fs::open_base_dir(quarantine_dir, safe_fs::Create::yes)) {
      (void)safe_fs::place_file(*damaged, q->get(), fmt::format("{}.{}", sha256, stamp),
                                safe_fs::Share::copy, quarantine_dir);
    }
  }
  (void)store.remove_store_entry(sha256);
  if (struct stat st{};
      ::lstat(staged.c_str(), &st) == 0 && !(S_ISREG(st.st_mode) && st.st_uid == ::geteuid())) {
    std::error_code ignored;
    std::filesystem::remove(staged, ignored);
  }
}

}  // namespace weights::daemon
