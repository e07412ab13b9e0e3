#pragma once
// Live load of a running fleet, measured from the engines' own Prometheus metrics (vLLM or
// SGLang names). Completion counters lag arrivals on a ramp, so the arrival rate is completions
// plus the growth of requests in the system. A missing, stale or nonsense value is an error, never
// a zero.

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <tl/expected.hpp>

#include "pdscaler/api/pddeployment.h"
#include "pdscaler/http/client.h"
#include "pdscaler/reconcile/observation.h"

namespace pdscaler::ctl {

using reconcile::ObservedLoad;

// Credentials for Prometheus, read from the Secrets spec.metrics.prometheus names.
struct PrometheusAuth {
  std::string bearer_token;  // "" = none
  std::string ca_pem;        // "" = the system's trust store
};

// The series read back for the daily seasonal forecast of a new policy.
enum class HistorySeries {
  Requests,      // the arrival rate, requests/s
  InputTokens,   // prompt tokens/s (the prefill work)
  OutputTokens,  // generated tokens/s (the decode work)
};

class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual tl::expected<ObservedLoad, std::string> observe(const api::MetricsSpec& m,
                                                          const PrometheusAuth& auth = {}) = 0;
  // One series every `step_s` over [from_s, to_s] (Unix seconds), oldest first, for the daily
  // seasonal forecast of a new policy; a source without history says so.
  virtual tl::expected<std::vector<std::pair<double, double>>, std::string> history(
      const api::MetricsSpec& m, const PrometheusAuth& auth, HistorySeries series, double from_s, double to_s,
      double step_s) {
    (void)m, (void)auth, (void)series, (void)from_s, (void)to_s, (void)step_s;
    return tl::unexpected(std::string("this metrics source keeps no history"));
  }
};

// The PromQL for each quantity (exposed for tests and docs).
struct Queries {
  std::string completions, in_flight_growth, input_mean, output_mean, ttft_mean, tpot_mean;
  // Optional extras ("" = not available for this engine).
  std::string ttft_at_percentile, prefix_hit_rate, decode_running;
  std::string input_buckets;  // one series per `le`: the prompt-length histogram's bucket rates
  std::string output_buckets;  // the generated-length histogram's
  std::string ttft_buckets;    // the TTFT histogram's, for the share within the SLO
  std::string tpot_buckets;    // the TPOT histogram's (per request on vLLM; per token gap elsewhere)
  // The index of dispersion (variance / mean) of the first-token counts per evaluation interval
  // over the window: the arrivals' burstiness, as the simulator's policy measures it.
  std::string arrival_dispersion;
  std::string prefill_waiting, decode_waiting;  // requests queued, whole pool
  // For range queries (seasonal forecast): the arrival rate, and the tokens/s in and out (the
  // rate times the mean lengths).
  std::string rate_history, input_tokens_history, output_tokens_history;
};
Queries queries_for(const api::MetricsSpec& m);

// The standard deviation of a histogram given as cumulative counts per upper bound (`le`, +Inf
// last), each bucket's mass at its midpoint (the first bucket's at half its bound, +Inf's at the
// last finite bound); nullopt with no mass.
std::optional<double> histogram_stddev(const std::vector<std::pair<double, double>>& cumulative);

// Parses a /api/v1/query_range answer holding one series into (Unix seconds, value), oldest
// first; NaN and infinite points (0/0 in an idle step) are left out; no series is no history.
tl::expected<std::vector<std::pair<double, double>>, std::string> parse_range_series(int http_status,
                                                                                     const std::string& body);

// Parses a /api/v1/query answer holding one series per value of `label` into (label value as a
// number, sample value), sorted by the label; "+Inf" reads as infinity.
tl::expected<std::vector<std::pair<double, double>>, std::string> parse_vector_by(int http_status, const std::string& body,
                                                                                  const std::string& label);

// Parses a /api/v1/query answer holding one scalar-valued vector sample.
tl::expected<double, std::string> parse_instant_value(int http_status, const std::string& body);

using HttpFactory =
    std::function<std::unique_ptr<http::Client>(const std::string& base_url, const PrometheusAuth& auth)>;
std::unique_ptr<MetricsSource> make_prometheus_source(HttpFactory make_http);

}  // namespace pdscaler::ctl
