#include <cstdio>

int main() {
  std::puts("weightsd " WEIGHTS_VERSION);
  return 0;
}
