#pragma once
// The scaling policies the simulator compares, each the published algorithm with its settings
// stated (../shared/docs/baselines.md): static counts; the seed paper's formula at the load's
// peak; the Kubernetes HPA per role; NVIDIA Dynamo's throughput planner and its current two-loop
// planner; DOPD; pdscaler's own Autoscaler (the one the operator runs); and the two references
// every policy is measured against: a clairvoyant policy that knows the load's future, and the
// cheapest fixed fleet in hindsight (references.h).

#include <memory>
#include <string>

#include "pdscaler/planner/autoscale.h"
#include "pdscaler/sim/simulator.h"

namespace pdscaler::sim {

class StaticPolicy final : public Policy {
 public:
  StaticPolicy(int prefill, int decode, std::string name = "static")
      : t_{prefill, decode}, name_(std::move(name)) {}
  std::string name() const override { return name_; }
  Target decide(const WindowStats&) override { return t_; }
  Target fleet() const { return t_; }

 private:
  Target t_;
  std::string name_;
};

// The planner once, at the load's peak over `window_s`: what a careful operator provisions.
std::unique_ptr<StaticPolicy> make_paper_policy(const planner::PlanInput& model, const Load& load,
                                                double window_s = 60);

struct HpaConfig {
  double sync_s = 15;
  double tolerance = 0.1;
  double scale_down_window_s = 300;
  // Targets: waiting prefill requests per instance and running decode batch per instance. Derived
  // from the same SLO model by default (0 = derive): the M/M/1 mean queue at the planner's
  // utilisation, and the batch that meets TPOT.
  double prefill_waiting_target = 0;
  double decode_batch_target = 0;
};
std::unique_ptr<Policy> make_hpa_policy(const planner::PlanInput& model, HpaConfig c = {});

struct DynamoConfig {
  double adjustment_interval_s = 180;
  bool kalman = false;  // constant predictor (next = last) when false
};
// Dynamo's throughput-based SLA planner as its older design doc gives it (correction factors).
std::unique_ptr<Policy> make_dynamo_policy(const planner::PlanInput& model, DynamoConfig c = {});

// Dynamo's current planner: the throughput loop every 180 s (Kalman load predictor, no correction
// factors) as a floor, and a load loop every 5 s that fits TTFT against queued prefill tokens and
// ITL against active decode tokens over the engines' reports and steps each role by one: up when
// every engine is predicted over the SLA, down when every one is under 80% of it; at least 5
// observations before acting, and no action while an earlier one is still starting.
struct DynamoLoadConfig {
  double throughput_interval_s = 180;
  double load_interval_s = 5;
  double scale_down_sensitivity = 0.8;
  int min_observations = 5;
  int history = 60;  // observations kept per role for the regressions
};
std::unique_ptr<Policy> make_dynamo_load_policy(const planner::PlanInput& model, DynamoLoadConfig c = {});

// DOPD (history-aware, proactive): every 10 s a forecast of the next interval's request rate and
// mean lengths from the last 50 samples (Holt's linear trend on each series), planned with the
// paper's mean-SLO model at the per-request prefill cost (the lengths' spread, since prefill cost
// is convex in length), jumping to the new counts at once, no scale-down window, and no re-plan
// while an earlier scale-up is still starting.
struct DopdConfig {
  double interval_s = 10;
  int samples = 50;
  double alpha = 0.5, beta = 0.1;  // Holt's smoothing of level and trend
};
std::unique_ptr<Policy> make_dopd_policy(const planner::PlanInput& model, DopdConfig c = {});

std::unique_ptr<Policy> make_pdscaler_policy(const planner::PlanInput& model, planner::AutoscalerConfig c,
                                             std::string name = "pdscaler");

// What a policy sees of a window, as the planner's measured load: rate, mean lengths and their
// spread, and the arrivals' dispersion (the index of dispersion of the window's per-bin counts).
planner::MeasuredLoad measured_load(const WindowStats& w);

// Index of dispersion (variance over mean) of arrival counts per bin; nothing for fewer than
// three bins or no arrivals.
std::optional<double> count_dispersion(const std::vector<int>& bins);

}  // namespace pdscaler::sim
