#pragma once
// One function per status condition, each a plain function of what the reconcile found (and, for
// the two that remember, the condition as it was), so each is table-tested on its own. report()
// gathers the Findings, calls these and applies the results with set_condition.
//
//   Findings f = ...;
//   set_condition(status.conditions, degraded(f), generation, now);

#include <optional>
#include <string>
#include <vector>

#include "pdscaler/api/pddeployment.h"
#include "pdscaler/planner/plan.h"

namespace pdscaler::reconcile {

struct ConditionUpdate {
  std::string type;
  bool status = false;
  std::string reason;
  std::string message;
};

struct MetricsFinding {
  bool available = false;
  double requests_per_s = 0;
  std::string error;  // "" = no measurement yet
  int failures = 0;
  std::optional<api::FallbackSpec> fallback;
};

struct CapacityFinding {
  bool in_force = false;   // a limit is recorded
  bool binds = false;      // the plan wants more than it allows
  int gpus = 0;            // the limit
  int plan_gpus = 0;       // what the (limited) plan takes
  int unconstrained_gpus = 0;
  std::string message;     // what was seen
  std::string plan;        // notation of the limited plan
  api::Time since;
  api::Time retry_at;
};

// What one reconcile found, as the conditions need it.
struct Findings {
  std::string invalid_spec;  // non-empty: the spec could not be decoded (field paths first)
  std::string infeasible;    // non-empty: no count meets the SLOs (the reasons, with numbers)
  api::Mode mode = api::Mode::Auto;
  std::string plan;          // "4P4D"
  bool yielded = false;
  int prefill_desired = 0, decode_desired = 0;
  int prefill_current = 0, decode_current = 0;  // spec.replicas of the workloads
  int prefill_ready = 0, decode_ready = 0;
  bool wrote = false;          // a /scale write was attempted in this reconcile
  bool write_failed = false;
  std::vector<std::string> missing;   // targets not found
  std::vector<std::string> degraded;  // failed reads and writes
  std::vector<std::string> overrides;  // someone else changed replicas, found in this reconcile
  std::optional<MetricsFinding> metrics;  // with spec.metrics
  std::optional<CapacityFinding> capacity;
  bool pods_listed = false;    // both roles' pods are known
  std::string pods_error;
  std::vector<planner::Constraint> limits;  // what moved the counts (the plan's)
  std::string limit_fields;    // those constraints' fields, ", "-joined
  double prefill_exact = 0, decode_exact = 0;
  bool meets_slo = false;
};

ConditionUpdate ready(const Findings& f);
ConditionUpdate scaling_active(const Findings& f);
ConditionUpdate degraded(const Findings& f);
// The last override stays reported until the spec changes (`previous` is the condition as it was,
// `generation` the spec's), so SREs see the tug of war; nullopt leaves it as it is.
std::optional<ConditionUpdate> external_override(const Findings& f, const api::Condition* previous,
                                                 std::int64_t generation);
std::optional<ConditionUpdate> metrics_available(const Findings& f);
// No condition until the pods can be seen; once there is one, a lost view of them says so.
std::optional<ConditionUpdate> capacity_limited(const Findings& f, const api::Condition* previous);
ConditionUpdate scaling_limited(const Findings& f);

// Sets a condition (metav1.Condition): lastTransitionTime moves only when status flips; an empty
// message becomes the reason (Kubernetes 1.20 turns "" in a merge patch into null).
void set_condition(std::vector<api::Condition>& conditions, const ConditionUpdate& u, std::int64_t generation,
                   api::Time now);

}  // namespace pdscaler::reconcile
