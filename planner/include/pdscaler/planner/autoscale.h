#pragma once
// The live policy: the planner applied to measured load, looking ahead over the start-up delay,
// with stabilisation. Pure: time and measurements are arguments. The operator runs this; the
// simulator replays it, so a simulation is a dry run of the operator's decisions.
//
//   Autoscaler a(spec, {.startup_s = 60});
//   Recommendation r = a.step({.t_s = now, .requests_per_s = 12.5, .mean_input = 6144, ...},
//                             current_prefill, current_decode);

#include <deque>
#include <optional>
#include <string>

#include "pdscaler/planner/plan.h"

namespace pdscaler::planner {

// Holt's linear trend on the request rate, with the spread of its one-step errors, so the policy
// can provision for a forecast quantile rather than the mean.
class Forecaster {
 public:
  Forecaster(double alpha = 0.5, double beta = 0.2) : alpha_(alpha), beta_(beta) {}
  void observe(double t_s, double value);
  // The value `horizon_s` ahead at quantile z (0 = the point forecast; 1.28 = p90), with the
  // quantile's margin at most kMaxMargin of the current level.
  double forecast(double horizon_s, double z) const;
  static constexpr double kMaxMargin = 0.25;
  bool ready() const { return n_ >= 1; }

 private:
  double alpha_, beta_;
  double level_ = 0, trend_ = 0;  // trend per second
  double err_var_ = 0;
  double last_t_ = 0;
  int n_ = 0;
};

struct StabilizerConfig {
  double scale_down_window_s = 300;  // scale down only to the highest recommendation in it
  int max_step_up = 0;               // most replicas added at once; 0 = no limit
  double dead_band = 0.1;            // scale down only if need <= (n-1) * (1 - dead_band) ... of one fewer
};

// Per role: scale up at once (within the step limit), scale down only after the window, on the
// highest recommendation seen in it, and not for a need within the dead band of the current count.
class Stabilizer {
 public:
  explicit Stabilizer(StabilizerConfig c = {}) : c_(c) {}
  // `recommended` replicas with `exact` need (fractional); `current` what the workload has.
  int apply(double t_s, int recommended, double exact, int current);

 private:
  StabilizerConfig c_;
  std::deque<std::pair<double, int>> history_;
};

struct LoadSample {
  double t_s = 0;
  double requests_per_s = 0;
  double mean_input = 0;
  double mean_output = 0;
  std::optional<double> input_stddev;
};

struct AutoscalerConfig {
  double startup_s = 60;      // time from asking to serving (measured pod start-up in the operator)
  double interval_s = 15;     // how often step() is called
  double forecast_z = 1.28;   // provision for the forecast's p90
  StabilizerConfig stabilizer;
};

struct Recommendation {
  int prefill = 0;
  int decode = 0;
  Plan plan;                  // at the provisioned load
  double provisioned_rate = 0;  // requests/s planned for
  std::string method;         // how the load was chosen, for status
};

class Autoscaler {
 public:
  Autoscaler(PlanInput spec, AutoscalerConfig cfg);
  Recommendation step(const LoadSample& s, int current_prefill, int current_decode);
  // No measurement at `t_s` (metrics missing): the current counts count as recommended, so a
  // scale-down needs a full window of good measurements after the data comes back.
  void hold(double t_s, int current_prefill, int current_decode);

 private:
  PlanInput spec_;
  AutoscalerConfig cfg_;
  Forecaster rate_;
  Stabilizer prefill_, decode_;
  double mean_in_ = 0, mean_out_ = 0, sd_in_ = 0;
  bool have_lengths_ = false;
};

}  // namespace pdscaler::planner
