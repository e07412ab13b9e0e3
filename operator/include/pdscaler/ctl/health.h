#pragma once
// A minimal HTTP/1.0 server for /healthz and /readyz probes: one accept loop, one request per
// connection. Kept apart from /metrics so a slow scrape never fails a probe.

#include <atomic>
#include <functional>
#include <string>
#include <thread>

namespace pdscaler::ctl {

class HealthServer {
 public:
  // `bind` is "HOST:PORT" (":8081" = all interfaces). `ready` answers /readyz.
  HealthServer(const std::string& bind, std::function<bool()> ready);
  ~HealthServer();
  bool listening() const { return fd_ >= 0; }
  int port() const { return port_; }
  std::string error() const { return error_; }

 private:
  void serve();
  int fd_ = -1;
  int port_ = 0;
  std::string error_;
  std::function<bool()> ready_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace pdscaler::ctl
