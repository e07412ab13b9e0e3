#pragma once
// The adapter between the operator and planner::Autoscaler, the live policy the simulator also
// replays: its configuration from spec.metrics, and one evaluation from a measurement (or its
// failure) and what the caches show of the fleet.
//
//   planner::Autoscaler a(spec.plan, autoscaler_config(*spec.metrics));
//   evaluate(a, *spec.metrics, measurement, obs, state);  // state.recommendation, history, ...

#include <string>

#include <tl/expected.hpp>

#include "pdscaler/api/pddeployment.h"
#include "pdscaler/planner/autoscale.h"
#include "pdscaler/reconcile/observation.h"

namespace pdscaler::reconcile {

planner::AutoscalerConfig autoscaler_config(const api::MetricsSpec& m);

// One measurement: the load, or why there is none.
struct Measurement {
  api::Time at;
  tl::expected<ObservedLoad, std::string> load;
};

// Feeds one measurement to the policy (a failure holds the current counts) and records the
// outcome in `state`; the look-ahead is the start-up time measured from the pods when there is one.
void evaluate(planner::Autoscaler& autoscaler, const api::MetricsSpec& m, const Measurement& measurement,
              const Observation& obs, LiveLoad& state);

}  // namespace pdscaler::reconcile
