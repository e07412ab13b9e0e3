#pragma once
// What one reconcile looks at: a PDDeployment (decoded), its two target workloads and their pods
// as the caches hold them, and the live policy's last measurement. Building it is pure: the
// controller hands in what the caches hold and the time.
//
//   Observation obs = observe(pdd, {prefill_workload, prefill_pods}, {decode_workload, decode_pods}, now);

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pdscaler/api/objects.h"
#include "pdscaler/api/pddeployment.h"
#include "pdscaler/planner/autoscale.h"

namespace pdscaler::reconcile {

enum class Role { Prefill, Decode };
const char* to_string(Role r);  // "prefill", "decode"

// The pods of one target workload (those its selector matches), as they bear on sizing.
struct PodSummary {
  bool read = false;              // false: not known (no selector yet; see error)
  std::string error;
  int scheduled = 0;              // bound to a node and not terminating
  // How long each pod Pending with PodScheduled=False/Unschedulable has been so.
  std::vector<double> unschedulable_for_s;
  std::string unschedulable_message;  // the scheduler's words for one of them
  std::vector<double> startup_s;  // creation -> Ready of the newest ready pods (at most 5)
};

// Terminating pods are left out; a pod whose times are unknown counts as scheduled or stuck but
// gives no start-up time.
PodSummary summarize_pods(const std::vector<api::Pod>& pods, api::Time now);

// What the caches hold of one target workload.
struct TargetView {
  bool known = false;      // false: not (yet) read (see error)
  bool not_found = false;  // read, and it does not exist
  std::string error;
  int spec_replicas = 0;   // what /scale would say
  int ready_replicas = 0;
  bool pods_known = false;  // the pods below are those the selector matches
  std::string pods_error;
  std::vector<api::Pod> pods;
};

// What was read of one target workload.
struct TargetObservation {
  bool read = false;           // false when it could not be read (see error)
  bool not_found = false;      // the target (or its kind) does not exist
  std::string error;           // why it could not be read
  int spec_replicas = 0;
  int ready_replicas = 0;
  PodSummary pods;
};

TargetObservation observe_target(const TargetView& view, api::Time now);

// Live load measured from the engines' own Prometheus metrics. A missing, stale or nonsense value
// is an error, never a zero.
struct ObservedLoad {
  double requests_per_s = 0;      // arrivals: completions + growth of in-flight requests
  double completions_per_s = 0;
  std::optional<double> mean_input;   // absent when the window saw no completed request
  std::optional<double> mean_output;
  std::optional<double> ttft_s;       // mean over the window
  std::optional<double> tpot_s;
  std::optional<double> ttft_at_percentile_s;  // at the SLO's percentile (histogram_quantile)
  std::optional<double> prefix_hit_rate;       // share of prompt tokens served from cache
  std::optional<double> decode_running;        // requests decoding, whole pool
  std::optional<double> input_stddev;          // from the prompt-length histogram's buckets
  std::optional<double> output_stddev;         // from the generated-length histogram's buckets
  std::vector<std::pair<double, double>> output_histogram;  // that histogram (cumulative per le, +Inf last)
  std::optional<double> arrival_dispersion;    // variance / mean of counts per evaluation interval
  std::optional<double> prefill_waiting;       // requests queued for prefill, whole pool
  std::optional<double> decode_waiting;        // and for a decode batch slot
  // The window's TTFT and TPOT histograms (cumulative counts per `le`, +Inf last; empty: not
  // read), for the share of requests within the SLO's targets.
  std::vector<std::pair<double, double>> ttft_histogram, tpot_histogram;
};

// The share of a histogram's observations at most `x` (cumulative counts per `le`, +Inf last);
// beyond the last finite bound the +Inf bucket counts as above. nullopt with no mass. Inside the
// bucket that holds x (the first from 0) the bucket's count is split by `shape`, a distribution
// function of what is observed (the model's): the bucket's mass below x is its mass times
// (F(x) - F(lo)) / (F(hi) - F(lo)). Linear without a shape, or where the shape puts (almost) no
// mass in the bucket or is not finite there. Either way the result stays between the bucket's
// bounds: everything below it, and everything up to its top.
using DistributionFunction = std::function<double(double)>;
std::optional<double> histogram_share_within(const std::vector<std::pair<double, double>>& cumulative, double x,
                                             const DistributionFunction& shape = {});

// With spec.metrics: what the live policy made of the last measurement.
struct LiveLoad {
  bool available = false;   // the last measurement succeeded
  std::string error;        // why not
  int failures = 0;         // consecutive failed evaluations
  ObservedLoad observed;    // the last good measurement
  std::optional<planner::Recommendation> recommendation;  // from the last good measurement
  std::optional<api::Time> evaluated_at;
  std::vector<planner::HistoryPoint> history;  // saved in status, restored after a restart
  std::int64_t generation = 0;                 // the spec generation the calibration belongs to
  double startup_s = 0;                        // the look-ahead in use
  std::string startup_source;                  // "measured ..." or "spec.metrics.startupTime"
};

// The pod start-up time to look ahead over: the slower role's median creation -> Ready of its
// newest ready pods, when there are any; nullopt otherwise.
std::optional<double> measured_startup_s(const PodSummary& prefill, const PodSummary& decode);
// Whether a LiveLoad::startup_source says the start-up time was measured from pods (not the spec's).
inline bool startup_measured(const std::string& source) { return source.rfind("measured", 0) == 0; }

// What a restarted operator reads back from status.metrics: the evaluation history, the
// calibration when it was learnt under `generation`, and the start-up time when it was measured
// from pods (so the restored scale-down window is the one in use before the restart).
struct SavedLiveState {
  std::vector<planner::HistoryPoint> history;
  std::optional<planner::CalibrationState> calibration;
  std::optional<double> measured_startup_s;
};
SavedLiveState saved_live_state(const api::PDDeploymentStatus& status, std::int64_t generation);

struct Observation {
  api::ObjectMeta metadata;
  std::optional<api::PDDeploymentSpec> spec;  // or why it could not be decoded:
  std::string spec_error;
  api::PDDeploymentStatus status;  // as the API server has it
  TargetObservation prefill;
  TargetObservation decode;
  std::optional<LiveLoad> live;  // set when the spec has metrics
  api::Time now;
};

Observation observe(const api::PDDeployment& pdd, const TargetView& prefill, const TargetView& decode, api::Time now);

}  // namespace pdscaler::reconcile
