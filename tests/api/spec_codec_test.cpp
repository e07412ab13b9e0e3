// Every class of bad manifest gets one clear error naming the field path and, where YAML gives
// one, the line; good manifests decode to the planner's units.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "pdscaler/api/spec_codec.h"
#include "pdscaler/planner/plan.h"

namespace pdscaler::api {
namespace {

// A valid manifest; tests replace one line to break it.
const std::string kGood = R"(apiVersion: pdscaler.io/v1alpha1
kind: PDDeployment
metadata:
  name: deepseek-v31
  namespace: llm
spec:
  mode: Recommend
  slo: {ttft: 2s, tpot: 20ms, ttftPercentile: 90}
  workload: {tokensPerMinute: 5000000, inputLength: 6144, outputLength: 512}
  prefill:
    scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: p}
    gpusPerReplica: 8
    maxThroughput: 28300
    overhead: 100ms
    minReplicas: 1
    maxReplicas: 16
  decode:
    scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: d}
    gpusPerReplica: 8
    tpotByBatchSize:
      - {batchSize: 1, tpot: 9ms}
      - {batchSize: 16, tpot: 14ms}
      - {batchSize: 34, tpot: 20ms}
    minReplicas: 1
    maxReplicas: 32
  scaling: {rounding: Nearest, maxTotalGpus: 128, onOverride: Yield}
)";

std::string replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Decodes `text`, expects failure, and returns the first error.
FieldError first_error(const std::string& text) {
  auto d = decode_manifest(text);
  EXPECT_FALSE(d);
  if (d) return {};
  EXPECT_FALSE(d.error().empty());
  return d.error().front();
}

TEST(SpecCodec, DecodesTheGoodManifest) {
  auto d = decode_manifest(kGood);
  ASSERT_TRUE(d) << format_error(d.error().front(), "x");
  EXPECT_EQ(d->name, "deepseek-v31");
  EXPECT_EQ(d->namespace_, "llm");
  EXPECT_EQ(d->mode, Mode::Recommend);
  EXPECT_EQ(d->on_override, OverridePolicy::Yield);
  EXPECT_EQ(d->prefill_target.name, "p");
  EXPECT_EQ(d->decode_target.kind, "Deployment");
  const auto& in = d->plan;
  EXPECT_DOUBLE_EQ(in.slo.ttft_s, 2);
  EXPECT_DOUBLE_EQ(in.slo.tpot_s, 0.02);
  EXPECT_DOUBLE_EQ(in.slo.ttft_percentile, 90);
  EXPECT_DOUBLE_EQ(in.workload.rate, 5e6 / 60);
  EXPECT_EQ(d->rate_field, "tokensPerMinute");
  EXPECT_DOUBLE_EQ(in.prefill.overhead_s, 0.1);
  EXPECT_DOUBLE_EQ(in.prefill.max_throughput.at(6144).value, 28300);
  EXPECT_DOUBLE_EQ(in.decode.tpot_by_batch.at(34).value, 0.02);
  EXPECT_EQ(in.rounding, planner::Rounding::Nearest);
  EXPECT_EQ(*in.max_total_gpus, 128);
}

TEST(SpecCodec, JsonFromTheApiServerDecodesToo) {
  const std::string json = R"({"apiVersion":"pdscaler.io/v1alpha1","kind":"PDDeployment",
    "metadata":{"name":"j","resourceVersion":"5"},
    "spec":{"slo":{"ttft":"2s","tpot":"20ms"},
      "workload":{"requestsPerSecond":12.5,"inputLength":6144,"outputLength":512},
      "prefill":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"Deployment","name":"p"},
                 "throughputByInputLength":[{"inputLength":4096,"maxThroughput":25000},
                                            {"inputLength":8192,"maxThroughput":26000}]},
      "decode":{"scaleTargetRef":{"apiVersion":"apps/v1","kind":"StatefulSet","name":"d"},
                "tpotByBatchSize":[{"batchSize":1,"tpot":"9ms"}]}},
    "status":{"observedGeneration":3}})";
  auto d = decode_manifest(json);
  ASSERT_TRUE(d) << format_error(d.error().front(), "json");
  EXPECT_EQ(d->mode, Mode::Auto);  // default
  EXPECT_EQ(d->plan.workload.rate_unit, planner::RateUnit::RequestsPerSecond);
  EXPECT_NEAR(d->plan.prefill.max_throughput.at(6144).value, 25500, 1e-9);
  EXPECT_EQ(d->plan.prefill.min_replicas, 1);
}

TEST(SpecCodec, BadYamlGivesTheLine) {
  const FieldError e = first_error(replace(kGood, "  mode: Recommend\n", "  mode: [Recommend\n"));
  EXPECT_NE(e.message.find("not valid YAML"), std::string::npos) << e.message;
  EXPECT_GT(e.line, 0);
}

TEST(SpecCodec, EmptyDocument) {
  EXPECT_EQ(first_error("").message, "the document is empty");
  EXPECT_NE(first_error("just a string").message.find("expected a map"), std::string::npos);
}

TEST(SpecCodec, MissingFieldNamesItsPath) {
  const FieldError e = first_error(replace(kGood, "ttft: 2s, ", ""));
  EXPECT_EQ(e.path, "spec.slo.ttft");
  EXPECT_EQ(e.message, "required field is missing");
  EXPECT_EQ(e.line, 8);
}

TEST(SpecCodec, MissingSectionNamesItsPath) {
  const FieldError e = first_error(
      replace(kGood, "  workload: {tokensPerMinute: 5000000, inputLength: 6144, outputLength: 512}\n", ""));
  EXPECT_EQ(e.path, "spec.workload");
}

TEST(SpecCodec, WrongTypeNamesPathAndLine) {
  const FieldError e = first_error(replace(kGood, "inputLength: 6144", "inputLength: long"));
  EXPECT_EQ(e.path, "spec.workload.inputLength");
  EXPECT_EQ(e.message, "expected a number, got \"long\"");
  EXPECT_EQ(e.line, 9);
  const FieldError m = first_error(replace(kGood, "maxThroughput: 28300", "maxThroughput: {a: 1}"));
  EXPECT_EQ(m.path, "spec.prefill.maxThroughput");
  EXPECT_EQ(m.message, "expected a number, got a map");
}

TEST(SpecCodec, BadDuration) {
  const FieldError e = first_error(replace(kGood, "tpot: 20ms, ", "tpot: 20, "));
  EXPECT_EQ(e.path, "spec.slo.tpot");
  EXPECT_EQ(e.message, "expected a duration like \"2s\" or \"100ms\", got 20 (a number: a duration needs its unit)");
}

TEST(SpecCodec, UnknownEnumValueListsTheChoices) {
  const FieldError e = first_error(replace(kGood, "mode: Recommend", "mode: Sometimes"));
  EXPECT_EQ(e.path, "spec.mode");
  EXPECT_EQ(e.message, "unknown value \"Sometimes\" (expected one of: Auto, Recommend, Off)");
  EXPECT_EQ(e.line, 7);
  const FieldError r = first_error(replace(kGood, "rounding: Nearest", "rounding: Up"));
  EXPECT_EQ(r.path, "spec.scaling.rounding");
}

TEST(SpecCodec, NegativeNumbers) {
  const FieldError e = first_error(replace(kGood, "maxThroughput: 28300", "maxThroughput: -28300"));
  EXPECT_EQ(e.path, "spec.prefill.maxThroughput");
  EXPECT_EQ(e.message, "must be greater than 0, got -28300");
  const FieldError r = first_error(replace(kGood, "tokensPerMinute: 5000000", "tokensPerMinute: -1"));
  EXPECT_EQ(r.path, "spec.workload.tokensPerMinute");
  const FieldError o = first_error(replace(kGood, "overhead: 100ms", "overhead: -100ms"));
  EXPECT_EQ(o.path, "spec.prefill.overhead");
  EXPECT_EQ(o.message, "must be zero or more, got \"-100ms\"");
  const FieldError g = first_error(replace(kGood, "gpusPerReplica: 8\n    maxThroughput",
                                           "gpusPerReplica: 0\n    maxThroughput"));
  EXPECT_EQ(g.path, "spec.prefill.gpusPerReplica");
}

TEST(SpecCodec, UnsortedProfileNamesTheElement) {
  const FieldError e = first_error(replace(kGood, "{batchSize: 34, tpot: 20ms}", "{batchSize: 12, tpot: 20ms}"));
  EXPECT_EQ(e.path, "spec.decode.tpotByBatchSize[2].batchSize");
  EXPECT_NE(e.message.find("12 is not greater than the previous point's 16"), std::string::npos);
  EXPECT_EQ(e.line, 23);
}

TEST(SpecCodec, ProfileValuesAreChecked) {
  const FieldError e = first_error(replace(kGood, "{batchSize: 16, tpot: 14ms}", "{batchSize: 16.5, tpot: 14ms}"));
  EXPECT_EQ(e.path, "spec.decode.tpotByBatchSize[1].batchSize");
  EXPECT_EQ(e.message, "expected a whole number, got 16.5");
  const FieldError z = first_error(replace(kGood, "{batchSize: 16, tpot: 14ms}", "{batchSize: 16, tpot: 0ms}"));
  EXPECT_EQ(z.path, "spec.decode.tpotByBatchSize[1].tpot");
  const FieldError empty = first_error(replace(kGood,
      "tpotByBatchSize:\n      - {batchSize: 1, tpot: 9ms}\n      - {batchSize: 16, tpot: 14ms}\n      - {batchSize: 34, tpot: 20ms}",
      "tpotByBatchSize: []"));
  EXPECT_EQ(empty.path, "spec.decode.tpotByBatchSize");
}

TEST(SpecCodec, NoisyTpotTableIsAcceptedWithAWarning) {
  auto d = decode_manifest(replace(kGood, "{batchSize: 16, tpot: 14ms}", "{batchSize: 16, tpot: 8ms}"));
  ASSERT_TRUE(d);
  ASSERT_EQ(d->warnings.size(), 1u);
  EXPECT_NE(d->warnings[0].find("spec.decode.tpotByBatchSize[1]"), std::string::npos) << d->warnings[0];
}

TEST(SpecCodec, UnknownAndDuplicateFields) {
  const FieldError e = first_error(replace(kGood, "ttftPercentile: 90", "ttftPercentil: 90"));
  EXPECT_EQ(e.path, "spec.slo.ttftPercentil");
  EXPECT_NE(e.message.find("unknown field (known here: ttft, tpot, ttftPercentile, attainment)"), std::string::npos)
      << e.message;
  const FieldError dup = first_error(replace(kGood, "  mode: Recommend\n", "  mode: Recommend\n  mode: Off\n"));
  EXPECT_EQ(dup.path, "spec.mode");
  EXPECT_EQ(dup.message, "duplicate field");
}

TEST(SpecCodec, RateMustBeGivenExactlyOnce) {
  const FieldError none = first_error(replace(kGood, "tokensPerMinute: 5000000, ", ""));
  EXPECT_EQ(none.path, "spec.workload.{tokensPerMinute, tokensPerSecond, requestsPerSecond}");
  EXPECT_EQ(none.message, "one of these is required");
  const FieldError two = first_error(replace(kGood, "tokensPerMinute: 5000000, ", "tokensPerMinute: 5, requestsPerSecond: 3, "));
  EXPECT_EQ(two.message, "give only one of these, not 2");
}

TEST(SpecCodec, CrossFieldRules) {
  const FieldError mm = first_error(replace(kGood, "    maxReplicas: 16", "    maxReplicas: 0"));
  EXPECT_EQ(mm.path, "spec.prefill.maxReplicas");
  const FieldError lohi = first_error(replace(kGood, "    minReplicas: 1\n    maxReplicas: 32", "    minReplicas: 40\n    maxReplicas: 32"));
  EXPECT_EQ(lohi.path, "spec.decode.maxReplicas");
  EXPECT_EQ(lohi.message, "must be at least minReplicas (40), got 32");
  const FieldError mg1 = first_error(replace(kGood, "    overhead: 100ms", "    overhead: 100ms\n    queueModel: MG1"));
  EXPECT_EQ(mg1.path, "spec.prefill.queueModel");
  EXPECT_NE(mg1.message.find("inputLengthStdDev"), std::string::npos);
  const FieldError pct = first_error(replace(kGood, "ttftPercentile: 90", "ttftPercentile: 100"));
  EXPECT_EQ(pct.path, "spec.slo.ttftPercentile");
  EXPECT_EQ(pct.message, "must be less than 100, got 100");
}

// Nonsense the schema lets through: one workload for both roles (each reconcile would write the
// prefill count, then the decode count), and a target in another namespace (the API server would
// prune an unknown field, and a same-named workload here would be scaled instead).
TEST(SpecCodec, TargetsMustBeTwoWorkloadsInTheOwnNamespace) {
  const FieldError same = first_error(replace(kGood, "kind: Deployment, name: d}", "kind: Deployment, name: p}"));
  EXPECT_EQ(same.path, "spec.decode.scaleTargetRef");
  EXPECT_EQ(same.message, "is the same workload as spec.prefill.scaleTargetRef (Deployment p): prefill and decode each need their own");
  // Another kind of the same name, or another group, is another workload.
  EXPECT_TRUE(decode_manifest(replace(kGood, "kind: Deployment, name: d}", "kind: StatefulSet, name: p}")));
  EXPECT_TRUE(decode_manifest(replace(kGood, "apiVersion: apps/v1, kind: Deployment, name: d}",
                                      "apiVersion: example.com/v1, kind: Deployment, name: p}")));
  const FieldError other = first_error(replace(kGood, "name: p}", "name: p, namespace: default}"));
  EXPECT_EQ(other.path, "spec.prefill.scaleTargetRef.namespace");
  EXPECT_EQ(other.message, "\"default\" is not this PDDeployment's namespace (\"llm\"): a PDDeployment scales "
                           "workloads in its own namespace only");
  EXPECT_TRUE(decode_manifest(replace(kGood, "name: d}", "name: d, namespace: llm}")));
  // A manifest that does not say its namespace cannot be judged: accepted.
  EXPECT_TRUE(decode_manifest(replace(replace(kGood, "  namespace: llm\n", ""), "name: p}", "name: p, namespace: x}")));
}

TEST(SpecCodec, WrongKindOrVersion) {
  EXPECT_EQ(first_error(replace(kGood, "kind: PDDeployment", "kind: Deployment")).path, "kind");
  EXPECT_EQ(first_error(replace(kGood, "pdscaler.io/v1alpha1", "pdscaler.io/v2")).path, "apiVersion");
}

TEST(SpecCodec, ReportsEveryErrorNotJustTheFirst) {
  auto d = decode_manifest(replace(replace(kGood, "mode: Recommend", "mode: x"), "tpot: 20ms, ", "tpot: x, "));
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().size(), 2u);
}

TEST(SpecCodec, MixedLengthsDistribution) {
  auto d = decode_manifest(replace(replace(kGood, "inputLength: 6144, ",
      "inputLengthDistribution: [{inputLength: 2048, weight: 1}, {inputLength: 10240, weight: 1}], "),
      "    overhead: 100ms", "    overhead: 100ms\n    queueModel: MG1"));
  ASSERT_TRUE(d) << format_error(d.error().front(), "x");
  EXPECT_EQ(d->plan.workload.input_length_distribution.size(), 2u);
  EXPECT_EQ(d->plan.prefill.queue_model, planner::QueueModel::MG1);
}

TEST(SpecCodec, FormatErrorIsCompilerStyle) {
  EXPECT_EQ(format_error({"spec.slo.ttft", 8, 9, "required field is missing"}, "x.yaml"),
            "x.yaml:8:9: spec.slo.ttft: required field is missing");
  EXPECT_EQ(format_error({"", 0, 0, "the document is empty"}, "x.yaml"), "x.yaml: the document is empty");
}

}  // namespace
}  // namespace pdscaler::api

namespace pdscaler::api {
namespace {

TEST(SpecCodec, MetricsSection) {
  const std::string with = replace(kGood, "  scaling: {rounding: Nearest, maxTotalGpus: 128, onOverride: Yield}\n",
      "  scaling: {rounding: Nearest, maxTotalGpus: 128, onOverride: Yield}\n"
      "  metrics: {prometheus: {url: \"http://prom:9090/\"}, engine: sglang, prefillSelector: 'job=\"p\"',"
      " decodeSelector: 'job=\"d\"', window: 2m, evaluationInterval: 10s, startupTime: 90s, scaleDownWindow: 0s}\n");
  auto d = decode_manifest(with);
  ASSERT_TRUE(d) << format_error(d.error().front(), "x");
  ASSERT_TRUE(d->metrics);
  EXPECT_EQ(d->metrics->prometheus_url, "http://prom:9090");
  EXPECT_EQ(d->metrics->engine, Engine::Sglang);
  EXPECT_EQ(d->metrics->prefill_selector, "job=\"p\"");
  EXPECT_DOUBLE_EQ(d->metrics->window_s, 120);
  EXPECT_DOUBLE_EQ(d->metrics->startup_s, 90);
  EXPECT_EQ(d->metrics->scale_down_window_s, 0.0);
  const FieldError url = first_error(replace(with, "http://prom:9090/", "prom:9090"));
  EXPECT_EQ(url.path, "spec.metrics.prometheus.url");
  const FieldError braces = first_error(replace(with, "prefillSelector: 'job=\"p\"'", "prefillSelector: '{job=\"p\"}'"));
  EXPECT_EQ(braces.path, "spec.metrics.prefillSelector");
  const FieldError engine = first_error(replace(with, "engine: sglang", "engine: triton"));
  EXPECT_EQ(engine.message, "unknown value \"triton\" (expected one of: vllm, sglang, dynamo, custom)");
  EXPECT_FALSE(decode_manifest(kGood)->metrics);
  EXPECT_TRUE(d->metrics->calibration.enabled);
  EXPECT_DOUBLE_EQ(d->metrics->calibration.max_correction, 0.25);
  EXPECT_FALSE(d->metrics->fallback);
}

TEST(SpecCodec, MetricsQueriesCalibrationFallbackAndEngines) {
  const std::string base = replace(kGood, "  scaling: {rounding: Nearest, maxTotalGpus: 128, onOverride: Yield}\n",
      "  scaling: {rounding: Nearest, maxTotalGpus: 128, onOverride: Yield}\n"
      "  metrics: {prometheus: {url: \"http://prom:9090\"}, prefillSelector: 'job=\"p\"', decodeSelector: 'job=\"d\"'"
      "ENGINE, calibration: {enabled: false, maxCorrection: 0.5, minRequests: 20},"
      " fallback: {afterFailures: 4, prefillReplicas: 6, decodeReplicas: 5}QUERIES}\n");
  auto d = decode_manifest(replace(replace(base, "ENGINE", ""), "QUERIES", ", queries: {meanTtft: 'x{$prefill}'}"));
  ASSERT_TRUE(d) << format_error(d.error().front(), "x");
  EXPECT_FALSE(d->metrics->calibration.enabled);
  EXPECT_DOUBLE_EQ(d->metrics->calibration.max_correction, 0.5);
  EXPECT_DOUBLE_EQ(d->metrics->calibration.min_requests, 20);
  ASSERT_TRUE(d->metrics->fallback);
  EXPECT_EQ(d->metrics->fallback->after_failures, 4);
  EXPECT_EQ(d->metrics->fallback->prefill_replicas, 6);
  EXPECT_EQ(d->metrics->queries.mean_ttft, "x{$prefill}");

  // custom needs the load and the lengths; dynamo needs the frontend.
  const std::string custom = replace(replace(base, "ENGINE", ", engine: custom"), "QUERIES", ", queries: {completions: 'a'}");
  EXPECT_EQ(first_error(custom).path, "spec.metrics.queries.meanInputLength");
  EXPECT_EQ(first_error(replace(replace(base, "ENGINE", ", engine: custom"), "QUERIES", "")).path, "spec.metrics.queries");
  const std::string dynamo = replace(replace(base, "ENGINE", ", engine: dynamo"), "QUERIES", "");
  EXPECT_EQ(first_error(dynamo).path, "spec.metrics.frontendSelector");
  EXPECT_TRUE(decode_manifest(replace(dynamo, "engine: dynamo", "engine: dynamo, frontendSelector: 'job=\"fe\"'")));
  // Bad values name their field.
  const std::string ok = replace(replace(base, "ENGINE", ""), "QUERIES", "");
  EXPECT_EQ(first_error(replace(ok, "enabled: false", "enabled: maybe")).path, "spec.metrics.calibration.enabled");
  EXPECT_EQ(first_error(replace(ok, "maxCorrection: 0.5", "maxCorrection: 2")).path, "spec.metrics.calibration.maxCorrection");
  EXPECT_EQ(first_error(replace(ok, "afterFailures: 4", "afterFailures: 0")).path, "spec.metrics.fallback.afterFailures");
  EXPECT_EQ(first_error(replace(ok, ", prefillReplicas: 6", "")).path, "spec.metrics.fallback.prefillReplicas");
  // Prometheus credentials from Secrets.
  const std::string creds = replace(ok, "url: \"http://prom:9090\"",
      "url: \"https://prom:9090\", bearerTokenSecret: {name: prom, key: token}, caSecret: {name: prom-ca, key: ca.crt}");
  auto c = decode_manifest(creds);
  ASSERT_TRUE(c) << format_error(c.error().front(), "x");
  ASSERT_TRUE(c->metrics->bearer_token_secret);
  EXPECT_EQ(c->metrics->bearer_token_secret->name, "prom");
  EXPECT_EQ(c->metrics->ca_secret->key, "ca.crt");
  EXPECT_EQ(first_error(replace(creds, "{name: prom, key: token}", "{name: prom}")).path,
            "spec.metrics.prometheus.bearerTokenSecret.key");
}

}  // namespace
}  // namespace pdscaler::api

namespace pdscaler::api {
namespace {

TEST(SpecCodec, ScalarsAreTypedAsYamlCoreSchemaDoes) {
  // Quoted, a number is a string: the API server's schema refuses it, so does the codec.
  const FieldError q = first_error(replace(kGood, "tokensPerMinute: 5000000", "tokensPerMinute: \"5000000\""));
  EXPECT_EQ(q.path, "spec.workload.tokensPerMinute");
  EXPECT_EQ(q.message, "expected a number, got \"5000000\"");
  const FieldError b = first_error(replace(kGood, "name: p}", "name: 12}"));
  EXPECT_EQ(b.path, "spec.prefill.scaleTargetRef.name");
  EXPECT_EQ(b.message, "expected a non-empty string, got 12");
  // `Off` stays a string (YAML 1.2; YAML 1.1 read it as false).
  auto off = decode_manifest(replace(kGood, "mode: Recommend", "mode: Off"));
  ASSERT_TRUE(off) << format_error(off.error().front(), "x");
  EXPECT_EQ(off->mode, Mode::Off);
  auto parsed = parse_manifest("a: 1\nb: 1.5\nc: -2e3\nd: '7'\ne: true\nf: ~\ng: 2s\nh: .inf\ni: +3\n");
  ASSERT_TRUE(parsed);
  const nlohmann::json& t = parsed->tree;
  EXPECT_TRUE(t["a"].is_number_integer());
  EXPECT_EQ(t["b"], 1.5);
  EXPECT_EQ(t["c"], -2000.0);
  EXPECT_EQ(t["d"], "7");
  EXPECT_EQ(t["e"], true);
  EXPECT_TRUE(t["f"].is_null());
  EXPECT_EQ(t["g"], "2s");
  EXPECT_EQ(t["h"], ".inf");
  EXPECT_EQ(t["i"], 3);
}

TEST(SpecCodec, ApiServerTreeDecodesWithoutPositions) {
  auto parsed = parse_manifest(kGood);
  ASSERT_TRUE(parsed);
  nlohmann::json obj = parsed->tree;
  obj["metadata"]["resourceVersion"] = "12";
  obj["metadata"]["managedFields"] = nlohmann::json::array();
  obj["status"] = {{"plan", "4P4D"}};
  auto spec = decode_spec(obj);
  ASSERT_TRUE(spec) << describe(spec.error());
  EXPECT_EQ(spec->mode, Mode::Recommend);
  obj["spec"]["slo"].erase("ttft");
  auto bad = decode_spec(obj);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().front().line, 0);
  EXPECT_EQ(describe(bad.error()), "spec.slo.ttft: required field is missing");
}

TEST(SpecCodec, OutputLengthDistributionReplacesTheMeanAndItsSpread) {
  const std::string text = replace(replace(kGood, "ttftPercentile: 90", "attainment: 99"), "outputLength: 512}",
      "outputLengthDistribution: [{outputLength: 16, weight: 3}, {outputLength: 128, weight: 2}, {outputLength: 1024, weight: 1}]}");
  auto d = decode_manifest(text);
  ASSERT_TRUE(d) << describe(d.error());
  const auto& w = d->plan.workload;
  ASSERT_EQ(w.output_length_distribution.size(), 3u);
  EXPECT_DOUBLE_EQ(w.output_length_distribution[2].length, 1024);
  EXPECT_DOUBLE_EQ(w.output_length, (3 * 16 + 2 * 128 + 1024) / 6.0) << "the weighted mean";
  EXPECT_FALSE(w.output_length_stddev);
  // The fleet is planned from the buckets: the same mean and spread as a lognormal (which puts
  // many requests at one to three tokens, whose wait to join the batch is most of their TPOT)
  // needs at least as many decode instances as the histogram with its floor at 16 tokens.
  const double mean = w.output_length;
  double var = 0;
  for (const auto& b : w.output_length_distribution) var += b.weight / 6.0 * (b.length - mean) * (b.length - mean);
  auto lognormal = decode_manifest(replace(replace(kGood, "ttftPercentile: 90", "attainment: 99"), "outputLength: 512}",
      "outputLength: " + std::to_string(mean) + ", outputLengthStdDev: " + std::to_string(std::sqrt(var)) + "}"));
  ASSERT_TRUE(lognormal) << describe(lognormal.error());
  const planner::Plan hist = planner::plan(d->plan), logn = planner::plan(lognormal->plan);
  ASSERT_TRUE(hist.feasible && logn.feasible);
  EXPECT_LE(hist.decode.replicas, logn.decode.replicas);
  EXPECT_NEAR(hist.d.output_length, mean, 1e-9);

  for (const auto& [bad, path] : std::vector<std::pair<std::string, std::string>>{
           {"outputLength: 512, outputLengthDistribution: [{outputLength: 16, weight: 1}]}", "spec.workload.outputLength"},
           {"outputLengthStdDev: 9, outputLengthDistribution: [{outputLength: 16, weight: 1}]}", "spec.workload.outputLengthStdDev"},
           {"outputLengthDistribution: []}", "spec.workload.outputLengthDistribution"},
           {"outputLengthDistribution: [{outputLength: 0, weight: 1}]}", "spec.workload.outputLengthDistribution[0].outputLength"},
           {"outputLengthDistribution: [{outputLength: 16}]}", "spec.workload.outputLengthDistribution[0].weight"}}) {
    const FieldError e = first_error(replace(kGood, "outputLength: 512}", bad));
    EXPECT_EQ(e.path, path) << bad << ": " << e.message;
  }
}

TEST(SpecCodec, UnknownFieldPointsAtItsKey) {
  const FieldError e = first_error(replace(kGood, "    gpusPerReplica: 8\n    maxThroughput", "    gpusPerReplicas: 8\n    maxThroughput"));
  EXPECT_EQ(e.path, "spec.prefill.gpusPerReplicas");
  EXPECT_EQ(e.line, 12);
  EXPECT_EQ(e.column, 5);
}

TEST(SpecCodec, AttainmentRoutingAndTheLoadsSpread) {
  std::string text = replace(kGood, "ttftPercentile: 90", "attainment: 99");
  text = replace(text, "outputLength: 512}", "outputLength: 512, outputLengthStdDev: 300, arrivalDispersion: 2.5}");
  text = replace(text, "    overhead: 100ms\n", "    overhead: 100ms\n    routing: Random\n");
  auto d = decode_manifest(text);
  ASSERT_TRUE(d) << describe(d.error());
  ASSERT_TRUE(d->plan.slo.attainment);
  EXPECT_DOUBLE_EQ(*d->plan.slo.attainment, 99);
  EXPECT_EQ(d->plan.slo.ttft_percentile, 0);
  EXPECT_EQ(d->plan.prefill.routing, planner::Routing::Random);
  EXPECT_EQ(d->plan.decode.routing, planner::Routing::LeastLoaded);  // the default
  EXPECT_DOUBLE_EQ(*d->plan.workload.output_length_stddev, 300);
  EXPECT_DOUBLE_EQ(d->plan.workload.arrival_dispersion, 2.5);
  // Both a percentile and an attainment: which one is meant is not clear.
  const FieldError both = first_error(replace(kGood, "ttftPercentile: 90", "ttftPercentile: 90, attainment: 99"));
  EXPECT_EQ(both.path, "spec.slo.ttftPercentile");
  EXPECT_NE(both.message.find("not both"), std::string::npos) << both.message;
  for (const auto& [bad, path] : std::vector<std::pair<std::string, std::string>>{
           {"attainment: 100", "spec.slo.attainment"},
           {"attainment: 0", "spec.slo.attainment"},
           {"attainment: high", "spec.slo.attainment"}}) {
    const FieldError e = first_error(replace(kGood, "ttftPercentile: 90", bad));
    EXPECT_EQ(e.path, path) << bad;
  }
  const FieldError r = first_error(replace(kGood, "    overhead: 100ms\n", "    overhead: 100ms\n    routing: RoundRobin\n"));
  EXPECT_EQ(r.path, "spec.prefill.routing");
  EXPECT_NE(r.message.find("LeastLoaded"), std::string::npos) << r.message;
  const FieldError disp = first_error(replace(kGood, "outputLength: 512}", "outputLength: 512, arrivalDispersion: 0}"));
  EXPECT_EQ(disp.path, "spec.workload.arrivalDispersion");
}

}  // namespace
}  // namespace pdscaler::api
