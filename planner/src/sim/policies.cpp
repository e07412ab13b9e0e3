#include "pdscaler/sim/policies.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "pdscaler/planner/plan.h"

namespace pdscaler::sim {
namespace {

using planner::PlanInput;

class HpaPolicy final : public Policy {
 public:
  HpaPolicy(const PlanInput& m, HpaConfig c) : m_(m), c_(c) {
    const planner::Plan p = planner::plan(m);
    if (c_.prefill_waiting_target <= 0) {
      const double rho = p.feasible ? p.d.utilisation_at_max : 0.8;
      c_.prefill_waiting_target = std::max(0.5, rho * rho / (1 - rho));  // M/M/1 mean queue
    }
    if (c_.decode_batch_target <= 0) c_.decode_batch_target = p.feasible ? std::max(1.0, p.d.decode_batch) : 16;
  }
  std::string name() const override { return "hpa"; }

  Target decide(const WindowStats& w) override {
    if (w.now_s + 1e-9 < next_sync_) return last_;
    next_sync_ = w.now_s + c_.sync_s;
    const int cur_p = std::max(1, w.prefill_ready + w.prefill_starting);
    const int cur_d = std::max(1, w.decode_ready + w.decode_starting);
    if (hist_p_.empty()) {  // as if it had been running: the current counts fill the window
      hist_p_.emplace_back(w.now_s, cur_p);
      hist_d_.emplace_back(w.now_s, cur_d);
    }
    const double per_p = static_cast<double>(w.prefill_waiting) / std::max(1, w.prefill_ready);
    const double per_d = static_cast<double>(w.decode_running + w.decode_waiting) / std::max(1, w.decode_ready);
    last_.prefill = role(per_p / c_.prefill_waiting_target, cur_p, std::max(1, w.prefill_ready), hist_p_, w.now_s);
    last_.decode = role(per_d / c_.decode_batch_target, cur_d, std::max(1, w.decode_ready), hist_d_, w.now_s);
    return last_;
  }

 private:
  int role(double ratio, int current, int ready, std::deque<std::pair<double, int>>& hist, double now) const {
    int desired = current;
    if (std::abs(ratio - 1) > c_.tolerance) desired = static_cast<int>(std::ceil(ratio * ready));
    // Scale-up limit: the larger of 100% and 4 pods per sync period.
    desired = std::min(desired, current + std::max(current, 4));
    hist.emplace_back(now, desired);
    while (!hist.empty() && hist.front().first < now - c_.scale_down_window_s) hist.pop_front();
    if (desired < current) {
      int highest = desired;
      for (const auto& [t, d] : hist) highest = std::max(highest, d);
      desired = std::min(current, highest);
    }
    return std::max(1, desired);
  }

  PlanInput m_;
  HpaConfig c_;
  Target last_{1, 1};
  double next_sync_ = 0;
  std::deque<std::pair<double, int>> hist_p_, hist_d_;
};

// A local linear trend Kalman filter on one series (level and slope per interval).
class Kalman {
 public:
  double step(double z) {
    if (!init_) {
      x_ = z;
      init_ = true;
      return x_;
    }
    // Predict.
    x_ += v_;
    p00_ += 2 * p01_ + p11_ + q_;
    p01_ += p11_;
    p11_ += q_;
    // Update with the observation of the level.
    const double s = p00_ + r_;
    const double k0 = p00_ / s, k1 = p01_ / s;
    const double y = z - x_;
    x_ += k0 * y;
    v_ += k1 * y;
    p11_ -= k1 * p01_;
    p01_ -= k0 * p01_;
    p00_ -= k0 * p00_;
    return std::max(0.0, x_ + v_);  // one interval ahead
  }

 private:
  bool init_ = false;
  double x_ = 0, v_ = 0, p00_ = 1, p01_ = 0, p11_ = 1, q_ = 0.1, r_ = 1;
};

class DynamoPolicy final : public Policy {
 public:
  DynamoPolicy(const PlanInput& m, DynamoConfig c) : m_(m), c_(c) {}
  std::string name() const override { return c_.kalman ? "dynamo-kalman" : "dynamo"; }

  Target decide(const WindowStats& w) override {
    // Accumulate the adjustment interval's observations.
    acc_.arrivals += w.arrivals;
    acc_.input_tokens += w.input_tokens;
    acc_.output_tokens += w.output_tokens;
    acc_.ttft_sum += w.ttft_sum;
    acc_.first_tokens += w.first_tokens;
    acc_.tpot_sum += w.tpot_sum;
    acc_.finished += w.finished;
    acc_.decode_running += w.decode_running;
    ++acc_windows_;
    if (last_.prefill == 0) last_ = {w.prefill_ready + w.prefill_starting, w.decode_ready + w.decode_starting};
    if (next_ == 0) next_ = c_.adjustment_interval_s;  // the first adjustment after one interval
    if (w.now_s + 1e-9 < next_) return last_;
    next_ = w.now_s + c_.adjustment_interval_s;
    const double interval = acc_windows_ * w.window_s;  // what was actually observed
    double requests = acc_.arrivals;
    const double isl = acc_.arrivals ? acc_.input_tokens / acc_.arrivals : m_.workload.input_length;
    const double osl = acc_.arrivals ? acc_.output_tokens / acc_.arrivals : m_.workload.output_length;
    if (c_.kalman) requests = kalman_.step(requests);

    // Correction factors: observed over expected (profile, no queueing) TTFT and ITL.
    const double tp_isl = m_.prefill.max_throughput.at(isl).value;
    const double expected_ttft = m_.prefill.overhead_s + isl / tp_isl;
    const double p_corr = acc_.first_tokens ? (acc_.ttft_sum / acc_.first_tokens) / expected_ttft : 1;
    const double mean_batch = static_cast<double>(acc_.decode_running) / std::max(1, acc_windows_) /
                              std::max(1, w.decode_ready);
    const double expected_itl = m_.decode.tpot_by_batch.at(std::max(1.0, mean_batch)).value;
    const double d_corr = acc_.finished ? (acc_.tpot_sum / acc_.finished) / expected_itl : 1;

    // Prefill: predicted prefill tokens/s over the per-engine throughput at that ISL.
    const double prefill_load = requests * isl / interval * std::min(1.0, p_corr);
    last_.prefill = std::max(1, static_cast<int>(std::ceil(prefill_load / tp_isl - 1e-9)));
    // Decode: the best throughput whose ITL meets the corrected target.
    const double itl_target = m_.slo.tpot_s / std::max(1e-9, d_corr);
    const double b = m_.decode.tpot_by_batch.largest_x_within(itl_target, true);
    const double bb = b > 0 ? b : m_.decode.tpot_by_batch.min_x();
    const double thpt = bb / m_.decode.tpot_by_batch.at(bb).value;
    const double decode_load = requests * osl / interval;
    last_.decode = std::max(1, static_cast<int>(std::ceil(decode_load / thpt - 1e-9)));
    acc_ = WindowStats{};
    acc_windows_ = 0;
    return last_;
  }

 private:
  PlanInput m_;
  DynamoConfig c_;
  WindowStats acc_;
  int acc_windows_ = 0;
  double next_ = 0;
  Target last_{0, 0};  // until the first adjustment: keep the initial fleet
  Kalman kalman_;
};

class PdscalerPolicy final : public Policy {
 public:
  PdscalerPolicy(const PlanInput& m, planner::AutoscalerConfig c) : a_(m, c) {}
  std::string name() const override { return "pdscaler"; }
  Target decide(const WindowStats& w) override {
    planner::LoadSample s;
    s.t_s = w.now_s;
    s.requests_per_s = w.arrivals / w.window_s;
    if (w.arrivals > 0) {
      s.mean_input = w.input_tokens / w.arrivals;
      s.mean_output = w.output_tokens / w.arrivals;
      const double var = std::max(0.0, w.input_tokens_sq / w.arrivals - s.mean_input * s.mean_input);
      s.input_stddev = std::sqrt(var);
    }
    const auto r = a_.step(s, w.prefill_ready + w.prefill_starting, w.decode_ready + w.decode_starting);
    return {r.prefill, r.decode};
  }

 private:
  planner::Autoscaler a_;
};

}  // namespace

std::unique_ptr<Policy> make_paper_policy(const PlanInput& model, const Trace& trace, double window_s) {
  const Peak peak = peak_load(trace, window_s);
  PlanInput in = model;
  in.workload.rate_unit = planner::RateUnit::RequestsPerSecond;
  in.workload.rate = peak.requests_per_s;
  if (peak.mean_input > 0) in.workload.input_length = peak.mean_input;
  if (peak.mean_output > 0) in.workload.output_length = peak.mean_output;
  in.workload.input_length_distribution.clear();
  const planner::Plan p = planner::plan(in);
  const int np = p.feasible ? p.prefill.replicas : model.prefill.max_replicas;
  const int nd = p.feasible ? p.decode.replicas : model.decode.max_replicas;
  return std::make_unique<StaticPolicy>(np, nd, "paper");
}

std::unique_ptr<Policy> make_hpa_policy(const PlanInput& model, HpaConfig c) {
  return std::make_unique<HpaPolicy>(model, c);
}

std::unique_ptr<Policy> make_dynamo_policy(const PlanInput& model, DynamoConfig c) {
  return std::make_unique<DynamoPolicy>(model, c);
}

std::unique_ptr<Policy> make_pdscaler_policy(const PlanInput& model, planner::AutoscalerConfig c) {
  return std::make_unique<PdscalerPolicy>(model, c);
}

}  // namespace pdscaler::sim
