// weightsctl commands for releases held by a running weightsd: fetch, wait, list, show, pin,
// unpin, remove, verify, seed; and the daemon-side feed subscription commands.
#include <atomic>
#include <chrono>
#include <csignal>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/command.hpp"
#include "cli/common.hpp"
#include "core/api.hpp"
#include "core/api_client.hpp"
#include "core/atomic_file.hpp"
#include "core/hf_hub.hpp"
#include "core/safe_fs.hpp"
#include "core/tuf_metadata.hpp"

namespace weights::cli {
namespace {

std::atomic<bool> interrupted{false};
extern "C" void on_sigint(int) {
  interrupted = true;
}

std::string percent_encode(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

std::string release_path(std::string_view id, std::string_view suffix = {}) {
  return fmt::format("/v1/releases/{}{}", percent_encode(id), suffix);
}

Result<nlohmann::json> call(const Context& ctx, std::string_view method, std::string_view target,
                            const nlohmann::json& body = nullptr) {
  const auto endpoint = api::discover_socket(ctx.socket);
  return api::call_json(endpoint, method, target, body.is_null() ? std::string() : body.dump());
}

template <class T>
T get_or(const nlohmann::json& j, const char* key, T fallback) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    return fallback;
  }
}

std::string human_rate(std::uint64_t bytes_per_s) {
  return human_bytes(bytes_per_s) + "/s";
}

std::string human_eta(std::uint64_t remaining, std::uint64_t rate) {
  if (rate == 0) return "--";
  const std::uint64_t s = remaining / rate;
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

// One line summary of a release object from the API.
std::string release_line(const nlohmann::json& r) {
  const auto wanted = get_or<std::uint64_t>(r, "wanted_length", 0);
  const auto verified = get_or<std::uint64_t>(r, "verified_length", 0);
  std::string flags;
  if (get_or<bool>(r, "pinned", false)) flags += " pinned";
  if (get_or<bool>(r, "seeding", false)) flags += " seeding";
  return fmt::format("{:<48} {:<11} {:>10} / {:<10}{}", get_or<std::string>(r, "id", "?"),
                     get_or<std::string>(r, "state", "?"), human_bytes(verified),
                     human_bytes(wanted), flags);
}

std::string release_details(const nlohmann::json& r) {
  std::string out = release_line(r) + "\n";
  out += fmt::format("  feed {}  release_seq {}  v2 {}\n", get_or<std::string>(r, "feed", "?"),
                     get_or<std::uint64_t>(r, "release_seq", 0),
                     get_or<std::string>(r, "v2_infohash", "?"));
  out += fmt::format("  down {} ({})  up {} ({})  peers {}  hash failures {}\n",
                     human_bytes(get_or<std::uint64_t>(r, "downloaded_bytes", 0)),
                     human_rate(get_or<std::uint64_t>(r, "download_rate", 0)),
                     human_bytes(get_or<std::uint64_t>(r, "uploaded_bytes", 0)),
                     human_rate(get_or<std::uint64_t>(r, "upload_rate", 0)),
                     get_or<std::uint64_t>(r, "peers", 0),
                     get_or<std::uint64_t>(r, "hash_failures", 0));
  if (auto p = get_or<std::string>(r, "path", ""); !p.empty()) out += fmt::format("  path {}\n", p);
  if (auto it = r.find("error"); it != r.end() && it->is_object()) {
    out += fmt::format("  error: {}\n", get_or<std::string>(*it, "message", "?"));
    if (auto h = get_or<std::string>(*it, "hint", ""); !h.empty()) {
      out += fmt::format("  hint: {}\n", h);
    }
  }
  if (auto files = r.find("files"); files != r.end() && files->is_array()) {
    for (const auto& f : *files) {
      if (!get_or<bool>(f, "wanted", true)) continue;
      out += fmt::format("  {:<10} {:>10}  {}\n", get_or<std::string>(f, "state", "?"),
                         human_bytes(get_or<std::uint64_t>(f, "length", 0)),
                         get_or<std::string>(f, "path", "?"));
    }
  }
  return out;
}

enum class Display { live, lines, quiet };

// Polls the release until it is complete or failed (or Ctrl-C), drawing progress.
Result<nlohmann::json> wait_for(const Context& ctx, const std::string& id, Display display) {
  using namespace std::chrono;
  interrupted = false;
  struct sigaction sa {};
  sa.sa_handler = on_sigint;
  sigaction(SIGINT, &sa, nullptr);
  auto last_line = steady_clock::now() - hours(1);
  std::string last_state;
  int drawn = 0;
  for (;;) {
    auto r = call(ctx, api::method::get, release_path(id));
    if (!r) return r;
    const std::string state = get_or<std::string>(*r, "state", "?");
    const auto wanted = get_or<std::uint64_t>(*r, "wanted_length", 0);
    const auto verified = get_or<std::uint64_t>(*r, "verified_length", 0);
    const auto done = std::max(verified, get_or<std::uint64_t>(*r, "downloaded_bytes", 0));
    const auto rate = get_or<std::uint64_t>(*r, "download_rate", 0);
    const auto peers = get_or<std::uint64_t>(*r, "peers", 0);
    const bool finished = state == "complete" || state == "failed";
    if (display == Display::live) {
      std::string block;
      const int width = 30;
      const int filled = wanted ? static_cast<int>(width * std::min(done, wanted) / wanted) : width;
      block +=
          fmt::format("\33[2K{} [{}{}] {} / {}  {}  ETA {}  peers {}  {}\n", id,
                      std::string(static_cast<std::size_t>(filled), '#'),
                      std::string(static_cast<std::size_t>(width - filled), '.'),
                      human_bytes(std::min(done, wanted)), human_bytes(wanted), human_rate(rate),
                      human_eta(wanted - std::min(done, wanted), rate), peers, state);
      int lines = 1;
      if (auto files = r->find("files"); files != r->end() && files->is_array()) {
        for (const auto& f : *files) {
          if (!get_or<bool>(f, "wanted", true)) continue;
          block += fmt::format("\33[2K  {:<10} {}\n", get_or<std::string>(f, "state", "?"),
                               get_or<std::string>(f, "path", "?"));
          ++lines;
        }
      }
      if (drawn > 0) fmt::print("\33[{}A", drawn);
      fmt::print("{}", block);
      std::fflush(stdout);
      drawn = lines;
    } else if (display == Display::lines) {
      if (state != last_state || steady_clock::now() - last_line > seconds(5) || finished) {
        fmt::print("{} {} {} / {} {} peers {}\n", id, state, human_bytes(std::min(done, wanted)),
                   human_bytes(wanted), human_rate(rate), peers);
        std::fflush(stdout);
        last_line = steady_clock::now();
        last_state = state;
      }
    }
    if (finished) return r;
    for (int i = 0; i < 5 && !interrupted; ++i) std::this_thread::sleep_for(milliseconds(100));
    if (interrupted) {
      return fail(Errc::unavailable,
                  fmt::format("stopped waiting; {} keeps downloading in weightsd", id),
                  fmt::format("reattach with `weightsctl wait {}`, or cancel with `weightsctl "
                              "remove {} --delete-files`",
                              id, id));
    }
  }
}

Status finish_wait(const Context& ctx, const nlohmann::json& r) {
  const std::string id = get_or<std::string>(r, "id", "?");
  if (get_or<std::string>(r, "state", "") == "failed") {
    auto it = r.find("error");
    std::string msg = it != r.end() && it->is_object() ? get_or<std::string>(*it, "message", "")
                                                       : std::string("unknown error");
    std::string code =
        it != r.end() && it->is_object() ? get_or<std::string>(*it, "code", "") : std::string();
    return fail(api::errc_from_name(code).value_or(Errc::internal),
                fmt::format("{} failed: {}", id, msg), fmt::format("see `weightsctl show {}`", id));
  }
  emit(ctx, r,
       fmt::format("{} complete: {} verified in {}\n", id,
                   human_bytes(get_or<std::uint64_t>(r, "verified_length", 0)),
                   get_or<std::string>(r, "path", "?")));
  return {};
}

Display display_for(const Context& ctx) {
  if (ctx.format == Format::json) return Display::quiet;
  return ::isatty(STDOUT_FILENO) ? Display::live : Display::lines;
}

struct FetchArgs {
  std::string name;
  std::vector<std::string> include;
  std::vector<std::string> peers;
  std::string dest;
  bool hf_cache = false;     // --hf-cache given
  std::string hf_cache_dir;  // its value; empty: the default cache
  bool no_wait = false;
};

// Places the verified files of a complete release's view under `dest`: hard links when on the
// same filesystem (no second copy), else copies. Existing files are left alone and reported.
// Below `dest` nothing is followed (core/safe_fs.hpp): a link planted in a shared directory
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
  nlohmann::json body = {{"name", a.name}};
  if (auto at = a.name.rfind('@'); at != std::string::npos) {
    body["name"] = a.name.substr(0, at);
    body["revision"] = a.name.substr(at + 1);
  }
  if (!a.include.empty()) body["include"] = a.include;
  if (!a.peers.empty()) body["peers"] = a.peers;
  if (a.hf_cache) {
    std::error_code ec;
    const auto dir =
        a.hf_cache_dir.empty() ? hf::default_cache_dir() : std::filesystem::path(a.hf_cache_dir);
    body["hf_cache"] = std::filesystem::absolute(dir, ec).lexically_normal().string();
  }
  auto r = call(ctx, api::method::post, "/v1/fetch", body);
  if (!r) return tl::unexpected(r.error());
  const std::string id = get_or<std::string>(*r, "id", "?");
  if (a.no_wait) {
    emit(ctx, *r,
         fmt::format("fetching {} in weightsd; follow with `weightsctl wait {}`\n", id, id));
    return {};
  }
  auto done = wait_for(ctx, id, display_for(ctx));
  if (!done) return tl::unexpected(done.error());
  if (!a.dest.empty() && get_or<std::string>(*done, "state", "") == "complete") {
    const std::string view = get_or<std::string>(*done, "path", "");
    if (auto st = materialise_into(view, a.dest); !st) return st;
    (*done)["path"] = a.dest;
  }
  if (a.hf_cache && get_or<std::string>(*done, "state", "") == "complete") {
    // The daemon lays out the cache when the release completes; a daemon restarted meanwhile
    // forgot the request, so ask again (idempotent) when the answer lacks it.
    auto hc = done->find("hf_cache");
    if (hc == done->end() || !hc->is_object() || (*hc)["snapshot"].is_null()) {
      auto again = call(ctx, api::method::post, "/v1/fetch", body);
      if (!again) return tl::unexpected(again.error());
      *done = *again;
      hc = done->find("hf_cache");
    }
    if (hc != done->end() && hc->is_object() && (*hc)["error"].is_object()) {
      const auto& e = (*hc)["error"];
      return fail(api::errc_from_name(get_or<std::string>(e, "code", "")).value_or(Errc::internal),
                  fmt::format("{} is complete, but the Hugging Face cache was not written: {}", id,
                              get_or<std::string>(e, "message", "?")),
                  "weightsd writes the cache: it needs write access to that directory");
    }
    if (hc != done->end() && hc->is_object() && (*hc)["snapshot"].is_string()) {
      (*done)["path"] = (*hc)["snapshot"];
    }
  }
  return finish_wait(ctx, *done);
}

Status run_wait(const Context& ctx, const std::string& id) {
  auto done = wait_for(ctx, id, display_for(ctx));
  if (!done) return tl::unexpected(done.error());
  return finish_wait(ctx, *done);
}

Status run_list(const Context& ctx) {
  auto r = call(ctx, api::method::get, "/v1/releases");
  if (!r) return tl::unexpected(r.error());
  std::string human;
  if (auto rel = r->find("releases"); rel != r->end() && rel->is_array()) {
    for (const auto& x : *rel) human += release_line(x) + "\n";
  }
  if (human.empty()) human = "no releases (fetch one with `weightsctl fetch NAME`)\n";
  emit(ctx, *r, human);
  return {};
}

Status run_show(const Context& ctx, const std::string& id) {
  auto r = call(ctx, api::method::get, release_path(id));
  if (!r) return tl::unexpected(r.error());
  emit(ctx, *r, release_details(*r));
  return {};
}

Status run_simple(const Context& ctx, std::string_view method, const std::string& target,
                  const nlohmann::json& body, const std::string& done_message) {
  auto r = call(ctx, method, target, body);
  if (!r) return tl::unexpected(r.error());
  emit(ctx, *r, done_message);
  return {};
}

struct SeedArgs {
  std::string feed, model, revision, dir;
};

// --- feeds held by the daemon ------------------------------------------------------------

std::string feed_line(const nlohmann::json& f) {
  std::string status = get_or<std::string>(f, "result", "never refreshed");
  if (auto since = get_or<std::string>(f, "stale_since", ""); !since.empty()) {
    status = fmt::format("STALE since {}", since);
  }
  return fmt::format("{:<20} {:<8} releases {:<4} {}", get_or<std::string>(f, "name", "?"), status,
                     get_or<std::uint64_t>(f, "releases", 0),
                     get_or<std::string>(f, "location", "?"));
}

std::string feed_details(const nlohmann::json& f) {
  std::string out = feed_line(f) + "\n";
  if (auto m = f.find("mirrors"); m != f.end() && m->is_array()) {
    for (const auto& x : *m) {
      if (x.is_string()) out += fmt::format("  mirror:       {}\n", x.get<std::string>());
    }
  }
  out += fmt::format("  last success: {}\n", get_or<std::string>(f, "last_success", "never"));
  if (auto it = f.find("last_refusal"); it != f.end() && it->is_object()) {
    out += fmt::format("  last refusal: {} {}: {}\n", get_or<std::string>(*it, "time", "?"),
                       get_or<std::string>(*it, "code", "?"),
                       get_or<std::string>(*it, "message", "?"));
  }
  if (auto r = f.find("refresh"); r != f.end() && r->is_object()) {
    if (get_or<bool>(*r, "running", false)) out += "  refreshing now\n";
    if (const auto failures = get_or<std::uint64_t>(*r, "consecutive_failures", 0); failures > 0) {
      out += fmt::format("  failed refreshes in a row: {}\n", failures);
    }
    if (auto next = get_or<std::string>(*r, "next", ""); !next.empty()) {
      out += fmt::format("  next refresh: {}\n", next);
    }
  }
  if (auto roles = f.find("roles"); roles != f.end() && roles->is_object()) {
    for (const auto& [role, v] : roles->items()) {
      out +=
          fmt::format("  {:<9} v{:<5} expires {}\n", role, get_or<std::uint64_t>(v, "version", 0),
                      get_or<std::string>(v, "expires", "?"));
    }
  }
  return out;
}

// Polls the feed until the refresh with `ticket` has completed; returns the feed object then.
Result<nlohmann::json> wait_for_refresh(const Context& ctx, const std::string& name,
                                        std::uint64_t ticket) {
  const std::string target = "/v1/feeds/" + percent_encode(name);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(10);
  while (true) {
    auto r = call(ctx, api::method::get, target);
    if (!r) return r;
    const auto refresh = r->value("refresh", nlohmann::json::object());
    if (get_or<std::uint64_t>(refresh, "completed", 0) >= ticket) return r;
    if (std::chrono::steady_clock::now() > deadline || interrupted) {
      return fail(Errc::unavailable, fmt::format("feed {}: the refresh has not finished yet", name),
                  "it continues in weightsd; see `weightsctl feed status " + name + "`");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

// The error of the refresh that answered `ticket`, if it was refused.
std::optional<Error> refusal_of(const nlohmann::json& feed, std::uint64_t ticket) {
  const auto refresh = feed.value("refresh", nlohmann::json::object());
  const auto last = refresh.value("last", nlohmann::json());
  if (!last.is_object() || get_or<std::uint64_t>(last, "ticket", 0) < ticket ||
      get_or<std::string>(last, "result", "") != "refused") {
    return std::nullopt;
  }
  const auto code = api::errc_from_name(get_or<std::string>(last, "code", ""));
  return Error{code.value_or(Errc::unavailable), get_or<std::string>(last, "message", "refused"),
               "the feed keeps what it trusted before; see `weightsctl feed status " +
                   get_or<std::string>(feed, "name", "NAME") + "`"};
}

struct FeedAddArgs {
  std::string name, location, root;
  std::vector<std::string> mirrors;
  bool no_wait = false;
};

std::string absolute_location(const std::string& location) {
  if (location.find("://") != std::string::npos) return location;
  std::error_code ec;
  auto abs = std::filesystem::absolute(location, ec);
  return ec ? location : abs.lexically_normal().string();
}

Status run_feed_add(const Context& ctx, const FeedAddArgs& a) {
  auto root = read_file(a.root, tuf::max_root_bytes);
  if (!root) return tl::unexpected(with_context(root.error(), a.root));
  nlohmann::json mirrors = nlohmann::json::array();
  for (const auto& m : a.mirrors) mirrors.push_back(absolute_location(m));
  auto r = call(ctx, api::method::post, "/v1/feeds",
                {{"name", a.name},
                 {"location", absolute_location(a.location)},
                 {"root", *root},
                 {"mirrors", mirrors}});
  if (!r) return tl::unexpected(r.error());
  if (!a.no_wait) {
    // The first refresh runs in weightsd; show its outcome. A refusal is not an add failure:
    // the feed stays subscribed and is retried.
    r = wait_for_refresh(ctx, a.name, get_or<std::uint64_t>(*r, "ticket", 0));
    if (!r) return tl::unexpected(r.error());
  }
  emit(ctx, *r, feed_details(*r));
  return {};
}

Status run_feed_refresh(const Context& ctx, const std::string& name, bool no_wait) {
  auto r = call(ctx, api::method::post, "/v1/feeds/" + percent_encode(name) + "/refresh");
  if (!r) return tl::unexpected(r.error());
  const auto ticket = get_or<std::uint64_t>(*r, "ticket", 0);
  if (!no_wait) {
    r = wait_for_refresh(ctx, name, ticket);
    if (!r) return tl::unexpected(r.error());
    if (auto refused = refusal_of(*r, ticket)) return tl::unexpected(*refused);
  }
  emit(ctx, *r, feed_details(*r));
  return {};
}

}  // namespace

Status show_release(const Context& ctx, const std::string& id) {
  return run_show(ctx, id);
}

void register_release_daemon_commands(CLI::App& app, Context& ctx) {
  auto fetch = std::make_shared<FetchArgs>();
  auto* cf =
      app.add_subcommand("fetch", "Fetch a release through weightsd and wait until verified");
  cf->add_option("name", fetch->name, "Model id or alias, optionally @REVISION")->required();
  cf->add_option("--include", fetch->include, "Only files matching this glob; repeatable");
  cf->add_option("--peer", fetch->peers, "Connect to this peer (IP:PORT); repeatable");
  cf->add_option("--dest", fetch->dest,
                 "Also place the verified files here (hard links on the same filesystem)");
  cf->add_option("--hf-cache", fetch->hf_cache_dir,
                 "Also lay the release out as a Hugging Face cache (default $HF_HUB_CACHE, "
                 "$HF_HOME/hub or ~/.cache/huggingface/hub), for offline loaders")
      ->expected(0, 1);
  cf->add_flag("--no-wait", fetch->no_wait, "Start the download and return at once");
  cf->footer(
      "Ctrl-C stops waiting; the download continues in weightsd.\nExamples:\n"
      "  weightsctl fetch gemma-4\n"
      "  weightsctl fetch google/gemma-4-12b-it@0123abcd --include '*.json' --include "
      "'*.safetensors'");
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
  cl->callback([&ctx] { ctx.action = [&ctx] { return run_list(ctx); }; });

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
      ctx.action = [&ctx, pid, v] {
        return run_simple(ctx, api::method::post, release_path(*pid, "/" + v), nullptr,
                          fmt::format("{}: {}ned\n", *pid, v));
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
    ctx.action = [&ctx, rm_id, rm_delete] {
      return run_simple(
          ctx, api::method::del,
          release_path(*rm_id, *rm_delete ? "?delete_files=true" : "?delete_files=false"), nullptr,
          fmt::format("removed {}\n", *rm_id));
    };
  });

  auto v_id = std::make_shared<std::string>();
  auto* cv = app.add_subcommand("verify", "Re-hash a release's stored files now");
  cv->add_option("release", *v_id, "Release id ORG/NAME@REV")->required();
  cv->footer(
      "Reads every stored file and checks its SHA-256 against the signed manifest; exits 75\n"
      "if a file no longer matches.\nExample:\n  weightsctl verify google/gemma-4-12b-it@0123abcd");
  cv->callback([&ctx, v_id] {
    ctx.action = [&ctx, v_id]() -> Status {
      auto r = call(ctx, api::method::post, release_path(*v_id, "/verify"));
      if (!r) return tl::unexpected(r.error());
      auto done = wait_for(ctx, *v_id, Display::quiet);
      if (!done) return tl::unexpected(done.error());
      return finish_wait(ctx, *done);
    };
  });

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
  cd->callback([&ctx, seed] {
    ctx.action = [&ctx, seed]() -> Status {
      std::error_code ec;
      auto dir = std::filesystem::absolute(seed->dir, ec);
      auto r = call(ctx, api::method::post, "/v1/seed",
                    {{"feed", seed->feed},
                     {"model", seed->model},
                     {"revision", seed->revision},
                     {"dir", dir.lexically_normal().string()}});
      if (!r) return tl::unexpected(r.error());
      const std::string rid = get_or<std::string>(*r, "id", "?");
      auto done = wait_for(ctx, rid, Display::quiet);
      if (!done) return tl::unexpected(done.error());
      return finish_wait(ctx, *done);
    };
  });
}

void register_feed_daemon_commands(CLI::App* feed, Context& ctx) {
  auto add = std::make_shared<FeedAddArgs>();
  auto* ca =
      feed->add_subcommand("add", "Subscribe weightsd to a feed with an explicit trust root");
  ca->add_option("name", add->name, "Local name for the feed")->required();
  ca->add_option("location", add->location, "Feed location: a directory or file:// URL")
      ->required();
  ca->add_option("--root", add->root, "Trust root file (N.root.json), obtained out of band")
      ->required();
  ca->add_option("--mirror", add->mirrors,
                 "Another location of the same feed, tried in order when one fails; repeatable");
  ca->add_flag("--no-wait", add->no_wait, "Do not wait for the first refresh");
  ca->footer(
      "Locations: a directory, file:///path, http://host/path or https://host/path.\n"
      "Example:\n  weightsctl feed add demo https://feeds.example/demo --root demo-root.json "
      "\\\n      --mirror https://mirror.example/demo");
  ca->callback([&ctx, add] { ctx.action = [&ctx, add] { return run_feed_add(ctx, *add); }; });

  auto* cl = feed->add_subcommand("list", "List the feeds weightsd follows");
  cl->footer(
      "Examples:\n  weightsctl feed list\n  weightsctl --json feed list | jq -r '.feeds[].name'");
  cl->callback([&ctx] {
    ctx.action = [&ctx]() -> Status {
      auto r = call(ctx, api::method::get, "/v1/feeds");
      if (!r) return tl::unexpected(r.error());
      std::string human;
      if (auto f = r->find("feeds"); f != r->end() && f->is_array()) {
        for (const auto& x : *f) human += feed_line(x) + "\n";
      }
      emit(ctx, *r, human.empty() ? "no feeds (add one with `weightsctl feed add`)\n" : human);
      return {};
    };
  });

  for (const char* verb : {"status", "refresh", "remove"}) {
    auto name = std::make_shared<std::string>();
    auto no_wait = std::make_shared<bool>(false);
    const std::string v = verb;
    auto* c =
        feed->add_subcommand(verb, v == "status"    ? "Show a feed's freshness and last refusal"
                                   : v == "refresh" ? "Refresh a feed now (full TUF verification)"
                                                    : "Unsubscribe from a feed");
    c->add_option("name", *name, "Feed name")->required();
    if (v == "refresh") {
      c->add_flag("--no-wait", *no_wait, "Start the refresh and return at once");
      c->footer(
          "Waits for the refresh and exits with its refusal, if any; the feed keeps what "
          "it trusted before.\nExample:\n  weightsctl feed refresh demo");
    } else {
      c->footer(fmt::format("Example:\n  weightsctl feed {} demo", v));
    }
    c->callback([&ctx, name, v, no_wait] {
      ctx.action = [&ctx, name, v, no_wait]() -> Status {
        const std::string target = "/v1/feeds/" + percent_encode(*name);
        if (v == "remove") {
          return run_simple(ctx, api::method::del, target, nullptr,
                            fmt::format("removed feed {}\n", *name));
        }
        if (v == "refresh") return run_feed_refresh(ctx, *name, *no_wait);
        auto r = call(ctx, api::method::get, target);
        if (!r) return tl::unexpected(r.error());
        emit(ctx, *r, feed_details(*r));
        return {};
      };
    });
  }
}

}  // namespace weights::cli
