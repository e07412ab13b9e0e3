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
    // The other quantities may be absent (no data, NaN: a mean over a window with no completed
    // request is 0/0) without failing the measurement. Prometheus not answering is another
    // matter: each further query would wait out its own timeout (a minute or more for the round,
    // while status still showed the last one as good), so the first transport failure ends the
    // round as a failed measurement.
    std::optional<std::string> down;
    auto answer = [&](const char* what, const std::string& expr) -> std::optional<http::Response> {
      if (expr.empty() || down) return std::nullopt;
      auto r = ask(c, expr);
      if (!r) {
        down = std::string(what) + ": " + r.error();
        return std::nullopt;
      }
      return std::move(*r);
    };
    auto optional = [&](const char* what, const std::string& expr) -> std::optional<double> {
      auto r = answer(what, expr);
      if (!r) return std::nullopt;
      auto v = parse_instant_value(r->status, r->body);
      return v ? std::optional<double>(*v) : std::nullopt;
    };
    auto histogram = [&](const char* what, const std::string& expr) -> std::optional<std::vector<std::pair<double, double>>> {
      auto r = answer(what, expr);
      if (!r) return std::nullopt;
      auto b = parse_vector_by(r->status, r->body, "le");
      return b ? std::optional<std::vector<std::pair<double, double>>>(std::move(*b)) : std::nullopt;
    };
    o.mean_input = optional("mean input length", q.input_mean);
    o.mean_output = optional("mean output length", q.output_mean);
    o.ttft_s = optional("mean TTFT", q.ttft_mean);
    o.tpot_s = optional("mean TPOT", q.tpot_mean);
    o.ttft_at_percentile_s = optional("TTFT percentile", q.ttft_at_percentile);
    o.prefix_hit_rate = optional("prefix-cache hit rate", q.prefix_hit_rate);
    if (o.prefix_hit_rate && (*o.prefix_hit_rate < 0 || *o.prefix_hit_rate >= 1)) o.prefix_hit_rate.reset();
    o.decode_running = optional("decode batch", q.decode_running);
    o.prefill_waiting = optional("prefill queue", q.prefill_waiting);
    o.decode_waiting = optional("decode queue", q.decode_waiting);
    // Burstiness: absent where it is 0/0 (no first token in the window) or nonsense.
    o.arrival_dispersion = optional("arrival dispersion", q.arrival_dispersion);
    if (o.arrival_dispersion && *o.arrival_dispersion < 0) o.arrival_dispersion.reset();
    if (auto b = histogram("input lengths", q.input_buckets)) o.input_stddev = histogram_stddev(*b);
    if (auto b = histogram("output lengths", q.output_buckets)) {
      o.output_stddev = histogram_stddev(*b);
      o.output_histogram = std::move(*b);
    }
    if (auto b = histogram("TTFT histogram", q.ttft_buckets)) o.ttft_histogram = std::move(*b);
    if (auto b = histogram("TPOT histogram", q.tpot_buckets)) o.tpot_histogram = std::move(*b);
    if (down) return tl::unexpected(*down);
    return o;
  }

  tl::expected<std::vector<std::pair<double, double>>, std::string> history(const api::MetricsSpec& m,
                                                                            const PrometheusAuth& auth,
                                                                            HistorySeries series, double from_s,
                                                                            double to_s, double step_s) override {
    const Queries q = queries_for(m);
    const std::string& expr = series == HistorySeries::Requests      ? q.rate_history
                              : series == HistorySeries::InputTokens ? q.input_tokens_history
                                                                     : q.output_tokens_history;
    if (expr.empty()) return tl::unexpected(std::string("no query for this series on this engine"));
    http::Client& c = client(m.prometheus_url, auth);
    const std::string path = fmt::format("/api/v1/query_range?query={}&start={:.0f}&end={:.0f}&step={:.0f}",
                                         http::query_escape(expr), from_s, to_s, std::max(1.0, step_s));
    auto r = c.send(http::Request{"GET", path, "", "application/json"});
    if (!r) return tl::unexpected("Prometheus unreachable: " + r.error().message);
    return parse_range_series(r->status, r->body);
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

// The quantities every engine preset has, in the order Queries declares them.
Queries base(std::string completions, std::string growth, std::string input_mean, std::string output_mean,
             std::string ttft_mean, std::string tpot_mean, std::string ttft_at_percentile, std::string prefix_hit_rate,
             std::string decode_running, std::string input_buckets) {
  Queries q;
  q.completions = std::move(completions);
  q.in_flight_growth = std::move(growth);
  q.input_mean = std::move(input_mean);
  q.output_mean = std::move(output_mean);
  q.ttft_mean = std::move(ttft_mean);
  q.tpot_mean = std::move(tpot_mean);
  q.ttft_at_percentile = std::move(ttft_at_percentile);
  q.prefix_hit_rate = std::move(prefix_hit_rate);
  q.decode_running = std::move(decode_running);
  q.input_buckets = std::move(input_buckets);
  return q;
}

Queries preset(const api::MetricsSpec& m, const std::string& w) {
  const std::string p = "{" + m.prefill_selector + "}";
  const std::string d = "{" + m.decode_selector + "}";
  const std::string interval = window(m.evaluation_interval_s);
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
  // Counts of first tokens per evaluation interval, their variance over their mean across the
  // window: a request's first token follows its arrival by its TTFT, so the counts are the
  // arrivals' (a little smoothed by the prefill queue).
  auto dispersion = [&](const std::string& counter, const std::string& sel) {
    const std::string counts = fmt::format("sum(increase({}{}[{}]))", counter, sel, interval);
    return fmt::format("stdvar_over_time(({0})[{1}:{2}]) / avg_over_time(({0})[{1}:{2}])", counts, w, interval);
  };
  auto total = [](const std::string& gauge, const std::string& sel) { return fmt::format("sum({}{})", gauge, sel); };
  Queries q;
  switch (m.engine) {
    case api::Engine::Sglang:
      q = base(fmt::format("sum(rate(sglang:num_requests_total{}[{}]))", d, w),
           fmt::format("sum(deriv(sglang:num_queue_reqs{0}[{2}])) + sum(deriv(sglang:num_running_reqs{0}[{2}])) + "
                       "sum(deriv(sglang:num_queue_reqs{1}[{2}])) + sum(deriv(sglang:num_running_reqs{1}[{2}]))",
                       p, d, w),
           fmt::format("sum(rate(sglang:prompt_tokens_total{0}[{1}])) / sum(rate(sglang:num_requests_total{0}[{1}]))", p, w),
           fmt::format("sum(rate(sglang:generation_tokens_total{0}[{1}])) / sum(rate(sglang:num_requests_total{0}[{1}]))", d, w),
           mean("sglang:time_to_first_token_seconds", p),
           mean("sglang:inter_token_latency_seconds", d),
           quantile("sglang:time_to_first_token_seconds", p),
           fmt::format("avg(avg_over_time(sglang:cache_hit_rate{}[{}]))", p, w),
           total("sglang:num_running_reqs", d),
           "");
      q.ttft_buckets = buckets("sglang:time_to_first_token_seconds", p);
      q.tpot_buckets = buckets("sglang:inter_token_latency_seconds", d);  // per token gap
      q.arrival_dispersion = dispersion("sglang:time_to_first_token_seconds_count", p);
      q.prefill_waiting = total("sglang:num_queue_reqs", p);
      q.decode_waiting = total("sglang:num_queue_reqs", d);
      break;
    case api::Engine::Dynamo: {
      // Dynamo's frontend sees every request end to end: one selector, the frontend's.
      const std::string f = "{" + m.frontend_selector + "}";
      q = base(fmt::format("sum(rate(dynamo_frontend_output_sequence_tokens_count{}[{}]))", f, w),
           fmt::format("sum(deriv(dynamo_frontend_inflight_requests{}[{}]))", f, w),
           mean("dynamo_frontend_input_sequence_tokens", f),
           mean("dynamo_frontend_output_sequence_tokens", f),
           mean("dynamo_frontend_time_to_first_token_seconds", f),
           mean("dynamo_frontend_inter_token_latency_seconds", f),
           quantile("dynamo_frontend_time_to_first_token_seconds", f),
           "",
           "",
           buckets("dynamo_frontend_input_sequence_tokens", f));
      q.output_buckets = buckets("dynamo_frontend_output_sequence_tokens", f);
      q.ttft_buckets = buckets("dynamo_frontend_time_to_first_token_seconds", f);
      q.tpot_buckets = buckets("dynamo_frontend_inter_token_latency_seconds", f);  // per token gap
      q.arrival_dispersion = dispersion("dynamo_frontend_time_to_first_token_seconds_count", f);
      break;
    }
    case api::Engine::Custom:
      break;  // everything comes from spec.metrics.queries
    case api::Engine::Vllm:
      q = base(fmt::format("sum(rate(vllm:request_success_total{}[{}]))", d, w),
           fmt::format("sum(deriv(vllm:num_requests_waiting{0}[{2}])) + sum(deriv(vllm:num_requests_running{0}[{2}])) + "
                       "sum(deriv(vllm:num_requests_waiting{1}[{2}])) + sum(deriv(vllm:num_requests_running{1}[{2}]))",
                       p, d, w),
           mean("vllm:request_prompt_tokens", p),
           mean("vllm:request_generation_tokens", d),
           mean("vllm:time_to_first_token_seconds", p),
           mean("vllm:request_time_per_output_token_seconds", d),
           quantile("vllm:time_to_first_token_seconds", p),
           fmt::format("sum(rate(vllm:prefix_cache_hits_total{0}[{1}])) / sum(rate(vllm:prefix_cache_queries_total{0}[{1}]))", p, w),
           total("vllm:num_requests_running", d),
           buckets("vllm:request_prompt_tokens", p));
      q.output_buckets = buckets("vllm:request_generation_tokens", d);
      q.ttft_buckets = buckets("vllm:time_to_first_token_seconds", p);
      q.tpot_buckets = buckets("vllm:request_time_per_output_token_seconds", d);
      q.arrival_dispersion = dispersion("vllm:time_to_first_token_seconds_count", p);
      q.prefill_waiting = total("vllm:num_requests_waiting", p);
      q.decode_waiting = total("vllm:num_requests_waiting", d);
      break;
  }
  return q;
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
  // History for the seasonal forecast: completions, which equal arrivals over any stretch longer
  // than a request's life.
  q.rate_history = q.completions;
  // The work in and out: the rate times the window's mean lengths (each one series without
  // labels, as the instant queries are read).
  if (!q.completions.empty() && !q.input_mean.empty())
    q.input_tokens_history = "(" + q.completions + ") * (" + q.input_mean + ")";
  if (!q.completions.empty() && !q.output_mean.empty())
    q.output_tokens_history = "(" + q.completions + ") * (" + q.output_mean + ")";
  return q;
}

namespace {
// Answers are read through these two: on a const json, operator[] with a missing key is undefined
// behaviour and value() throws when the member has another type ({"status": 1}, a series that is
// not an object), and a Prometheus answer is outside input like any other.
const nlohmann::json kNull;
const nlohmann::json& member(const nlohmann::json& j, const char* key, const nlohmann::json& fallback = kNull) {
  if (!j.is_object()) return fallback;
  const auto it = j.find(key);
  return it == j.end() ? fallback : *it;
}
std::string text(const nlohmann::json& j, const char* key, const std::string& fallback = "") {
  const nlohmann::json& v = member(j, key);
  return v.is_string() ? v.get<std::string>() : fallback;
}
const nlohmann::json kEmptyArray = nlohmann::json::array();

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
  if (text(j, "status") != "success")
    return tl::unexpected(fmt::format("HTTP {}: {}: {}", http_status, text(j, "errorType", "error"), text(j, "error")));
  const auto& data = member(j, "data");
  if (!data.is_object() || !data.contains("result")) return tl::unexpected(std::string("answer without data.result"));
  const auto& result = member(data, "result");
  if (text(data, "resultType") == "scalar") return sample_value(result);
  if (!result.is_array() || result.empty())
    return tl::unexpected(std::string("no data (is the selector right, and are the engines scraped?)"));
  if (result.size() > 1) return tl::unexpected(fmt::format("{} series where one was expected", result.size()));
  return sample_value(member(result[0], "value"));
}

tl::expected<std::vector<std::pair<double, double>>, std::string> parse_vector_by(int http_status, const std::string& body,
                                                                                  const std::string& label) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (text(j, "status") != "success")
    return tl::unexpected(fmt::format("HTTP {}: not a successful Prometheus answer", http_status));
  const auto& result = member(member(j, "data"), "result", kEmptyArray);
  if (!result.is_array() || result.empty()) return tl::unexpected(std::string("no data"));
  std::vector<std::pair<double, double>> out;
  for (const auto& series : result) {
    const std::string key = text(member(series, "metric"), label.c_str());
    double x = 0;
    try {
      x = key == "+Inf" ? std::numeric_limits<double>::infinity() : std::stod(key);
    } catch (const std::exception&) {
      return tl::unexpected("series without a numeric " + label);
    }
    auto y = sample_value(member(series, "value"));
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

tl::expected<std::vector<std::pair<double, double>>, std::string> parse_range_series(int http_status,
                                                                                     const std::string& body) {
  const nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (text(j, "status") != "success")
    return tl::unexpected(fmt::format("HTTP {}: not a successful Prometheus answer", http_status));
  const auto& data = member(j, "data");
  if (text(data, "resultType") != "matrix")
    return tl::unexpected(std::string("not a range (matrix) answer"));
  const auto& result = member(data, "result", kEmptyArray);
  if (!result.is_array()) return tl::unexpected(std::string("answer without data.result"));
  if (result.empty()) return std::vector<std::pair<double, double>>{};  // no history yet
  if (result.size() > 1) return tl::unexpected(fmt::format("{} series where one was expected", result.size()));
  const auto& values = member(result[0], "values", kEmptyArray);
  if (!values.is_array()) return tl::unexpected(std::string("series without values"));
  std::vector<std::pair<double, double>> out;
  for (const auto& v : values) {
    if (!v.is_array() || v.size() != 2 || !v[0].is_number()) return tl::unexpected(std::string("bad sample"));
    auto y = sample_value(v);
    if (y) out.emplace_back(v[0].get<double>(), *y);  // NaN/Inf: an idle or missing step
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::unique_ptr<MetricsSource> make_prometheus_source(HttpFactory make_http) {
  return std::make_unique<PrometheusSource>(std::move(make_http));
}

}  // namespace pdscaler::ctl
