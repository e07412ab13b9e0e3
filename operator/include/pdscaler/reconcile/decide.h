#pragma once
// The reconciler's decisions as pure functions of an Observation: which replica writes to make
// (intend), and, given how those writes went, the new status and the events to record (report).
// The controller does the I/O around them.
//
//   Intent i = intend(obs);
//   ... write i.prefill.write / i.decode.write through /scale, collect WriteOutcome ...
//   Report r = report(obs, i, prefill_outcome, decode_outcome);
//   if (r.status != obs.status) patch status; for (auto& e : r.events) record(e);

#include <optional>
#include <string>
#include <vector>

#include "pdscaler/api/pddeployment.h"
#include "pdscaler/planner/plan.h"
#include "pdscaler/reconcile/observation.h"

namespace pdscaler::reconcile {

struct RoleIntent {
  int desired = 0;
  std::optional<int> write;     // replicas to write through /scale
  bool override_detected = false;
  int override_value = 0;       // what someone else set
  std::optional<int> applied;   // what status will record as last written/accepted
};

// GPUs the cluster could not give: pods stayed Pending for lack of them, so the plan is held to
// the GPUs that were schedulable (split for the most goodput) until the retry time.
struct CapacityLimit {
  int gpus = 0;             // schedulable when it was found
  api::Time since;
  std::string message;      // what was seen
  int wanted_gpus = 0;      // what the unconstrained plan needed at that time
};

struct Intent {
  bool valid = false;
  std::optional<CapacityLimit> capacity;  // in force (recorded in status.capacity)
  bool capacity_new = false;              // found in this reconcile
  int unconstrained_gpus = 0;             // what the plan would take without the limit
  std::optional<planner::Plan> plan;
  RoleIntent prefill;
  RoleIntent decode;
  bool yielded = false;                    // not writing because of an override (Yield)
  std::optional<std::int64_t> yield_generation;  // generation to record while yielded
};

Intent intend(const Observation& obs);

struct WriteOutcome {
  bool attempted = false;
  bool ok = false;
  std::string error;
};

struct EventRecord {
  std::string type;  // Normal | Warning
  std::string reason;
  std::string message;
};

struct Report {
  api::PDDeploymentStatus status;
  std::vector<EventRecord> events;
  bool retry_soon = false;  // something failed or is missing: requeue with backoff
};

Report report(const Observation& obs, const Intent& intent, const WriteOutcome& prefill, const WriteOutcome& decode);

// When to look again though nothing may change in between: pods that will pass the pending
// timeout, a capacity limit that runs out. Seconds from obs.now, or nullopt.
std::optional<double> recheck_after_s(const Observation& obs, const Intent& intent);

}  // namespace pdscaler::reconcile
