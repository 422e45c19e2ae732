// weightsctl commands that talk to a running weightsd over the control API.
#include <memory>
#include <string>

#include <fmt/format.h>

#include "cli/client.hpp"
#include "cli/command.hpp"
#include "cli/status_render.hpp"

namespace weights::cli {
namespace {

std::string human_duration(std::uint64_t s) {
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m {}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h {}m", s / 3600, (s % 3600) / 60);
  return fmt::format("{}d {}h", s / 86400, (s % 86400) / 3600);
}

Status status(const Context& ctx) {
  const auto client = client_for(ctx);
  auto j = client.status();
  if (!j) return tl::unexpected(j.error());
  const auto& endpoint = client.endpoint();
  std::string human = fmt::format(
      "weightsd {} (protocol {}) is running\n"
      "  pid:       {}\n"
      "  mode:      {}\n"
      "  uptime:    {}\n"
      "  state dir: {}\n"
      "  socket:    {} ({})\n",
      j->version, j->protocol_version, j->pid, j->mode,
      human_duration(j->uptime_s > 0 ? static_cast<std::uint64_t>(j->uptime_s) : 0), j->state_dir,
      endpoint.path.string(), endpoint.source);
  if (j->engine) human += render_network(j->engine->network);
  emit(ctx, *j, human);
  return {};
}

}  // namespace

void register_daemon_commands(CLI::App& app, Context& ctx) {
  app.add_option("--socket", ctx.socket,
                 "weightsd control socket (default: $WEIGHTSD_SOCKET, else the user-mode socket "
                 "if it exists, else /run/weightsd/control.sock)");
  auto* cmd = app.add_subcommand(
      "status", "Show whether weightsd is running and its summary, or one release's state");
  auto release = std::make_shared<std::string>();
  cmd->add_option("release", *release, "Release id ORG/NAME@REV (same as `weightsctl show`)");
  cmd->footer(
      "Exits 69 with a hint when no daemon answers.\nExamples:\n  weightsctl status\n"
      "  weightsctl --socket /run/weightsd/control.sock status\n"
      "  weightsctl --json status | jq .listen_port");
  cmd->callback([&ctx, release] {
    ctx.action = [&ctx, release] {
      return release->empty() ? status(ctx) : show_release(ctx, *release);
    };
  });
}

}  // namespace weights::cli
