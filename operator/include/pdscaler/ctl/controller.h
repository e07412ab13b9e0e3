#pragma once
// The PDDeployment controller: informers for PDDeployments and Deployments, a work queue, and a
// level-triggered reconcile (observe -> intend -> write /scale -> report status and events).
// Writes only while `set_leader(true)` (always, when leader election is off).

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include <spdlog/logger.h>

#include "pdscaler/ctl/informer.h"
#include "pdscaler/ctl/self_metrics.h"
#include "pdscaler/ctl/workqueue.h"
#include "pdscaler/kube/client.h"

namespace pdscaler::ctl {

struct ControllerOptions {
  std::string namespace_;  // "" = all namespaces
  std::chrono::seconds resync{30};
};

class Controller {
 public:
  Controller(kube::KubeClient& client, SelfMetrics& metrics, ControllerOptions opts,
             std::shared_ptr<spdlog::logger> log);
  ~Controller();

  void start();
  void stop();
  bool ready() const;
  void set_leader(bool leader);

 private:
  void reconcile(const std::string& key);
  void worker();
  void enqueue_all();
  void on_workload_change(const nlohmann::json* workload);
  void guarded(const char* what, const std::function<void()>& body);

  kube::KubeClient& client_;
  SelfMetrics& metrics_;
  ControllerOptions opts_;
  std::shared_ptr<spdlog::logger> log_;
  WorkQueue queue_;
  std::unique_ptr<Informer> pdds_;
  std::unique_ptr<Informer> deployments_;
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopped_{false};
  std::vector<std::thread> threads_;
};

}  // namespace pdscaler::ctl
