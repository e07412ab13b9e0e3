#include "pdscaler/ctl/self_metrics.h"

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cmath>
#include <mutex>

namespace pdscaler::ctl {

struct SelfMetrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;
  prometheus::Family<prometheus::Counter>& reconciles =
      prometheus::BuildCounter().Name("pdscaler_reconcile_total").Help("Reconciles by result").Register(*registry);
  prometheus::Family<prometheus::Histogram>& durations =
      prometheus::BuildHistogram().Name("pdscaler_reconcile_duration_seconds").Help("Time of one reconcile").Register(*registry);
  prometheus::Family<prometheus::Gauge>& desired =
      prometheus::BuildGauge().Name("pdscaler_desired_replicas").Help("Replicas the plan wants per role").Register(*registry);
  prometheus::Family<prometheus::Gauge>& current =
      prometheus::BuildGauge().Name("pdscaler_current_replicas").Help("Replicas the workload has per role").Register(*registry);
  prometheus::Family<prometheus::Gauge>& ttft =
      prometheus::BuildGauge().Name("pdscaler_predicted_ttft_seconds").Help("Model-predicted TTFT at the planned fleet").Register(*registry);
  prometheus::Family<prometheus::Gauge>& tpot =
      prometheus::BuildGauge().Name("pdscaler_predicted_tpot_seconds").Help("Model-predicted TPOT at the planned fleet").Register(*registry);
  prometheus::Gauge& leader =
      prometheus::BuildGauge().Name("pdscaler_leader").Help("1 while this instance leads").Register(*registry).Add({});
  prometheus::Family<prometheus::Counter>& api_errors =
      prometheus::BuildCounter().Name("pdscaler_api_errors_total").Help("Kubernetes API errors by verb and HTTP code (0 = transport)").Register(*registry);
  prometheus::Family<prometheus::Counter>& api_calls =
      prometheus::BuildCounter().Name("pdscaler_api_requests_total").Help("Kubernetes API requests by verb").Register(*registry);
  std::mutex mu;
};

SelfMetrics::SelfMetrics(const std::string& bind) : impl_(std::make_unique<Impl>()) {
  if (!bind.empty() && bind != "0") {
    // ":8080" (every interface, as the chart and controller-runtime write it) is not an address
    // civetweb parses; "0.0.0.0:8080" is the same thing to it.
    impl_->exposer = std::make_unique<prometheus::Exposer>(bind.front() == ':' ? "0.0.0.0" + bind : bind);
    impl_->exposer->RegisterCollectable(impl_->registry);
  }
}

SelfMetrics::~SelfMetrics() = default;

void SelfMetrics::reconcile(const std::string& result, double seconds) {
  impl_->reconciles.Add({{"result", result}}).Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
  impl_->durations.Add({}, kBuckets).Observe(seconds);
}

void SelfMetrics::replicas(const std::string& ns, const std::string& name, const std::string& role, int desired, int current) {
  impl_->desired.Add({{"namespace", ns}, {"name", name}, {"role", role}}).Set(desired);
  impl_->current.Add({{"namespace", ns}, {"name", name}, {"role", role}}).Set(current);
}

void SelfMetrics::predicted(const std::string& ns, const std::string& name, double ttft_s, double tpot_s) {
  impl_->ttft.Add({{"namespace", ns}, {"name", name}}).Set(std::isfinite(ttft_s) ? ttft_s : -1);
  impl_->tpot.Add({{"namespace", ns}, {"name", name}}).Set(std::isfinite(tpot_s) ? tpot_s : -1);
}

void SelfMetrics::forget(const std::string& ns, const std::string& name) {
  for (const char* role : {"prefill", "decode"}) {
    const std::map<std::string, std::string> labels{{"namespace", ns}, {"name", name}, {"role", role}};
    if (impl_->desired.Has(labels)) impl_->desired.Remove(&impl_->desired.Add(labels));
    if (impl_->current.Has(labels)) impl_->current.Remove(&impl_->current.Add(labels));
  }
  const std::map<std::string, std::string> labels{{"namespace", ns}, {"name", name}};
  if (impl_->ttft.Has(labels)) impl_->ttft.Remove(&impl_->ttft.Add(labels));
  if (impl_->tpot.Has(labels)) impl_->tpot.Remove(&impl_->tpot.Add(labels));
}

void SelfMetrics::leader(bool is_leader) { impl_->leader.Set(is_leader ? 1 : 0); }

void SelfMetrics::api_call(const std::string& verb, int http_status) {
  impl_->api_calls.Add({{"verb", verb}}).Increment();
  if (http_status == 0 || http_status >= 400)
    impl_->api_errors.Add({{"verb", verb}, {"code", std::to_string(http_status)}}).Increment();
}

}  // namespace pdscaler::ctl
