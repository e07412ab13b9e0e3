#include "pdscaler/reconcile/live.h"

namespace pdscaler::reconcile {

planner::AutoscalerConfig autoscaler_config(const api::MetricsSpec& m) {
  planner::AutoscalerConfig c;
  c.startup_s = m.startup_s;
  c.interval_s = m.evaluation_interval_s;
  if (m.scale_down_window_s) {
    c.stabilizer.scale_down_window_s = *m.scale_down_window_s;
    c.window_covers_startup = false;  // as set
  }
  c.calibration.enabled = m.calibration.enabled;
  c.calibration.max_correction = m.calibration.max_correction;
  c.calibration.min_requests = m.calibration.min_requests;
  c.calibration.window_s = m.window_s;
  return c;
}

void evaluate(planner::Autoscaler& autoscaler, const api::MetricsSpec& m, const Measurement& measurement,
              const Observation& obs, LiveLoad& state) {
  state.evaluated_at = api::whole_seconds(measurement.at);
  // Look ahead over the start-up time measured on the cluster, once there are ready pods to measure.
  if (const auto up = measured_startup_s(obs.prefill.pods, obs.decode.pods)) {
    state.startup_s = *up;
    state.startup_source = "measured: median creation to Ready of the newest pods (" +
                           std::to_string(obs.prefill.pods.startup_s.size()) + " prefill, " +
                           std::to_string(obs.decode.pods.startup_s.size()) + " decode)";
  } else {
    state.startup_s = m.startup_s;
    state.startup_source = "spec.metrics.startupTime (no ready pods measured yet)";
  }
  autoscaler.set_startup_s(state.startup_s);
  const api::PDDeploymentSpec& d = *obs.spec;
  const double t_s = api::to_epoch_seconds(measurement.at);
  const int cur_p = obs.prefill.read ? obs.prefill.spec_replicas : d.plan.prefill.min_replicas;
  const int cur_d = obs.decode.read ? obs.decode.spec_replicas : d.plan.decode.min_replicas;
  if (!measurement.load) {
    autoscaler.hold(t_s, cur_p, cur_d);
    state.available = false;
    state.error = measurement.load.error();
    ++state.failures;
    return;
  }
  const ObservedLoad& o = *measurement.load;
  planner::LoadSample sample;
  sample.t_s = t_s;
  sample.requests_per_s = o.requests_per_s;
  sample.mean_input = o.mean_input.value_or(0);
  sample.mean_output = o.mean_output.value_or(0);
  sample.completed_requests = o.completions_per_s * m.window_s;
  sample.input_stddev = o.input_stddev;
  sample.output_stddev = o.output_stddev;
  sample.output_histogram = o.output_histogram;
  sample.dispersion = o.arrival_dispersion;
  sample.prefill_waiting = o.prefill_waiting.value_or(0);
  sample.decode_waiting = o.decode_waiting.value_or(0);
  sample.prefix_cache_hit_rate = o.prefix_hit_rate;
  sample.ttft_s = o.ttft_s;
  sample.tpot_s = o.tpot_s;
  if (obs.prefill.read && obs.decode.read) {
    sample.prefill_ready = obs.prefill.ready_replicas;
    sample.decode_ready = obs.decode.ready_replicas;
  }
  state.recommendation = autoscaler.step(sample, cur_p, cur_d);
  state.history.assign(autoscaler.history().begin(), autoscaler.history().end());
  state.observed = o;
  state.available = true;
  state.error.clear();
  state.failures = 0;
}

}  // namespace pdscaler::reconcile
