// Prometheus answers as the operator's metrics source reads them: instant vectors and scalars,
// histogram buckets by `le`, range matrices (the seasonal forecast's history), error bodies and
// pages that are not JSON at all. Each parser returns a value or an error; a measurement that
// reads goes on to the live policy, which must recommend counts within the spec's bounds and never
// below the minimum whatever the numbers (NaN, Inf, negative, huge).
#include <fstream>
#include <sstream>
#include <string>

#include "fake_http.h"
#include "pdscaler/api/spec_codec.h"
#include "pdscaler/ctl/metrics_source.h"
#include "pdscaler/reconcile/live.h"

using namespace pdscaler;

namespace {

api::PDDeploymentSpec sample_spec() {
  std::ifstream f(PDSCALER_SOURCE_DIR "/crds/examples/llama31-8b-h200.yaml");
  std::stringstream ss;
  ss << f.rdbuf();
  auto parsed = api::parse_manifest(ss.str());
  if (!parsed) __builtin_trap();
  parsed->tree["spec"]["metrics"] = {{"prometheus", {{"url", "http://127.0.0.1:9090"}}},
                                     {"prefillSelector", "job=\"prefill\""},
                                     {"decodeSelector", "job=\"decode\""},
                                     {"window", "20s"},
                                     {"evaluationInterval", "5s"}};
  auto spec = api::decode_spec(parsed->tree);
  if (!spec || !spec->metrics) __builtin_trap();
  return *spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const api::PDDeploymentSpec spec = sample_spec();
  const std::string body(reinterpret_cast<const char*>(data), size);
  for (int status : {200, 400, 503}) {
    (void)ctl::parse_instant_value(status, body);
    if (auto b = ctl::parse_vector_by(status, body, "le")) {
      (void)ctl::histogram_stddev(*b);
      (void)reconcile::histogram_share_within(*b, 0.3);
    }
    if (auto r = ctl::parse_range_series(status, body)) {
      for (std::size_t i = 1; i < r->size(); ++i)
        if ((*r)[i].first < (*r)[i - 1].first) __builtin_trap();  // oldest first
    }
  }

  // The whole measurement, one answer per query from the input's parts, then the live policy.
  const auto parts = fuzz::split_parts(body);
  auto source = ctl::make_prometheus_source(
      [&](const std::string&, const ctl::PrometheusAuth&) { return std::make_unique<fuzz::FakeHttp>(parts); });
  const api::MetricsSpec& m = *spec.metrics;
  planner::Autoscaler autoscaler(spec.plan, reconcile::autoscaler_config(m));
  reconcile::Observation obs;
  obs.spec = spec;
  obs.prefill.read = obs.decode.read = true;
  obs.prefill.spec_replicas = obs.prefill.ready_replicas = 2;
  obs.decode.spec_replicas = obs.decode.ready_replicas = 2;
  reconcile::LiveLoad state;
  api::Time now = api::from_epoch_seconds(1.8e9);
  for (int i = 0; i < 3; ++i) {
    reconcile::Measurement meas{now, source->observe(m)};
    reconcile::evaluate(autoscaler, m, meas, obs, state);
    if (state.recommendation) {
      const auto& r = *state.recommendation;
      if (r.prefill < spec.plan.prefill.min_replicas || r.decode < spec.plan.decode.min_replicas) __builtin_trap();
      if (spec.plan.prefill.max_replicas > 0 && r.prefill > spec.plan.prefill.max_replicas) __builtin_trap();
      if (spec.plan.decode.max_replicas > 0 && r.decode > spec.plan.decode.max_replicas) __builtin_trap();
    }
    now += std::chrono::seconds(5);
  }
  for (auto series : {ctl::HistorySeries::Requests, ctl::HistorySeries::InputTokens, ctl::HistorySeries::OutputTokens})
    (void)source->history(m, {}, series, 1.8e9 - 86400, 1.8e9, 300);
  return 0;
}
