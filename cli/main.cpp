#include "cli/app.hpp"

int main(int argc, char** argv) {
  return weights::cli::run(argc, argv);
}
