#pragma once
// A fast, approximate simulation for long loads (days), where drawing every request is too slow.
// Time moves in steps of whole seconds; arrivals per second are drawn as counts with the load's
// rate and dispersion (gamma-mixed Poisson: the variance is the dispersion times the mean).
// Prefill is a fluid queue: a backlog builds while arrivals outrun the ready instances' capacity,
// and each step's requests meet TTFT with the share the planner's tail model gives at the step's
// utilisation, less the time the backlog ahead of them takes. Decode is a fluid occupancy: the
// batch sets the step time, and so how fast requests leave; each step's requests meet TPOT with
// the tail model's share at that occupancy. The fleet is the exact simulator's (cold start,
// intervals, limits, the same policies and window statistics), except that a removed instance
// hands its work to the others at once.
//
// Its figures are only as good as the tail model on stationary stretches plus a fluid account of
// transients: tests/bench/fluid_check.sh sets it beside the exact simulator on shorter runs.
//
//   SimResult r = simulate_fluid(*curve, cfg, pdscaler);   // 14 days in seconds

#include "pdscaler/sim/simulator.h"

namespace pdscaler::sim {

// simulate() calls it when FleetConfig::fluid is set.
SimResult simulate_fluid(const Load& load, const FleetConfig& cfg, Policy& policy, const Progress& progress = {});

}  // namespace pdscaler::sim
