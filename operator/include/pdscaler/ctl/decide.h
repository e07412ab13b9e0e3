#pragma once
// The reconciler's decisions as pure functions (no I/O, time passed in): from what was observed
// of a PDDeployment and its two workloads, which replica writes to make (intend), and then, given
// how those writes went, the new status and the events to record (report). The controller does the
// I/O around them.
//
//   Intent i = intend(obs);
//   ... write i.prefill.write / i.decode.write through /scale, collect WriteOutcome ...
//   Report r = report(obs, i, outcomes);
//   if (r.status != obs.object["status"]) patch status; for (auto& e : r.events) record(e);

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "pdscaler/codec/spec_codec.h"
#include "pdscaler/ctl/metrics_source.h"
#include "pdscaler/planner/autoscale.h"
#include "pdscaler/planner/plan.h"

namespace pdscaler::ctl {

enum class Role { Prefill, Decode };
const char* to_string(Role r);  // "prefill", "decode"

// The pods of one target workload (those its /scale selector matches), as they bear on sizing.
struct PodSummary {
  bool read = false;              // false: not listed (no selector, or the list failed: see error)
  std::string error;
  int scheduled = 0;              // bound to a node and not terminating
  // How long each pod Pending with PodScheduled=False/Unschedulable has been so.
  std::vector<double> unschedulable_for_s;
  std::string unschedulable_message;  // the scheduler's words for one of them
  std::vector<double> startup_s;  // creation -> Ready of the newest ready pods (at most 5)
};

// Reads a pod list; `now` for the ages. Terminating pods are left out.
PodSummary summarize_pods(const std::vector<nlohmann::json>& pods, std::chrono::system_clock::time_point now);

// What was read of one target workload.
struct TargetObservation {
  bool read = false;           // false when it could not be read (see error)
  bool not_found = false;      // the target (or its kind) does not exist
  std::string error;           // why it could not be read
  int spec_replicas = 0;       // from /scale
  int ready_replicas = 0;      // from the workload's status
  PodSummary pods;
};

// With spec.metrics: what the live policy made of the last measurement.
struct LiveLoad {
  bool available = false;   // the last query succeeded
  std::string error;        // why not
  int failures = 0;         // consecutive failed evaluations
  ObservedLoad observed;    // the last good measurement
  std::optional<planner::Recommendation> recommendation;  // from the last good measurement
  std::string evaluated_at;
  std::vector<planner::HistoryPoint> history;  // saved in status, restored after a restart
  long long generation = 0;                    // the spec generation the calibration belongs to
  double startup_s = 0;                        // the look-ahead in use
  std::string startup_source;                  // "measured ..." or "spec.metrics.startupTime"
};

// The pod start-up time to look ahead over: the slower role's median creation -> Ready of its
// newest ready pods, when there are any; nullopt otherwise.
std::optional<double> measured_startup_s(const PodSummary& prefill, const PodSummary& decode);

// What a restarted operator reads back from status.metrics: the evaluation history, and the
// calibration when it was learnt under `generation`.
void restore_live_state(const nlohmann::json& status, long long generation,
                        std::vector<planner::HistoryPoint>& history,
                        std::optional<planner::CalibrationState>& calibration);

struct Observation {
  nlohmann::json object;  // the PDDeployment as the API server has it (metadata, spec, status)
  // The decoded spec, or the reason it could not be decoded (field path first).
  std::optional<codec::PDDeployment> spec;
  std::string spec_error;
  TargetObservation prefill;
  TargetObservation decode;
  std::optional<LiveLoad> live;  // set when the spec has metrics
  std::chrono::system_clock::time_point now;
};

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
  std::chrono::system_clock::time_point since;
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
  std::optional<long long> yield_generation;  // generation to record while yielded
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
  nlohmann::json status;
  std::vector<EventRecord> events;
  bool retry_soon = false;  // something failed or is missing: requeue with backoff
};

Report report(const Observation& obs, const Intent& intent, const WriteOutcome& prefill,
              const WriteOutcome& decode);

// Sets a condition in a metav1.Condition list: lastTransitionTime moves only when status flips.
void set_condition(nlohmann::json& conditions, const std::string& type, bool status,
                   const std::string& reason, const std::string& message, long long generation,
                   const std::string& now);

}  // namespace pdscaler::ctl
