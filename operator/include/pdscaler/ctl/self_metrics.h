#pragma once
// The operator's own Prometheus metrics (prometheus-cpp), served on --metrics-bind-address.

#include <memory>
#include <string>

namespace pdscaler::ctl {

class SelfMetrics {
 public:
  // Serves /metrics on `bind`: "127.0.0.1:8080" (one address) or ":8080" (every interface, as in a
  // pod); empty or "0" = not served. Throws if it cannot listen there.
  explicit SelfMetrics(const std::string& bind);
  ~SelfMetrics();

  void reconcile(const std::string& result, double seconds);
  void replicas(const std::string& ns, const std::string& name, const std::string& role, int desired, int current);
  void predicted(const std::string& ns, const std::string& name, double ttft_s, double tpot_s);
  void forget(const std::string& ns, const std::string& name);
  void leader(bool is_leader);
  void api_call(const std::string& verb, int http_status);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdscaler::ctl
