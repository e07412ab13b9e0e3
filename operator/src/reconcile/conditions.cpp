#include "pdscaler/reconcile/conditions.h"

#include "text.h"

namespace pdscaler::reconcile {
namespace {

// Every condition message is non-empty (see set_condition).
constexpr const char* kHealthy = "targets read and written without errors";

const char* limit_reason(planner::Constraint c) {
  switch (c) {
    case planner::Constraint::PrefillMinReplicas:
    case planner::Constraint::DecodeMinReplicas: return "MinReplicas";
    case planner::Constraint::PrefillMaxReplicas:
    case planner::Constraint::DecodeMaxReplicas: return "MaxReplicas";
    case planner::Constraint::MaxTotalGpus: return "GpuBudget";
    case planner::Constraint::None: break;
  }
  return "WithinLimits";
}

std::string mode_name(api::Mode m) { return m == api::Mode::Recommend ? "Recommend" : "Off"; }

std::string ready_counts(const Findings& f) {
  return "plan " + f.plan + ": prefill " + std::to_string(f.prefill_ready) + "/" + std::to_string(f.prefill_desired) +
         " ready, decode " + std::to_string(f.decode_ready) + "/" + std::to_string(f.decode_desired) + " ready";
}

}  // namespace

ConditionUpdate ready(const Findings& f) {
  if (!f.invalid_spec.empty()) return {"Ready", false, "InvalidSpec", f.invalid_spec};
  if (!f.infeasible.empty()) return {"Ready", false, "Infeasible", f.infeasible};
  if (!f.missing.empty()) return {"Ready", false, "TargetNotFound", join(f.missing, "; ")};
  if (f.mode != api::Mode::Auto)
    return {"Ready", true, f.mode == api::Mode::Recommend ? "Recommended" : "Off",
            "plan " + f.plan + "; mode " + mode_name(f.mode) + " does not write replicas"};
  if (f.yielded)
    return {"Ready", false, "Yielded", "replicas were changed by someone else; spec.scaling.onOverride is Yield"};
  const bool at_plan = !f.wrote && f.prefill_ready == f.prefill_desired && f.decode_ready == f.decode_desired &&
                       f.prefill_current == f.prefill_desired && f.decode_current == f.decode_desired;
  return {"Ready", at_plan, at_plan ? "AsPlanned" : "ScalingInProgress", ready_counts(f)};
}

ConditionUpdate scaling_active(const Findings& f) {
  if (!f.invalid_spec.empty())
    return {"ScalingActive", false, "InvalidSpec", "no replicas are written while the spec is invalid"};
  if (!f.infeasible.empty())
    return {"ScalingActive", false, "Infeasible", "no replicas are written while no count can meet the SLOs"};
  if (!f.missing.empty()) return {"ScalingActive", false, "TargetNotFound", join(f.missing, "; ")};
  if (f.mode != api::Mode::Auto)
    return {"ScalingActive", false, f.mode == api::Mode::Recommend ? "RecommendOnly" : "Off",
            "spec.mode is " + mode_name(f.mode)};
  if (f.yielded) return {"ScalingActive", false, "Yielded", "not writing replicas until the spec changes"};
  if (f.write_failed) return {"ScalingActive", false, "FailedRescale", join(f.degraded, "; ")};
  return {"ScalingActive", true, "Scaling", "replicas are written through /scale"};
}

ConditionUpdate degraded(const Findings& f) {
  if (!f.invalid_spec.empty()) return {"Degraded", true, "InvalidSpec", f.invalid_spec};
  if (f.infeasible.empty() && (!f.degraded.empty() || !f.missing.empty())) {
    std::vector<std::string> all = f.missing;
    all.insert(all.end(), f.degraded.begin(), f.degraded.end());
    return {"Degraded", true, f.degraded.empty() ? "TargetNotFound" : "ApiError", join(all, "; ")};
  }
  return {"Degraded", false, "AsExpected", kHealthy};
}

std::optional<ConditionUpdate> external_override(const Findings& f, const api::Condition* previous,
                                                 std::int64_t generation) {
  if (!f.overrides.empty())
    return ConditionUpdate{"ExternalOverride", true, f.yielded ? "Yielded" : "Reasserted", join(f.overrides, "; ")};
  if (f.yielded)
    return ConditionUpdate{"ExternalOverride", true, "Yielded",
                           "replicas were changed by someone else; not writing until the spec changes"};
  if (previous && previous->status == api::ConditionStatus::True && previous->reason == "Reasserted" &&
      previous->observed_generation == generation)
    return std::nullopt;
  return ConditionUpdate{"ExternalOverride", false, "NoOverride", "the workloads have the replicas pdscaler set"};
}

std::optional<ConditionUpdate> metrics_available(const Findings& f) {
  if (!f.metrics) return std::nullopt;
  const MetricsFinding& m = *f.metrics;
  if (m.available)
    return ConditionUpdate{"MetricsAvailable", true, "Queried", significant(m.requests_per_s, 3) + " requests/s measured"};
  const bool fallen_back = m.fallback && m.failures >= m.fallback->after_failures;
  std::string msg = m.error.empty() ? "no measurement yet" : m.error;
  if (fallen_back)
    msg += "; " + std::to_string(m.failures) + " failed evaluations in a row: fallback replicas " +
           std::to_string(m.fallback->prefill_replicas) + "P" + std::to_string(m.fallback->decode_replicas) +
           "D (never fewer than current)";
  else
    msg += "; holding the current replicas";
  return ConditionUpdate{"MetricsAvailable", false, "FailedGetMetrics", msg};
}

std::optional<ConditionUpdate> capacity_limited(const Findings& f, const api::Condition* previous) {
  if (f.capacity && f.capacity->in_force) {
    const CapacityFinding& c = *f.capacity;
    if (c.binds)
      return ConditionUpdate{"CapacityLimited", true, "InsufficientGpus",
                             c.message + "; planning within the " + std::to_string(c.gpus) +
                                 " GPUs that were schedulable: plan " + c.plan + " (" + std::to_string(c.plan_gpus) +
                                 " GPUs) instead of " + std::to_string(c.unconstrained_gpus) +
                                 " GPUs; the full plan is tried again at " + api::format_time(c.retry_at)};
    return ConditionUpdate{"CapacityLimited", false, "WithinCapacity",
                           "the plan's " + std::to_string(c.unconstrained_gpus) + " GPUs fit the " +
                               std::to_string(c.gpus) + " found schedulable at " + api::format_time(c.since)};
  }
  if (f.pods_listed)
    return ConditionUpdate{"CapacityLimited", false, "WithinCapacity", "no pod of either role is waiting for GPUs"};
  if (previous)
    return ConditionUpdate{"CapacityLimited", false, "PodsNotListed",
                           f.pods_error.empty() ? "the targets' pods could not be listed" : f.pods_error};
  return std::nullopt;
}

ConditionUpdate scaling_limited(const Findings& f) {
  if (f.limits.empty()) return {"ScalingLimited", false, "WithinLimits", "the SLO model alone sets the counts"};
  return {"ScalingLimited", true, limit_reason(f.limits.back()),
          f.limit_fields + " binds: the model needs " + fixed(f.prefill_exact, 3) + " prefill and " +
              fixed(f.decode_exact, 3) + " decode replicas; plan " + f.plan + " " +
              (f.meets_slo ? "still meets the SLOs" : "does not meet the SLOs at this load")};
}

void set_condition(std::vector<api::Condition>& conditions, const ConditionUpdate& u, std::int64_t generation,
                   api::Time now) {
  const api::ConditionStatus s = u.status ? api::ConditionStatus::True : api::ConditionStatus::False;
  const std::string msg = u.message.empty() ? u.reason : u.message;
  for (auto& c : conditions) {
    if (c.type != u.type) continue;
    if (c.status != s || !c.last_transition_time) c.last_transition_time = api::whole_seconds(now);
    c.status = s;
    c.reason = u.reason;
    c.message = msg;
    c.observed_generation = generation;
    return;
  }
  conditions.push_back({u.type, s, u.reason, msg, api::whole_seconds(now), generation});
}

}  // namespace pdscaler::reconcile
