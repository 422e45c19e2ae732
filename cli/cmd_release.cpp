// `weightsctl release ...`: publisher commands that add releases to a feed (offline).
#include <memory>
#include <string>
#include <vector>

#include <fmt/core.h>

#include "cli/cmd_hf.hpp"
#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/hf_hub.hpp"
#include "core/publisher.hpp"
#include "core/tuf_repo.hpp"
#include "core/units.hpp"

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
  if (!a.hf.from_hf.empty() || !a.hf.from_hf_cache.empty()) {
    a.hf.quiet = ctx.format == Format::json;
    if (auto st = prepare_hf_import(a.hf, a.files_dir, a.release); !st) return st;
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
        {"skipped", added->skipped}},
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
                 "honoured), checking every file against the hub's hashes");
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
}

}  // namespace weights::cli
