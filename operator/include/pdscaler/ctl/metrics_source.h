#pragma once
// Live load of a running fleet, measured from the engines' own Prometheus metrics (vLLM or
// SGLang names). Completion counters lag arrivals on a ramp, so the arrival rate is completions
// plus the growth of requests in the system. A missing, stale or nonsense value is an error, never
// a zero.

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <tl/expected.hpp>

#include "pdscaler/codec/spec_codec.h"
#include "pdscaler/http/client.h"

namespace pdscaler::ctl {

struct ObservedLoad {
  double requests_per_s = 0;      // arrivals: completions + growth of in-flight requests
  double completions_per_s = 0;
  std::optional<double> mean_input;   // absent when the window saw no completed request
  std::optional<double> mean_output;
  std::optional<double> ttft_s;       // mean over the window
  std::optional<double> tpot_s;
};

// Credentials for Prometheus, read from the Secrets spec.metrics.prometheus names.
struct PrometheusAuth {
  std::string bearer_token;  // "" = none
  std::string ca_pem;        // "" = the system's trust store
};

class MetricsSource {
 public:
  virtual ~MetricsSource() = default;
  virtual tl::expected<ObservedLoad, std::string> observe(const codec::MetricsSpec& m,
                                                          const PrometheusAuth& auth = {}) = 0;
};

// The PromQL for each quantity (exposed for tests and docs).
struct Queries {
  std::string completions, in_flight_growth, input_mean, output_mean, ttft_mean, tpot_mean;
};
Queries queries_for(const codec::MetricsSpec& m);

// Parses a /api/v1/query answer holding one scalar-valued vector sample.
tl::expected<double, std::string> parse_instant_value(int http_status, const std::string& body);

using HttpFactory =
    std::function<std::unique_ptr<http::Client>(const std::string& base_url, const PrometheusAuth& auth)>;
std::unique_ptr<MetricsSource> make_prometheus_source(HttpFactory make_http);

}  // namespace pdscaler::ctl
