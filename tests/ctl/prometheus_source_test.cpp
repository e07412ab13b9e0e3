// Prometheus answers as Prometheus 2.42 gives them (values are strings; NaN and +Inf happen; an
// unknown metric is an empty result, not an error; errors carry errorType and error).
#include <gtest/gtest.h>

#include <cmath>

#include "pdscaler/ctl/metrics_source.h"

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
  EXPECT_EQ(paths.size(), 9u) << "six quantities, the prefix-cache hit rate, the decode batch, the length buckets";
  EXPECT_EQ(paths[0].rfind("/api/v1/query?query=sum%28rate%28vllm%3Arequest_success_total", 0), 0u) << paths[0];
  source->observe(m, {"token-1", "-----BEGIN CERTIFICATE-----"});
  EXPECT_EQ(made.size(), 1u) << "same credentials: same client";
  source->observe(m, {"token-2", "-----BEGIN CERTIFICATE-----"});
  ASSERT_EQ(made.size(), 2u);
  EXPECT_EQ(made[1].second.bearer_token, "token-2");
}

}  // namespace
}  // namespace pdscaler::ctl
