#pragma once
// The PDDeployment resource as typed values: spec (the planner's input plus the operator's own
// fields) and status (plan, per-role counts, the last decision, live measurements, conditions).
// Decoded once per generation from the API server's JSON (spec_codec.h, status_codec.h), encoded
// back for status writes; `pdscaler plan` decodes manifests into the same types.
//
// Adding a field: declare it in its struct here and name it in that struct's `fields` list (status)
// or read it in its section of spec_codec.cpp (spec); the CRD and docs/pddeployment-reference.md
// list it too (a test checks they agree).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pdscaler/api/fields.h"
#include "pdscaler/api/time.h"
#include "pdscaler/planner/spec.h"

namespace pdscaler::api {

inline constexpr const char* kGroupVersion = "pdscaler.io/v1alpha1";
inline constexpr const char* kKind = "PDDeployment";

// ---- spec -------------------------------------------------------------------------------------

enum class Mode { Auto, Recommend, Off };
enum class OverridePolicy { Reassert, Yield };
enum class Engine { Vllm, Sglang, Dynamo, Custom };

struct ScaleTargetRef {
  std::string api_version;
  std::string kind;
  std::string name;
  bool operator==(const ScaleTargetRef&) const = default;
};

// PromQL for each measured quantity, replacing the engine preset's. In each, $window is the rate
// window ("60s") and $prefill, $decode, $frontend the label matchers of the pools (no braces).
struct QueryOverrides {
  std::string completions;       // requests completed per second
  std::string in_flight_growth;  // growth of requests waiting or running, per second
  std::string mean_input_length;
  std::string mean_output_length;
  std::string mean_ttft;         // seconds
  std::string mean_tpot;         // seconds
  bool operator==(const QueryOverrides&) const = default;
};

// Online calibration of the profiles against observed TTFT/TPOT (spec.metrics.calibration).
struct CalibrationSpec {
  bool enabled = true;
  double max_correction = 0.25;
  double min_requests = 100;
  bool operator==(const CalibrationSpec&) const = default;
};

// What to run when metrics stay missing (spec.metrics.fallback): never fewer than the current.
struct FallbackSpec {
  int after_failures = 0;  // consecutive failed evaluations
  int prefill_replicas = 0;
  int decode_replicas = 0;
  bool operator==(const FallbackSpec&) const = default;
};

// A key of a Secret in the PDDeployment's namespace.
struct SecretKeyRef {
  std::string name;
  std::string key;
  bool operator==(const SecretKeyRef&) const = default;
};

// Where live load is measured (spec.metrics): without it the declared workload is planned.
struct MetricsSpec {
  std::string prometheus_url;
  std::optional<SecretKeyRef> bearer_token_secret;  // sent as "Authorization: Bearer ..."
  std::optional<SecretKeyRef> ca_secret;            // PEM bundle to trust for an https:// URL
  Engine engine = Engine::Vllm;
  std::string prefill_selector;  // PromQL label matchers without braces: job="prefill"
  std::string decode_selector;
  std::string frontend_selector;  // engine dynamo: the frontend's series
  QueryOverrides queries;
  CalibrationSpec calibration;
  std::optional<FallbackSpec> fallback;
  double window_s = 60;
  double evaluation_interval_s = 15;
  double startup_s = 60;            // how far ahead to provision: pod start-up time
  std::optional<double> scale_down_window_s;  // absent: 5 minutes, or the start-up time when longer
  double ttft_percentile = 0;       // from spec.slo: the observed TTFT is also read at it
  bool operator==(const MetricsSpec&) const = default;
};

struct PDDeploymentSpec {
  Mode mode = Mode::Auto;
  ScaleTargetRef prefill_target;
  ScaleTargetRef decode_target;
  OverridePolicy on_override = OverridePolicy::Reassert;
  double pending_timeout_s = 120;   // pods Pending for lack of GPUs this long: plan within what fits
  double capacity_retry_s = 600;    // then try the unconstrained plan again after this long
  std::optional<MetricsSpec> metrics;
  planner::PlanInput plan;
  // The workload's rate exactly as written ("tokensPerMinute"), for messages and what-if output.
  std::string rate_field;
  // What was cleaned up while building the profiles (outliers dropped, duplicates averaged), each
  // prefixed with its field path.
  std::vector<std::string> warnings;
};

const char* to_string(planner::Rounding r);
const char* to_string(planner::QueueModel q);

// ---- metadata ---------------------------------------------------------------------------------

// What the operator keeps of any object's metadata.
struct ObjectMeta {
  std::string name;
  std::string namespace_;
  std::string uid;
  std::string resource_version;
  std::int64_t generation = 0;
  std::optional<Time> creation_timestamp;
  std::optional<Time> deletion_timestamp;
  std::map<std::string, std::string> labels;
  bool operator==(const ObjectMeta&) const = default;
};

// "namespace/name", the key of caches and the work queue.
std::string key_of(const ObjectMeta& m);

// ---- status -----------------------------------------------------------------------------------

enum class ConditionStatus { True, False, Unknown };

// metav1.Condition.
struct Condition {
  std::string type;
  ConditionStatus status = ConditionStatus::Unknown;
  std::string reason;
  std::string message;
  std::optional<Time> last_transition_time;
  std::optional<std::int64_t> observed_generation;
  bool operator==(const Condition&) const = default;
  static constexpr auto fields = field_list(
      field("type", &Condition::type), field("status", &Condition::status), field("reason", &Condition::reason),
      field("message", &Condition::message), field("lastTransitionTime", &Condition::last_transition_time),
      field("observedGeneration", &Condition::observed_generation));
};

struct RoleStatus {
  int desired_replicas = 0;
  int current_replicas = 0;
  int ready_replicas = 0;
  int gpus = 0;
  std::string summary;                   // "ready/desired", a printer column
  std::optional<int> applied_replicas;   // last written or accepted; anything else is an override
  bool operator==(const RoleStatus&) const = default;
  static constexpr auto fields = field_list(
      field("desiredReplicas", &RoleStatus::desired_replicas), field("currentReplicas", &RoleStatus::current_replicas),
      field("readyReplicas", &RoleStatus::ready_replicas), field("gpus", &RoleStatus::gpus),
      field("summary", &RoleStatus::summary), field("appliedReplicas", &RoleStatus::applied_replicas));
};

// A capacity limit in force: GPUs that were schedulable when pods stayed Pending.
struct CapacityStatus {
  int gpus = 0;
  Time since{};
  std::string message;
  int wanted_gpus = 0;
  bool operator==(const CapacityStatus&) const = default;
  static constexpr auto fields =
      field_list(field("gpus", &CapacityStatus::gpus), field("since", &CapacityStatus::since),
                 field("message", &CapacityStatus::message), field("wantedGpus", &CapacityStatus::wanted_gpus));
};

// The inputs of the last decision, as the model saw them.
struct DecisionInputs {
  double tokens_per_s = 0;
  double requests_per_s = 0;
  double input_length = 0;
  double output_length = 0;
  std::string ttft;  // durations as written in a spec
  std::string tpot;
  double ttft_percentile = 0;
  bool operator==(const DecisionInputs&) const = default;
  static constexpr auto fields = field_list(
      field("tokensPerSecond", &DecisionInputs::tokens_per_s), field("requestsPerSecond", &DecisionInputs::requests_per_s),
      field("inputLength", &DecisionInputs::input_length), field("outputLength", &DecisionInputs::output_length),
      field("ttft", &DecisionInputs::ttft), field("tpot", &DecisionInputs::tpot),
      field("ttftPercentile", &DecisionInputs::ttft_percentile));
};

// status.lastDecision: the plan and every quantity of the model; `time` moves only when the
// decision does.
struct Decision {
  std::string plan;
  bool feasible = false;
  bool meets_slo = false;
  DecisionInputs inputs;
  std::map<std::string, std::optional<double>> explanation;  // null: unbounded
  std::optional<Time> time;
  bool operator==(const Decision&) const = default;
  static constexpr auto fields =
      field_list(field("plan", &Decision::plan), field("feasible", &Decision::feasible),
                 field("meetsSlo", &Decision::meets_slo), field("inputs", &Decision::inputs),
                 field("explanation", &Decision::explanation), field("time", &Decision::time));
};

struct CalibrationStatus {
  double prefill_throughput_factor = 1;
  double decode_tpot_factor = 1;
  int windows_used = 0;
  std::string last_window;
  std::int64_t generation = 0;  // the spec generation the factors were learnt under
  bool operator==(const CalibrationStatus&) const = default;
  static constexpr auto fields = field_list(
      field("prefillThroughputFactor", &CalibrationStatus::prefill_throughput_factor),
      field("decodeTpotFactor", &CalibrationStatus::decode_tpot_factor),
      field("windowsUsed", &CalibrationStatus::windows_used), field("lastWindow", &CalibrationStatus::last_window),
      field("generation", &CalibrationStatus::generation));
};

// One evaluation of the live policy, kept so a restarted operator resumes its windows.
struct HistoryEntry {
  Time time{};
  double requests_per_s = 0;
  int prefill = 0;  // what the model recommended, before stabilisation
  int decode = 0;
  std::optional<double> prefill_need;  // the fractional needs the counts were rounded from
  std::optional<double> decode_need;
  std::optional<int> evaluations;  // how many evaluations a merged entry stands for (absent: 1)
  bool operator==(const HistoryEntry&) const = default;
  static constexpr auto fields =
      field_list(field("time", &HistoryEntry::time), field("requestsPerSecond", &HistoryEntry::requests_per_s),
                 field("prefill", &HistoryEntry::prefill), field("decode", &HistoryEntry::decode),
                 field("prefillNeed", &HistoryEntry::prefill_need), field("decodeNeed", &HistoryEntry::decode_need),
                 field("evaluations", &HistoryEntry::evaluations));
};

// status.metrics: the last load measured from Prometheus and what it was provisioned for.
struct MetricsStatus {
  bool available = false;
  int consecutive_failures = 0;
  std::optional<Time> last_evaluation;
  std::optional<double> requests_per_s;
  std::optional<double> completions_per_s;
  std::optional<double> mean_input_length;
  std::optional<double> mean_output_length;
  std::optional<double> observed_ttft_s;
  std::optional<double> observed_tpot_s;
  std::optional<double> observed_ttft_at_percentile_s;
  std::optional<double> prefix_cache_hit_rate;
  std::optional<double> input_length_stddev;
  std::optional<double> output_length_stddev;
  std::optional<double> arrival_dispersion;          // measured this window
  std::optional<double> planned_arrival_dispersion;  // what the policy planned with
  std::optional<double> prefill_waiting;
  std::optional<double> decode_waiting;
  std::optional<double> backlog_requests_per_s;  // added for queued requests to drain
  std::optional<double> attainment_target;       // spec.slo.attainment, percent
  // Percent of the window's requests within TTFT and within TPOT, read off the engines'
  // histograms, beside the model's for the fleet that served the window.
  std::optional<double> observed_ttft_share;
  std::optional<double> observed_tpot_share;
  std::optional<std::string> observed_tpot_share_of;  // "requests" or "inter-token gaps"
  std::optional<double> predicted_ttft_share;
  std::optional<double> predicted_tpot_share;
  std::optional<double> predicted_attainment;
  std::optional<double> observed_decode_batch;
  std::optional<double> provisioned_requests_per_s;
  std::optional<std::string> forecast;
  std::optional<double> predicted_ttft_s;
  std::optional<double> predicted_tpot_s;
  std::optional<CalibrationStatus> calibration;
  std::vector<HistoryEntry> history;
  std::optional<double> startup_s;
  std::optional<std::string> startup_source;
  bool operator==(const MetricsStatus&) const = default;
  static constexpr auto fields = field_list(
      field("available", &MetricsStatus::available),
      field("consecutiveFailures", &MetricsStatus::consecutive_failures),
      field("lastEvaluation", &MetricsStatus::last_evaluation),
      field("requestsPerSecond", &MetricsStatus::requests_per_s),
      field("completionsPerSecond", &MetricsStatus::completions_per_s),
      field("meanInputLength", &MetricsStatus::mean_input_length),
      field("meanOutputLength", &MetricsStatus::mean_output_length),
      field("observedTtftSeconds", &MetricsStatus::observed_ttft_s),
      field("observedTpotSeconds", &MetricsStatus::observed_tpot_s),
      field("observedTtftAtPercentileSeconds", &MetricsStatus::observed_ttft_at_percentile_s),
      field("prefixCacheHitRate", &MetricsStatus::prefix_cache_hit_rate),
      field("inputLengthStdDev", &MetricsStatus::input_length_stddev),
      field("outputLengthStdDev", &MetricsStatus::output_length_stddev),
      field("arrivalDispersion", &MetricsStatus::arrival_dispersion),
      field("plannedArrivalDispersion", &MetricsStatus::planned_arrival_dispersion),
      field("prefillWaiting", &MetricsStatus::prefill_waiting),
      field("decodeWaiting", &MetricsStatus::decode_waiting),
      field("backlogRequestsPerSecond", &MetricsStatus::backlog_requests_per_s),
      field("attainmentTarget", &MetricsStatus::attainment_target),
      field("observedTtftShare", &MetricsStatus::observed_ttft_share),
      field("observedTpotShare", &MetricsStatus::observed_tpot_share),
      field("observedTpotShareOf", &MetricsStatus::observed_tpot_share_of),
      field("predictedTtftShare", &MetricsStatus::predicted_ttft_share),
      field("predictedTpotShare", &MetricsStatus::predicted_tpot_share),
      field("predictedAttainment", &MetricsStatus::predicted_attainment),
      field("observedDecodeBatch", &MetricsStatus::observed_decode_batch),
      field("provisionedRequestsPerSecond", &MetricsStatus::provisioned_requests_per_s),
      field("forecast", &MetricsStatus::forecast),
      field("predictedTtftSeconds", &MetricsStatus::predicted_ttft_s),
      field("predictedTpotSeconds", &MetricsStatus::predicted_tpot_s),
      field("calibration", &MetricsStatus::calibration),
      field("history", &MetricsStatus::history),
      field("startupSeconds", &MetricsStatus::startup_s),
      field("startupSource", &MetricsStatus::startup_source));
};

struct PDDeploymentStatus {
  std::optional<std::int64_t> observed_generation;
  std::optional<std::int64_t> yielded_generation;  // set while yielding to an external override
  std::optional<std::string> plan;                 // "4P4D"
  std::optional<RoleStatus> prefill;
  std::optional<RoleStatus> decode;
  std::optional<Decision> last_decision;
  std::optional<MetricsStatus> metrics;
  std::optional<CapacityStatus> capacity;
  std::vector<Condition> conditions;
  bool operator==(const PDDeploymentStatus&) const = default;
  static constexpr auto fields = field_list(
      field("observedGeneration", &PDDeploymentStatus::observed_generation),
      field("yieldedGeneration", &PDDeploymentStatus::yielded_generation),
      field("plan", &PDDeploymentStatus::plan), field("prefill", &PDDeploymentStatus::prefill),
      field("decode", &PDDeploymentStatus::decode), field("lastDecision", &PDDeploymentStatus::last_decision),
      field("metrics", &PDDeploymentStatus::metrics), field("capacity", &PDDeploymentStatus::capacity),
      field("conditions", &PDDeploymentStatus::conditions));
};

// The condition of `type`, or null.
const Condition* find_condition(const PDDeploymentStatus& s, std::string_view type);

// ---- the object -------------------------------------------------------------------------------

struct FieldError;

// A PDDeployment as the operator holds it: the spec decoded (or why it could not be), the status
// read tolerantly (what did not read back is dropped, with a warning).
struct PDDeployment {
  ObjectMeta metadata;
  std::optional<PDDeploymentSpec> spec;
  std::string spec_error;  // "spec.slo.ttft: required field is missing; ..." when spec is empty
  PDDeploymentStatus status;
  std::vector<std::string> warnings;  // from reading the status
};

}  // namespace pdscaler::api
