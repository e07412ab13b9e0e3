// The operator's /metrics listener takes the addresses its flag documents: one address, or
// ":PORT" for every interface (what the chart passes, so that Prometheus can scrape the pod's IP).
#include "pdscaler/ctl/self_metrics.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace {

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// GET /metrics from 127.0.0.1:port; the whole answer.
std::string scrape(int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "";
  }
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST(SelfMetrics, ServesOnEveryInterfaceForColonPort) {
  const int port = free_port();
  std::string bind = ":";  // appended, not "x" + std::string: GCC 12 -O3 reports a false -Wrestrict on that
  bind += std::to_string(port);
  pdscaler::ctl::SelfMetrics m(bind);
  m.leader(true);
  EXPECT_NE(scrape(port).find("pdscaler_leader 1"), std::string::npos);
}

TEST(SelfMetrics, ServesOnOneAddress) {
  const int port = free_port();
  std::string bind = "127.0.0.1:";
  bind += std::to_string(port);
  pdscaler::ctl::SelfMetrics m(bind);
  m.leader(false);
  EXPECT_NE(scrape(port).find("pdscaler_leader 0"), std::string::npos);
}

TEST(SelfMetrics, NotServedWhenDisabled) {
  const int port = free_port();
  pdscaler::ctl::SelfMetrics m("0");
  EXPECT_EQ(scrape(port), "");
}

}  // namespace
