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

class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual tl::expected<ObservedLoad, std::string> observe(const api::MetricsSpec& m,
                                                          const PrometheusAuth& auth = {}) = 0;
};

// The PromQL for each quantity (exposed for tests and docs).
struct Queries {
  std::string completions, in_flight_growth, input_mean, output_mean, ttft_mean, tpot_mean;
  // Optional extras ("" = not available for this engine).
  std::string ttft_at_percentile, prefix_hit_rate, decode_running;
  std::string input_buckets;  // one series per `le`: the prompt-length histogram's bucket rates
};
Queries queries_for(const api::MetricsSpec& m);

// The standard deviation of a histogram given as cumulative counts per upper bound (`le`, +Inf
// last), each bucket's mass at its midpoint (the first bucket's at half its bound, +Inf's at the
// last finite bound); nullopt with no mass.
std::optional<double> histogram_stddev(const std::vector<std::pair<double, double>>& cumulative);

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
