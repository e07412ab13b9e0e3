#pragma once
// The PDDeployment controller: informers for PDDeployments and Deployments, a work queue, and a
// level-triggered reconcile (observe -> intend -> write /scale -> report status and events).
// Writes only while `set_leader(true)` (always, when leader election is off).

#include <atomic>
#include <chrono>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <spdlog/logger.h>

#include "pdscaler/api/pddeployment.h"
#include "pdscaler/ctl/clock.h"
#include "pdscaler/ctl/informer.h"
#include "pdscaler/ctl/metrics_poller.h"
#include "pdscaler/ctl/metrics_source.h"
#include "pdscaler/ctl/self_metrics.h"
#include "pdscaler/ctl/workqueue.h"
#include "pdscaler/kube/client.h"
#include "pdscaler/reconcile/decide.h"

namespace pdscaler::ctl {

struct ControllerOptions {
  std::string namespace_;  // "" = all namespaces
  std::chrono::seconds resync{30};
  int workers = 4;      // reconciles at once (never two of one PDDeployment)
  int evaluators = 4;   // Prometheus evaluations at once, off the reconcile path
  TimeSource* clock = &TimeSource::real();  // resync, backoffs, polls, status times (tests: a fake)
};

class Controller {
 public:
  // `source` measures live load for PDDeployments with spec.metrics (may be null: then they
  // report MetricsAvailable=False).
  Controller(kube::KubeClient& client, SelfMetrics& metrics, ControllerOptions opts,
             std::shared_ptr<spdlog::logger> log, MetricsSource* source = nullptr);
  ~Controller();

  void start();
  void stop();
  bool ready() const;
  void set_leader(bool leader);

 private:
  void reconcile(const std::string& key);
  void worker();
  void enqueue_all();
  void on_workload_change(const std::string& workload_key);
  // Keeps owners_ current for one PDDeployment (null: deleted).
  void index_targets(const std::string& key, const nlohmann::json* pdd);
  // A Deployment target from the caches (nullopt: another kind, or the caches not synced yet).
  std::optional<reconcile::TargetView> observe_cached(const std::string& ns, const api::ScaleTargetRef& ref) const;
  void remember_write(const std::string& ns, const api::ScaleTargetRef& ref, const api::Scale& written);
  void guarded(const char* what, const std::function<void()>& body);
  // The live policy of one PDDeployment with spec.metrics, fed by the poller's measurements.
  struct Live {
    std::int64_t generation = -1;
    std::unique_ptr<planner::Autoscaler> autoscaler;
    bool seasonal_seeded = false;  // the last 7.5 days of the rate and work read from Prometheus
    reconcile::LiveLoad state;
  };
  reconcile::LiveLoad evaluate_live(const std::string& key, const reconcile::Observation& obs);
  // One measurement, on a poller thread: the Secrets, the rate history when asked, the load.
  MetricsPoller::Result measure(const std::string& key, const MetricsPoller::Job& job);
  Live& live_of(const std::string& key);
  void forget_state(const std::string& key);

  kube::KubeClient& client_;
  SelfMetrics& metrics_;
  ControllerOptions opts_;
  std::shared_ptr<spdlog::logger> log_;
  MetricsSource* source_;
  // Per key, touched only by the worker reconciling that key (the queue never hands one key to two
  // workers); the maps themselves are guarded by state_mu_ (nodes stay put while others change).
  std::mutex state_mu_;
  std::map<std::string, Live> live_;
  // The last decoded copy of each PDDeployment, so a spec is decoded once per generation.
  std::map<std::string, api::PDDeployment> decoded_;
  WorkQueue queue_;
  std::unique_ptr<MetricsPoller> poller_;
  std::unique_ptr<Informer> pdds_;
  std::unique_ptr<Informer> deployments_;
  std::unique_ptr<Informer> pods_;
  // Deployment "ns/name" -> the PDDeployments that scale it, so a Deployment event wakes only them.
  std::mutex index_mu_;
  std::map<std::string, std::set<std::string>> owners_;
  std::map<std::string, std::vector<std::string>> targets_;  // the reverse: PDDeployment -> its Deployments
  std::atomic<bool> leader_{false};
  std::atomic<bool> stopped_{false};
  std::vector<std::thread> threads_;
};

}  // namespace pdscaler::ctl
