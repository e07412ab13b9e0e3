#include "pdscaler/planner/autoscale.h"

#include <algorithm>
#include <cmath>

namespace pdscaler::planner {

PlanInput at_load(PlanInput spec, const MeasuredLoad& load) {
  auto& w = spec.workload;
  w.rate_unit = RateUnit::RequestsPerSecond;
  w.rate = load.requests_per_s;
  if (load.mean_input > 0 && load.mean_output > 0) {
    w.input_length = load.mean_input;
    w.output_length = load.mean_output;
    w.input_length_distribution.clear();
    w.input_length_stddev.reset();
    if (spec.prefill.queue_model == QueueModel::MG1 && load.input_stddev) w.input_length_stddev = *load.input_stddev;
  }
  if (load.prefix_cache_hit_rate) w.prefix_cache_hit_rate = std::clamp(*load.prefix_cache_hit_rate, 0.0, 0.99);
  return spec;
}

void Forecaster::observe(double t_s, double value) {
  if (n_ == 0 || t_s - last_t_ > kMaxGap) {
    // The first point, or the first after a long gap (metrics down, operator away): a trend
    // projected across the gap would be a guess, so start again from the level.
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
  remember(t_s, rec);
  if (rec > current) {
    if (c_.max_step_up > 0) return std::min(rec, current + c_.max_step_up);
    return rec;
  }
  int highest = rec;
  for (const auto& [t, r] : history_) highest = std::max(highest, r);
  return std::min(current, highest);
}

void Stabilizer::remember(double t_s, int recommended) {
  history_.emplace_back(t_s, recommended);
  while (!history_.empty() && history_.front().first < t_s - c_.scale_down_window_s) history_.pop_front();
}

double Calibrator::solve(const std::function<double(double)>& predicted, double observed, double lo, double hi) {
  const double at_lo = predicted(lo), at_hi = predicted(hi);
  const bool rising = at_hi > at_lo;
  // Outside what the bounds can explain: the nearest bound.
  if (rising ? observed <= at_lo : observed >= at_lo) return lo;
  if (rising ? observed >= at_hi : observed <= at_hi) return hi;
  double a = std::log(lo), b = std::log(hi);
  for (int i = 0; i < 50; ++i) {
    const double m = 0.5 * (a + b);
    const double v = predicted(std::exp(m));
    if ((v < observed) == rising) a = m; else b = m;
  }
  return std::exp(0.5 * (a + b));
}

PlanInput Calibrator::apply(PlanInput spec) const {
  if (s_.prefill_throughput != 1) spec.prefill.max_throughput = spec.prefill.max_throughput.scaled(s_.prefill_throughput);
  if (s_.decode_tpot != 1) spec.decode.tpot_by_batch = spec.decode.tpot_by_batch.scaled(s_.decode_tpot);
  return spec;
}

void Calibrator::restore(const CalibrationState& s) {
  const double hi = 1 + c_.max_correction, lo = 1 / hi;
  s_ = s;
  s_.prefill_throughput = std::clamp(s.prefill_throughput, lo, hi);
  s_.decode_tpot = std::clamp(s.decode_tpot, lo, hi);
}

void Calibrator::observe(const PlanInput& at_load, const CalibrationWindow& w) {
  if (w.prefill_ready != last_p_ || w.decode_ready != last_d_) {
    last_p_ = w.prefill_ready;
    last_d_ = w.decode_ready;
    fleet_since_ = w.t_s;
  }
  if (!c_.enabled) {
    s_.last = "calibration is off";
    return;
  }
  if (w.prefill_ready <= 0 || w.decode_ready <= 0) {
    s_.last = "skipped: no ready replicas known";
    return;
  }
  // The fleet must have had this size over a whole window (first sight counts from here).
  if (w.t_s - fleet_since_ < c_.window_s) {
    s_.last = "skipped: the fleet changed size within the window";
    return;
  }
  if (w.completed_requests < c_.min_requests) {
    s_.last = "skipped: " + std::to_string(static_cast<long long>(w.completed_requests)) +
              " requests in the window, fewer than " + std::to_string(static_cast<long long>(c_.min_requests));
    return;
  }
  const double completions_per_s = w.completed_requests / c_.window_s;
  if (std::abs(w.requests_per_s - completions_per_s) > c_.max_imbalance * std::max(w.requests_per_s, completions_per_s)) {
    s_.last = "skipped: requests in flight were " + std::string(w.requests_per_s > completions_per_s ? "growing" : "draining") +
              " (a backlog is not the steady state the model predicts)";
    return;
  }
  if (!w.ttft_s && !w.tpot_s) {
    s_.last = "skipped: no TTFT or TPOT observed";
    return;
  }
  const double hi = 1 + c_.max_correction, lo = 1 / hi;
  auto predicted = [&](double prefill_factor, double tpot_factor) {
    PlanInput in = at_load;
    in.prefill.max_throughput = in.prefill.max_throughput.scaled(prefill_factor);
    in.decode.tpot_by_batch = in.decode.tpot_by_batch.scaled(tpot_factor);
    const Plan p = plan(in);
    return predict(in, p.d, w.prefill_ready, w.decode_ready);
  };
  auto move = [&](double current, double target) {
    return std::clamp(std::exp((1 - c_.weight) * std::log(current) + c_.weight * std::log(target)), lo, hi);
  };
  if (w.ttft_s) {
    const double f = solve([&](double x) { return predicted(x, 1).ttft_mean_s; }, *w.ttft_s, lo, hi);
    s_.prefill_throughput = move(s_.prefill_throughput, f);
  }
  if (w.tpot_s) {
    const double g = solve([&](double x) { return predicted(1, x).tpot_s; }, *w.tpot_s, lo, hi);
    s_.decode_tpot = move(s_.decode_tpot, g);
  }
  ++s_.windows;
  s_.last = "used";
}

Autoscaler::Autoscaler(PlanInput spec, AutoscalerConfig cfg)
    : spec_(std::move(spec)), cfg_(cfg), prefill_(cfg.stabilizer), decode_(cfg.stabilizer),
      calibrator_(cfg.calibration) {}

void Autoscaler::hold(double t_s, int current_prefill, int current_decode) {
  prefill_.apply(t_s, current_prefill, current_prefill, current_prefill);
  decode_.apply(t_s, current_decode, current_decode, current_decode);
}

void Autoscaler::record(const HistoryPoint& p) {
  // Enough to cover the scale-down window and to warm the forecaster up again (its trend and
  // error spread need more than a handful of points), and no more.
  const double keep_s = std::max(cfg_.stabilizer.scale_down_window_s, kHistory * cfg_.interval_s);
  history_.push_back(p);
  while (history_.size() > kHistory || (!history_.empty() && history_.front().t_s < p.t_s - keep_s))
    history_.pop_front();
}

void Autoscaler::restore(const std::vector<HistoryPoint>& h, const std::optional<CalibrationState>& c) {
  for (const auto& p : h) {
    if (!history_.empty() && p.t_s <= history_.back().t_s) continue;  // out of order: not ours
    rate_.observe(p.t_s, p.requests_per_s);
    prefill_.remember(p.t_s, p.prefill);
    decode_.remember(p.t_s, p.decode);
    record(p);
  }
  if (c) calibrator_.restore(*c);
}

Recommendation Autoscaler::step(const LoadSample& s, int current_prefill, int current_decode) {
  if (history_.empty()) {
    // A policy with no past (a new PDDeployment, or history lost): what the workloads have counts
    // as recommended now, so a scale-down waits a full window as it would after any change.
    prefill_.remember(s.t_s, current_prefill);
    decode_.remember(s.t_s, current_decode);
  }
  rate_.observe(s.t_s, s.requests_per_s);
  // Lengths: smoothed, and only from windows that saw requests (an idle window has no lengths).
  if (s.requests_per_s > 0 && s.mean_input > 0 && s.mean_output > 0) {
    const double a = have_lengths_ ? 0.3 : 1.0;
    mean_in_ = a * s.mean_input + (1 - a) * mean_in_;
    mean_out_ = a * s.mean_output + (1 - a) * mean_out_;
    if (s.input_stddev) sd_in_ = a * *s.input_stddev + (1 - a) * sd_in_;
    if (s.prefix_cache_hit_rate)
      prefix_hit_ = prefix_hit_ ? 0.3 * *s.prefix_cache_hit_rate + 0.7 * *prefix_hit_ : *s.prefix_cache_hit_rate;
    have_lengths_ = true;
  }
  Recommendation out;
  const double horizon = cfg_.startup_s + cfg_.interval_s;
  out.provisioned_rate = std::max(s.requests_per_s, rate_.forecast(horizon, cfg_.forecast_z));
  out.method = "holt-linear forecast " + std::to_string(static_cast<int>(horizon)) + "s ahead at z=" +
               std::to_string(cfg_.forecast_z).substr(0, 4);

  // The spec at the measured load: what the window saw, for calibration and prediction.
  MeasuredLoad seen;
  seen.requests_per_s = s.requests_per_s;
  if (have_lengths_) seen = {s.requests_per_s, mean_in_, mean_out_, sd_in_, prefix_hit_};
  const PlanInput measured = at_load(spec_, seen);
  if (s.prefill_ready >= 0 && s.decode_ready >= 0) {
    calibrator_.observe(measured, {s.t_s, s.requests_per_s, s.completed_requests, s.ttft_s, s.tpot_s, s.prefill_ready,
                                   s.decode_ready});
    if (s.prefill_ready > 0 && s.decode_ready > 0 && s.requests_per_s > 0) {
      const PlanInput now = calibrator_.apply(measured);
      out.predicted_now = predict(now, plan(now).d, s.prefill_ready, s.decode_ready);
    }
  }
  out.calibration = calibrator_.state();

  PlanInput in = calibrator_.apply(measured);
  in.workload.rate = out.provisioned_rate;
  out.plan = plan(in);
  out.input = in;
  if (!out.plan.feasible) {
    out.prefill = current_prefill;
    out.decode = current_decode;
    record({s.t_s, s.requests_per_s, current_prefill, current_decode});
    return out;
  }
  record({s.t_s, s.requests_per_s, out.plan.prefill.replicas, out.plan.decode.replicas});
  out.prefill = prefill_.apply(s.t_s, out.plan.prefill.replicas, out.plan.d.prefill_exact, current_prefill);
  out.decode = decode_.apply(s.t_s, out.plan.decode.replicas, out.plan.d.decode_exact, current_decode);
  return out;
}

}  // namespace pdscaler::planner
