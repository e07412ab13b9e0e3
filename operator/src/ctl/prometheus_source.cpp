#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "pdscaler/ctl/metrics_source.h"

namespace pdscaler::ctl {
namespace {

std::string window(double s) { return fmt::format("{}s", static_cast<long long>(std::llround(std::max(1.0, s)))); }

class PrometheusSource final : public MetricsSource {
 public:
  explicit PrometheusSource(HttpFactory f) : make_http_(std::move(f)) {}

  tl::expected<ObservedLoad, std::string> observe(const api::MetricsSpec& m, const PrometheusAuth& auth) override {
    const Queries q = queries_for(m);
    http::Client& c = client(m.prometheus_url, auth);
    auto completions = query(c, q.completions);
    if (!completions) return tl::unexpected("completions: " + completions.error());
    // No growth query (a custom engine without one): completions alone, exact in steady state.
    auto growth = q.in_flight_growth.empty() ? tl::expected<double, std::string>(0.0) : query(c, q.in_flight_growth);
    if (!growth) return tl::unexpected("requests in flight: " + growth.error());
    ObservedLoad o;
    o.completions_per_s = *completions;
    o.requests_per_s = std::max(0.0, *completions + *growth);
    // Means are 0/0 = NaN in a window with no completed request: absent, not an error.
    auto optional = [&](const std::string& expr) -> std::optional<double> {
      if (expr.empty()) return std::nullopt;
      auto v = query(c, expr);
      return v ? std::optional<double>(*v) : std::nullopt;
    };
    o.mean_input = optional(q.input_mean);
    o.mean_output = optional(q.output_mean);
    o.ttft_s = optional(q.ttft_mean);
    o.tpot_s = optional(q.tpot_mean);
    o.ttft_at_percentile_s = optional(q.ttft_at_percentile);
    o.prefix_hit_rate = optional(q.prefix_hit_rate);
    if (o.prefix_hit_rate && (*o.prefix_hit_rate < 0 || *o.prefix_hit_rate >= 1)) o.prefix_hit_rate.reset();
    o.decode_running = optional(q.decode_running);
    if (!q.input_buckets.empty())
      if (auto r = ask(c, q.input_buckets))
        if (auto b = parse_vector_by(r->status, r->body, "le")) o.input_stddev = histogram_stddev(*b);
    return o;
  }

 private:
  // One client per URL and credentials: a rotated token or CA gets a new one.
  http::Client& client(const std::string& url, const PrometheusAuth& auth) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& c = clients_[url + '\n' + auth.bearer_token + '\n' + auth.ca_pem];
    if (!c) c = make_http_(url, auth);
    return *c;
  }

  // An instant query; the answer as Prometheus gave it, or why there was none.
  static tl::expected<http::Response, std::string> ask(http::Client& c, const std::string& expr) {
    auto r = c.send(http::Request{"GET", "/api/v1/query?query=" + http::query_escape(expr), "", "application/json"});
    if (!r) return tl::unexpected("Prometheus unreachable: " + r.error().message);
    return *r;
  }

  static tl::expected<double, std::string> query(http::Client& c, const std::string& expr) {
    return ask(c, expr).and_then([](const http::Response& r) { return parse_instant_value(r.status, r.body); });
  }

  HttpFactory make_http_;
  std::mutex mu_;
  std::map<std::string, std::unique_ptr<http::Client>> clients_;
};

}  // namespace

namespace {
void replace_all(std::string& s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
}

Queries preset(const api::MetricsSpec& m, const std::string& w) {
  const std::string p = "{" + m.prefill_selector + "}";
  const std::string d = "{" + m.decode_selector + "}";
  auto mean = [&](const std::string& hist, const std::string& sel) {
    return fmt::format("sum(rate({0}_sum{1}[{2}])) / sum(rate({0}_count{1}[{2}]))", hist, sel, w);
  };
  auto quantile = [&](const std::string& hist, const std::string& sel) -> std::string {
    if (m.ttft_percentile <= 0) return "";
    return fmt::format("histogram_quantile({}, sum by (le) (rate({}_bucket{}[{}])))", m.ttft_percentile / 100, hist, sel, w);
  };
  auto buckets = [&](const std::string& hist, const std::string& sel) {
    return fmt::format("sum by (le) (rate({}_bucket{}[{}]))", hist, sel, w);
  };
  switch (m.engine) {
    case api::Engine::Sglang:
      return {fmt::format("sum(rate(sglang:num_requests_total{}[{}]))", d, w),
              fmt::format("sum(deriv(sglang:num_queue_reqs{0}[{2}])) + sum(deriv(sglang:num_running_reqs{0}[{2}])) + "
                          "sum(deriv(sglang:num_queue_reqs{1}[{2}])) + sum(deriv(sglang:num_running_reqs{1}[{2}]))",
                          p, d, w),
              fmt::format("sum(rate(sglang:prompt_tokens_total{0}[{1}])) / sum(rate(sglang:num_requests_total{0}[{1}]))", p, w),
              fmt::format("sum(rate(sglang:generation_tokens_total{0}[{1}])) / sum(rate(sglang:num_requests_total{0}[{1}]))", d, w),
              mean("sglang:time_to_first_token_seconds", p),
              mean("sglang:inter_token_latency_seconds", d),
              quantile("sglang:time_to_first_token_seconds", p),
              fmt::format("avg(avg_over_time(sglang:cache_hit_rate{}[{}]))", p, w),
              fmt::format("sum(sglang:num_running_reqs{})", d),
              ""};
    case api::Engine::Dynamo: {
      // Dynamo's frontend sees every request end to end: one selector, the frontend's.
      const std::string f = "{" + m.frontend_selector + "}";
      return {fmt::format("sum(rate(dynamo_frontend_output_sequence_tokens_count{}[{}]))", f, w),
              fmt::format("sum(deriv(dynamo_frontend_inflight_requests{}[{}]))", f, w),
              mean("dynamo_frontend_input_sequence_tokens", f),
              mean("dynamo_frontend_output_sequence_tokens", f),
              mean("dynamo_frontend_time_to_first_token_seconds", f),
              mean("dynamo_frontend_inter_token_latency_seconds", f),
              quantile("dynamo_frontend_time_to_first_token_seconds", f),
              "",
              "",
              buckets("dynamo_frontend_input_sequence_tokens", f)};
    }
    case api::Engine::Custom:
      return {};  // everything comes from spec.metrics.queries
    case api::Engine::Vllm:
      break;
  }
  return {fmt::format("sum(rate(vllm:request_success_total{}[{}]))", d, w),
          fmt::format("sum(deriv(vllm:num_requests_waiting{0}[{2}])) + sum(deriv(vllm:num_requests_running{0}[{2}])) + "
                      "sum(deriv(vllm:num_requests_waiting{1}[{2}])) + sum(deriv(vllm:num_requests_running{1}[{2}]))",
                      p, d, w),
          mean("vllm:request_prompt_tokens", p),
          mean("vllm:request_generation_tokens", d),
          mean("vllm:time_to_first_token_seconds", p),
          mean("vllm:request_time_per_output_token_seconds", d),
          quantile("vllm:time_to_first_token_seconds", p),
          fmt::format("sum(rate(vllm:prefix_cache_hits_total{0}[{1}])) / sum(rate(vllm:prefix_cache_queries_total{0}[{1}]))", p, w),
          fmt::format("sum(vllm:num_requests_running{})", d),
          buckets("vllm:request_prompt_tokens", p)};
}
}  // namespace

Queries queries_for(const api::MetricsSpec& m) {
  const std::string w = window(m.window_s);
  Queries q = preset(m, w);
  const auto& o = m.queries;
  for (auto [given, into] : {std::pair{&o.completions, &q.completions}, std::pair{&o.in_flight_growth, &q.in_flight_growth},
                             std::pair{&o.mean_input_length, &q.input_mean}, std::pair{&o.mean_output_length, &q.output_mean},
                             std::pair{&o.mean_ttft, &q.ttft_mean}, std::pair{&o.mean_tpot, &q.tpot_mean}}) {
    if (given->empty()) continue;
    std::string expr = *given;
    replace_all(expr, "$window", w);
    replace_all(expr, "$prefill", m.prefill_selector);
    replace_all(expr, "$decode", m.decode_selector);
    replace_all(expr, "$frontend", m.frontend_selector);
    *into = expr;
  }
  return q;
}

namespace {
// A [timestamp, "value"] pair; values are strings and may be NaN or +Inf.
tl::expected<double, std::string> sample_value(const nlohmann::json& value) {
  if (!value.is_array() || value.size() != 2 || !value[1].is_string()) return tl::unexpected(std::string("bad sample"));
  const std::string v = value[1];
  double x = 0;
  try {
    x = std::stod(v);
  } catch (const std::exception&) {
    return tl::unexpected("not a number: \"" + v + "\"");
  }
  if (!std::isfinite(x)) return tl::unexpected("value is " + v);
  return x;
}
}  // namespace

tl::expected<double, std::string> parse_instant_value(int http_status, const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object()) {
    // A proxy's or load balancer's page: its first line says more than we could.
    std::string said = body.substr(0, body.find('\n'));
    if (said.size() > 120) said = said.substr(0, 120) + "...";
    return tl::unexpected(fmt::format("HTTP {}: not a Prometheus answer{}", http_status, said.empty() ? "" : ": " + said));
  }
  if (j.value("status", "") != "success")
    return tl::unexpected(fmt::format("HTTP {}: {}: {}", http_status, j.value("errorType", "error"), j.value("error", "")));
  const auto& data = j["data"];
  if (!data.is_object() || !data.contains("result")) return tl::unexpected(std::string("answer without data.result"));
  const auto& result = data["result"];
  if (data.value("resultType", "") == "scalar") return sample_value(result);
  if (!result.is_array() || result.empty())
    return tl::unexpected(std::string("no data (is the selector right, and are the engines scraped?)"));
  if (result.size() > 1) return tl::unexpected(fmt::format("{} series where one was expected", result.size()));
  return sample_value(result[0]["value"]);
}

tl::expected<std::vector<std::pair<double, double>>, std::string> parse_vector_by(int http_status, const std::string& body,
                                                                                  const std::string& label) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (!j.is_object() || j.value("status", "") != "success")
    return tl::unexpected(fmt::format("HTTP {}: not a successful Prometheus answer", http_status));
  const auto& result = j["data"].value("result", nlohmann::json::array());
  if (!result.is_array() || result.empty()) return tl::unexpected(std::string("no data"));
  std::vector<std::pair<double, double>> out;
  for (const auto& series : result) {
    const std::string key = series.value("metric", nlohmann::json::object()).value(label, "");
    double x = 0;
    try {
      x = key == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(key);
    } catch (const std::exception&) {
      return tl::unexpected("series without a numeric " + label);
    }
    auto y = sample_value(series.value("value", nlohmann::json()));
    if (!y) return tl::unexpected(y.error() + " at " + label + "=" + key);
    out.emplace_back(x, *y);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<double> histogram_stddev(const std::vector<std::pair<double, double>>& cumulative) {
  double total = 0, sum = 0, sum_sq = 0, prev_bound = 0, prev_count = 0, last_finite = 0;
  for (const auto& [bound, count] : cumulative) {
    const double in_bucket = std::max(0.0, count - prev_count);
    const double at = std::isfinite(bound) ? 0.5 * (prev_bound + bound) : last_finite;
    total += in_bucket;
    sum += in_bucket * at;
    sum_sq += in_bucket * at * at;
    if (std::isfinite(bound)) last_finite = prev_bound = bound;
    prev_count = std::max(prev_count, count);
  }
  if (total <= 0) return std::nullopt;
  const double mean = sum / total;
  return std::sqrt(std::max(0.0, sum_sq / total - mean * mean));
}

std::unique_ptr<MetricsSource> make_prometheus_source(HttpFactory make_http) {
  return std::make_unique<PrometheusSource>(std::move(make_http));
}

}  // namespace pdscaler::ctl
