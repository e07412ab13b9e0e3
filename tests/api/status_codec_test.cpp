// The status codec: what is written reads back equal (so an unchanged status is never rewritten),
// and a status someone else mangled reads as far as it can, with warnings, never an exception.
#include <gtest/gtest.h>

#include "pdscaler/api/status_codec.h"

namespace pdscaler::api {
namespace {

using nlohmann::json;

PDDeploymentStatus full_status() {
  PDDeploymentStatus s;
  s.observed_generation = 3;
  s.yielded_generation = 2;
  s.plan = "4P4D";
  s.prefill = RoleStatus{4, 4, 3, 32, "3/4", 4};
  s.decode = RoleStatus{4, 5, 5, 32, "5/4", std::nullopt};
  Decision d;
  d.plan = "4P4D";
  d.feasible = true;
  d.meets_slo = true;
  d.inputs = {83333.3, 12.52, 6144, 512, "2s", "20ms", 0};
  d.explanation = {{"prefillThroughput", 25066.315789473683}, {"ttftAtFleet", std::nullopt}};
  d.time = parse_time("2026-11-22T20:41:07Z");
  s.last_decision = d;
  MetricsStatus m;
  m.available = true;
  m.consecutive_failures = 0;
  m.last_evaluation = parse_time("2026-11-22T20:41:05Z");
  m.requests_per_s = 12.5;
  m.forecast = "holt p90";
  m.calibration = CalibrationStatus{0.9, 1.05, 12, "used", 3};
  m.history = {{*parse_time("2026-11-22T20:40:50Z"), 12.0, 4, 4, 3.6, 3.1, 2},
               {*parse_time("2026-11-22T20:41:05Z"), 12.5, 4, 5, std::nullopt, std::nullopt, std::nullopt}};
  m.startup_s = 61.5;
  m.startup_source = "measured";
  s.metrics = m;
  s.capacity = CapacityStatus{48, *parse_time("2026-11-22T20:30:00Z"), "2 pods unschedulable", 64};
  s.conditions = {{"Ready", ConditionStatus::True, "AsPlanned", "plan 4P4D", parse_time("2026-11-22T20:41:07Z"), 3},
                  {"Degraded", ConditionStatus::False, "AsExpected", "fine", parse_time("2026-11-22T20:00:00Z"), 3}};
  return s;
}

TEST(StatusCodec, WhatIsWrittenReadsBackEqual) {
  const PDDeploymentStatus s = full_status();
  const json j = encode_status(s);
  EXPECT_EQ(j["prefill"]["appliedReplicas"], 4);
  EXPECT_FALSE(j["decode"].contains("appliedReplicas")) << "absent optionals are left out";
  EXPECT_TRUE(j["lastDecision"]["explanation"]["ttftAtFleet"].is_null()) << "an unbounded quantity is null";
  EXPECT_EQ(j["conditions"][0]["lastTransitionTime"], "2026-11-22T20:41:07Z");
  EXPECT_EQ(j["metrics"]["history"][1]["decode"], 5);
  EXPECT_EQ(j["metrics"]["history"][0]["prefillNeed"], 3.6);
  EXPECT_FALSE(j["metrics"]["history"][1].contains("decodeNeed")) << "saved by an older operator: no need";
  EXPECT_EQ(j["metrics"]["history"][0]["evaluations"], 2);
  std::vector<std::string> warnings;
  // Through text, as the API server stores and returns it.
  const PDDeploymentStatus back = decode_status(json::parse(j.dump()), warnings);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  EXPECT_EQ(back, s);
  EXPECT_EQ(decode_status(json::parse(encode_status(PDDeploymentStatus{}).dump()), warnings), PDDeploymentStatus{});
}

TEST(StatusCodec, GoWritesWholeFloatsWithoutAFraction) {
  json j = encode_status(full_status());
  j["metrics"]["requestsPerSecond"] = 12;  // Go's encoding of 12.0
  j["prefill"]["gpus"] = 32.0;             // and another writer's of an integer
  std::vector<std::string> warnings;
  const PDDeploymentStatus s = decode_status(j, warnings);
  EXPECT_TRUE(warnings.empty());
  EXPECT_EQ(*s.metrics->requests_per_s, 12.0);
  EXPECT_EQ(s.prefill->gpus, 32);
}

TEST(StatusCodec, OddFieldsAreUnknownWithAWarningNeverAnException) {
  json j = encode_status(full_status());
  j["plan"] = nullptr;                                  // null: unknown
  j["prefill"]["gpus"] = "thirty-two";                  // wrong type in a required field: the role is unknown
  j["metrics"]["history"][0]["time"] = "yesterday";     // that entry is unknown, the other reads
  j["metrics"]["requestsPerSecond"] = json::array();    // an optional field: just that field
  j["conditions"][1]["status"] = "Maybe";               // an unknown value
  j["conditions"].push_back(42);                        // not a condition at all
  j["capacity"] = "full";
  j["somethingNew"] = {{"from", "a newer operator"}};   // unknown fields are ignored
  std::vector<std::string> warnings;
  const PDDeploymentStatus s = decode_status(j, warnings);
  EXPECT_FALSE(s.plan);
  EXPECT_FALSE(s.prefill);
  EXPECT_TRUE(s.decode);
  ASSERT_TRUE(s.metrics);
  ASSERT_EQ(s.metrics->history.size(), 1u);
  EXPECT_EQ(s.metrics->history[0].decode, 5);
  EXPECT_FALSE(s.metrics->requests_per_s);
  ASSERT_EQ(s.conditions.size(), 2u);
  EXPECT_EQ(s.conditions[1].status, ConditionStatus::Unknown);
  EXPECT_FALSE(s.capacity);
  std::string all;
  for (const auto& w : warnings) all += w + "\n";
  for (const char* path : {"status.plan", "status.prefill.gpus", "status.metrics.history[0].time",
                           "status.metrics.requestsPerSecond", "status.conditions[1].status", "status.conditions[2]",
                           "status.capacity"})
    EXPECT_NE(all.find(std::string(path) + ":"), std::string::npos) << path << " in\n" << all;
  for (const json& nonsense : {json("text"), json(nullptr), json::array(), json(3)}) {
    warnings.clear();
    EXPECT_EQ(decode_status(nonsense, warnings), PDDeploymentStatus{});
  }
}

TEST(StatusCodec, MergePatchTurnsOneIntoTheOther) {
  const json from = {{"a", 1}, {"b", {{"x", 1}, {"y", 2}}}, {"c", json::array({1, 2})}, {"gone", true}};
  const json to = {{"a", 1}, {"b", {{"x", 1}, {"z", 3}}}, {"c", json::array({1})}, {"new", "n"}};
  const json patch = merge_patch(from, to);
  EXPECT_EQ(patch, json({{"b", {{"y", nullptr}, {"z", 3}}}, {"c", json::array({1})}, {"gone", nullptr}, {"new", "n"}}));
  json applied = from;
  applied.merge_patch(patch);
  EXPECT_EQ(applied, to);
  EXPECT_EQ(merge_patch(to, to), json::object());
}

TEST(PDDeploymentObject, SpecDecodedOncePerGeneration) {
  json obj = {{"apiVersion", "pdscaler.io/v1alpha1"},
              {"kind", "PDDeployment"},
              {"metadata", {{"name", "a"}, {"namespace", "n"}, {"uid", "u1"}, {"generation", 1}, {"resourceVersion", "7"}}},
              {"spec", {{"slo", {{"ttft", "2s"}}}}},
              {"status", encode_status(full_status())}};
  const PDDeployment first = decode_pddeployment(obj);
  EXPECT_FALSE(first.spec);
  EXPECT_NE(first.spec_error.find("spec.slo.tpot: required field is missing"), std::string::npos) << first.spec_error;
  EXPECT_EQ(first.metadata.resource_version, "7");
  EXPECT_EQ(first.status, full_status());
  // Same uid and generation (a status update): the previous decoding is kept, the spec not read.
  obj["spec"] = "not even a map";
  obj["metadata"]["resourceVersion"] = "8";
  const PDDeployment second = decode_pddeployment(obj, &first);
  EXPECT_EQ(second.spec_error, first.spec_error);
  EXPECT_EQ(second.metadata.resource_version, "8");
  // A new generation is decoded again.
  obj["metadata"]["generation"] = 2;
  const PDDeployment third = decode_pddeployment(obj, &second);
  EXPECT_NE(third.spec_error.find("spec: expected a map"), std::string::npos) << third.spec_error;
  EXPECT_FALSE(decode_pddeployment_text("[1, 2]"));
  EXPECT_TRUE(decode_pddeployment_text(obj.dump()));
}

}  // namespace
}  // namespace pdscaler::api
