#include "pdscaler/planner/autoscale.h"

#include <algorithm>
#include <cmath>

namespace pdscaler::planner {

void Forecaster::observe(double t_s, double value) {
  if (n_ == 0) {
    level_ = value;
    trend_ = 0;
  } else {
    const double dt = std::max(1e-9, t_s - last_t_);
    const double predicted = level_ + trend_ * dt;
    const double err = value - predicted;
    err_var_ = n_ == 1 ? err * err : 0.8 * err_var_ + 0.2 * err * err;
    const double prev = level_;
    level_ = alpha_ * value + (1 - alpha_) * predicted;
    trend_ = beta_ * (level_ - prev) / dt + (1 - beta_) * trend_;
  }
  last_t_ = t_s;
  ++n_;
}

double Forecaster::forecast(double horizon_s, double z) const {
  // Never forecast below the current level on a falling trend: scale-down is the stabiliser's job.
  const double point = level_ + std::max(0.0, trend_) * horizon_s;
  // The error spread right after a level shift is the shift itself, not noise: cap the margin at
  // kMaxMargin of the level so one step does not provision far above the new load for minutes.
  const double margin = std::min(z * std::sqrt(err_var_), kMaxMargin * std::max(level_, 0.0));
  return std::max(0.0, point + margin);
}

int Stabilizer::apply(double t_s, int recommended, double exact, int current) {
  // A need within the dead band of the next count down is not a reason to scale down.
  int rec = recommended;
  if (rec < current && current > 0 && exact > (current - 1) * (1 - c_.dead_band)) rec = current;
  history_.emplace_back(t_s, rec);
  while (!history_.empty() && history_.front().first < t_s - c_.scale_down_window_s) history_.pop_front();
  if (rec > current) {
    if (c_.max_step_up > 0) return std::min(rec, current + c_.max_step_up);
    return rec;
  }
  int highest = rec;
  for (const auto& [t, r] : history_) highest = std::max(highest, r);
  return std::min(current, highest);
}

Autoscaler::Autoscaler(PlanInput spec, AutoscalerConfig cfg)
    : spec_(std::move(spec)), cfg_(cfg), prefill_(cfg.stabilizer), decode_(cfg.stabilizer) {}

void Autoscaler::hold(double t_s, int current_prefill, int current_decode) {
  prefill_.apply(t_s, current_prefill, current_prefill, current_prefill);
  decode_.apply(t_s, current_decode, current_decode, current_decode);
}

Recommendation Autoscaler::step(const LoadSample& s, int current_prefill, int current_decode) {
  rate_.observe(s.t_s, s.requests_per_s);
  // Lengths: smoothed, and only from windows that saw requests (an idle window has no lengths).
  if (s.requests_per_s > 0 && s.mean_input > 0 && s.mean_output > 0) {
    const double a = have_lengths_ ? 0.3 : 1.0;
    mean_in_ = a * s.mean_input + (1 - a) * mean_in_;
    mean_out_ = a * s.mean_output + (1 - a) * mean_out_;
    if (s.input_stddev) sd_in_ = a * *s.input_stddev + (1 - a) * sd_in_;
    have_lengths_ = true;
  }
  Recommendation out;
  const double horizon = cfg_.startup_s + cfg_.interval_s;
  out.provisioned_rate = std::max(s.requests_per_s, rate_.forecast(horizon, cfg_.forecast_z));
  out.method = "holt-linear forecast " + std::to_string(static_cast<int>(horizon)) + "s ahead at z=" +
               std::to_string(cfg_.forecast_z).substr(0, 4);

  PlanInput in = spec_;
  in.workload.rate_unit = RateUnit::RequestsPerSecond;
  in.workload.rate = out.provisioned_rate;
  if (have_lengths_) {
    in.workload.input_length = mean_in_;
    in.workload.output_length = mean_out_;
    in.workload.input_length_distribution.clear();
    if (in.prefill.queue_model == QueueModel::MG1) in.workload.input_length_stddev = sd_in_;
  }
  out.plan = plan(in);
  if (!out.plan.feasible) {
    out.prefill = current_prefill;
    out.decode = current_decode;
    return out;
  }
  out.prefill = prefill_.apply(s.t_s, out.plan.prefill.replicas, out.plan.d.prefill_exact, current_prefill);
  out.decode = decode_.apply(s.t_s, out.plan.decode.replicas, out.plan.d.decode_exact, current_decode);
  return out;
}

}  // namespace pdscaler::planner
