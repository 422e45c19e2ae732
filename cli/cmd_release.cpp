// Releases: `weightsctl release add/list/pin-torrent` (publisher, offline) and the releases a
// running weightsd holds (fetch, wait, list, show, pin, unpin, remove, verify, seed).
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/client.hpp"
#include "cli/cmd_hf.hpp"
#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/api/release_ref.hpp"
#include "core/net/hf_hub.hpp"
#include "core/publish/pinned_torrent.hpp"
#include "core/publish/publisher.hpp"
#include "core/publish/tuf_repo.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/encoding.hpp"
#include "core/util/safe_fs.hpp"
#include "core/util/units.hpp"

namespace weights::cli {
namespace {

struct AddArgs {
  std::string files_dir;
  std::string feed;
  ReleaseOptions release;
  std::uint64_t release_seq = 0;
  std::string piece_length;
  bool replace = false;
  bool publish = false;
  std::vector<std::string> keys;
  unsigned threads = 0;
  std::string now;
  HfImportArgs hf;
};

Status run_add(const Context& ctx, AddArgs a) {
  auto now = resolve_now(a.now);
  if (!now) return tl::unexpected(now.error());
  auto repo = tuf::Repo::open(a.feed);
  if (!repo) return tl::unexpected(repo.error());
  if (!a.piece_length.empty()) {
    auto piece = units::parse_size(a.piece_length);
    if (!piece) return tl::unexpected(with_context(piece.error(), "--piece-length"));
    a.release.piece_length = *piece;
  }
  if (a.release_seq != 0) a.release.release_seq = a.release_seq;
  a.release.existing = a.replace ? ExistingRelease::replace : ExistingRelease::refuse;
  a.release.hash.threads = a.threads;
  std::optional<HubTrust> trusted_hub;
  if (!a.hf.from_hf.empty() || !a.hf.from_hf_cache.empty()) {
    a.hf.quiet = ctx.format == Format::json;
    auto imported = prepare_hf_import(a.hf, a.files_dir, a.release);
    if (!imported) return tl::unexpected(imported.error());
    trusted_hub = std::move(*imported);
  } else if (a.files_dir.empty() || a.release.model.empty() || a.release.revision.empty() ||
             a.release.license.empty()) {
    return fail(Errc::invalid_argument, "release add needs DIR, --model, --revision and --license",
                "or import with --from-hf ORG/NAME@REV / --from-hf-cache PATH");
  } else {
    // Git blob ids only for files the hub would keep in git (they name the HF cache blobs).
    a.release.check_files = [](std::vector<ReleaseFile>& files) -> Status {
      for (auto& f : files) {
        if (hf::lfs_by_default(f.path)) f.git_oid.reset();
      }
      return {};
    };
  }

  auto added = add_release(*repo, a.files_dir, a.release, *now);
  if (!added) return tl::unexpected(added.error());
  if (a.publish) {
    auto ring = publisher_ring(*repo, a.keys);
    if (!ring) return tl::unexpected(ring.error());
    if (auto st = repo->publish(*ring, *now); !st) {
      return tl::unexpected(with_context(st.error(), "release staged, but publishing failed"));
    }
  }
  const ReleaseManifest& m = added->manifest;
  nlohmann::json files = nlohmann::json::array();
  std::string human =
      fmt::format("{} {}@{} (release_seq {}): {} files, {}\n", a.publish ? "published" : "staged",
                  m.model, m.revision, m.release_seq, m.files.size(), human_bytes(m.total_length));
  for (const auto& f : m.files) {
    files.push_back({{"path", f.path}, {"length", f.length}, {"sha256", f.sha256}});
    human +=
        fmt::format("  {:>10}  {}  {}\n", human_bytes(f.length), f.sha256.substr(0, 16), f.path);
  }
  for (const auto& s : added->skipped) human += fmt::format("  skipped   {}\n", s);
  human += fmt::format("v2 info-hash {}\npiece length {}\n", m.torrent.v2_infohash,
                       human_bytes(m.torrent.piece_length));
  if (!a.publish) {
    human += fmt::format("run `weightsctl feed publish {}` to sign and publish it\n", a.feed);
  }
  emit(ctx,
       {{"model", m.model},
        {"revision", m.revision},
        {"release_seq", m.release_seq},
        {"published", a.publish},
        {"manifest_target", added->manifest_path},
        {"torrent_target", added->torrent_path},
        {"torrent_v1_target", added->torrent_v1_path},
        {"v2_infohash", m.torrent.v2_infohash},
        {"v1_infohash", m.torrent.v1_infohash},
        {"piece_length", m.torrent.piece_length},
        {"total_length", m.total_length},
        {"files", files},
        {"skipped", added->skipped},
        {"trusted_hub_for", trusted_hub ? nlohmann::json{{"repo", trusted_hub->repo},
                                                         {"revision", trusted_hub->revision},
                                                         {"commit", trusted_hub->commit},
                                                         {"note", trusted_hub->note}}
                                        : nlohmann::json(nullptr)}},
       human);
  return {};
}

struct ListArgs {
  std::string feed;
};

Status run_list(const Context& ctx, const ListArgs& a) {
  auto repo = tuf::Repo::open(a.feed);
  if (!repo) return tl::unexpected(repo.error());
  nlohmann::json out = nlohmann::json::array();
  std::string human;
  for (const auto& t : repo->targets()) {
    if (t.kind != tuf::TargetKind::release) continue;
    out.push_back({{"model", t.model},
                   {"revision", t.revision},
                   {"release_seq", t.release_seq},
                   {"path", t.path}});
    human += fmt::format("{}@{}  release_seq {}\n", t.model, t.revision, t.release_seq);
  }
  if (human.empty()) human = "no releases\n";
  emit(ctx, out, human);
  return {};
}

// --- releases held by a running weightsd -----------------------------------------------------

// The day of an RFC 3339 UTC time ("2026-12-07T10:00:00Z" -> "2026-12-07").
std::string day_of(const std::string& time) {
  return time.substr(0, time.find('T'));
}

// The list's marker of what the hub said about the upstream commit: a refusal ("hub: 451 since
// 2026-12-07") or no answer ("hub: unreachable since ..."); nothing while the hub serves it.
std::string hub_marker(const api::HubStatusInfo& h) {
  if (h.state == "refused") {
    return fmt::format("hub: {} since {}", h.http_status.value_or(0), day_of(h.since));
  }
  if (h.state != "unreachable") return {};
  std::string out = fmt::format("hub: unreachable since {}", day_of(h.since));
  if (h.answer == "refused" && h.http_status) out += fmt::format(" (last {})", *h.http_status);
  return out;
}

// One line summary of a release.
std::string release_line(const api::Release& r) {
  std::string flags;
  if (r.pinned) flags += " pinned";
  if (r.seeding) flags += " seeding";
  if (r.hub_status) {
    if (auto m = hub_marker(*r.hub_status); !m.empty()) flags += "  " + m;
  }
  return fmt::format("{:<48} {:<11} {:>10} / {:<10}{}", r.id, r.state,
                     human_bytes(r.verified_length), human_bytes(r.wanted_length), flags);
}

std::uint64_t positive(std::int64_t v) {
  return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

std::string release_details(const api::Release& r) {
  std::string out = release_line(r) + "\n";
  out += fmt::format("  feed {}  release_seq {}  v2 {}\n", r.feed, r.release_seq, r.v2_infohash);
  out +=
      fmt::format("  down {} ({})  up {} ({})  peers {}  hash failures {}\n",
                  human_bytes(positive(r.downloaded_bytes)), human_rate(positive(r.download_rate)),
                  human_bytes(positive(r.uploaded_bytes)), human_rate(positive(r.upload_rate)),
                  positive(r.peers), positive(r.hash_failures));
  if (r.downloaded_from_peers || r.downloaded_from_web_seeds) {
    out += fmt::format("  from peers {}  / from the hub (web seeds) {}\n",
                       human_bytes(positive(r.downloaded_from_peers.value_or(0))),
                       human_bytes(positive(r.downloaded_from_web_seeds.value_or(0))));
    for (const auto& s : r.sources) {
      out += fmt::format("    {:<8} {:<40} {:>10}\n", s.kind == "web_seed" ? "web seed" : s.kind,
                         s.address, human_bytes(positive(s.downloaded_bytes)));
    }
  }
  if (r.path && !r.path->empty()) out += fmt::format("  path {}\n", *r.path);
  if (const auto& h = r.hub_status) {
    // "refused HTTP 451 (Code)": the status and the hub's code of a refusal in force.
    const std::string refusal =
        h->http_status
            ? fmt::format("refused HTTP {}{}", *h->http_status,
                          h->error_code ? fmt::format(" ({})", *h->error_code) : std::string())
            : std::string("refused");
    out += fmt::format("  hub: {} since {}, checked {}{}\n",
                       h->state == "refused" ? refusal : h->state, h->since, h->checked,
                       h->seeding_priority ? "; seeded first, evicted last" : "");
    if (h->error) out += fmt::format("  hub error: {}\n", *h->error);
    if (h->answer) {
      out += fmt::format("  hub's last answer: {} since {}\n",
                         *h->answer == "refused" ? refusal : *h->answer,
                         h->answer_since.value_or("?"));
    }
  }
  if (r.upstream) {
    const auto& up = *r.upstream;
    out += fmt::format("  upstream {}@{}  pinned by {}", up.repo, up.commit, up.pinned_by);
    if (up.alias) out += fmt::format(" (alias {})", *up.alias);
    if (up.catalog_layer) out += fmt::format("  catalog layer {}", *up.catalog_layer);
    out += "\n";
    for (const auto& p : up.rejected_peers) out += fmt::format("  rejected {}\n", p);
    if (const auto more = up.rejected_peers_more) {
      out += fmt::format("  rejected {} more peer{}\n", more, more == 1 ? "" : "s");
    }
  }
  if (r.upstream && r.upstream->license) {
    const auto& l = *r.upstream->license;
    out += fmt::format("  licence {}{} (from the {}, {}){}\n", l.name,
                       l.url.empty() ? "" : fmt::format(" <{}>", l.url),
                       l.source == "catalog" ? "catalog" : "model card", l.where,
                       l.gated ? ", gated upstream" : "");
    if (!l.files.empty()) {
      out += fmt::format("  licence files in the release: {}\n", fmt::join(l.files, ", "));
    }
    if (!l.problem.empty()) out += fmt::format("  licence note: {}\n", l.problem);
    out += l.accepted_at
               ? fmt::format("  licence accepted {} (recorded on this node)\n", *l.accepted_at)
           : l.needs_acceptance ? std::string("  licence not accepted yet\n")
                                : std::string("  licence permissive: nothing to accept\n");
  }
  if (r.error) {
    out += fmt::format("  error: {}\n", r.error->message);
    if (!r.error->hint.empty()) out += fmt::format("  hint: {}\n", r.error->hint);
  }
  for (const auto& f : r.files) {
    if (!f.wanted) continue;
    out += fmt::format("  {:<10} {:>10}  {}\n", f.state, human_bytes(f.length), f.path);
  }
  return out;
}

struct FetchArgs {
  std::string name;
  std::vector<std::string> include;
  std::vector<std::string> peers;
  std::string dest;
  bool hf_cache = false;     // --hf-cache given
  std::string hf_cache_dir;  // its value; empty: the default cache
  bool no_wait = false;
  bool accept_license = false;
};

// Asks on the terminal whether the user accepts the licence `refusal` describes (an interactive
// fetch only: stdin a terminal, human output). Never for --json or a script.
bool ask_to_accept(const Context& ctx, const Error& refusal) {
  if (ctx.format == Format::json || ::isatty(STDIN_FILENO) != 1) return false;
  std::cerr << refusal.message << "\n"
            << "Accept this licence (asked once per repository and licence; recorded by "
               "weightsd on this node only)? [y/N] "
            << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes" || answer == "YES";
}

bool refused_for_license(const api::Release& r) {
  return r.state == "failed" && r.error && r.error->code == code_name(Errc::license_not_accepted);
}

// Places the verified files of a complete release's view under `dest`: hard links when on the
// same filesystem (no second copy), else copies. Existing files are left alone and reported.
// Below `dest` nothing is followed (core/util/safe_fs.hpp): a link planted in a shared directory
// cannot redirect the files elsewhere.
Status materialise_into(const std::string& view, const std::string& dest) {
  namespace fs = std::filesystem;
  auto base = safe_fs::open_base_dir(dest, safe_fs::Create::yes);
  if (!base) return tl::unexpected(base.error());
  std::error_code ec;
  fs::recursive_directory_iterator it(view, ec), end;
  if (ec) return fail(Errc::io_error, fmt::format("reading {}: {}", view, ec.message()));
  for (; it != end; it.increment(ec)) {
    if (ec) return fail(Errc::io_error, fmt::format("reading {}: {}", view, ec.message()));
    const fs::path rel = it->path().lexically_relative(view);
    const fs::path target = fs::path(dest) / rel;
    if (it->is_directory()) {
      auto d = safe_fs::open_dir_beneath(base->get(), rel.string(), safe_fs::Create::yes, dest);
      if (!d) return tl::unexpected(d.error());
      continue;
    }
    auto dir = safe_fs::open_dir_beneath(base->get(), rel.parent_path().string(),
                                         safe_fs::Create::yes, dest);
    if (!dir) return tl::unexpected(dir.error());
    struct stat st {};
    if (::fstatat(dir->get(), rel.filename().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      return fail(Errc::already_exists, fmt::format("{} already exists", target.string()),
                  "choose an empty --dest directory");
    }
    auto src = safe_fs::open_regular(it->path());
    if (!src) return tl::unexpected(src.error());
    if (auto st2 = safe_fs::place_file(*src, dir->get(), rel.filename().string(),
                                       safe_fs::Share::link, target.parent_path());
        !st2) {
      return st2;
    }
  }
  return {};
}

Status run_fetch(const Context& ctx, const FetchArgs& a) {
  auto ref = api::ReleaseRef::parse(a.name);
  if (!ref) return tl::unexpected(ref.error());
  api::FetchRequest req;
  req.name = ref->name;
  req.revision = ref->revision;
  req.include = a.include;
  req.peers = a.peers;
  if (a.hf_cache) {
    std::error_code ec;
    const auto dir =
        a.hf_cache_dir.empty() ? hf::default_cache_dir() : std::filesystem::path(a.hf_cache_dir);
    req.hf_cache = std::filesystem::absolute(dir, ec).lexically_normal().string();
  }
  req.accept_license = a.accept_license;
  const auto client = client_for(ctx);
  auto r = client.fetch(req);
  // A licence to accept (the catalog's, known at once): ask, and send the request again.
  if (!r && r.error().code == Errc::license_not_accepted && ask_to_accept(ctx, r.error())) {
    req.accept_license = true;
    r = client.fetch(req);
  }
  if (!r) return tl::unexpected(r.error());
  std::string id = r->id;
  if (a.no_wait) {
    emit(ctx, *r,
         fmt::format("fetching {} in weightsd; follow with `weightsctl wait {}`\n", id, id));
    return {};
  }
  auto done = wait_for(client, id, display_for(ctx));
  if (!done) return tl::unexpected(done.error());
  // A licence to accept found in the commit's model card, before any file was downloaded.
  if (refused_for_license(*done)) {
    const Error refusal{Errc::license_not_accepted, done->error->message, done->error->hint};
    if (req.accept_license || !ask_to_accept(ctx, refusal)) return tl::unexpected(refusal);
    req.accept_license = true;
    auto again = client.fetch(req);
    if (!again) return tl::unexpected(again.error());
    id = again->id;
    done = wait_for(client, id, display_for(ctx));
    if (!done) return tl::unexpected(done.error());
  }
  if (!a.dest.empty() && done->state == "complete") {
    if (auto st = materialise_into(done->path.value_or(""), a.dest); !st) return st;
    done->path = a.dest;
  }
  if (a.hf_cache && done->state == "complete") {
    // The daemon lays out the cache when the release completes; a daemon restarted meanwhile
    // forgot the request, so ask again (idempotent) when the answer lacks it.
    if (!done->hf_cache || !done->hf_cache->snapshot) {
      auto again = client.fetch(req);
      if (!again) return tl::unexpected(again.error());
      *done = std::move(*again);
    }
    if (done->hf_cache && done->hf_cache->error) {
      const auto& e = *done->hf_cache->error;
      return fail(api::errc_from_name(e.code).value_or(Errc::internal),
                  fmt::format("{} is complete, but the Hugging Face cache was not written: {}", id,
                              e.message),
                  "weightsd writes the cache: it needs write access to that directory");
    }
    if (done->hf_cache && done->hf_cache->snapshot) done->path = done->hf_cache->snapshot;
  }
  return finish_wait(ctx, *done);
}

Status run_wait(const Context& ctx, const std::string& id) {
  auto done = wait_for(client_for(ctx), id, display_for(ctx));
  if (!done) return tl::unexpected(done.error());
  return finish_wait(ctx, *done);
}

Status run_releases(const Context& ctx) {
  auto r = client_for(ctx).releases();
  if (!r) return tl::unexpected(r.error());
  std::string human;
  for (const auto& x : r->releases) human += release_line(x) + "\n";
  if (human.empty()) human = "no releases (fetch one with `weightsctl fetch NAME`)\n";
  emit(ctx, *r, human);
  return {};
}

Status run_show(const Context& ctx, const std::string& id) {
  auto r = client_for(ctx).release(id);
  if (!r) return tl::unexpected(r.error());
  emit(ctx, *r, release_details(*r));
  return {};
}

struct SeedArgs {
  std::string feed, model, revision, dir;
};

Status run_seed(const Context& ctx, const SeedArgs& a) {
  std::error_code ec;
  auto dir = std::filesystem::absolute(a.dir, ec);
  const auto client = client_for(ctx);
  auto r = client.seed({a.feed, a.model, a.revision, dir.lexically_normal().string()});
  if (!r) return tl::unexpected(r.error());
  auto done = wait_for(client, r->id, Display::quiet);
  if (!done) return tl::unexpected(done.error());
  return finish_wait(ctx, *done);
}

Status run_verify(const Context& ctx, const std::string& id) {
  const auto client = client_for(ctx);
  auto r = client.verify(id);
  if (!r) return tl::unexpected(r.error());
  auto done = wait_for(client, id, Display::quiet);
  if (!done) return tl::unexpected(done.error());
  return finish_wait(ctx, *done);
}

struct PinTorrentArgs {
  std::string dir;
  std::string upstream = "huggingface";
  std::string repo;
  std::string commit;
  std::string out;
  std::vector<std::string> web_seeds;
  unsigned threads = 0;
};

Status run_pin_torrent(const Context& ctx, const PinTorrentArgs& a) {
  auto pin = canonical_pin(a.upstream, a.repo, a.commit);
  if (!pin) return tl::unexpected(pin.error());
  std::vector<std::string> skipped;  // .git/ and .cache/huggingface/: never in a commit
  auto paths = list_release_files(a.dir, &skipped);
  if (!paths) return tl::unexpected(paths.error());
  HashOptions hash;
  hash.threads = a.threads;
  auto files = describe_release_files(a.dir, *paths, hash);
  if (!files) return tl::unexpected(files.error());
  PinnedTorrentInput in;
  in.pin = *pin;
  in.files = *files;
  in.source_dir = a.dir;
  in.web_seeds = a.web_seeds;
  auto built = build_pinned_torrent(in);
  if (!built) return tl::unexpected(built.error());
  if (!a.out.empty()) {
    if (auto st = write_file_atomic(a.out, built->torrents.hybrid); !st) return st;
  }
  std::uint64_t total = 0;
  for (const auto& f : *files) total += f.length;
  const std::string key = to_hex(built->rendezvous_key);
  std::string human = fmt::format(
      "{}:{}@{} ({}): {} files, {}\nv2 info-hash   {}\nv1 info-hash   {}\n"
      "piece length   {}\nrendezvous key {} ({})\n",
      pin->upstream, pin->repo, pin->commit, pinned_torrent_rule, files->size(), human_bytes(total),
      built->torrents.v2_infohash, built->torrents.v1_infohash,
      human_bytes(built->torrents.piece_length), key, pin_rendezvous_rule);
  for (const auto& skip : skipped) human += fmt::format("skipped        {}\n", skip);
  if (!a.out.empty()) human += fmt::format("wrote {}\n", a.out);
  emit(ctx,
       {{"upstream", pin->upstream},
        {"repo", pin->repo},
        {"commit", pin->commit},
        {"rule", pinned_torrent_rule},
        {"files", files->size()},
        {"total_length", total},
        {"piece_length", built->torrents.piece_length},
        {"v2_infohash", built->torrents.v2_infohash},
        {"v1_infohash", built->torrents.v1_infohash},
        {"companion_v1_infohash", built->torrents.companion_v1_infohash},
        {"rendezvous_key", key},
        {"rendezvous_rule", pin_rendezvous_rule},
        {"skipped", skipped},
        {"torrent", a.out.empty() ? nlohmann::json(nullptr) : nlohmann::json(a.out)}},
       human);
  return {};
}

}  // namespace

void register_release_commands(CLI::App& app, Context& ctx) {
  auto* rel = app.add_subcommand("release", "Add releases to a feed you publish");
  rel->require_subcommand(1);
  rel->footer(
      "Examples:\n  weightsctl release add ./model --feed pub/ --model ORG/NAME --revision REV\n"
      "  weightsctl release list --feed pub/");

  auto add = std::make_shared<AddArgs>();
  auto* ca = rel->add_subcommand(
      "add", "Hash a directory of model files and stage it as a release (manifest + torrents)");
  ca->add_option("dir", add->files_dir,
                 "Directory holding the release's files (with --from-hf: where to download)");
  ca->add_option("--feed", add->feed, "Publisher directory (see `feed init`)")->required();
  ca->add_option("--model", add->release.model, "Model id, ORG/NAME (--from-hf*: the repo id)");
  ca->add_option("--revision", add->release.revision,
                 "Upstream commit id or tag (--from-hf*: the resolved commit)");
  ca->add_option("--alias", add->release.aliases, "Short name users may fetch by; repeatable");
  ca->add_option("--license", add->release.license,
                 "License identifier, e.g. apache-2.0 (--from-hf: the model card's by default)");
  ca->add_option("--from-hf", add->hf.from_hf,
                 "Import ORG/NAME[@REV] from the Hugging Face Hub (HF_TOKEN, HF_ENDPOINT "
                 "honoured): files, sizes and hashes from the commit's git objects, every "
                 "download checked against them (REV: a commit id, or a branch the hub "
                 "resolves)");
  ca->add_option(
      "--from-hf-cache", add->hf.from_hf_cache,
      "Import a snapshot from a Hugging Face cache (.../models--ORG--NAME[/snapshots/REV])"
      ", checking every file against its blob name");
  ca->add_option("--endpoint", add->hf.endpoint,
                 "Hub endpoint for --from-hf (default $HF_ENDPOINT or https://huggingface.co)");
  ca->add_option("--web-seed", add->release.web_seeds,
                 "HTTP(S) mirror base URL (BEP 19), e.g. https://huggingface.co/ORG/NAME/resolve/");
  ca->add_option("--tracker", add->release.trackers, "Tracker announce URL; repeatable");
  ca->add_option("--upstream-kind", add->release.upstream_kind,
                 "Where the release comes from (default huggingface)");
  ca->add_option("--upstream-repo", add->release.upstream_repo,
                 "Upstream repository id (default: the model id)");
  ca->add_option("--release-seq", add->release_seq,
                 "Explicit release_seq (default: one above the model's newest)")
      ->check(CLI::PositiveNumber);
  ca->add_option("--piece-length", add->piece_length,
                 "Torrent piece length, a power of two, e.g. 4MiB (default: from total size)");
  ca->add_option("--threads", add->threads, "Hashing threads (default: all cores)");
  ca->add_flag("--replace", add->replace, "Re-release a model@revision already in the feed");
  ca->add_flag("--publish", add->publish, "Sign and publish right away (`feed publish`)");
  ca->add_option("--key", add->keys, "Extra private key file for --publish");
  ca->add_option("--now", add->now, "Use this time instead of the clock");
  ca->footer(
      "The torrent's root directory is named after the revision, so a Hugging Face web seed\n"
      "https://huggingface.co/ORG/NAME/resolve/ yields .../resolve/REV/PATH.\n"
      "Example:\n"
      "  weightsctl release add ./gemma-4-12b-it --feed pub/ --model google/gemma-4-12b-it \\\n"
      "      --revision 0123abcd --alias gemma-4 --license gemma --publish\n"
      "  weightsctl release add ./olmo --from-hf allenai/OLMo-2-0425-1B@main --feed pub/\n"
      "  weightsctl release add --from-hf-cache ~/.cache/huggingface/hub/models--org--name \\\n"
      "      --feed pub/ --license apache-2.0");
  ca->callback([&ctx, add] { ctx.action = [&ctx, add] { return run_add(ctx, *add); }; });

  auto list = std::make_shared<ListArgs>();
  auto* cl = rel->add_subcommand("list", "List the releases staged or published in a feed");
  cl->footer("Example:\n  weightsctl release list --feed pub/");
  cl->add_option("--feed", list->feed, "Publisher directory")->required();
  cl->callback([&ctx, list] { ctx.action = [&ctx, list] { return run_list(ctx, *list); }; });

  auto pt = std::make_shared<PinTorrentArgs>();
  auto* cp = rel->add_subcommand(
      "pin-torrent", "Build the torrent every node builds for an upstream commit (no feed)");
  cp->add_option("dir", pt->dir, "Directory holding exactly the commit's files")->required();
  cp->add_option("--repo", pt->repo, "Upstream repository, ORG/NAME")->required();
  cp->add_option("--commit", pt->commit, "The full 40-hex commit id")->required();
  cp->add_option("--upstream", pt->upstream, "Upstream kind (default huggingface)");
  cp->add_option("-o,--out", pt->out, "Write the hybrid .torrent here");
  cp->add_option("--web-seed", pt->web_seeds,
                 "HTTP(S) base URL (BEP 19) for the .torrent's url-list; never in the info-hash");
  cp->add_option("--threads", pt->threads, "Hashing threads (default: all cores)");
  cp->footer(
      "Rule weightsd-pinned-torrent/1 (docs/pinned-releases.md): every file under DIR except\n"
      "DIR/.git and DIR/.cache/huggingface is taken as the commit's tree, so DIR must hold\n"
      "exactly the commit's files (a checkout, `hf download --local-dir`, or a cache snapshot).\n"
      "Example:\n"
      "  weightsctl release pin-torrent ./gpt-oss-20b --repo openai/gpt-oss-20b \\\n"
      "      --commit 6cee5e81ee83917806bbde320786a8fb61efebee -o gpt-oss-20b.torrent");
  cp->callback([&ctx, pt] { ctx.action = [&ctx, pt] { return run_pin_torrent(ctx, *pt); }; });
}

Status show_release(const Context& ctx, const std::string& id) {
  return run_show(ctx, id);
}

void register_release_daemon_commands(CLI::App& app, Context& ctx) {
  auto fetch = std::make_shared<FetchArgs>();
  auto* cf =
      app.add_subcommand("fetch", "Fetch a release through weightsd and wait until verified");
  cf->add_option("name", fetch->name,
                 "Model id or alias, optionally @REVISION; when no feed has it: "
                 "ORG/NAME@<40-hex commit> from the hub, a catalog alias, or ORG/NAME (the "
                 "hub's main)")
      ->required();
  cf->add_option("--include", fetch->include, "Only files matching this glob; repeatable");
  cf->add_option("--peer", fetch->peers, "Connect to this peer (IP:PORT); repeatable");
  cf->add_option("--dest", fetch->dest,
                 "Also place the verified files here (hard links on the same filesystem)");
  cf->add_option("--hf-cache", fetch->hf_cache_dir,
                 "Also lay the release out as a Hugging Face cache (default $HF_HUB_CACHE, "
                 "$HF_HOME/hub or ~/.cache/huggingface/hub), for offline loaders")
      ->expected(0, 1);
  cf->add_flag("--no-wait", fetch->no_wait, "Start the download and return at once");
  cf->add_flag("--accept-license", fetch->accept_license,
               "Accept the release's licence (or a gated repository's terms) if it asks: "
               "recorded by weightsd for the repository and licence, so asked once");
  cf->footer(
      "Ctrl-C stops waiting; the download continues in weightsd.\n"
      "A release from the upstream that is gated, or whose licence is not a permissive one\n"
      "(apache-2.0, mit, bsd-2-clause, bsd-3-clause, cc0-1.0, cc-by-4.0, isc, unlicense),\n"
      "asks once for acceptance: a prompt on a terminal, else exit 76 until fetched with\n"
      "--accept-license.\nExamples:\n"
      "  weightsctl fetch gemma-4\n"
      "  weightsctl fetch google/gemma-4-12b-it@0123abcd --include '*.json' --include "
      "'*.safetensors'\n"
      "  weightsctl fetch allenai/OLMo-2-0425-1B@a1847dff35000b4271fa70afc5db10fd29fedbdf");
  cf->callback([&ctx, fetch, cf] {
    fetch->hf_cache = cf->count("--hf-cache") > 0;
    ctx.action = [&ctx, fetch] { return run_fetch(ctx, *fetch); };
  });

  auto id = std::make_shared<std::string>();
  auto* cw = app.add_subcommand("wait", "Wait for a release's download to finish");
  cw->add_option("release", *id, "Release id ORG/NAME@REV")->required();
  cw->footer(
      "Re-attaches to a download started with `fetch --no-wait` or left with Ctrl-C.\n"
      "Example:\n  weightsctl wait google/gemma-4-12b-it@0123abcd");
  cw->callback([&ctx, id] { ctx.action = [&ctx, id] { return run_wait(ctx, *id); }; });

  auto* cl = app.add_subcommand("list", "List the releases weightsd holds");
  cl->footer(
      "One line per release: id, state, verified / wanted size, pinned, seeding.\n"
      "Examples:\n  weightsctl list\n  weightsctl --json list | jq -r '.releases[].id'");
  cl->callback([&ctx] { ctx.action = [&ctx] { return run_releases(ctx); }; });

  auto show_id = std::make_shared<std::string>();
  auto* cs = app.add_subcommand("show", "Show one release: state, files, peers, errors");
  cs->add_option("release", *show_id, "Release id ORG/NAME@REV")->required();
  cs->footer(
      "ORG/NAME alone means the newest release of that model on this node.\n"
      "Examples:\n  weightsctl show google/gemma-4-12b-it@0123abcd\n"
      "  weightsctl --json show google/gemma-4-12b-it | jq -r .path");
  cs->callback(
      [&ctx, show_id] { ctx.action = [&ctx, show_id] { return run_show(ctx, *show_id); }; });

  for (const char* verb : {"pin", "unpin"}) {
    auto pid = std::make_shared<std::string>();
    auto* cp =
        app.add_subcommand(verb, std::string(verb) == "pin" ? "Keep a release: never evicted"
                                                            : "Allow a release to be evicted");
    cp->add_option("release", *pid, "Release id ORG/NAME@REV")->required();
    cp->footer(
        fmt::format("Pinned releases are never evicted to meet max_disk.\nExample:\n"
                    "  weightsctl {} google/gemma-4-12b-it@0123abcd",
                    verb));
    const std::string v = verb;
    cp->callback([&ctx, pid, v] {
      ctx.action = [&ctx, pid, v]() -> Status {
        auto r = client_for(ctx).set_pinned(*pid, v == "pin" ? api::Pin::pin : api::Pin::unpin);
        if (!r) return tl::unexpected(r.error());
        emit(ctx, *r, fmt::format("{}: {}ned\n", *pid, v));
        return {};
      };
    });
  }

  auto rm_id = std::make_shared<std::string>();
  auto rm_delete = std::make_shared<bool>(false);
  auto* cr = app.add_subcommand("remove", "Stop seeding a release and forget it");
  cr->add_option("release", *rm_id, "Release id ORG/NAME@REV")->required();
  cr->add_flag("--delete-files", *rm_delete, "Also delete its files (shared files are kept)");
  cr->footer(
      "Without --delete-files the files stay in the store.\nExamples:\n"
      "  weightsctl remove google/gemma-4-12b-it@0123abcd\n"
      "  weightsctl remove google/gemma-4-12b-it@0123abcd --delete-files");
  cr->callback([&ctx, rm_id, rm_delete] {
    ctx.action = [&ctx, rm_id, rm_delete]() -> Status {
      auto r = client_for(ctx).remove_release(
          *rm_id, *rm_delete ? api::target::DeleteFiles::yes : api::target::DeleteFiles::no);
      if (!r) return tl::unexpected(r.error());
      emit(ctx, *r, fmt::format("removed {}\n", *rm_id));
      return {};
    };
  });

  auto v_id = std::make_shared<std::string>();
  auto* cv = app.add_subcommand("verify", "Re-hash a release's stored files now");
  cv->add_option("release", *v_id, "Release id ORG/NAME@REV")->required();
  cv->footer(
      "Reads every stored file and checks its SHA-256 against the signed manifest; exits 75\n"
      "if a file no longer matches.\nExample:\n  weightsctl verify google/gemma-4-12b-it@0123abcd");
  cv->callback([&ctx, v_id] { ctx.action = [&ctx, v_id] { return run_verify(ctx, *v_id); }; });

  auto seed = std::make_shared<SeedArgs>();
  auto* cd = app.add_subcommand("seed", "Seed a release from local files without downloading");
  cd->add_option("dir", seed->dir, "Directory with the release's files")->required();
  cd->add_option("--feed", seed->feed, "Feed (as added to weightsd) listing the release")
      ->required();
  cd->add_option("--model", seed->model, "Model id ORG/NAME")->required();
  cd->add_option("--revision", seed->revision, "Revision")->required();
  cd->footer(
      "The files are hashed against the signed manifest first; nothing unverified is seeded.\n"
      "Example:\n  weightsctl seed ./gemma-4 --feed mine --model google/gemma-4 --revision abc");
  cd->callback([&ctx, seed] { ctx.action = [&ctx, seed] { return run_seed(ctx, *seed); }; });
}

}  // namespace weights::cli
