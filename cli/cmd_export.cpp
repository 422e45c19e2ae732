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

#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/api.hpp"
#include "core/api_client.hpp"
#include "core/atomic_file.hpp"
#include "core/export_info.hpp"
#include "core/json.hpp"
#include "core/path_policy.hpp"
#include "core/release_manifest.hpp"
#include "core/tuf_metadata.hpp"

namespace weights::cli {
namespace {
namespace fs = std::filesystem;

Result<nlohmann::json> call(const Context& ctx, std::string_view method, const std::string& target,
                            const nlohmann::json& body = nullptr) {
  return api::call_json(api::discover_socket(ctx.socket), method, target,
                        body.is_null() ? std::string() : body.dump());
}

std::string absolute(const std::string& p) {
  std::error_code ec;
  return fs::absolute(p, ec).lexically_normal().string();
}

struct ExportArgs {
  std::string release, dir;
};

Status run_export(const Context& ctx, const ExportArgs& a) {
  auto r = call(ctx, api::method::post, api::release_target(a.release, "/export"),
                {{"dir", absolute(a.dir)}});
  if (!r) return tl::unexpected(r.error());
  emit(ctx, *r,
       fmt::format("exported {} ({} files, {}) to {}\ncarry the directory and the feed's trust "
                   "root; on the offline machine: weightsctl import {} --root ROOT.json\n",
                   r->value("id", a.release), r->value("files", 0),
                   human_bytes(r->value("total_length", std::uint64_t{0})), a.dir, a.dir));
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

  auto added = call(ctx, api::method::post, std::string(api::path::feeds),
                    {{"name", feed_name}, {"location", dir}, {"root", *root}});
  if (!added && added.error().code == Errc::already_exists) {
    auto existing = call(ctx, api::method::get, "/v1/feeds/" + api::encode_path_segment(feed_name));
    if (!existing) return tl::unexpected(existing.error());
    if (existing->value("location", "") != dir) {
      return fail(Errc::already_exists,
                  fmt::format("weightsd already follows a feed named {} at {}", feed_name,
                              existing->value("location", "?")),
                  "pass --feed NAME to import under another name");
    }
    added = call(ctx, api::method::post,
                 "/v1/feeds/" + api::encode_path_segment(feed_name) + "/refresh");
  }
  if (!added) return tl::unexpected(added.error());
  // The refresh runs in weightsd: wait for the one that answers this request (its ticket).
  if (const auto t = added->find("ticket"); t != added->end() && t->is_number_unsigned()) {
    const auto ticket = t->get<std::uint64_t>();
    const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(10);
    for (;;) {
      auto f = call(ctx, api::method::get, "/v1/feeds/" + api::encode_path_segment(feed_name));
      if (!f) return tl::unexpected(f.error());
      const auto refresh = f->value("refresh", nlohmann::json::object());
      if (refresh.value("completed", std::uint64_t{0}) >= ticket) {
        const auto last = refresh.value("last", nlohmann::json());
        if (last.is_object() && last.value("result", "") == "refused") {
          (*f)["result"] = "refused";
          (*f)["last_refusal"] = {{"code", last.value("code", "")},
                                  {"message", last.value("message", "")}};
        }
        added = std::move(*f);
        break;
      }
      if (std::chrono::steady_clock::now() > until) {
        return fail(Errc::unavailable,
                    fmt::format("feed {}: the refresh has not finished", feed_name),
                    fmt::format("see `weightsctl feed status {}`", feed_name));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  if (added->value("result", "") == "refused") {
    const auto& lr = (*added)["last_refusal"];
    return fail(api::errc_from_name(lr.value("code", "")).value_or(Errc::internal),
                fmt::format("the exported feed metadata did not verify against {}: {}", a.root,
                            lr.value("message", "?")),
                "check that ROOT.json is the feed's trust root and that the export is recent "
                "enough (metadata expiry)");
  }
  auto seeded = call(ctx, api::method::post, std::string(api::path::seed),
                     {{"feed", feed_name},
                      {"model", info->model},
                      {"revision", info->revision},
                      {"dir", (fs::path(dir) / "files").string()}});
  if (!seeded) return tl::unexpected(seeded.error());
  const std::string id = fmt::format("{}@{}", info->model, info->revision);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::hours(24);
  nlohmann::json r = *seeded;
  while (r.value("state", "") != "complete" && r.value("state", "") != "failed") {
    if (std::chrono::steady_clock::now() > deadline) {
      return fail(Errc::unavailable, fmt::format("{} is still verifying", id),
                  fmt::format("follow it with `weightsctl wait {}`", id));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    auto again = call(ctx, api::method::get, api::release_target(id));
    if (!again) return tl::unexpected(again.error());
    r = *again;
  }
  if (r.value("state", "") == "failed") {
    const auto& e = r["error"];
    return fail(
        api::errc_from_name(e.is_object() ? e.value("code", "") : "").value_or(Errc::internal),
        fmt::format("import of {} failed: {}", id, e.is_object() ? e.value("message", "?") : "?"),
        fmt::format("see `weightsctl show {}`", id));
  }
  emit(ctx, r,
       fmt::format("imported {} from {}: verified against {} and seeding; files in {}\n", id, a.dir,
                   a.root, r.value("path", "?")));
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
