// The verifier alone: real small files in a temp dir, a real hashing pool, no release and no
// session. Events are collected from the io_context as the engine would receive them.
#include "daemon/engine/verifier.hpp"

#include <map>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include "core/util/crypto.hpp"
#include "daemon/store.hpp"
#include "support/temp_dir.hpp"
#include "support/test_files.hpp"

using namespace weights;
using namespace weights::daemon;
using weights::testing::TempDir;
using weights::testing::write_text;
using namespace std::chrono_literals;

namespace {

struct Harness {
  boost::asio::io_context ioc;
  WorkPool pool{ioc, 2};
  std::vector<FileChecked> checked;
  std::vector<ScrubFinished> finished;
  // What the scrub source serves: per release, its generation and files (path, expected).
  struct Rel {
    std::uint64_t generation = 1;
    bool complete = true;
    std::vector<std::pair<std::filesystem::path, ExpectedFile>> files;
  };
  std::map<std::string, Rel> releases;
  std::unique_ptr<Verifier> verifier;

  explicit Harness(std::uint64_t scrub_rate = 1ull << 30) {
    VerifierEvents ev;
    ev.checked = [this](const FileChecked& c) { checked.push_back(c); };
    ev.scrub_finished = [this](const ScrubFinished& f) { finished.push_back(f); };
    ScrubSource src;
    src.start = [this](const std::string& id) -> std::optional<std::uint64_t> {
      auto it = releases.find(id);
      if (it == releases.end() || !it->second.complete) return std::nullopt;
      return it->second.generation;
    };
    src.next = [this](const std::string& id, std::uint64_t gen, std::size_t from) {
      ScrubSource::Next n;
      auto it = releases.find(id);
      if (it == releases.end() || it->second.generation != gen) return n;
      if (from >= it->second.files.size()) {
        n.kind = ScrubSource::Next::Kind::done;
        return n;
      }
      n.kind = ScrubSource::Next::Kind::file;
      n.index = from;
      n.path = it->second.files[from].first;
      n.expected = it->second.files[from].second;
      return n;
    };
    verifier = std::make_unique<Verifier>(pool, std::move(ev), std::move(src), scrub_rate);
  }

  template <class Pred>
  bool run_until(Pred pred) {
    const auto end = std::chrono::steady_clock::now() + 20s;
    while (!pred() && std::chrono::steady_clock::now() < end) {
      ioc.restart();
      ioc.run_for(10ms);
    }
    return pred();
  }
};

ExpectedFile expect(const std::string& content) {
  return ExpectedFile{content.size(), crypto::sha256_hex(content)};
}

}  // namespace

TEST_CASE("a file with the manifest's content is reported verified", "[verifier]") {
  TempDir tmp;
  Harness h;
  write_text(tmp / "a.bin", "hello weights");
  h.verifier->check(FileKey{"org/m@r", 7, 3}, tmp / "a.bin", expect("hello weights"),
                    CheckPurpose::downloaded);
  REQUIRE(h.run_until([&] { return h.checked.size() == 1; }));
  const auto& c = h.checked[0];
  CHECK(c.outcome == CheckOutcome::match);
  CHECK(c.key.release == "org/m@r");
  CHECK(c.key.generation == 7);
  CHECK(c.key.index == 3);
  CHECK(c.purpose == CheckPurpose::downloaded);
  CHECK(c.length == 13);
  CHECK(c.sha256 == crypto::sha256_hex("hello weights"));
}

TEST_CASE("other content or length is a mismatch that says what was found", "[verifier]") {
  TempDir tmp;
  Harness h;
  write_text(tmp / "a.bin", "hello weightz");
  h.verifier->check(FileKey{"x", 1, 0}, tmp / "a.bin", expect("hello weights"),
                    CheckPurpose::reverify_store);
  write_text(tmp / "b.bin", "short");
  auto longer = expect("short");
  longer.length = 6;  // same digest claimed, other length
  h.verifier->check(FileKey{"x", 1, 1}, tmp / "b.bin", longer, CheckPurpose::reverify_staging);
  REQUIRE(h.run_until([&] { return h.checked.size() == 2; }));
  for (const auto& c : h.checked) {
    CHECK(c.outcome == CheckOutcome::mismatch);
    CHECK_FALSE(c.error);
  }
  const auto& first = h.checked[0].key.index == 0 ? h.checked[0] : h.checked[1];
  CHECK(first.found() == "SHA-256 " + crypto::sha256_hex("hello weightz") + " (length 13)");
}

TEST_CASE("a missing file or a link is unreadable, never followed", "[verifier]") {
  TempDir tmp;
  Harness h;
  write_text(tmp / "target.bin", "payload");
  std::filesystem::create_symlink(tmp / "target.bin", tmp / "link.bin");
  h.verifier->check(FileKey{"x", 1, 0}, tmp / "absent.bin", expect("payload"),
                    CheckPurpose::downloaded);
  h.verifier->check(FileKey{"x", 1, 1}, tmp / "link.bin", expect("payload"),
                    CheckPurpose::downloaded);
  REQUIRE(h.run_until([&] { return h.checked.size() == 2; }));
  for (const auto& c : h.checked) {
    CHECK(c.outcome == CheckOutcome::unreadable);
    REQUIRE(c.error);
    CHECK(c.found() == c.error->message);
  }
}

TEST_CASE("a scrub walks a release's files in order and reports each, then the pass",
          "[verifier][scrub]") {
  TempDir tmp;
  Harness h;
  write_text(tmp / "1", "one");
  write_text(tmp / "2", "two, damaged");
  write_text(tmp / "3", "three");
  h.releases["a"].files = {
      {tmp / "1", expect("one")}, {tmp / "2", expect("two")}, {tmp / "3", expect("three")}};
  h.releases["b"].files = {{tmp / "3", expect("three")}};
  h.releases["b"].generation = 5;
  h.releases["incomplete"].complete = false;
  h.verifier->queue_scrub("incomplete");  // skipped: not complete
  h.verifier->queue_scrub("a");
  h.verifier->queue_scrub("b");
  h.verifier->queue_scrub("b");  // queued once
  CHECK_FALSE(h.verifier->scrub_idle());
  REQUIRE(h.run_until([&] { return h.finished.size() == 2; }));
  CHECK(h.verifier->scrub_idle());
  REQUIRE(h.checked.size() == 4);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(h.checked[i].key.release == "a");
    CHECK(h.checked[i].key.index == i);
    CHECK(h.checked[i].purpose == CheckPurpose::scrub);
  }
  CHECK(h.checked[1].outcome == CheckOutcome::mismatch);
  CHECK(h.checked[3].key.release == "b");
  CHECK(h.checked[3].key.generation == 5);
  CHECK(h.finished[0].release == "a");
  CHECK(h.finished[0].mismatches == 1);
  CHECK(h.finished[1].release == "b");
  CHECK(h.finished[1].mismatches == 0);
}

TEST_CASE("a scrub of a release removed meanwhile ends without a pass", "[verifier][scrub]") {
  TempDir tmp;
  Harness h;
  write_text(tmp / "1", "one");
  h.releases["a"].files = {{tmp / "1", expect("one")}, {tmp / "1", expect("one")}};
  h.verifier->queue_scrub("a");
  h.releases["a"].generation = 2;  // removed and re-added while the first file is hashed
  REQUIRE(h.run_until([&] { return h.verifier->scrub_idle(); }));
  CHECK(h.checked.size() == 1);
  CHECK(h.finished.empty());
}

TEST_CASE("the scrub is throttled to its rate", "[verifier][scrub]") {
  TempDir tmp;
  Harness h(64 * 1024);  // 64 KiB/s
  write_text(tmp / "big", std::string(32 * 1024, 'x'));
  h.releases["a"].files = {{tmp / "big", expect(std::string(32 * 1024, 'x'))}};
  const auto t0 = std::chrono::steady_clock::now();
  h.verifier->queue_scrub("a");
  REQUIRE(h.run_until([&] { return h.finished.size() == 1; }));
  CHECK(std::chrono::steady_clock::now() - t0 >= 450ms);  // 32 KiB at 64 KiB/s
  CHECK(h.checked[0].outcome == CheckOutcome::match);
}

TEST_CASE("a stopped verifier starts no further scrub step", "[verifier][scrub]") {
  TempDir tmp;
  Harness h;
  write_text(tmp / "1", "one");
  h.releases["a"].files = {{tmp / "1", expect("one")}, {tmp / "1", expect("one")}};
  h.verifier->queue_scrub("a");
  h.verifier->stop();
  REQUIRE(h.run_until([&] { return h.checked.size() == 1; }));
  h.ioc.restart();
  h.ioc.run_for(100ms);
  CHECK(h.checked.size() == 1);
  CHECK(h.finished.empty());
}

TEST_CASE("quarantine keeps a copy, removes the store entry and a foreign staging name",
          "[verifier][quarantine]") {
  TempDir tmp;
  Store store(tmp / "state");
  REQUIRE(store.ensure_layout());
  const std::string bad = "damaged bytes";
  const std::string sha = crypto::sha256_hex("good bytes");
  const auto staged = tmp / "state" / "staging" / "v2" / "rev" / "f.bin";
  std::filesystem::create_directories(staged.parent_path());
  write_text(staged, bad);
  REQUIRE(store.adopt(staged, sha));  // as if it had been verified
  REQUIRE(std::filesystem::exists(store.store_file(sha)));
  const auto qdir = tmp / "state" / "quarantine";

  quarantine_stored_file(store, qdir, sha, staged, 42);
  CHECK_FALSE(std::filesystem::exists(store.store_file(sha)));
  CHECK(weights::testing::slurp(qdir / (sha + ".42")) == bad);
  // The staging copy is the daemon's own regular file: it stays for libtorrent to repair.
  CHECK(std::filesystem::exists(staged));

  // A link in the staging name is removed (the re-download must not write through it).
  std::filesystem::remove(staged);
  write_text(tmp / "elsewhere", "not ours");
  std::filesystem::create_symlink(tmp / "elsewhere", staged);
  quarantine_stored_file(store, qdir, sha, staged, 43);
  CHECK_FALSE(std::filesystem::is_symlink(staged));
  CHECK(weights::testing::slurp(tmp / "elsewhere") == "not ours");
  CHECK_FALSE(std::filesystem::exists(qdir / (sha + ".43")));  // nothing in the store to keep
}
