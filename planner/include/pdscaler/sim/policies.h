#pragma once
// The scaling policies the simulator compares, each the published algorithm with its settings
// stated (../shared/docs/baselines.md): static counts; the seed paper's formula at the trace's
// peak; the Kubernetes HPA per role; NVIDIA Dynamo's throughput-based SLA planner; and pdscaler's
// own Autoscaler (the one the operator runs).

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

 private:
  Target t_;
  std::string name_;
};

// The planner once, at the trace's peak load over `window_s`: what a careful operator provisions.
std::unique_ptr<Policy> make_paper_policy(const planner::PlanInput& model, const Trace& trace,
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
std::unique_ptr<Policy> make_dynamo_policy(const planner::PlanInput& model, DynamoConfig c = {});

std::unique_ptr<Policy> make_pdscaler_policy(const planner::PlanInput& model, planner::AutoscalerConfig c);

}  // namespace pdscaler::sim
