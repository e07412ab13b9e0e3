#pragma once
// Planner inputs shared by the tests: the seed paper's worked example and small helpers.

#include "pdscaler/planner/autoscale.h"
#include "pdscaler/planner/spec.h"

namespace pdscaler::testing {

inline planner::Profile constant_profile(double y) {
  return *planner::Profile::build({{1, y}}, planner::ProfileShape::Free);
}

// DeepSeek-V3.1 on H200 from the paper's Evaluation: TTFT 2 s, TPOT 20 ms, 6144/512 tokens,
// 5 M tokens/minute, max prefill 28,300 tokens/s, 100 ms overhead, TPOT(34) = 20 ms.
inline planner::PlanInput paper_example() {
  planner::PlanInput in;
  in.slo.ttft_s = 2.0;
  in.slo.tpot_s = 0.020;
  in.workload.rate_unit = planner::RateUnit::TokensPerSecond;
  in.workload.rate = 5e6 / 60;
  in.workload.input_length = 6144;
  in.workload.output_length = 512;
  in.prefill.gpus_per_replica = 8;
  in.prefill.max_throughput = constant_profile(28300);
  in.prefill.overhead_s = 0.1;
  in.prefill.min_replicas = 1;
  in.prefill.max_replicas = 16;
  in.decode.gpus_per_replica = 8;
  in.decode.tpot_by_batch = *planner::Profile::build(
      {{1, 0.009}, {16, 0.014}, {34, 0.020}, {64, 0.031}}, planner::ProfileShape::NonDecreasing);
  in.decode.min_replicas = 1;
  in.decode.max_replicas = 32;
  return in;
}

// A measurement window of the live policy: load and mean lengths only.
inline planner::LoadSample load_at(double t_s, double requests_per_s, double input = 6144, double output = 512) {
  planner::LoadSample s;
  s.t_s = t_s;
  s.requests_per_s = requests_per_s;
  s.mean_input = input;
  s.mean_output = output;
  return s;
}

inline planner::AutoscalerConfig autoscaler_config(double startup_s, double interval_s, double z,
                                                   planner::StabilizerConfig st = {}) {
  planner::AutoscalerConfig c;
  c.startup_s = startup_s;
  c.interval_s = interval_s;
  c.forecast_z = z;
  c.stabilizer = st;
  return c;
}

}  // namespace pdscaler::testing
