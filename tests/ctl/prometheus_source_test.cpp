// Prometheus answers as Prometheus 2.42 gives them (values are strings; NaN and +Inf happen; an
// unknown metric is an empty result, not an error; errors carry errorType and error).
#include <gtest/gtest.h>

#include <cmath>

#include "pdscaler/ctl/metrics_source.h"
#include "pdscaler/reconcile/observation.h"

namespace pdscaler::ctl {
namespace {

TEST(PrometheusParse, AVectorSample) {
  auto v = parse_instant_value(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1763840000.123,"12.5"]}]}})");
  ASSERT_TRUE(v) << v.error();
  EXPECT_DOUBLE_EQ(*v, 12.5);
}

TEST(PrometheusParse, AScalar) {
  auto v = parse_instant_value(200, R"({"status":"success","data":{"resultType":"scalar","result":[1763840000.1,"3.5"]}})");
  ASSERT_TRUE(v) << v.error();
  EXPECT_DOUBLE_EQ(*v, 3.5);
}

TEST(PrometheusParse, NanInfEmptyAndErrorsAreErrorsNotZero) {
  EXPECT_EQ(parse_instant_value(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"NaN"]}]}})").error(), "value is NaN");
  EXPECT_EQ(parse_instant_value(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"+Inf"]}]}})").error(), "value is +Inf");
  EXPECT_NE(parse_instant_value(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})").error().find("no data"), std::string::npos);
  EXPECT_EQ(parse_instant_value(400, R"({"status":"error","errorType":"bad_data","error":"parse error at char 5"})").error(), "HTTP 400: bad_data: parse error at char 5");
  EXPECT_EQ(parse_instant_value(503, "Service Unavailable\n<html>").error(), "HTTP 503: not a Prometheus answer: Service Unavailable");
  EXPECT_NE(parse_instant_value(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"a":"1"},"value":[1,"1"]},{"metric":{"a":"2"},"value":[1,"2"]}]}})").error().find("2 series"), std::string::npos);
}

// Answers of the wrong shape (a proxy's JSON, a changed API, garbling that still parses) are
// errors, never an exception or undefined behaviour: a const json's operator[] on a missing key
// and value() on a member of another type were both reachable from a body like these.
TEST(PrometheusParse, AnswersOfTheWrongShapeAreErrorsNotExceptions) {
  EXPECT_EQ(parse_instant_value(200, R"({"status":"success"})").error(), "answer without data.result");
  EXPECT_EQ(parse_instant_value(200, R"({"status":1,"error":["x"]})").error(), "HTTP 200: error: ");
  EXPECT_EQ(parse_instant_value(200, R"({"status":"success","data":{"resultType":"vector","result":[7]}})").error(),
            "bad sample");
  EXPECT_EQ(parse_instant_value(200, R"({"status":"success","data":{"resultType":1,"result":[{"value":[1,"2"]}]}})").value(), 2);
  const std::string numeric_le =
      R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"le":5},"value":[1,"2"]}]}})";
  EXPECT_EQ(parse_vector_by(200, numeric_le, "le").error(), "series without a numeric le");
  EXPECT_EQ(parse_vector_by(200, R"({"status":"success","data":[]})", "le").error(), "no data");
  // A scalar answer to a histogram query (found by fuzz_prometheus: it threw from value()).
  EXPECT_EQ(parse_vector_by(200, R"({"status":"success","data":{"resultType":"scalar","result":[1764700000.1,"3"]}})", "le").error(),
            "series without a numeric le");
  EXPECT_EQ(parse_vector_by(200, R"({"status":"success","data":{"result":[[1,"2"]]}})", "le").error(),
            "series without a numeric le");
  EXPECT_EQ(parse_range_series(200, R"({"status":"success"})").error(), "not a range (matrix) answer");
  auto no_values = parse_range_series(200, R"({"status":"success","data":{"resultType":"matrix","result":[[1]]}})");
  ASSERT_TRUE(no_values) << no_values.error();
  EXPECT_TRUE(no_values->empty());
}

TEST(PrometheusQueries, VllmPresetUsesCurrentNamesAndTheSelectors) {
  api::MetricsSpec m;
  m.prefill_selector = R"(job="p")";
  m.decode_selector = R"(job="d")";
  m.window_s = 120;
  const Queries q = queries_for(m);
  EXPECT_EQ(q.completions, R"(sum(rate(vllm:request_success_total{job="d"}[120s])))");
  EXPECT_EQ(q.input_mean, R"(sum(rate(vllm:request_prompt_tokens_sum{job="p"}[120s])) / sum(rate(vllm:request_prompt_tokens_count{job="p"}[120s])))");
  EXPECT_NE(q.in_flight_growth.find(R"(deriv(vllm:num_requests_waiting{job="p"}[120s]))"), std::string::npos);
  EXPECT_NE(q.tpot_mean.find("vllm:request_time_per_output_token_seconds_sum"), std::string::npos);
  m.engine = api::Engine::Sglang;
  EXPECT_EQ(queries_for(m).completions, R"(sum(rate(sglang:num_requests_total{job="d"}[120s])))");
}

}  // namespace
}  // namespace pdscaler::ctl

namespace pdscaler::ctl {
namespace {

TEST(PrometheusQueries, DynamoPresetReadsTheFrontend) {
  api::MetricsSpec m;
  m.engine = api::Engine::Dynamo;
  m.frontend_selector = R"(job="frontend")";
  m.window_s = 60;
  const Queries q = queries_for(m);
  EXPECT_EQ(q.completions, R"(sum(rate(dynamo_frontend_output_sequence_tokens_count{job="frontend"}[60s])))");
  EXPECT_EQ(q.in_flight_growth, R"(sum(deriv(dynamo_frontend_inflight_requests{job="frontend"}[60s])))");
  EXPECT_NE(q.ttft_mean.find(R"(dynamo_frontend_time_to_first_token_seconds_sum{job="frontend"})"), std::string::npos);
  EXPECT_NE(q.tpot_mean.find("dynamo_frontend_inter_token_latency_seconds_count"), std::string::npos);
}

TEST(PrometheusQueries, OverridesReplaceOneQuantityWithPlaceholdersFilledIn) {
  api::MetricsSpec m;
  m.prefill_selector = R"(job="p")";
  m.decode_selector = R"(job="d")";
  m.window_s = 30;
  m.queries.mean_ttft = "histogram_quantile(0.5, sum by (le) (rate(my_ttft_bucket{$prefill}[$window])))";
  const Queries q = queries_for(m);
  EXPECT_EQ(q.ttft_mean, R"(histogram_quantile(0.5, sum by (le) (rate(my_ttft_bucket{job="p"}[30s]))))");
  EXPECT_EQ(q.completions, R"(sum(rate(vllm:request_success_total{job="d"}[30s])))") << "the rest stays the preset's";
  api::MetricsSpec c;
  c.engine = api::Engine::Custom;
  c.decode_selector = "svc=\"x\"";
  c.queries.completions = "sum(rate(done_total{$decode}[$window]))";
  const Queries cq = queries_for(c);
  EXPECT_EQ(cq.completions, R"(sum(rate(done_total{svc="x"}[60s])))");
  EXPECT_TRUE(cq.ttft_mean.empty()) << "custom: no preset behind what is not given";
  EXPECT_TRUE(cq.in_flight_growth.empty());
}

}  // namespace
}  // namespace pdscaler::ctl

namespace pdscaler::ctl {
namespace {

// Answers every query with one sample and records what it was asked.
class FakePrometheus final : public http::Client {
 public:
  explicit FakePrometheus(std::vector<std::string>* paths) : paths_(paths) {}
  http::Result<http::Response> send(const http::Request& r) override {
    paths_->push_back(r.path);
    return http::Response{200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2.5"]}]}})"};
  }
  http::Result<http::Response> stream(const http::Request& r, const std::function<bool(const std::string&)>&) override {
    return send(r);
  }
  void cancel_streams() override {}

 private:
  std::vector<std::string>* paths_;
};

TEST(PrometheusHistogram, StdDevFromCumulativeBuckets) {
  // 100 prompts in (1000, 2000], 100 in (2000, 5000]: at 1500 and 3500, so mean 2500, sd 1000.
  EXPECT_NEAR(*histogram_stddev({{1000, 0}, {2000, 100}, {5000, 200}, {INFINITY, 200}}), 1000, 1e-9);
  EXPECT_NEAR(*histogram_stddev({{5000, 0}, {10000, 50}, {INFINITY, 50}}), 0, 1e-9) << "one bucket: no spread seen";
  EXPECT_FALSE(histogram_stddev({{10, 0}, {INFINITY, 0}}));
  auto v = parse_vector_by(200, R"({"status":"success","data":{"resultType":"vector","result":[
      {"metric":{"le":"+Inf"},"value":[1,"200"]},{"metric":{"le":"2000.0"},"value":[1,"100"]},
      {"metric":{"le":"1000.0"},"value":[1,"0"]},{"metric":{"le":"5000.0"},"value":[1,"200"]}]}})", "le");
  ASSERT_TRUE(v) << v.error();
  ASSERT_EQ(v->size(), 4u);
  EXPECT_EQ((*v)[0].first, 1000);
  EXPECT_TRUE(std::isinf(v->back().first));
  EXPECT_NEAR(*histogram_stddev(*v), 1000, 1e-9);
  EXPECT_FALSE(parse_vector_by(200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{"le":"x"},"value":[1,"1"]}]}})", "le"));
}

TEST(PrometheusQueries, ExtrasFollowTheSloPercentileAndTheEngine) {
  api::MetricsSpec m;
  m.prefill_selector = R"(job="p")";
  m.decode_selector = R"(job="d")";
  m.window_s = 60;
  EXPECT_TRUE(queries_for(m).ttft_at_percentile.empty()) << "an SLO on the mean needs no quantile";
  m.ttft_percentile = 90;
  const Queries q = queries_for(m);
  EXPECT_EQ(q.ttft_at_percentile, R"(histogram_quantile(0.9, sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{job="p"}[60s]))))");
  EXPECT_EQ(q.prefix_hit_rate, R"(sum(rate(vllm:prefix_cache_hits_total{job="p"}[60s])) / sum(rate(vllm:prefix_cache_queries_total{job="p"}[60s])))");
  EXPECT_EQ(q.decode_running, R"(sum(vllm:num_requests_running{job="d"}))");
  EXPECT_EQ(q.input_buckets, R"(sum by (le) (rate(vllm:request_prompt_tokens_bucket{job="p"}[60s])))");
  m.engine = api::Engine::Sglang;
  EXPECT_EQ(queries_for(m).prefix_hit_rate, R"(avg(avg_over_time(sglang:cache_hit_rate{job="p"}[60s])))");
}

TEST(PrometheusSource, CredentialsReachTheClientAndARotationGetsANewOne) {
  std::vector<std::string> paths;
  std::vector<std::pair<std::string, PrometheusAuth>> made;
  auto source = make_prometheus_source([&](const std::string& url, const PrometheusAuth& auth) {
    made.emplace_back(url, auth);
    return std::make_unique<FakePrometheus>(&paths);
  });
  api::MetricsSpec m;
  m.prometheus_url = "https://prom:9090";
  m.prefill_selector = R"(job="p")";
  m.decode_selector = R"(job="d")";
  auto o = source->observe(m, {"token-1", "-----BEGIN CERTIFICATE-----"});
  ASSERT_TRUE(o) << o.error();
  EXPECT_DOUBLE_EQ(o->completions_per_s, 2.5);
  EXPECT_DOUBLE_EQ(o->requests_per_s, 5.0) << "completions + growth";
  ASSERT_EQ(made.size(), 1u);
  EXPECT_EQ(made[0].first, "https://prom:9090");
  EXPECT_EQ(made[0].second.bearer_token, "token-1");
  EXPECT_EQ(made[0].second.ca_pem, "-----BEGIN CERTIFICATE-----");
  EXPECT_EQ(paths.size(), 15u) << "six quantities, the prefix-cache hit rate, the decode batch, both queues, the "
                                  "burstiness, four histograms";
  EXPECT_EQ(paths[0].rfind("/api/v1/query?query=sum%28rate%28vllm%3Arequest_success_total", 0), 0u) << paths[0];
  source->observe(m, {"token-1", "-----BEGIN CERTIFICATE-----"});
  EXPECT_EQ(made.size(), 1u) << "same credentials: same client";
  source->observe(m, {"token-2", "-----BEGIN CERTIFICATE-----"});
  ASSERT_EQ(made.size(), 2u);
  EXPECT_EQ(made[1].second.bearer_token, "token-2");
}

}  // namespace
}  // namespace pdscaler::ctl

namespace pdscaler::ctl {
namespace {

TEST(PrometheusQueries, BurstinessQueuesAndHistogramsPerEngine) {
  api::MetricsSpec m;
  m.prefill_selector = R"(job="p")";
  m.decode_selector = R"(job="d")";
  m.window_s = 300;
  m.evaluation_interval_s = 15;
  const Queries q = queries_for(m);
  // Variance over mean of the first-token counts per 15 s, across the 5-minute window.
  const std::string counts = R"(sum(increase(vllm:time_to_first_token_seconds_count{job="p"}[15s])))";
  EXPECT_EQ(q.arrival_dispersion,
            "stdvar_over_time((" + counts + ")[300s:15s]) / avg_over_time((" + counts + ")[300s:15s])");
  EXPECT_EQ(q.prefill_waiting, R"(sum(vllm:num_requests_waiting{job="p"}))");
  EXPECT_EQ(q.decode_waiting, R"(sum(vllm:num_requests_waiting{job="d"}))");
  EXPECT_EQ(q.ttft_buckets, R"(sum by (le) (rate(vllm:time_to_first_token_seconds_bucket{job="p"}[300s])))");
  EXPECT_EQ(q.tpot_buckets, R"(sum by (le) (rate(vllm:request_time_per_output_token_seconds_bucket{job="d"}[300s])))");
  EXPECT_EQ(q.output_buckets, R"(sum by (le) (rate(vllm:request_generation_tokens_bucket{job="d"}[300s])))");
  EXPECT_EQ(q.rate_history, q.completions);
  EXPECT_EQ(q.input_tokens_history, "(" + q.completions + ") * (" + q.input_mean + ")");
  EXPECT_EQ(q.output_tokens_history, "(" + q.completions + ") * (" + q.output_mean + ")");
  m.engine = api::Engine::Sglang;
  const Queries s = queries_for(m);
  EXPECT_NE(s.arrival_dispersion.find("sglang:time_to_first_token_seconds_count{job=\"p\"}[15s]"), std::string::npos);
  EXPECT_EQ(s.prefill_waiting, R"(sum(sglang:num_queue_reqs{job="p"}))");
  EXPECT_NE(s.tpot_buckets.find("sglang:inter_token_latency_seconds_bucket"), std::string::npos);
  EXPECT_TRUE(s.output_buckets.empty()) << "SGLang has no generated-length histogram";
  m.engine = api::Engine::Custom;
  m.queries.completions = "sum(rate(done_total[$window]))";
  const Queries c = queries_for(m);
  EXPECT_TRUE(c.arrival_dispersion.empty() && c.ttft_buckets.empty() && c.prefill_waiting.empty());
  EXPECT_EQ(c.rate_history, "sum(rate(done_total[300s]))");
  EXPECT_TRUE(c.input_tokens_history.empty() && c.output_tokens_history.empty())
      << "no mean lengths given for a custom engine: no tokens' history";
}

TEST(PrometheusHistogram, ShareWithinInterpolatesInsideTheBucket) {
  using reconcile::histogram_share_within;
  // 100 requests: 40 within 0.25 s, 80 within 0.5 s, 90 within 1 s, 10 above.
  const std::vector<std::pair<double, double>> h{{0.1, 10}, {0.25, 40}, {0.5, 80}, {1.0, 90}, {INFINITY, 100}};
  EXPECT_NEAR(*histogram_share_within(h, 0.5), 0.80, 1e-12) << "on a bound: exact";
  EXPECT_NEAR(*histogram_share_within(h, 0.375), 0.60, 1e-12) << "half-way through (0.25, 0.5]";
  EXPECT_NEAR(*histogram_share_within(h, 0.05), 0.05, 1e-12) << "the first bucket from 0";
  EXPECT_NEAR(*histogram_share_within(h, 5.0), 0.90, 1e-12) << "past the last bound: +Inf counts as a miss";
  EXPECT_FALSE(histogram_share_within({{1.0, 0}, {INFINITY, 0}}, 0.5)) << "no requests: no share";
  EXPECT_FALSE(histogram_share_within({}, 0.5));
  // Counts that went backwards (a restarted engine inside the window) never give more than all.
  EXPECT_LE(*histogram_share_within({{0.5, 12}, {1.0, 10}, {INFINITY, 10}}, 0.75), 1.0);
}

TEST(PrometheusHistogram, ShareWithinSplitsTheBucketByTheModelsShape) {
  using reconcile::histogram_share_within;
  // vLLM's per-request TPOT buckets: all 300 requests took 10-25 ms; the target is 20 ms.
  const std::vector<std::pair<double, double>> h{{0.01, 0}, {0.025, 300}, {0.05, 300}, {INFINITY, 300}};
  EXPECT_NEAR(*histogram_share_within(h, 0.02), 2.0 / 3, 1e-12) << "linear: two thirds, whatever they did";
  // The model says TPOT is close to 15 ms: a steep distribution function there.
  auto steep = [](double t) { return 1 / (1 + std::exp(-(t - 0.015) / 0.0005)); };
  EXPECT_NEAR(*histogram_share_within(h, 0.02, steep), 1.0, 1e-3);
  auto late = [](double t) { return 1 / (1 + std::exp(-(t - 0.023) / 0.0005)); };
  EXPECT_NEAR(*histogram_share_within(h, 0.02, late), 0.0, 1e-2);
  // Buckets below and above the one holding the target still count whole: 100 below 10 ms.
  const std::vector<std::pair<double, double>> g{{0.01, 100}, {0.025, 300}, {INFINITY, 400}};
  EXPECT_NEAR(*histogram_share_within(g, 0.02, steep), (100 + 200 * steep(0.02)) / 400, 1e-3);
  // A shape with no mass in the bucket, or not finite, falls back to linear.
  auto elsewhere = [](double t) { return t < 0.5 ? 0.0 : 1.0; };
  EXPECT_NEAR(*histogram_share_within(h, 0.02, elsewhere), 2.0 / 3, 1e-12);
  auto broken = [](double) { return NAN; };
  EXPECT_NEAR(*histogram_share_within(h, 0.02, broken), 2.0 / 3, 1e-12);
}

TEST(PrometheusParse, ARangeSeriesSkipsIdleStepsAndEmptyIsNoHistory) {
  auto r = parse_range_series(200, R"({"status":"success","data":{"resultType":"matrix","result":[
      {"metric":{},"values":[[1800000060,"2.5"],[1800000000,"1.5"],[1800000120,"NaN"]]}]}})");
  ASSERT_TRUE(r) << r.error();
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0], std::make_pair(1800000000.0, 1.5)) << "oldest first";
  EXPECT_EQ((*r)[1].second, 2.5);
  auto none = parse_range_series(200, R"({"status":"success","data":{"resultType":"matrix","result":[]}})");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_FALSE(parse_range_series(200, R"({"status":"success","data":{"resultType":"vector","result":[]}})"));
  EXPECT_FALSE(parse_range_series(503, "Service Unavailable"));
}

std::string unescape(const std::string& s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// Answers each query as Prometheus would for a vLLM fleet: a bucket query with one series per
// `le`, a range query with a matrix, the rest with one sample.
class ScriptedPrometheus final : public http::Client {
 public:
  explicit ScriptedPrometheus(std::vector<std::string>* paths) : paths_(paths) {}
  http::Result<http::Response> send(const http::Request& r) override {
    paths_->push_back(r.path);
    const std::string q = unescape(r.path.substr(r.path.find('=') + 1));
    auto one = [](const std::string& v) {
      return http::Response{200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,")" +
                                     v + R"("]}]}})"};
    };
    auto buckets = [](const std::vector<std::pair<std::string, std::string>>& b) {
      std::string out = R"({"status":"success","data":{"resultType":"vector","result":[)";
      for (const auto& [le, v] : b) out += R"({"metric":{"le":")" + le + R"("},"value":[1,")" + v + R"("]},)";
      out.back() = ']';
      return http::Response{200, out + "}}"};
    };
    if (r.path.rfind("/api/v1/query_range", 0) == 0)
      return http::Response{200, R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1799827200,"4"],[1799827260,"5"]]}]}})"};
    if (q.find("time_to_first_token_seconds_bucket") != std::string::npos)
      return buckets({{"0.25", "3"}, {"0.5", "9"}, {"1.0", "10"}, {"+Inf", "10"}});
    if (q.find("request_time_per_output_token_seconds_bucket") != std::string::npos)
      return buckets({{"0.01", "0"}, {"0.025", "4"}, {"+Inf", "5"}});
    if (q.find("_bucket") != std::string::npos) return buckets({{"100", "0"}, {"200", "10"}, {"+Inf", "10"}});
    if (q.find("stdvar_over_time") != std::string::npos) return one("3.5");
    if (q.find("num_requests_waiting{job=\"p\"}") != std::string::npos && q.find("deriv") == std::string::npos)
      return one("7");
    return one("2.5");
  }
  http::Result<http::Response> stream(const http::Request& r, const std::function<bool(const std::string&)>&) override {
    return send(r);
  }
  void cancel_streams() override {}

 private:
  std::vector<std::string>* paths_;
};

TEST(PrometheusSource, ReadsBurstinessQueuesAndTheSloHistograms) {
  std::vector<std::string> paths;
  auto source = make_prometheus_source([&](const std::string&, const PrometheusAuth&) {
    return std::make_unique<ScriptedPrometheus>(&paths);
  });
  api::MetricsSpec m;
  m.prometheus_url = "http://prom:9090";
  m.prefill_selector = R"(job="p")";
  m.decode_selector = R"(job="d")";
  auto o = source->observe(m, {});
  ASSERT_TRUE(o) << o.error();
  EXPECT_EQ(o->arrival_dispersion, 3.5);
  EXPECT_EQ(o->prefill_waiting, 7);
  EXPECT_EQ(o->decode_waiting, 2.5);
  ASSERT_EQ(o->ttft_histogram.size(), 4u);
  EXPECT_NEAR(*reconcile::histogram_share_within(o->ttft_histogram, 0.5), 0.9, 1e-12);
  EXPECT_NEAR(*reconcile::histogram_share_within(o->tpot_histogram, 0.025), 0.8, 1e-12);
  EXPECT_NEAR(*o->output_stddev, 0, 1e-12) << "every generated length in one bucket";
  ASSERT_EQ(o->output_histogram.size(), 3u) << "the generated-length histogram is kept for the planner";
  EXPECT_EQ(o->output_histogram[1], (std::pair<double, double>{200, 10}));

  auto h = source->history(m, {}, HistorySeries::Requests, 1799827200, 1800000000, 60);
  ASSERT_TRUE(h) << h.error();
  ASSERT_EQ(h->size(), 2u);
  EXPECT_EQ((*h)[1].second, 5);
  EXPECT_EQ(paths.back().rfind("/api/v1/query_range?query=sum%28rate%28vllm%3Arequest_success_total", 0), 0u) << paths.back();
  EXPECT_NE(paths.back().find("&start=1799827200&end=1800000000&step=60"), std::string::npos) << paths.back();
  auto in = source->history(m, {}, HistorySeries::InputTokens, 1799827200, 1800000000, 60);
  ASSERT_TRUE(in) << in.error();
  EXPECT_EQ(unescape(paths.back().substr(paths.back().find('=') + 1)).rfind("(" + queries_for(m).completions + ") * (", 0), 0u)
      << paths.back();
  ASSERT_TRUE(source->history(m, {}, HistorySeries::OutputTokens, 1799827200, 1800000000, 60));
  EXPECT_NE(unescape(paths.back()).find(queries_for(m).output_mean), std::string::npos) << paths.back();
}

// Prometheus stops answering after the first `answered` queries (as a proxy that starts hanging
// mid-round does, each further query waiting out the client's timeout).
class HangingPrometheus final : public http::Client {
 public:
  HangingPrometheus(std::vector<std::string>* paths, int answered) : paths_(paths), left_(answered) {}
  http::Result<http::Response> send(const http::Request& r) override {
    paths_->push_back(r.path);
    if (left_-- > 0)
      return http::Response{200, R"({"status":"success","data":{"resultType":"vector","result":[{"metric":{},"value":[1,"2.5"]}]}})"};
    return tl::unexpected(http::TransportError{"Failed to read HTTP status line", true, false});
  }
  http::Result<http::Response> stream(const http::Request& r, const std::function<bool(const std::string&)>&) override {
    return send(r);
  }
  void cancel_streams() override {}

 private:
  std::vector<std::string>* paths_;
  int left_;
};

TEST(PrometheusSource, AQueryThatTimesOutMidRoundFailsTheMeasurementAndAsksNoMore) {
  std::vector<std::string> paths;
  auto source = make_prometheus_source([&](const std::string&, const PrometheusAuth&) {
    return std::make_unique<HangingPrometheus>(&paths, 2);  // completions and growth answered
  });
  api::MetricsSpec m;
  m.prometheus_url = "http://prom:9090";
  m.prefill_selector = R"(job="p")";
  m.decode_selector = R"(job="d")";
  auto o = source->observe(m, {});
  ASSERT_FALSE(o) << "a round with Prometheus gone is not a good measurement with some means missing";
  EXPECT_EQ(o.error(), "mean input length: Prometheus unreachable: Failed to read HTTP status line");
  EXPECT_EQ(paths.size(), 3u) << "no query after the one that timed out";
  // Missing data is still only missing: answers without a sample leave the quantity absent.
  paths.clear();
  auto ok = make_prometheus_source([&](const std::string&, const PrometheusAuth&) {
    return std::make_unique<ScriptedPrometheus>(&paths);
  });
  EXPECT_TRUE(ok->observe(m, {}));
}

}  // namespace
}  // namespace pdscaler::ctl
