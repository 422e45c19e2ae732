// Start-up loading alone: the releases are Release records in a ReleaseRegistry over a map, and
// the engine behind LoadHost records which adds were started; the adds "answer" when the test
// calls loaded().
#include "daemon/engine/startup_loader.hpp"

#include <map>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/trust/release_manifest.hpp"
#include "support/record_rows.hpp"

using namespace weights;
using namespace weights::daemon;

namespace {

struct FakeHost final : LoadHost {
  std::vector<std::string> started;  // start_add, in order
  std::set<std::string> refuse;      // start_add fails for these
  bool stopping = false;
  weights::testing::RecordRows db;
  std::vector<std::string>& persisted = db.written;
  ReleaseRegistry registry{db.store()};

  bool shutting_down() override { return stopping; }
  Status start_add(Release& r) override {
    started.push_back(r.rec.id);
    if (refuse.count(r.rec.id)) return fail(Errc::internal, "refused " + r.rec.id);
    return {};
  }

  Release* find(const std::string& id) { return registry.find(id); }
  Release& add(const std::string& id) {
    auto r = std::make_unique<Release>();
    r->rec.id = id;
    return registry.add(std::move(r));
  }
};

std::string id_of(std::size_t i) {
  return fmt::format("org/m{:04}@r", i);
}

}  // namespace

TEST_CASE("torrents are added a batch at a time, one batch per turn of the loop", "[startup]") {
  boost::asio::io_context io;
  FakeHost host;
  StartupLoader loader(io, host.registry, host);
  const std::size_t n = 2 * LoadQueue::batch_size + 10;
  for (std::size_t i = 0; i < n; ++i) loader.enqueue(host.add(id_of(i)));
  CHECK(host.find(id_of(0))->intake == Intake::loading);
  CHECK(loader.queue().loading() == n);

  loader.start();
  CHECK(host.started.empty());  // the first batch runs on the loop, not in start()
  CHECK(io.run_one() == 1);
  CHECK(host.started.size() == LoadQueue::batch_size);
  CHECK(host.started.front() == id_of(0));
  CHECK(io.run_one() == 1);  // other handlers (the API) run between batches
  CHECK(host.started.size() == 2 * LoadQueue::batch_size);
  CHECK(io.run_one() == 1);
  CHECK(host.started.size() == n);
  CHECK(io.run_one() == 0);  // exhausted: no further batch

  // Loading is over when every add answered, not when every add was started.
  for (std::size_t i = 0; i + 1 < n; ++i) loader.loaded(*host.find(id_of(i)));
  CHECK(loader.queue().loading() == 1);
  Release& last = *host.find(id_of(n - 1));
  CHECK(last.intake == Intake::loading);
  CHECK_FALSE(not_loading(last).has_value());
  CHECK(not_loading(last).error().code == Errc::unavailable);
  loader.loaded(last);
  CHECK(loader.queue().loading() == 0);
  CHECK(last.intake == Intake::ready);
  CHECK(not_loading(last).has_value());
  loader.loaded(last);  // a second answer changes nothing
  CHECK(loader.queue().loading() == 0);
}

TEST_CASE("an add that cannot start fails its release and counts as loaded", "[startup]") {
  boost::asio::io_context io;
  FakeHost host;
  StartupLoader loader(io, host.registry, host);
  loader.enqueue(host.add("a@1"));
  loader.enqueue(host.add("b@1"));
  host.refuse.insert("a@1");
  loader.start();
  io.run();
  CHECK(host.started == std::vector<std::string>{"a@1", "b@1"});
  const Release& a = *host.find("a@1");
  CHECK(a.intake == Intake::ready);
  REQUIRE(a.error);
  CHECK(a.error->message == "refused a@1");
  CHECK(host.persisted == std::vector<std::string>{"a@1"});
  CHECK(loader.queue().loading() == 1);  // b's add has not answered
}

TEST_CASE("releases removed or re-added while queued are skipped", "[startup]") {
  boost::asio::io_context io;
  FakeHost host;
  StartupLoader loader(io, host.registry, host);
  loader.enqueue(host.add("gone@1"));
  loader.enqueue(host.add("ready@1"));
  loader.enqueue(host.add("stays@1"));
  host.registry.erase("gone@1");
  host.find("ready@1")->intake = Intake::ready;  // e.g. removed and fetched again
  loader.start();
  io.run();
  CHECK(host.started == std::vector<std::string>{"stays@1"});
}

TEST_CASE("no batch starts once the daemon shuts down", "[startup]") {
  boost::asio::io_context io;
  FakeHost host;
  StartupLoader loader(io, host.registry, host);
  for (std::size_t i = 0; i < LoadQueue::batch_size + 1; ++i) loader.enqueue(host.add(id_of(i)));
  loader.start();
  io.run_one();
  CHECK(host.started.size() == LoadQueue::batch_size);
  host.stopping = true;
  io.run();
  CHECK(host.started.size() == LoadQueue::batch_size);
}

TEST_CASE("nothing to load: loaded at once, nothing posted", "[startup]") {
  boost::asio::io_context io;
  FakeHost host;
  host.add("no-torrent@1");  // known, but its torrent never arrived: not queued
  StartupLoader loader(io, host.registry, host);
  loader.start();
  CHECK(io.run() == 0);
  CHECK(loader.queue().loading() == 0);
  CHECK(host.find("no-torrent@1")->intake == Intake::ready);
}

// A stored row of org/m@<revision> whose manifest lists one file.
ReleaseRecord stored_row(const std::string& revision) {
  ReleaseManifest m;
  m.model = "org/m";
  m.revision = revision;
  m.release_seq = 1;
  m.license = "MIT";
  m.published = "2026-01-01T00:00:00Z";
  m.files = {ReleaseFile{"a.bin", 5, std::string(64, 'a'), std::string(64, 'b'), {}}};
  m.total_length = 5;
  m.torrent.v2_infohash = std::string(64, 'c');
  m.torrent.v1_infohash = std::string(40, 'd');
  m.torrent.piece_length = 16 * 1024;
  m.upstream = {"huggingface", "org/m"};
  ReleaseRecord rec;
  rec.id = "org/m@" + revision;
  rec.model = m.model;
  rec.revision = revision;
  rec.state = "complete";
  auto bytes = serialize_release_manifest(m);
  if (!bytes) FAIL(bytes.error().message);
  rec.manifest = *bytes;
  rec.verified = {"a.bin"};
  return rec;
}

TEST_CASE("load takes every readable row in and queues those whose torrent is stored",
          "[startup]") {
  boost::asio::io_context io;
  FakeHost host;
  StartupLoader loader(io, host.registry, host);
  auto unreadable = stored_row("bad");
  unreadable.manifest = "{";
  std::vector<ReleaseRecord> rows{stored_row("r1"), stored_row("r2"), unreadable};
  loader.load(std::move(rows), [](const ReleaseRecord& rec) { return rec.revision != "r2"; });

  CHECK(host.registry.size() == 2);  // the unreadable row is left out
  CHECK_FALSE(host.find("org/m@bad"));
  const Release& r1 = *host.find("org/m@r1");
  CHECK(r1.intake == Intake::loading);
  CHECK(r1.files.size() == 1);
  CHECK(r1.files[0].verified);                            // as the row says
  CHECK(host.find("org/m@r2")->intake == Intake::ready);  // no torrent: nothing to add
  CHECK(loader.queue().loading() == 1);
  io.run();
  CHECK(host.started == std::vector<std::string>{"org/m@r1"});
}
