#include "daemon/daemon.hpp"

int main(int argc, char** argv) {
  weights::daemon::Options options;
  if (auto rc = weights::daemon::parse_args(argc, argv, options)) return *rc;
  return weights::daemon::run(options);
}
