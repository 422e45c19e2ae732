#include "cli/client.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <thread>

#include <fmt/core.h>
#include <unistd.h>

#include "cli/common.hpp"

namespace weights::cli {
namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) {
  interrupted = true;
}

std::string human_eta(std::uint64_t remaining, std::uint64_t rate) {
  if (rate == 0) return "--";
  const std::uint64_t s = remaining / rate;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

std::uint64_t positive(std::int64_t v) {
  return v > 0 ? static_cast<std::uint64_t>(v) : 0;
}

// Draws one progress snapshot.
class Progress {
 public:
  Progress(std::string id, Display display) : id_(std::move(id)), display_(display) {}

  void draw(const api::Release& r) {
    using namespace std::chrono;
    const auto wanted = r.wanted_length;
    const auto done = std::max(r.verified_length, positive(r.downloaded_bytes));
    const auto rate = positive(r.download_rate);
    const auto shown = std::min(done, wanted);
    if (display_ == Display::live) {
      const int width = 30;
      const int filled = wanted ? static_cast<int>(width * shown / wanted) : width;
      std::string block = fmt::format("\33[2K{} [{}{}] {} / {}  {}  ETA {}  peers {}  {}\n", id_,
                                      std::string(static_cast<std::size_t>(filled), '#'),
                                      std::string(static_cast<std::size_t>(width - filled), '.'),
                                      human_bytes(shown), human_bytes(wanted), human_rate(rate),
                                      human_eta(wanted - shown, rate), r.peers, r.state);
      int lines = 1;
      for (const auto& f : r.files) {
        if (!f.wanted) continue;
        block += fmt::format("\33[2K  {:<10} {}\n", f.state, f.path);
        ++lines;
      }
      if (drawn_ > 0) fmt::print("\33[{}A", drawn_);
      fmt::print("{}", block);
      std::fflush(stdout);
      drawn_ = lines;
    } else if (display_ == Display::lines) {
      if (r.state != last_state_ || steady_clock::now() - last_line_ > seconds(5) || r.finished()) {
        fmt::print("{} {} {} / {} {} peers {}\n", id_, r.state, human_bytes(shown),
                   human_bytes(wanted), human_rate(rate), r.peers);
        std::fflush(stdout);
        last_line_ = steady_clock::now();
        last_state_ = r.state;
      }
    }
  }

 private:
  std::string id_;
  Display display_;
  std::chrono::steady_clock::time_point last_line_ =
      std::chrono::steady_clock::now() - std::chrono::hours(1);
  std::string last_state_;
  int drawn_ = 0;
};

}  // namespace

api::Client client_for(const Context& ctx) {
  return api::Client(api::discover_socket(ctx.socket));
}

std::string human_rate(std::uint64_t bytes_per_s) {
  return human_bytes(bytes_per_s) + "/s";
}

Result<api::Feed> wait_for_refresh(const api::Client& client, const std::string& name,
                                   std::uint64_t ticket) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (true) {
    auto f = client.feed(name);
    if (!f) return f;
    if (f->refresh.completed >= ticket) return f;
    if (std::chrono::steady_clock::now() > deadline || interrupted) {
      return fail(Errc::unavailable, fmt::format("feed {}: the refresh has not finished yet", name),
                  "it continues in weightsd; see `weightsctl feed status " + name + "`");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::optional<Error> refusal_of(const api::Feed& feed, std::uint64_t ticket) {
  const auto& last = feed.refresh.last;
  if (!last || last->ticket < ticket || last->result != "refused") return std::nullopt;
  const auto code = api::errc_from_name(last->code.value_or(""));
  return Error{
      code.value_or(Errc::unavailable), last->message.value_or("refused"),
      "the feed keeps what it trusted before; see `weightsctl feed status " + feed.name + "`"};
}

Display display_for(const Context& ctx) {
  if (ctx.format == Format::json) return Display::quiet;
  return ::isatty(STDOUT_FILENO) ? Display::live : Display::lines;
}

Result<api::Release> wait_for(const api::Client& client, const std::string& id, Display display) {
  interrupted = false;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, nullptr);
  Progress progress(id, display);
  auto r = client.watch_release(
      id, [&progress](const api::Release& snapshot) { progress.draw(snapshot); },
      [] { return !interrupted.load(); });
  if (interrupted) {
    return fail(Errc::unavailable,
                fmt::format("stopped waiting; {} keeps downloading in weightsd", id),
                fmt::format("reattach with `weightsctl wait {}`, or cancel with `weightsctl "
                            "remove {} --delete-files`",
                            id, id));
  }
  return r;
}

Status finish_wait(const Context& ctx, const api::Release& r) {
  if (r.state == "failed") {
    const std::string msg = r.error ? r.error->message : std::string("unknown error");
    const std::string code = r.error ? r.error->code : std::string();
    if (r.error && code == code_name(Errc::license_not_accepted)) {
      return fail(Errc::license_not_accepted, msg, r.error->hint);  // the way to accept
    }
    return fail(api::errc_from_name(code).value_or(Errc::internal),
                fmt::format("{} failed: {}", r.id, msg),
                fmt::format("see `weightsctl show {}`", r.id));
  }
  std::string pinned;
  if (r.upstream && r.upstream->pinned_by == "branch") {
    pinned = fmt::format(
        "{}: branch {} was commit {}: the hub said so, and this one step trusted it (fetch "
        "{}@{} to trust nothing but the commit id)\n",
        r.upstream->repo, r.upstream->branch.value_or("?"), r.upstream->commit, r.upstream->repo,
        r.upstream->commit);
  } else if (r.upstream) {
    pinned = fmt::format("{}: every file checked against commit {} (its git objects alone)\n",
                         r.upstream->repo, r.upstream->commit);
    if (r.upstream->pinned_by == "catalog" && r.upstream->alias) {
      pinned += fmt::format("{}: the catalog ({}) names {}@{}\n", *r.upstream->alias,
                            r.upstream->catalog_layer.value_or("?"), r.upstream->repo,
                            r.upstream->commit);
    }
  }
  emit(ctx, r,
       fmt::format("{}{} complete: {} verified in {}\n", pinned, r.id,
                   human_bytes(r.verified_length), r.path.value_or("?")));
  return {};
}

}  // namespace weights::cli
