#pragma once
// Leader election on a coordination.k8s.io/v1 Lease with client-go's semantics: lease 15 s,
// renew deadline 10 s, retry 2 s; another holder's lease is judged expired on the local clock,
// counted from when its record was last seen to change; take-over and renewal are updates with the
// resourceVersion, so races end in 409; a leader that cannot renew within the deadline steps down;
// release() hands the lease back on shutdown.

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

#include "pdscaler/ctl/clock.h"
#include "pdscaler/kube/client.h"

namespace pdscaler::ctl {

struct LeaderConfig {
  std::string namespace_;
  std::string name = "pdscaler-operator";
  std::string identity;
  std::chrono::seconds lease_duration{15};
  std::chrono::seconds renew_deadline{10};
  std::chrono::seconds retry_period{2};
};

class LeaderElector {
 public:
  LeaderElector(kube::KubeClient& client, LeaderConfig cfg, std::function<void(bool)> on_change,
                TimeSource& clock = TimeSource::real());
  void run();  // blocking until stop()
  void stop() { stopped_ = true; }
  void release();  // give the lease up if held (call after run() returned)
  bool is_leader() const { return leader_; }

 private:
  bool try_acquire_or_renew();
  void set_leader(bool v);

  kube::KubeClient& client_;
  LeaderConfig cfg_;
  std::function<void(bool)> on_change_;
  TimeSource& clock_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopped_{false};
  // What we last saw of someone else's record, and when (local clock).
  std::string observed_record_;
  std::chrono::steady_clock::time_point observed_at_{};
  std::chrono::steady_clock::time_point last_renew_{};
};

}  // namespace pdscaler::ctl
