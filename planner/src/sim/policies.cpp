#include "pdscaler/sim/policies.h"

#include <algorithm>
#include <cmath>
#include <deque>

#include "pdscaler/planner/plan.h"

namespace pdscaler::sim {
namespace {

using planner::PlanInput;

int ceil_count(double x) { return std::max(1, static_cast<int>(std::ceil(x - 1e-9))); }

class HpaPolicy final : public Policy {
 public:
  HpaPolicy(const PlanInput& m, HpaConfig c) : c_(c) {
    const planner::Plan p = planner::plan(m);
    if (c_.prefill_waiting_target <= 0) {
      const double rho = p.feasible ? p.d.utilisation_at_max : 0.8;
      c_.prefill_waiting_target = std::max(0.5, rho * rho / (1 - rho));  // M/M/1 mean queue
    }
    if (c_.decode_batch_target <= 0) c_.decode_batch_target = p.feasible ? std::max(1.0, p.d.decode_batch) : 16;
  }
  std::string name() const override { return "hpa"; }
  double interval_s() const override { return c_.sync_s; }

  Target decide(const WindowStats& w) override {
    const int cur_p = std::max(1, w.prefill_ready + w.prefill_starting);
    const int cur_d = std::max(1, w.decode_ready + w.decode_starting);
    if (hist_p_.empty()) {  // as if it had been running: the current counts fill the window
      hist_p_.emplace_back(w.now_s, cur_p);
      hist_d_.emplace_back(w.now_s, cur_d);
    }
    const double per_p = static_cast<double>(w.prefill_waiting) / std::max(1, w.prefill_ready);
    const double per_d = static_cast<double>(w.decode_running + w.decode_waiting) / std::max(1, w.decode_ready);
    return {role(per_p / c_.prefill_waiting_target, cur_p, std::max(1, w.prefill_ready), hist_p_, w.now_s),
            role(per_d / c_.decode_batch_target, cur_d, std::max(1, w.decode_ready), hist_d_, w.now_s)};
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

  HpaConfig c_;
  std::deque<std::pair<double, int>> hist_p_, hist_d_;
};

// A local linear trend Kalman filter on one series (level and slope per step).
class Kalman {
 public:
  Kalman(double q_level = 0.1, double q_trend = 0.1, double r = 1) : ql_(q_level), qt_(q_trend), r_(r) {}
  double step(double z) {
    if (!init_) {
      x_ = z;
      init_ = true;
      return x_;
    }
    // Predict.
    x_ += v_;
    p00_ += 2 * p01_ + p11_ + ql_;
    p01_ += p11_;
    p11_ += qt_;
    // Update with the observation of the level.
    const double s = p00_ + r_;
    const double k0 = p00_ / s, k1 = p01_ / s;
    const double y = z - x_;
    x_ += k0 * y;
    v_ += k1 * y;
    p11_ -= k1 * p01_;
    p01_ -= k0 * p01_;
    p00_ -= k0 * p00_;
    return std::max(0.0, x_ + v_);  // one step ahead
  }

 private:
  double ql_, qt_, r_;
  bool init_ = false;
  double x_ = 0, v_ = 0, p00_ = 1, p01_ = 0, p11_ = 1;
};

// Dynamo's throughput planner: per-engine profiled throughput at the observed lengths.
// `p_corr`/`d_corr` are the older design's correction factors (1 = none).
Target dynamo_throughput(const PlanInput& m, double requests, double isl, double osl, double interval_s,
                         double p_corr, double d_corr) {
  const double keep = 1 - m.workload.prefix_cache_hit_rate;
  const double tp_isl = m.prefill.max_throughput.at(std::max(1.0, isl * keep)).value;
  const double prefill_load = requests * isl * keep / interval_s * std::min(1.0, p_corr);
  const double itl_target = m.slo.tpot_s / std::max(1e-9, d_corr);
  const double b = m.decode.tpot_by_batch.largest_x_within(itl_target, true);
  const double bb = b > 0 ? b : m.decode.tpot_by_batch.min_x();
  const double thpt = bb / m.decode.tpot_by_batch.at(bb).value;
  const double decode_load = requests * osl / interval_s;
  return {ceil_count(prefill_load / tp_isl), ceil_count(decode_load / thpt)};
}

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
    acc_time_ += w.window_s;
    ++acc_windows_;
    if (last_.prefill == 0) last_ = {w.prefill_ready + w.prefill_starting, w.decode_ready + w.decode_starting};
    if (next_ == 0) next_ = c_.adjustment_interval_s;  // the first adjustment after one interval
    if (w.now_s + 1e-9 < next_) return last_;
    next_ = w.now_s + c_.adjustment_interval_s;
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
    last_ = dynamo_throughput(m_, requests, isl, osl, acc_time_, p_corr, d_corr);
    acc_ = WindowStats{};
    acc_windows_ = 0;
    acc_time_ = 0;
    return last_;
  }

 private:
  PlanInput m_;
  DynamoConfig c_;
  WindowStats acc_;
  int acc_windows_ = 0;
  double acc_time_ = 0;
  double next_ = 0;
  Target last_{0, 0};  // until the first adjustment: keep the initial fleet
  Kalman kalman_;
};

// Least squares y = a + b x over recent (x, y) observations, b kept non-negative (latency never
// falls as load grows; a negative fit is noise).
class LoadFit {
 public:
  explicit LoadFit(size_t keep) : keep_(keep) {}
  void add(double x, double y) {
    obs_.emplace_back(x, y);
    if (obs_.size() > keep_) obs_.pop_front();
  }
  size_t size() const { return obs_.size(); }
  double predict(double x) const {
    double sx = 0, sy = 0, sxx = 0, sxy = 0;
    const double n = static_cast<double>(obs_.size());
    for (const auto& [a, b] : obs_) {
      sx += a;
      sy += b;
      sxx += a * a;
      sxy += a * b;
    }
    const double var = sxx - sx * sx / n;
    const double slope = var > 1e-12 ? std::max(0.0, (sxy - sx * sy / n) / var) : 0;
    return sy / n + slope * (x - sx / n);
  }

 private:
  size_t keep_;
  std::deque<std::pair<double, double>> obs_;
};

class DynamoLoadPolicy final : public Policy {
 public:
  DynamoLoadPolicy(const PlanInput& m, DynamoLoadConfig c) : m_(m), c_(c), ttft_(c.history), itl_(c.history) {}
  std::string name() const override { return "dynamo-load"; }
  double interval_s() const override { return c_.load_interval_s; }

  Target decide(const WindowStats& w) override {
    if (current_.prefill == 0) current_ = {w.prefill_ready + w.prefill_starting, w.decode_ready + w.decode_starting};
    // Throughput loop: accumulate, and every 180 s set the floor from the Kalman-predicted load.
    acc_requests_ += w.arrivals;
    acc_in_ += w.input_tokens;
    acc_out_ += w.output_tokens;
    acc_time_ += w.window_s;
    if (acc_time_ + 1e-9 >= c_.throughput_interval_s) {
      const double requests = kalman_.step(acc_requests_);
      const double isl = acc_requests_ ? acc_in_ / acc_requests_ : m_.workload.input_length;
      const double osl = acc_requests_ ? acc_out_ / acc_requests_ : m_.workload.output_length;
      floor_ = dynamo_throughput(m_, requests, isl, osl, acc_time_, 1, 1);
      have_floor_ = true;
      acc_requests_ = acc_in_ = acc_out_ = acc_time_ = 0;
    }
    // Load loop: observations from every engine that reported in the window.
    for (size_t i = 0; i < w.prefill_instances.size(); ++i) {
      const auto& v = w.prefill_instances[i];
      if (v.first_tokens > 0) ttft_.add(v.queued_tokens, v.ttft_sum / v.first_tokens);
    }
    for (const auto& v : w.decode_instances)
      if (v.tokens > 0) itl_.add(v.active_tokens, v.itl_token_sum / v.tokens);

    Target t = current_;
    if (w.prefill_starting + w.decode_starting == 0) {  // the previous action has landed
      t.prefill = step(t.prefill, ttft_, w.prefill_instances, m_.slo.ttft_s,
                       [](const PrefillView& v) { return v.queued_tokens; });
      t.decode = step(t.decode, itl_, w.decode_instances, m_.slo.tpot_s,
                      [](const DecodeView& v) { return v.active_tokens; });
    }
    if (have_floor_) {
      t.prefill = std::max(t.prefill, floor_.prefill);
      t.decode = std::max(t.decode, floor_.decode);
    }
    current_ = t;
    return t;
  }

 private:
  template <typename View, typename X>
  int step(int n, const LoadFit& fit, const std::vector<View>& views, double sla, X x) const {
    if (static_cast<int>(fit.size()) < c_.min_observations) return n;
    bool all_over = true, all_under = true;
    int ready = 0;
    for (const auto& v : views) {
      if (!v.ready) continue;
      ++ready;
      const double predicted = fit.predict(x(v));
      all_over = all_over && predicted > sla;
      all_under = all_under && predicted < sla * c_.scale_down_sensitivity;
    }
    if (ready == 0) return n;
    if (all_over) return n + 1;
    if (all_under && n > 1) return n - 1;
    return n;
  }

  PlanInput m_;
  DynamoLoadConfig c_;
  LoadFit ttft_, itl_;
  Kalman kalman_{1.0, 0.1, 10};
  Target current_{0, 0};
  Target floor_{1, 1};
  bool have_floor_ = false;
  double acc_requests_ = 0, acc_in_ = 0, acc_out_ = 0, acc_time_ = 0;
};

// Holt's linear trend over a bounded history, refitted at every forecast.
class HoltSeries {
 public:
  HoltSeries(size_t keep, double alpha, double beta) : keep_(keep), alpha_(alpha), beta_(beta) {}
  void add(double v) {
    xs_.push_back(v);
    if (xs_.size() > keep_) xs_.pop_front();
  }
  double forecast(double steps_ahead) const {
    if (xs_.empty()) return 0;
    double level = xs_.front(), trend = 0;
    for (size_t i = 1; i < xs_.size(); ++i) {
      const double prev = level;
      level = alpha_ * xs_[i] + (1 - alpha_) * (level + trend);
      trend = beta_ * (level - prev) + (1 - beta_) * trend;
    }
    return std::max(0.0, level + trend * steps_ahead);
  }

 private:
  size_t keep_;
  double alpha_, beta_;
  std::deque<double> xs_;
};

class DopdPolicy final : public Policy {
 public:
  DopdPolicy(const PlanInput& m, DopdConfig c)
      : m_(m), c_(c), rate_(c.samples, c.alpha, c.beta), in_(c.samples, c.alpha, c.beta),
        out_(c.samples, c.alpha, c.beta), sd_(c.samples, c.alpha, c.beta) {
    // Prefill cost is convex in input length: plan with the lengths' spread (M/G/1), on the
    // paper's mean-SLO model (DOPD sizes the P/D ratio for means, not per-request shares).
    m_.prefill.queue_model = planner::QueueModel::MG1;
    m_.slo.attainment.reset();
  }
  std::string name() const override { return "dopd"; }
  double interval_s() const override { return c_.interval_s; }

  Target decide(const WindowStats& w) override {
    if (last_.prefill == 0) last_ = {w.prefill_ready + w.prefill_starting, w.decode_ready + w.decode_starting};
    const planner::MeasuredLoad seen = measured_load(w);
    rate_.add(seen.requests_per_s);
    if (w.arrivals > 0) {
      in_.add(seen.mean_input);
      out_.add(seen.mean_output);
      sd_.add(seen.input_stddev.value_or(0));
      have_lengths_ = true;
    }
    if (w.prefill_starting + w.decode_starting > 0) return last_;  // a scale-up is still starting
    planner::MeasuredLoad next;
    next.requests_per_s = rate_.forecast(1);
    if (have_lengths_)
      next = {next.requests_per_s, in_.forecast(1), out_.forecast(1), sd_.forecast(1), std::nullopt, std::nullopt, std::nullopt, {}};
    const planner::Plan p = planner::plan(planner::at_load(m_, next));
    if (p.feasible) last_ = {p.prefill.replicas, p.decode.replicas};
    return last_;
  }

 private:
  PlanInput m_;
  DopdConfig c_;
  HoltSeries rate_, in_, out_, sd_;
  bool have_lengths_ = false;
  Target last_{0, 0};
};

class PdscalerPolicy final : public Policy {
 public:
  PdscalerPolicy(const PlanInput& m, planner::AutoscalerConfig c, std::string name) : a_(m, c), name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Target decide(const WindowStats& w) override {
    const planner::MeasuredLoad seen = measured_load(w);
    planner::LoadSample s;
    s.t_s = w.now_s;
    s.requests_per_s = seen.requests_per_s;
    s.mean_input = seen.mean_input;
    s.mean_output = seen.mean_output;
    s.input_stddev = seen.input_stddev;
    s.output_stddev = seen.output_stddev;
    s.dispersion = seen.dispersion;
    s.output_histogram = seen.output_histogram;
    s.prefill_waiting = w.prefill_waiting;
    s.decode_waiting = w.decode_waiting;
    const auto r = a_.step(s, w.prefill_ready + w.prefill_starting, w.decode_ready + w.decode_starting);
    return {r.prefill, r.decode};
  }

 private:
  planner::Autoscaler a_;
  std::string name_;
};

}  // namespace

std::optional<double> count_dispersion(const std::vector<int>& bins) {
  if (bins.size() < 3) return std::nullopt;
  // Variance over mean of the per-bin counts: swings of the rate within the window count too,
  // since at seconds a queue feels them as bursts.
  double sum = 0, sq = 0;
  for (int c : bins) {
    sum += c;
    sq += static_cast<double>(c) * c;
  }
  const double n = static_cast<double>(bins.size()), mean = sum / n;
  if (mean <= 0) return std::nullopt;
  return std::max(0.0, (sq - n * mean * mean) / (n - 1)) / mean;
}

planner::MeasuredLoad measured_load(const WindowStats& w) {
  planner::MeasuredLoad m;
  m.requests_per_s = w.window_s > 0 ? w.arrivals / w.window_s : 0;
  if (w.arrivals > 0) {
    m.mean_input = w.input_tokens / w.arrivals;
    m.mean_output = w.output_tokens / w.arrivals;
    m.input_stddev = std::sqrt(std::max(0.0, w.input_tokens_sq / w.arrivals - m.mean_input * m.mean_input));
    m.output_stddev = std::sqrt(std::max(0.0, w.output_tokens_sq / w.arrivals - m.mean_output * m.mean_output));
    m.dispersion = count_dispersion(w.arrival_bins);
    m.output_histogram = cumulative_output_histogram(w.output_length_counts);
  }
  return m;
}

std::unique_ptr<StaticPolicy> make_paper_policy(const PlanInput& spec, const Load& load, double window_s) {
  const Peak peak = peak_load(load, window_s);
  PlanInput model = spec;
  model.slo.attainment.reset();  // the paper's formula, on means
  const planner::Plan p = planner::plan(
      planner::at_load(model, {peak.requests_per_s, peak.mean_input, peak.mean_output, std::nullopt, std::nullopt,
                               std::nullopt, std::nullopt, {}}));
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

std::unique_ptr<Policy> make_dynamo_load_policy(const PlanInput& model, DynamoLoadConfig c) {
  return std::make_unique<DynamoLoadPolicy>(model, c);
}

std::unique_ptr<Policy> make_dopd_policy(const PlanInput& model, DopdConfig c) {
  return std::make_unique<DopdPolicy>(model, c);
}

std::unique_ptr<Policy> make_pdscaler_policy(const PlanInput& model, planner::AutoscalerConfig c, std::string name) {
  return std::make_unique<PdscalerPolicy>(model, c, std::move(name));
}

}  // namespace pdscaler::sim
