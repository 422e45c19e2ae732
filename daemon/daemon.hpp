#pragma once
// weightsd's top level: command-line parsing and the event loop. run() owns the io_context (on
// the calling thread), the state-dir lock, the control server and signal handling, and holds the
// program's single catch-all that maps failures to an exit code.
#include <optional>

#include "daemon/config.hpp"

namespace weights::daemon {

// sysexits-style exit codes of weightsd.
enum class Exit : int {
  ok = 0,
  failure = 1,    // generic failure
  usage = 64,     // bad command line
  internal = 70,  // a bug
  io = 74,        // I/O error (state dir, socket)
  in_use = 75,    // another weightsd holds the state dir or the socket (EX_TEMPFAIL)
  config = 78,    // invalid configuration (EX_CONFIG)
};

enum class Action { run, check_config };

struct Options {
  Overrides overrides;
  Action action = Action::run;
};

// Fills `out` from argv. Returns an exit code when the program should stop now (--help,
// --version, usage errors), nullopt to go on.
std::optional<int> parse_args(int argc, char** argv, Options& out);

// Runs the action; returns the process exit code.
int run(const Options& options);

}  // namespace weights::daemon
