// Test helper: plays the service manager's side of sd_notify(3). Binds a Unix datagram socket
// at PATH and prints every datagram received as one line, its newline-separated assignments
// joined by " | ", flushing after each. Exits 0 after a datagram containing STOPPING=1, 1 when
// TIMEOUT_MS pass first.
// Usage: weights_notify_listen PATH [TIMEOUT_MS]
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH [TIMEOUT_MS]\n", argv[0]);
    return 64;
  }
  const auto timeout = std::chrono::milliseconds(argc > 2 ? std::atoi(argv[2]) : 60000);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(argv[1]) >= sizeof addr.sun_path) return 64;
  std::strcpy(addr.sun_path, argv[1]);
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "bind %s: %s\n", argv[1], std::strerror(errno));
    return 69;
  }
  char buf[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return 1;
    pollfd p{fd, POLLIN, 0};
    const int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return 1;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      std::fprintf(stderr, "recv: %s\n", std::strerror(errno));
      return 74;
    }
    std::string msg(buf, static_cast<std::size_t>(n));
    while (!msg.empty() && msg.back() == '\n') msg.pop_back();
    std::string line;
    for (char c : msg) {
      if (c == '\n') {
        line += " | ";
      } else {
        line.push_back(c);
      }
    }
    std::printf("%s\n", line.c_str());
    std::fflush(stdout);
    if (("\n" + msg + "\n").find("\nSTOPPING=1\n") != std::string::npos) return 0;
  }
}
