#include "cli/app.hpp"

#include <CLI/CLI.hpp>

namespace weights::cli {
int run(int argc, char** argv) {
  CLI::App app{"weightsctl: fetch, seed, publish and verify open-weight model releases"};
  CLI11_PARSE(app, argc, argv);
  return 0;
}
}  // namespace weights::cli
