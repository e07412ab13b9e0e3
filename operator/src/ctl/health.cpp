#include "pdscaler/ctl/health.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace pdscaler::ctl {

HealthServer::HealthServer(const std::string& bind, std::function<bool()> ready) : ready_(std::move(ready)) {
  const auto colon = bind.rfind(':');
  std::string host = colon == std::string::npos ? "" : bind.substr(0, colon);
  const std::string port = colon == std::string::npos ? bind : bind.substr(colon + 1);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(port.c_str())));
  if (host.empty() || host == "0.0.0.0") addr.sin_addr.s_addr = htonl(INADDR_ANY);
  else if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    error_ = "not an IPv4 address: " + host;
    return;
  }
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0) {
    error_ = std::strerror(errno);
    ::close(fd_);
    fd_ = -1;
    return;
  }
  socklen_t len = sizeof addr;
  ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

HealthServer::~HealthServer() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (fd_ >= 0) ::close(fd_);
}

void HealthServer::serve() {
  while (!stop_) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int c = ::accept(fd_, nullptr, nullptr);
    if (c < 0) continue;
    timeval tv{2, 0};
    ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[1024];
    const ssize_t n = ::recv(c, buf, sizeof buf - 1, 0);
    std::string req(buf, n > 0 ? static_cast<size_t>(n) : 0);
    int code = 404;
    std::string body = "not found\n";
    if (req.rfind("GET /healthz", 0) == 0) {
      code = 200;
      body = "ok\n";
    } else if (req.rfind("GET /readyz", 0) == 0) {
      const bool ok = ready_ && ready_();
      code = ok ? 200 : 503;
      body = ok ? "ok\n" : "caches not synced\n";
    }
    const std::string resp = "HTTP/1.0 " + std::to_string(code) + (code == 200 ? " OK" : code == 503 ? " Service Unavailable" : " Not Found") +
                             "\r\nContent-Type: text/plain\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\nConnection: close\r\n\r\n" + body;
    ::send(c, resp.data(), resp.size(), MSG_NOSIGNAL);
    ::close(c);
  }
}

}  // namespace pdscaler::ctl
