#pragma once
// Decodes a PDDeployment (YAML manifest or the API server's JSON: one decoder serves both) into the
// planner's input plus the operator's own fields, and reports every problem with its field path
// and, where the document gives one, its line and column.
//
//   auto d = decode_pddeployment(text);
//   if (!d) for (const auto& e : d.error()) std::cerr << format_error(e, "x.yaml") << "\n";

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <tl/expected.hpp>

#include "pdscaler/planner/spec.h"

namespace pdscaler::codec {

struct FieldError {
  std::string path;  // "spec.decode.tpotByBatchSize[2].tpot"; empty for the document as a whole
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;
  std::string message;
};

// "FILE:LINE:COL: PATH: MESSAGE", leaving out what is unknown.
std::string format_error(const FieldError& e, std::string_view source);

enum class Mode { Auto, Recommend, Off };
enum class OverridePolicy { Reassert, Yield };

struct ScaleTargetRef {
  std::string api_version;
  std::string kind;
  std::string name;
};

enum class Engine { Vllm, Sglang, Dynamo, Custom };

// PromQL for each measured quantity, replacing the engine preset's. In each, $window is the rate
// window ("60s") and $prefill, $decode, $frontend the label matchers of the pools (no braces).
struct QueryOverrides {
  std::string completions;       // requests completed per second
  std::string in_flight_growth;  // growth of requests waiting or running, per second
  std::string mean_input_length;
  std::string mean_output_length;
  std::string mean_ttft;         // seconds
  std::string mean_tpot;         // seconds
};

// Online calibration of the profiles against observed TTFT/TPOT (spec.metrics.calibration).
struct CalibrationSpec {
  bool enabled = true;
  double max_correction = 0.25;
  double min_requests = 100;
};

// What to run when metrics stay missing (spec.metrics.fallback): never fewer than the current.
struct FallbackSpec {
  int after_failures = 0;  // consecutive failed evaluations
  int prefill_replicas = 0;
  int decode_replicas = 0;
};

// A key of a Secret in the PDDeployment's namespace.
struct SecretKeyRef {
  std::string name;
  std::string key;
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
  double scale_down_window_s = 300;
  double ttft_percentile = 0;       // from spec.slo: the observed TTFT is also read at it
};

struct PDDeployment {
  std::string name;
  std::string namespace_;
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

tl::expected<PDDeployment, std::vector<FieldError>> decode_pddeployment(std::string_view text);

// Go-style durations as the CRD's pattern allows: one or more <decimal><unit>, unit in
// ns, us, µs, ms, s, m, h ("2s", "100ms", "1m30s"); "0" alone is zero. Returns seconds; nullopt
// if the text is not such a duration. A leading '-' yields a negative value for the caller to refuse.
std::optional<double> parse_duration(std::string_view text);

// Seconds as the shortest readable duration: 0.02 -> "20ms", 2 -> "2s", 0.0005 -> "500us".
std::string format_duration(double seconds);

const char* to_string(Mode m);
const char* to_string(Engine e);
const char* to_string(planner::Rounding r);
const char* to_string(planner::QueueModel q);

}  // namespace pdscaler::codec
