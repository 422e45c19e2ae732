// Seed-node policy commands: follow / unfollow / follows / scrub (talk to weightsd).
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/client.hpp"
#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/util/units.hpp"

namespace weights::cli {
namespace {

std::string follow_line(const api::Follow& f) {
  std::string what = f.model.value_or("every model");
  if (f.alias) what += fmt::format(" (alias {})", *f.alias);
  std::string line =
      fmt::format("{:>3}  {}  {}  {}", f.id, f.feed, what,
                  f.latest == 0 ? std::string("all releases") : fmt::format("latest {}", f.latest));
  if (f.max_size != 0) line += fmt::format("  max {}", human_bytes(f.max_size));
  if (f.accept_license) line += "  accepts licences";
  for (const auto& id : f.mirroring) line += fmt::format("\n       mirroring {}", id);
  for (const auto& x : f.skipped) line += fmt::format("\n       skipped {}: {}", x.id, x.reason);
  for (const auto& x : f.refused) line += fmt::format("\n       refused {}: {}", x.id, x.reason);
  return line;
}

struct FollowArgs {
  std::string feed, model, alias, max_size;
  unsigned latest = 1;
  bool accept_license = false;
};

}  // namespace

void register_follow_commands(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<FollowArgs>();
  auto* cf = app.add_subcommand(
      "follow", "Mirror a feed's releases, or the model catalog's, automatically (seed node)");
  cf->footer(
      "When a refresh brings a new release that matches, weightsd fetches and seeds it.\n"
      "`follow catalog` mirrors the catalog's commit-pinned releases (weightsctl catalog list),\n"
      "fetched from the hub like `weightsctl fetch ALIAS`, two at a time; a licence that needs\n"
      "accepting is accepted only with --accept-license (else listed as refused).\n"
      "Releases beyond --latest stay but may be evicted under the disk budget (max_disk).\n"
      "Examples:\n"
      "  weightsctl follow community --model 'google/gemma-*' --latest 2\n"
      "  weightsctl follow community --alias gemma-4 --max-size 200GiB\n"
      "  weightsctl follow catalog --alias 'qwen*' --max-size 20GiB");
  cf->add_option("feed", a->feed,
                 "Feed name (see weightsctl feed list), or `catalog` for the model catalog")
      ->required();
  cf->add_option("--model", a->model, "Model id glob, e.g. 'google/*' (default: every model)");
  cf->add_option("--alias", a->alias,
                 "Only releases carrying this alias, e.g. gemma-4 (catalog: a glob, 'gemma-*')");
  cf->add_option("--latest", a->latest, "Newest releases per model to keep (0 = all)")
      ->default_val(1)
      ->check(CLI::Range(0, 10000));
  cf->add_option("--max-size", a->max_size,
                 "Skip releases larger than this, e.g. 500GiB (catalog: and those of unknown "
                 "size)");
  cf->add_flag("--accept-license", a->accept_license,
               "Catalog: accept the licence of each entry it mirrors (recorded per repository "
               "and licence, as fetch --accept-license)");
  cf->callback([&ctx, a] {
    ctx.action = [&ctx, a]() -> Status {
      api::FollowRequest req;
      req.feed = a->feed;
      req.latest = a->latest;
      req.accept_license = a->accept_license;
      if (!a->model.empty()) req.model = a->model;
      if (!a->alias.empty()) req.alias = a->alias;
      if (!a->max_size.empty()) {
        auto n = units::parse_size(a->max_size);
        if (!n) return tl::unexpected(with_context(n.error(), "--max-size"));
        req.max_size = *n;
      }
      auto r = client_for(ctx).add_follow(req);
      if (!r) return tl::unexpected(r.error());
      emit(ctx, *r, fmt::format("following: {}\n", follow_line(*r)));
      return {};
    };
  });

  auto* cl = app.add_subcommand("follows", "List follow policies and what they mirror");
  cl->footer(
      "Each follow lists the releases it mirrors, skips (--max-size) and refused (no room).\n"
      "Examples:\n  weightsctl follows\n  weightsctl --json follows | jq '.follows[].refused'");
  cl->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      auto r = client_for(ctx).follows();
      if (!r) return tl::unexpected(r.error());
      std::string human;
      for (const auto& f : r->follows) human += follow_line(f) + "\n";
      if (human.empty()) {
        human = "no follows (add one with `weightsctl follow FEED` or `follow catalog`)\n";
      }
      emit(ctx, *r, human);
      return {};
    };
  });

  auto uid = std::make_shared<std::int64_t>(0);
  auto* cu = app.add_subcommand(
      "unfollow", "Stop following (its releases stay and keep seeding, but become evictable)");
  cu->add_option("id", *uid, "Follow id (see weightsctl follows)")->required();
  cu->footer("Example:\n  weightsctl unfollow 3");
  cu->callback([&ctx, uid] {
    ctx.action = [&ctx, uid]() -> Status {
      auto r = client_for(ctx).remove_follow(*uid);
      if (!r) return tl::unexpected(r.error());
      emit(ctx, *r, fmt::format("removed follow {}\n", *uid));
      return {};
    };
  });

  auto sid = std::make_shared<std::string>();
  auto* cs = app.add_subcommand(
      "scrub", "Re-hash stored files now, throttled like the scheduled scrub ([scrub] rate)");
  cs->footer(
      "A damaged file is quarantined and downloaded again from the swarm.\n"
      "Examples:\n"
      "  weightsctl scrub\n"
      "  weightsctl scrub google/gemma-4-9b@main");
  cs->add_option("release", *sid, "Release id ORG/NAME@REV (default: every complete release)");
  cs->callback([&ctx, sid] {
    ctx.action = [&ctx, sid]() -> Status {
      api::ScrubRequest req;
      if (!sid->empty()) req.release = *sid;
      auto r = client_for(ctx).scrub(req);
      if (!r) return tl::unexpected(r.error());
      emit(ctx, *r,
           fmt::format("scrub queued for {} release(s); results in `weightsctl list` and "
                       "/metrics\n",
                       r->queued.size()));
      return {};
    };
  });
}

}  // namespace weights::cli
