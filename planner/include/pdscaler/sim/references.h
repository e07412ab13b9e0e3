#pragma once
// The two references every policy is measured against:
// - clairvoyant: knows the load's future. At each interval it plans, with the same planner, SLO
//   settings and limits as pdscaler, for the load the instances it asks for will meet: the peak
//   arrival rate over short sub-windows between now + cold start and now + cold start + interval
//   (and it keeps what is running for the load until then). The gap between pdscaler and it is
//   forecast error; the gap between its attainment and the target is model error.
// - best static: the cheapest fixed fleet in hindsight (fewest GPUs, ties by attainment) whose
//   attainment of feasible requests reaches a target, found by searching with the simulator.
//
//   auto c = make_clairvoyant_policy(model, load, {.cold_start_s = 60, .interval_s = 15});
//   BestStatic b = find_best_static(*load, cfg, 0.99);   // b.prefill, b.decode, b.result

#include <functional>
#include <memory>
#include <vector>

#include "pdscaler/planner/spec.h"
#include "pdscaler/sim/policies.h"

namespace pdscaler::sim {

struct ClairvoyantConfig {
  double cold_start_s = 60;
  double interval_s = 15;
  double sub_window_s = 30;  // the rate is the peak over sub-windows this long
};

std::unique_ptr<Policy> make_clairvoyant_policy(const planner::PlanInput& model, std::shared_ptr<const Load> load,
                                                ClairvoyantConfig c);

// The fleet the clairvoyant policy starts from at t = 0 (what it would ask for the first cold
// start plus interval), the common initial fleet of the adaptive policies.
Target clairvoyant_start(const planner::PlanInput& model, const Load& load, ClairvoyantConfig c);

struct BestStatic {
  bool found = false;   // false: no fleet within the limits reaches the target
  int prefill = 0, decode = 0;
  SimResult result;     // of the chosen fleet
  struct Tried {
    int prefill, decode;
    double feasible_attainment;
  };
  std::vector<Tried> tried;  // every fleet simulated, in order
};

// Fewest GPUs among fixed fleets (P, D) within the limits whose feasible attainment reaches
// `target` (a share, e.g. 0.99); ties go to the higher attainment. Assumes attainment does not fall
// when a role grows, and searches per role: the least P that passes with the most decode, the
// least D that passes with the most prefill, then the staircase between them. `cfg` gives the
// model, routing and engine; its initial fleet and interval are ignored.
BestStatic find_best_static(const Load& load, const FleetConfig& cfg, double target,
                            const std::function<void(const std::string&)>& progress = {});

}  // namespace pdscaler::sim
