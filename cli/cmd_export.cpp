// `weightsctl export RELEASE DIR` and `weightsctl import DIR --root ROOT.json`: moving a verified
// release to an air-gapped machine. The export directory is a feed directory (metadata/ and
// targets/ as the feed published them, restricted to that release) plus files/; the import
// subscribes the offline daemon to it with an explicit trust root, so the usual TUF refresh
// verifies every signature, then seeds the files, which are SHA-256-checked against the manifest.
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include <fmt/core.h>

#include "cli/client.hpp"
#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/api/export_info.hpp"
#include "core/trust/release_manifest.hpp"
#include "core/trust/tuf_metadata.hpp"
#include "core/util/atomic_file.hpp"
#include "core/util/json.hpp"
#include "core/util/path_policy.hpp"

namespace weights::cli {
namespace {
namespace fs = std::filesystem;

std::string absolute(const std::string& p) {
  std::error_code ec;
  return fs::absolute(p, ec).lexically_normal().string();
}

struct ExportArgs {
  std::string release, dir;
};

Status run_export(const Context& ctx, const ExportArgs& a) {
  auto r = client_for(ctx).export_release(a.release, {absolute(a.dir)});
  if (!r) return tl::unexpected(r.error());
  emit(ctx, *r,
       fmt::format("exported {} ({} files, {}) to {}\ncarry the directory and the feed's trust "
                   "root; on the offline machine: weightsctl import {} --root ROOT.json\n",
                   r->id, r->files, human_bytes(r->total_length), a.dir, a.dir));
  return {};
}

struct ImportArgs {
  std::string dir, root, feed;
};

Status run_import(const Context& ctx, const ImportArgs& a) {
  const std::string dir = absolute(a.dir);
  auto info_bytes = read_file(fs::path(dir) / "weights-export.json", max_export_info_bytes);
  if (!info_bytes) {
    return tl::unexpected(with_context(info_bytes.error(), "not an export directory"));
  }
  // Unsigned: it only says what to look for; the seed below refuses a release that is not in
  // the feed's signed targets.
  auto info = parse_export_info(*info_bytes);
  if (!info) return tl::unexpected(info.error());
  auto root = read_file(a.root, tuf::max_root_bytes);
  if (!root) return tl::unexpected(with_context(root.error(), a.root));
  // The feed name is unsigned too and becomes a feed of this daemon: the rule of every feed name.
  const std::string feed_name = a.feed.empty() ? info->feed : a.feed;
  if (auto st = check_feed_name(feed_name); !st) {
    Error e = with_context(st.error(), a.feed.empty() ? "weights-export.json" : "--feed");
    e.hint = "pass --feed NAME to import under a name of your choice";
    return tl::unexpected(e);
  }

  const auto client = client_for(ctx);
  auto added = client.add_feed({feed_name, dir, *root, {}});
  if (!added && added.error().code == Errc::already_exists) {
    auto existing = client.feed(feed_name);
    if (!existing) return tl::unexpected(existing.error());
    if (existing->location != dir) {
      return fail(Errc::already_exists,
                  fmt::format("weightsd already follows a feed named {} at {}", feed_name,
                              existing->location),
                  "pass --feed NAME to import under another name");
    }
    added = client.refresh_feed(feed_name);
  }
  if (!added) return tl::unexpected(added.error());
  // The refresh runs in weightsd: wait for the one that answers this request (its ticket).
  std::optional<Error> refused;
  if (added->ticket) {
    auto f = wait_for_refresh(client, feed_name, *added->ticket);
    if (!f) return tl::unexpected(f.error());
    refused = refusal_of(*f, *added->ticket);
  } else if (added->result == "refused" && added->last_refusal) {
    refused = Error{api::errc_from_name(added->last_refusal->code).value_or(Errc::internal),
                    added->last_refusal->message, ""};
  }
  if (refused) {
    return fail(refused->code,
                fmt::format("the exported feed metadata did not verify against {}: {}", a.root,
                            refused->message),
                "check that ROOT.json is the feed's trust root and that the export is recent "
                "enough (metadata expiry)");
  }
  auto seeded =
      client.seed({feed_name, info->model, info->revision, (fs::path(dir) / "files").string()});
  if (!seeded) return tl::unexpected(seeded.error());
  const std::string id = fmt::format("{}@{}", info->model, info->revision);
  auto r = wait_for(client, id, Display::quiet);
  if (!r) return tl::unexpected(r.error());
  if (r->state == "failed") {
    const auto code = r->error ? r->error->code : std::string();
    return fail(api::errc_from_name(code).value_or(Errc::internal),
                fmt::format("import of {} failed: {}", id, r->error ? r->error->message : "?"),
                fmt::format("see `weightsctl show {}`", id));
  }
  emit(ctx, *r,
       fmt::format("imported {} from {}: verified against {} and seeding; files in {}\n", id, a.dir,
                   a.root, r->path.value_or("?")));
  return {};
}

}  // namespace

void register_export_commands(CLI::App& app, Context& ctx) {
  auto ex = std::make_shared<ExportArgs>();
  auto* ce = app.add_subcommand(
      "export", "Write a complete release, its torrents and signed feed metadata to a directory");
  ce->add_option("release", ex->release, "Release id ORG/NAME@REV")->required();
  ce->add_option("dir", ex->dir, "New or empty directory (e.g. on removable media)")->required();
  ce->footer(
      "weightsd writes the directory (hard links to its store when on the same filesystem).\n"
      "Example:\n  weightsctl export google/gemma-4@0123abcd /media/usb/gemma-4");
  ce->callback([&ctx, ex] { ctx.action = [&ctx, ex] { return run_export(ctx, *ex); }; });

  auto im = std::make_shared<ImportArgs>();
  auto* ci = app.add_subcommand(
      "import", "Verify an exported release against a trust root and seed it (offline)");
  ci->add_option("dir", im->dir, "Directory written by `weightsctl export`")->required();
  ci->add_option("--root", im->root, "The feed's trust root (N.root.json), obtained out of band")
      ->required();
  ci->add_option("--feed", im->feed, "Local feed name (default: the exporting node's)");
  ci->footer(
      "Every signature is checked (TUF, threshold, expiry, rollback) and every file hashed\n"
      "before anything is seeded.\n"
      "Example:\n  weightsctl import /media/usb/gemma-4 --root google-root.json");
  ci->callback([&ctx, im] { ctx.action = [&ctx, im] { return run_import(ctx, *im); }; });
}

}  // namespace weights::cli
