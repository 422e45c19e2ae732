// Test helper: sends stdin verbatim over a Unix stream socket, half-closes, and prints whatever
// comes back until EOF or a timeout. Lets shell tests speak raw (non-HTTP) bytes to weightsd.
// Usage: weights_unix_send SOCKET [TIMEOUT_MS]
#include <cerrno>
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
    std::fprintf(stderr, "usage: %s SOCKET [TIMEOUT_MS]\n", argv[0]);
    return 64;
  }
  const int timeout_ms = argc > 2 ? std::atoi(argv[2]) : 5000;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (std::strlen(argv[1]) >= sizeof addr.sun_path) return 64;
  std::strcpy(addr.sun_path, argv[1]);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::fprintf(stderr, "connect %s: %s\n", argv[1], std::strerror(errno));
    return 69;
  }
  std::string input;
  char buf[65536];
  for (ssize_t n; (n = ::read(STDIN_FILENO, buf, sizeof buf)) > 0;) {
    input.append(buf, static_cast<std::size_t>(n));
  }
  for (std::size_t off = 0; off < input.size();) {
    const ssize_t n = ::send(fd, input.data() + off, input.size() - off, MSG_NOSIGNAL);
    if (n <= 0) break;  // the server may close early; still print what it said
    off += static_cast<std::size_t>(n);
  }
  ::shutdown(fd, SHUT_WR);
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) > 0) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    std::fwrite(buf, 1, static_cast<std::size_t>(n), stdout);
  }
  ::close(fd);
  return 0;
}
