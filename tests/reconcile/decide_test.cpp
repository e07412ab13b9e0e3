// The reconciler's decisions, table by table: writes, overrides, modes, failures, and status that
// changes only when something changed.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "pdscaler/api/spec_codec.h"
#include "pdscaler/api/status_codec.h"
#include "pdscaler/reconcile/decide.h"
#include "planner/fixtures.h"

namespace pdscaler::reconcile {
namespace {

using nlohmann::json;

std::optional<api::PDDeploymentSpec> spec_of(const std::string& text, std::string* error = nullptr) {
  auto d = api::decode_manifest(text);
  if (!d) {
    if (error) *error = api::describe(d.error());
    return std::nullopt;
  }
  return api::PDDeploymentSpec(*d);
}

std::string example_text() {
  std::ifstream f(std::string(PDSCALER_SOURCE_DIR) + "/crds/examples/deepseek-v31-h200.yaml");
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

class Decide : public ::testing::Test {
 protected:
  Observation obs(int prefill_replicas, int decode_replicas, int ready_p = -1, int ready_d = -1) {
    Observation o;
    o.metadata.name = "deepseek-v31";
    o.metadata.generation = generation;
    o.status = status;
    o.spec = spec_of(text, &o.spec_error);
    o.prefill = {true, false, "", prefill_replicas, ready_p < 0 ? prefill_replicas : ready_p, {}};
    o.decode = {true, false, "", decode_replicas, ready_d < 0 ? decode_replicas : ready_d, {}};
    o.now = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000 + tick++));
    return o;
  }

  // One reconcile where every intended write succeeds; the status is fed back as the API would.
  std::pair<Intent, Report> step(const Observation& o) {
    Intent i = intend(o);
    WriteOutcome p{i.prefill.write.has_value(), true, ""}, d{i.decode.write.has_value(), true, ""};
    Report r = report(o, i, p, d);
    status = r.status;
    return {i, r};
  }

  static std::string cond(const api::PDDeploymentStatus& st, const std::string& type, const char* field = "reason") {
    const json j = api::encode_status(st);
    for (const auto& c : j.value("conditions", json::array()))
      if (c["type"] == type) return c[field];
    return "";
  }
  static bool has_event(const Report& r, const std::string& reason) {
    for (const auto& e : r.events)
      if (e.reason == reason) return true;
    return false;
  }

  std::string text = example_text();
  api::PDDeploymentStatus status;
  std::int64_t generation = 1;
  int tick = 0;
};

TEST_F(Decide, FirstReconcileWritesThePlanAndRecordsIt) {
  auto [i, r] = step(obs(1, 1));
  ASSERT_TRUE(i.prefill.write);
  EXPECT_EQ(*i.prefill.write, 4);
  EXPECT_EQ(*i.decode.write, 4);
  EXPECT_EQ(*r.status.plan, "4P4D");
  EXPECT_EQ(r.status.prefill->applied_replicas, 4);
  EXPECT_EQ(r.status.prefill->gpus, 32);
  EXPECT_EQ(r.status.observed_generation, 1);
  EXPECT_TRUE(has_event(r, "SuccessfulRescale"));
  EXPECT_EQ(cond(r.status, "Ready"), "ScalingInProgress");
  EXPECT_EQ(cond(r.status, "ScalingActive"), "Scaling");
  EXPECT_EQ(cond(r.status, "ScalingLimited"), "WithinLimits");
}

TEST_F(Decide, SettledFleetIsReadyAndStatusStopsChanging) {
  step(obs(1, 1));
  auto [i, r] = step(obs(4, 4));
  EXPECT_FALSE(i.prefill.write);
  EXPECT_FALSE(i.decode.write);
  EXPECT_EQ(cond(r.status, "Ready"), "AsPlanned");
  EXPECT_EQ(r.status.prefill->summary, "4/4");
  const api::PDDeploymentStatus settled = r.status;
  auto [i2, r2] = step(obs(4, 4));
  EXPECT_EQ(r2.status, settled);  // so the controller skips the status write
  EXPECT_TRUE(r2.events.empty());
}

TEST_F(Decide, ReadyMeansAtThePlanNotAbove) {
  step(obs(1, 1));
  step(obs(4, 4));
  text.replace(text.find("tokensPerMinute: 5000000"), 24, "tokensPerMinute: 2000000");
  generation = 2;
  step(obs(4, 4));          // the scale-down to 2P2D is written
  auto [i, r] = step(obs(2, 2, 4, 4));  // workloads at 2, but 4 pods still ready
  EXPECT_EQ(cond(r.status, "Ready"), "ScalingInProgress");
  auto [i2, r2] = step(obs(2, 2));
  EXPECT_EQ(cond(r2.status, "Ready"), "AsPlanned");
}

TEST_F(Decide, LastTransitionTimeMovesOnlyWhenStatusFlips) {
  step(obs(1, 1));
  const std::string t0 = cond(status, "Ready", "lastTransitionTime");
  step(obs(4, 4, 2, 2));  // still not ready: same status, new message
  EXPECT_EQ(cond(status, "Ready", "lastTransitionTime"), t0);
  step(obs(4, 4));
  EXPECT_NE(cond(status, "Ready", "lastTransitionTime"), t0);
}

TEST_F(Decide, ExternalOverrideIsReassertedByDefault) {
  step(obs(1, 1));
  auto [i, r] = step(obs(7, 4));  // someone scaled prefill to 7
  EXPECT_TRUE(i.prefill.override_detected);
  ASSERT_TRUE(i.prefill.write);
  EXPECT_EQ(*i.prefill.write, 4);
  EXPECT_TRUE(has_event(r, "ExternalOverride"));
  EXPECT_EQ(cond(r.status, "ExternalOverride"), "Reasserted");
}

TEST_F(Decide, YieldStopsWritingUntilTheSpecChanges) {
  text.replace(text.find("rounding: Ceil"), 14, "rounding: Ceil, onOverride: Yield");
  step(obs(1, 1));
  auto [i, r] = step(obs(7, 4));
  EXPECT_FALSE(i.prefill.write);
  EXPECT_TRUE(i.yielded);
  EXPECT_EQ(r.status.yielded_generation, 1);
  EXPECT_EQ(cond(r.status, "ScalingActive"), "Yielded");
  auto [i2, r2] = step(obs(7, 4));  // still yielded, no new event
  EXPECT_FALSE(i2.prefill.write);
  EXPECT_FALSE(has_event(r2, "ExternalOverride"));
  generation = 2;  // the spec was edited
  auto [i3, r3] = step(obs(7, 4));
  EXPECT_FALSE(i3.prefill.override_detected);
  ASSERT_TRUE(i3.prefill.write);
  EXPECT_EQ(*i3.prefill.write, 4);
  EXPECT_FALSE(r3.status.yielded_generation);
}

TEST_F(Decide, RecommendNeverWrites) {
  text.replace(text.find("mode: Auto"), 10, "mode: Recommend");
  auto [i, r] = step(obs(1, 1));
  EXPECT_FALSE(i.prefill.write);
  EXPECT_FALSE(i.decode.write);
  EXPECT_EQ(*r.status.plan, "4P4D");
  EXPECT_EQ(cond(r.status, "ScalingActive"), "RecommendOnly");
  EXPECT_FALSE(r.status.prefill->applied_replicas);
}

TEST_F(Decide, InvalidSpecIsAConditionNotAWrite) {
  text.replace(text.find("mode: Auto"), 10, "mode: Sometimes");
  auto [i, r] = step(obs(1, 1));
  EXPECT_FALSE(i.valid);
  EXPECT_EQ(cond(r.status, "Ready"), "InvalidSpec");
  EXPECT_NE(cond(r.status, "Ready", "message").find("spec.mode"), std::string::npos);
  EXPECT_TRUE(has_event(r, "InvalidSpec"));
  auto [i2, r2] = step(obs(1, 1));
  EXPECT_FALSE(has_event(r2, "InvalidSpec"));  // said once, not every reconcile
}

TEST_F(Decide, InfeasibleIsAConditionWithTheNumbers) {
  text.replace(text.find("tpot: 20ms, ttft"), 16, "tpot: 5ms, ttft");
  auto [i, r] = step(obs(1, 1));
  EXPECT_FALSE(i.prefill.write);
  EXPECT_EQ(cond(r.status, "Ready"), "Infeasible");
  EXPECT_NE(cond(r.status, "Ready", "message").find("9 ms, above slo.tpot 5 ms"), std::string::npos);
  EXPECT_TRUE(has_event(r, "Infeasible"));
}

TEST_F(Decide, MissingTargetIsRetried) {
  Observation o = obs(1, 1);
  o.decode = {false, true, "deployments.apps \"dsv31-decode\" not found", 0, 0, {}};
  Intent i = intend(o);
  Report r = report(o, i, {i.prefill.write.has_value(), true, ""}, {});
  EXPECT_FALSE(i.decode.write);
  EXPECT_TRUE(r.retry_soon);
  EXPECT_EQ(cond(r.status, "Ready"), "TargetNotFound");
  EXPECT_TRUE(has_event(r, "TargetNotFound"));
}

TEST_F(Decide, FailedWriteKeepsTheOldRecordAndSaysSo) {
  Observation o = obs(1, 1);
  Intent i = intend(o);
  Report r = report(o, i, {true, false, "connection refused"}, {true, true, ""});
  EXPECT_FALSE(r.status.prefill->applied_replicas);
  EXPECT_EQ(r.status.decode->applied_replicas, 4);
  EXPECT_TRUE(has_event(r, "FailedRescale"));
  EXPECT_EQ(cond(r.status, "Degraded"), "ApiError");
  EXPECT_TRUE(r.retry_soon);
}

TEST_F(Decide, LimitedPlanSaysWhichConstraintBinds) {
  text.replace(text.find("maxReplicas: 16"), 15, "maxReplicas: 2");
  auto [i, r] = step(obs(1, 1));
  EXPECT_EQ(*i.prefill.write, 2);
  EXPECT_EQ(cond(r.status, "ScalingLimited"), "MaxReplicas");
  EXPECT_NE(cond(r.status, "ScalingLimited", "message").find("prefill.maxReplicas"), std::string::npos);
}

TEST_F(Decide, NoConditionMessageIsEmpty) {
  step(obs(1, 1));
  auto [i, r] = step(obs(4, 4));
  for (const auto& c : r.status.conditions) EXPECT_FALSE(c.message.empty()) << c.type;
}

}  // namespace
}  // namespace pdscaler::reconcile

#include <yaml-cpp/yaml.h>

namespace pdscaler::reconcile {
namespace {

// Every key the reconciler writes into status must be declared in the CRD, or the API server
// prunes it silently (and with it the state the next reconcile needs).
void expect_declared(const json& value, const YAML::Node& schema, const std::string& path) {
  if (schema["x-kubernetes-preserve-unknown-fields"].IsDefined()) return;
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      const YAML::Node sub = schema["properties"][it.key()];
      ASSERT_TRUE(sub.IsDefined()) << path + "." + it.key() << " is not in the CRD's status schema";
      expect_declared(it.value(), sub, path + "." + it.key());
    }
  } else if (value.is_array()) {
    for (const auto& e : value) expect_declared(e, schema["items"], path + "[]");
  }
}

TEST_F(Decide, EveryStatusFieldIsInTheCrdSchema) {
  const YAML::Node crd = YAML::LoadFile(std::string(PDSCALER_SOURCE_DIR) + "/crds/pdscaler.io_pddeployments.yaml");
  const YAML::Node schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"];
  text.replace(text.find("rounding: Ceil"), 14, "rounding: Ceil, onOverride: Yield");
  step(obs(1, 1));
  auto [i, r] = step(obs(7, 4));  // yielded: every optional field is present
  ASSERT_TRUE(r.status.yielded_generation);
  expect_declared(api::encode_status(r.status), schema, "status");
}

}  // namespace
}  // namespace pdscaler::reconcile

namespace pdscaler::reconcile {
namespace {

LiveLoad live_at(double rps, const std::string& text) {
  auto d = spec_of(text);
  planner::Autoscaler a(d->plan, testing::autoscaler_config(60, 15, 0));
  LiveLoad l;
  l.available = true;
  l.observed.requests_per_s = rps;
  l.observed.mean_input = 6144;
  l.observed.mean_output = 512;
  l.recommendation = a.step(testing::load_at(0, rps, 6144, 512), 1, 1);
  l.evaluated_at = api::parse_time("2026-11-22T00:00:00Z");
  return l;
}

TEST_F(Decide, LiveLoadDrivesTheCounts) {
  Observation o = obs(1, 1);
  o.live = live_at(8e6 / 60 / 6656, text);  // measured 8 M tokens/min, declared 5 M
  Intent i = intend(o);
  ASSERT_TRUE(i.prefill.write);
  EXPECT_EQ(*i.prefill.write, 5);
  EXPECT_EQ(*i.decode.write, 7);
  Report r = report(o, i, {true, true, ""}, {true, true, ""});
  EXPECT_EQ(*r.status.plan, "5P7D");
  EXPECT_NEAR(*r.status.metrics->requests_per_s, 8e6 / 60 / 6656, 1e-9);
  EXPECT_EQ(cond(r.status, "MetricsAvailable"), "Queried");
}

// What the controller reports after `failures` failed evaluations in a row.
LiveLoad failing(int failures) {
  LiveLoad l;
  l.error = "Prometheus unreachable: connection refused";
  l.failures = failures;
  return l;
}

TEST_F(Decide, MissingMetricsHoldTheReplicasAndSaySoOnce) {
  step(obs(1, 1));
  Observation o = obs(6, 3);
  o.live = failing(1);
  Intent i = intend(o);
  EXPECT_FALSE(i.prefill.write);  // held at 6 and 3, not the declared 4P4D
  EXPECT_FALSE(i.decode.write);
  EXPECT_EQ(i.prefill.desired, 6);
  Report r = report(o, i, {}, {});
  EXPECT_EQ(cond(r.status, "MetricsAvailable"), "FailedGetMetrics");
  EXPECT_NE(cond(r.status, "MetricsAvailable", "message").find("connection refused"), std::string::npos);
  EXPECT_TRUE(has_event(r, "FailedGetMetrics"));
  status = r.status;
  Observation again = obs(6, 3);
  again.live = o.live;
  Report r2 = report(again, intend(again), {}, {});
  EXPECT_FALSE(has_event(r2, "FailedGetMetrics"));
  // And the last good recommendation is not used while the metrics are missing.
  o.live->recommendation = live_at(1, text).recommendation;
  EXPECT_EQ(intend(o).prefill.desired, 6);
}

}  // namespace
}  // namespace pdscaler::reconcile

namespace pdscaler::reconcile {
namespace {

std::string with_metrics(std::string text, const std::string& extra) {
  const std::string at = "  scaling: {rounding: Ceil}";
  text.replace(text.find(at), at.size(),
               at + "\n  metrics: {prometheus: {url: \"http://127.0.0.1:9\"}, prefillSelector: 'job=\"p\"', "
                    "decodeSelector: 'job=\"d\"'" + extra + "}");
  return text;
}

TEST_F(Decide, FallbackReplicasAfterNFailedEvaluationsNeverBelowCurrent) {
  text = with_metrics(text, ", fallback: {afterFailures: 3, prefillReplicas: 6, decodeReplicas: 2}");
  step(obs(1, 1));
  Observation o = obs(4, 4);
  o.live = failing(2);
  Intent i = intend(o);
  EXPECT_FALSE(i.prefill.write) << "two failures: still holding";
  o.live->failures = 3;
  i = intend(o);
  ASSERT_TRUE(i.prefill.write);
  EXPECT_EQ(*i.prefill.write, 6);
  EXPECT_FALSE(i.decode.write) << "the fallback's 2 decode is below the 4 running: kept";
  Report r = report(o, i, {true, true, ""}, {});
  EXPECT_NE(cond(r.status, "MetricsAvailable", "message").find("3 failed evaluations in a row: fallback replicas 6P2D"),
            std::string::npos);
}

TEST_F(Decide, StatusCarriesCalibrationPredictionAndHistoryThatReadBack) {
  Observation o = obs(4, 4);
  o.live = live_at(12.5, text);
  o.live->generation = 1;
  o.live->history = {{1'800'000'000, 12.5, 4, 4, 3.2, 3.9}, {1'800'000'015, 13.0, 5, 4}};
  o.live->startup_s = 420;
  o.live->startup_source = "measured: median creation to Ready of the newest pods (2 prefill, 2 decode)";
  o.live->recommendation->calibration = {0.9, 1.05, 12, "used"};
  o.live->recommendation->predicted_now = planner::Prediction{};
  o.live->recommendation->predicted_now->ttft_mean_s = 0.8;
  o.live->recommendation->predicted_now->tpot_s = 0.019;
  Report r = report(o, intend(o), {}, {});
  const json m = api::encode_status(r.status)["metrics"];
  EXPECT_EQ(m["calibration"]["prefillThroughputFactor"], 0.9);
  EXPECT_EQ(m["calibration"]["lastWindow"], "used");
  EXPECT_EQ(m["predictedTtftSeconds"], 0.8);
  ASSERT_EQ(m["history"].size(), 2u);
  EXPECT_EQ(m["history"][1]["time"], "2027-01-15T08:00:15Z");
  EXPECT_EQ(m["history"][0]["prefillNeed"], 3.2);
  EXPECT_FALSE(m["history"][1].contains("prefillNeed")) << "an unknown need is left out, not written as null";

  SavedLiveState saved = saved_live_state(r.status, 1);
  ASSERT_EQ(saved.history.size(), 2u);
  EXPECT_EQ(saved.history[1].t_s, 1'800'000'015);
  EXPECT_EQ(saved.history[1].prefill, 5);
  EXPECT_EQ(saved.history[0].prefill_need, 3.2);
  EXPECT_EQ(saved.history[0].decode_need, 3.9);
  EXPECT_TRUE(std::isnan(saved.history[1].prefill_need)) << "no need saved: the count stands in when replayed";
  ASSERT_TRUE(saved.calibration);
  EXPECT_EQ(saved.calibration->prefill_throughput, 0.9);
  EXPECT_EQ(saved.calibration->windows, 12);
  ASSERT_TRUE(saved.measured_startup_s);
  EXPECT_EQ(*saved.measured_startup_s, 420);
  // Another generation: the history still applies, the calibration does not.
  saved = saved_live_state(r.status, 2);
  EXPECT_EQ(saved.history.size(), 2u);
  EXPECT_FALSE(saved.calibration);
  // A start-up time that came from the spec is not a measurement: the new spec's applies.
  o.live->startup_source = "spec.metrics.startupTime (no ready pods measured yet)";
  EXPECT_FALSE(saved_live_state(report(o, intend(o), {}, {}).status, 1).measured_startup_s);
  // A mangled status restores what it can and never throws.
  json bad = api::encode_status(r.status);
  bad["metrics"]["history"][0]["prefill"] = "many";
  bad["metrics"]["history"][1]["decodeNeed"] = -2;
  bad["metrics"]["calibration"]["prefillThroughputFactor"] = -1;
  bad["metrics"]["startupSeconds"] = "soon";
  std::vector<std::string> warnings;
  saved = saved_live_state(api::decode_status(bad, warnings), 1);
  ASSERT_EQ(saved.history.size(), 1u) << "the entry whose prefill does not read is dropped";
  EXPECT_TRUE(std::isnan(saved.history[0].decode_need)) << "a negative need is no need";
  EXPECT_FALSE(saved.calibration) << "a negative factor is not restored";
  EXPECT_FALSE(saved.measured_startup_s);
  EXPECT_FALSE(warnings.empty());
  saved = saved_live_state(api::decode_status(json("nonsense"), warnings), 1);
  EXPECT_TRUE(saved.history.empty());
}

TEST_F(Decide, StatusSetsTheObservedSharesWithinTheSloBesideThePredictedOnes) {
  text = with_metrics(text, "");
  text.replace(text.find("ttftPercentile: 0"), 17, "attainment: 99");
  Observation o = obs(4, 4);
  o.live = live_at(12.5, text);
  o.live->observed.arrival_dispersion = 2.4;
  o.live->observed.prefill_waiting = 3;
  // TTFT target 2 s: 90 of 100 within 1 s, 96 within 2.5 s, so 90 + 6 * (1 / 1.5) = 94 within 2 s.
  o.live->observed.ttft_histogram = {{0.5, 60}, {1.0, 90}, {2.5, 96}, {INFINITY, 100}};
  // TPOT target 20 ms: all 50 within 25 ms, 30 within 10 ms, so 30 + 20 * (10 / 15) within 20 ms.
  o.live->observed.tpot_histogram = {{0.01, 30}, {0.025, 50}, {INFINITY, 50}};
  o.live->recommendation->predicted_now = planner::Prediction{};
  o.live->recommendation->predicted_now->ttft_attainment = 0.995;
  o.live->recommendation->predicted_now->tpot_attainment = 0.99;
  o.live->recommendation->predicted_now->attainment = 0.995 * 0.99;
  const json m = api::encode_status(report(o, intend(o), {}, {}).status)["metrics"];
  EXPECT_EQ(m["attainmentTarget"], 99);
  EXPECT_EQ(m["arrivalDispersion"], 2.4);
  EXPECT_EQ(m["plannedArrivalDispersion"], o.live->recommendation->dispersion);
  EXPECT_EQ(m["prefillWaiting"], 3);
  EXPECT_NEAR(m["observedTtftShare"].get<double>(), 94, 1e-9);
  EXPECT_NEAR(m["observedTpotShare"].get<double>(), 100.0 * (30 + 20 * 10.0 / 15) / 50, 1e-9);
  EXPECT_EQ(m["observedTpotShareOf"], "requests") << "vLLM's TPOT histogram is per request";
  EXPECT_NEAR(m["predictedTtftShare"].get<double>(), 99.5, 1e-9);
  EXPECT_NEAR(m["predictedAttainment"].get<double>(), 98.505, 1e-9);
  // A window whose histograms were not read shows no share rather than a made-up one.
  o.live->observed.ttft_histogram.clear();
  const json n = api::encode_status(report(o, intend(o), {}, {}).status)["metrics"];
  EXPECT_FALSE(n.contains("observedTtftShare"));
}

TEST_F(Decide, ObservedSharesFollowTheModelInsideTheBucketThatHoldsTheTarget) {
  // All 300 requests took 10-25 ms per token (vLLM's bucket), the target is 20 ms: read linearly
  // that is 66.7% whatever they did. With a prediction for the serving fleet the bucket is split
  // by the model's distribution of TPOT there.
  text = with_metrics(text, "");
  text.replace(text.find("ttftPercentile: 0"), 17, "attainment: 99");
  Observation o = obs(4, 4);
  o.live = live_at(12.5, text);
  planner::Autoscaler a(spec_of(text)->plan, testing::autoscaler_config(60, 15, 0));
  planner::LoadSample s = testing::load_at(0, 12.5);
  s.prefill_ready = s.decode_ready = 4;
  o.live->recommendation = a.step(s, 4, 4);
  const planner::Recommendation& r = *o.live->recommendation;
  ASSERT_TRUE(r.input_now);
  EXPECT_EQ(r.prefill_now, 4);
  o.live->observed.tpot_histogram = {{0.01, 0}, {0.025, 300}, {0.05, 300}, {INFINITY, 300}};
  o.live->observed.ttft_histogram = {{0.5, 0}, {5.0, 100}, {INFINITY, 100}};
  const json m = api::encode_status(report(o, intend(o), {}, {}).status)["metrics"];
  const planner::AttainmentModel model(*r.input_now);
  auto F = [&](double t) { return model.tpot_within(r.rate_now, 4, 4, t); };
  const double expected = 100 * (F(0.02) - F(0.01)) / (F(0.025) - F(0.01));
  EXPECT_NEAR(m["observedTpotShare"].get<double>(), expected, 1e-9);
  EXPECT_GT(expected, 75) << "the model puts most of the 10-25 ms bucket below 20 ms (mean step about 14 ms)";
  auto G = [&](double t) { return model.ttft_within(r.rate_now, 4, t); };
  EXPECT_NEAR(m["observedTtftShare"].get<double>(), 100 * (G(2.0) - G(0.5)) / (G(5.0) - G(0.5)), 1e-9);
  // Without a prediction (no ready counts: a restored state), linear.
  o.live->recommendation->input_now.reset();
  const json n = api::encode_status(report(o, intend(o), {}, {}).status)["metrics"];
  EXPECT_NEAR(n["observedTpotShare"].get<double>(), 100 * 2.0 / 3, 1e-9);
}

}  // namespace
}  // namespace pdscaler::reconcile

namespace pdscaler::reconcile {
namespace {

const auto kNow = std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
std::string at(int seconds_from_now) {
  return api::format_time(kNow + std::chrono::seconds(seconds_from_now));
}

std::vector<api::Pod> decoded(const std::vector<json>& pods) {
  std::vector<api::Pod> out;
  for (const auto& p : pods) out.push_back(api::decode_pod(p).value);
  return out;
}

json running_pod(int created, int ready) {
  return {{"metadata", {{"name", "p"}, {"creationTimestamp", at(created)}}},
          {"spec", {{"nodeName", "gpu-node-0"}}},
          {"status", {{"conditions", json::array({{{"type", "PodScheduled"}, {"status", "True"}},
                                                  {{"type", "Ready"}, {"status", "True"}, {"lastTransitionTime", at(ready)}}})}}}};
}

json pending_pod(int created, int unschedulable_since) {
  return {{"metadata", {{"name", "q"}, {"creationTimestamp", at(created)}}},
          {"spec", json::object()},
          {"status", {{"phase", "Pending"},
                      {"conditions", json::array({{{"type", "PodScheduled"}, {"status", "False"}, {"reason", "Unschedulable"},
                                                   {"message", "0/6 nodes are available: 6 Insufficient nvidia.com/gpu."},
                                                   {"lastTransitionTime", at(unschedulable_since)}}})}}}};
}

TEST(Pods, SummaryCountsScheduledStuckAndStartUpTimes) {
  json terminating = running_pod(-50, -40);
  terminating["metadata"]["deletionTimestamp"] = at(-1);
  json not_ready = running_pod(-5, 0);
  not_ready["status"]["conditions"][1]["status"] = "False";
  // As some node agents write it (the API allows null): ready, but since when is unknown.
  json no_time = running_pod(-20, -10);
  no_time["status"]["conditions"][1]["lastTransitionTime"] = nullptr;
  const PodSummary s = summarize_pods(
      decoded({running_pod(-600, -510), running_pod(-300, -200), running_pod(-100, -10), pending_pod(-90, -89), terminating,
               not_ready, no_time, json("garbage")}),
      kNow);
  EXPECT_TRUE(s.read);
  EXPECT_EQ(s.scheduled, 5);
  ASSERT_EQ(s.unschedulable_for_s.size(), 1u);
  EXPECT_EQ(s.unschedulable_for_s[0], 89);
  EXPECT_EQ(s.unschedulable_message, "0/6 nodes are available: 6 Insufficient nvidia.com/gpu.");
  EXPECT_EQ(s.startup_s, (std::vector<double>{90, 100, 90})) << "newest first";
  PodSummary slow;
  slow.startup_s = {200, 100, 300, 120};
  EXPECT_EQ(measured_startup_s(s, slow), 160) << "the slower role's median";
  EXPECT_FALSE(measured_startup_s(PodSummary{}, PodSummary{}));
}

class Capacity : public Decide {
 protected:
  // The 4P4D sample (8 GPUs a replica) on a cluster where `fit_p` + `fit_d` pods found GPUs and
  // the rest have been unschedulable for `stuck_s`.
  Observation with_pods(int p, int d, int fit_p, int fit_d, double stuck_s) {
    Observation o = obs(p, d, fit_p, fit_d);
    o.now = kNow;
    for (auto [t, fit, want] : {std::tuple{&o.prefill, fit_p, p}, std::tuple{&o.decode, fit_d, d}}) {
      t->pods.read = true;
      t->pods.scheduled = fit;
      t->pods.unschedulable_for_s.assign(want - fit, stuck_s);
      t->pods.unschedulable_message = "0/6 nodes are available: 6 Insufficient nvidia.com/gpu.";
    }
    return o;
  }
};

TEST_F(Capacity, PodsStuckPastTheTimeoutLimitThePlanToTheSchedulableGpus) {
  text.replace(text.find("rounding: Ceil"), 14, "rounding: Ceil, pendingTimeout: 60s, capacityRetryInterval: 10m");
  step(obs(1, 1));
  // 6 of the 8 pods placed (48 GPUs), 2 decode pods waiting 30 s: not yet.
  Observation o = with_pods(4, 4, 4, 2, 30);
  auto [i1, r1] = step(o);
  EXPECT_FALSE(i1.capacity);
  EXPECT_EQ(cond(r1.status, "CapacityLimited"), "WithinCapacity");
  // Waiting 61 s: plan within 48 GPUs, split for goodput.
  o = with_pods(4, 4, 4, 2, 61);
  auto [i2, r2] = step(o);
  ASSERT_TRUE(i2.capacity);
  EXPECT_EQ(i2.capacity->gpus, 48);
  EXPECT_LE(i2.plan->total_gpus, 48);
  EXPECT_EQ(i2.plan->notation, "3P3D");
  ASSERT_TRUE(i2.decode.write);
  EXPECT_EQ(*i2.decode.write, 3);
  EXPECT_EQ(cond(r2.status, "CapacityLimited"), "InsufficientGpus");
  EXPECT_NE(cond(r2.status, "CapacityLimited", "message").find("0 prefill and 2 decode pods unschedulable for over 1m"),
            std::string::npos);
  EXPECT_TRUE(has_event(r2, "CapacityLimited"));
  EXPECT_EQ(cond(r2.status, "ScalingLimited", "message").rfind("the 48 schedulable GPUs (CapacityLimited) binds", 0), 0u)
      << cond(r2.status, "ScalingLimited", "message");
  EXPECT_EQ(r2.status.capacity->gpus, 48);
  EXPECT_EQ(r2.status.capacity->wanted_gpus, 64);
  const YAML::Node crd = YAML::LoadFile(std::string(PDSCALER_SOURCE_DIR) + "/crds/pdscaler.io_pddeployments.yaml");
  expect_declared(api::encode_status(r2.status), crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"], "status");
  // The stuck pods that predate the limit are on their way out: no new evidence, no new event,
  // and the limit holds.
  Observation later = with_pods(3, 3, 3, 2, 70);
  later.now = kNow + std::chrono::seconds(9);
  auto [i3, r3] = step(later);
  ASSERT_TRUE(i3.capacity);
  EXPECT_FALSE(i3.capacity_new);
  EXPECT_EQ(i3.capacity->gpus, 48);
  EXPECT_EQ(i3.plan->notation, "3P3D");
  EXPECT_FALSE(has_event(r3, "CapacityLimited"));
  // Ten minutes on, the full plan is tried again.
  Observation retry = with_pods(3, 3, 3, 3, 0);
  retry.now = kNow + std::chrono::minutes(10);
  auto [i4, r4] = step(retry);
  EXPECT_FALSE(i4.capacity);
  EXPECT_EQ(i4.plan->notation, "4P4D");
  EXPECT_EQ(cond(r4.status, "CapacityLimited"), "WithinCapacity");
  EXPECT_FALSE(r4.status.capacity);
}

TEST_F(Capacity, UnlistedPodsNeverLimit) {
  Observation o = obs(4, 4);
  Intent i = intend(o);
  EXPECT_FALSE(i.capacity);
  Report r = report(o, i, {}, {});
  EXPECT_EQ(cond(r.status, "CapacityLimited"), "") << "no condition until the pods can be seen";
}

}  // namespace
}  // namespace pdscaler::reconcile
