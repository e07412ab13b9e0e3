// Each condition on its own, as a table: what the reconcile found -> status, reason and the part
// of the message that says why.
#include <gtest/gtest.h>

#include <functional>

#include "pdscaler/reconcile/conditions.h"

namespace pdscaler::reconcile {
namespace {

// A settled Auto fleet at its plan: every condition's healthy case; rows change one thing.
Findings healthy() {
  Findings f;
  f.plan = "4P4D";
  f.prefill_desired = f.decode_desired = f.prefill_current = f.decode_current = f.prefill_ready = f.decode_ready = 4;
  f.pods_listed = true;
  return f;
}

struct Row {
  const char* name;
  std::function<void(Findings&)> change;
  bool status;
  const char* reason;
  const char* message_part;
};

void check(const std::function<std::optional<ConditionUpdate>(const Findings&)>& condition, const std::vector<Row>& rows) {
  for (const auto& row : rows) {
    Findings f = healthy();
    row.change(f);
    const auto u = condition(f);
    ASSERT_TRUE(u) << row.name;
    EXPECT_EQ(u->status, row.status) << row.name;
    EXPECT_EQ(u->reason, row.reason) << row.name;
    EXPECT_NE(u->message.find(row.message_part), std::string::npos) << row.name << ": " << u->message;
    EXPECT_FALSE(u->message.empty()) << row.name;
  }
}

auto nothing = [](Findings&) {};

TEST(Conditions, Ready) {
  check(ready, {
      {"at the plan", nothing, true, "AsPlanned", "prefill 4/4 ready, decode 4/4 ready"},
      {"pods not ready yet", [](Findings& f) { f.decode_ready = 2; }, false, "ScalingInProgress", "decode 2/4 ready"},
      {"a write in flight", [](Findings& f) { f.wrote = true; }, false, "ScalingInProgress", "plan 4P4D"},
      {"above the plan", [](Findings& f) { f.prefill_current = f.prefill_ready = 5; }, false, "ScalingInProgress", "5/4"},
      {"invalid spec", [](Findings& f) { f.invalid_spec = "spec.mode: unknown value"; }, false, "InvalidSpec", "spec.mode"},
      {"infeasible", [](Findings& f) { f.infeasible = "TPOT 9 ms above 5 ms"; }, false, "Infeasible", "9 ms"},
      {"missing target", [](Findings& f) { f.missing = {"decode target Deployment/d not found"}; }, false, "TargetNotFound", "Deployment/d"},
      {"recommend", [](Findings& f) { f.mode = api::Mode::Recommend; }, true, "Recommended", "mode Recommend does not write"},
      {"off", [](Findings& f) { f.mode = api::Mode::Off; }, true, "Off", "mode Off"},
      {"yielded", [](Findings& f) { f.yielded = true; }, false, "Yielded", "onOverride is Yield"},
  });
}

TEST(Conditions, ScalingActive) {
  check(scaling_active, {
      {"writing", nothing, true, "Scaling", "through /scale"},
      {"write failed", [](Findings& f) { f.write_failed = true; f.degraded = {"cannot scale prefill: 503"}; }, false, "FailedRescale", "503"},
      {"invalid spec", [](Findings& f) { f.invalid_spec = std::string("x"); }, false, "InvalidSpec", "spec is invalid"},
      {"infeasible", [](Findings& f) { f.infeasible = std::string("x"); }, false, "Infeasible", "no count can meet"},
      {"missing target", [](Findings& f) { f.missing = {"prefill target Deployment/p not found"}; }, false, "TargetNotFound", "Deployment/p"},
      {"recommend", [](Findings& f) { f.mode = api::Mode::Recommend; }, false, "RecommendOnly", "spec.mode is Recommend"},
      {"off", [](Findings& f) { f.mode = api::Mode::Off; }, false, "Off", "spec.mode is Off"},
      {"yielded", [](Findings& f) { f.yielded = true; }, false, "Yielded", "until the spec changes"},
  });
}

TEST(Conditions, Degraded) {
  check(degraded, {
      {"healthy", nothing, false, "AsExpected", "without errors"},
      {"a failed read", [](Findings& f) { f.degraded = {"cannot read decode target: timeout"}; }, true, "ApiError", "timeout"},
      {"missing only", [](Findings& f) { f.missing = {"gone"}; }, true, "TargetNotFound", "gone"},
      {"missing and failed", [](Findings& f) { f.missing = {"gone"}; f.degraded = {"503"}; }, true, "ApiError", "gone; 503"},
      {"invalid spec", [](Findings& f) { f.invalid_spec = "spec.slo.ttft: required"; }, true, "InvalidSpec", "spec.slo.ttft"},
      {"infeasible is not degraded", [](Findings& f) { f.infeasible = std::string("x"); }, false, "AsExpected", "without errors"},
  });
}

TEST(Conditions, ExternalOverride) {
  api::Condition reasserted{"ExternalOverride", api::ConditionStatus::True, "Reasserted", "prefill set to 7", {}, 3};
  auto at = [&](const api::Condition* previous, std::int64_t gen) {
    return [=](const Findings& f) { return external_override(f, previous, gen); };
  };
  check(at(nullptr, 3), {
      {"none", nothing, false, "NoOverride", "the replicas pdscaler set"},
      {"found, reasserted", [](Findings& f) { f.overrides = {"prefill set to 7 by someone else"}; }, true, "Reasserted", "set to 7"},
      {"found, yielding", [](Findings& f) { f.overrides = {"decode set to 2"}; f.yielded = true; }, true, "Yielded", "set to 2"},
      {"still yielding", [](Findings& f) { f.yielded = true; }, true, "Yielded", "not writing until the spec changes"},
  });
  // The last reasserted override stays shown within its generation, and clears on a new one.
  EXPECT_FALSE(external_override(healthy(), &reasserted, 3));
  check(at(&reasserted, 4), {{"new generation", nothing, false, "NoOverride", "pdscaler set"}});
}

TEST(Conditions, MetricsAvailable) {
  EXPECT_FALSE(metrics_available(healthy())) << "no condition without spec.metrics";
  check(metrics_available, {
      {"measured", [](Findings& f) { f.metrics = MetricsFinding{true, 12.345, "", 0, {}}; }, true, "Queried", "12.3 requests/s"},
      {"no measurement yet", [](Findings& f) { f.metrics = MetricsFinding{}; }, false, "FailedGetMetrics", "no measurement yet; holding"},
      {"failing", [](Findings& f) { f.metrics = MetricsFinding{false, 0, "Prometheus unreachable", 2, api::FallbackSpec{3, 6, 2}}; },
       false, "FailedGetMetrics", "Prometheus unreachable; holding the current replicas"},
      {"fallen back", [](Findings& f) { f.metrics = MetricsFinding{false, 0, "HTTP 503", 3, api::FallbackSpec{3, 6, 2}}; },
       false, "FailedGetMetrics", "3 failed evaluations in a row: fallback replicas 6P2D"},
  });
}

TEST(Conditions, CapacityLimited) {
  const api::Time since = *api::parse_time("2026-11-22T20:00:00Z");
  CapacityFinding binding{true, true, 48, 48, 64, "2 decode pods unschedulable for over 2m", "3P3D", since, since + std::chrono::minutes(10)};
  api::Condition old{"CapacityLimited", api::ConditionStatus::False, "WithinCapacity", "x", {}, 1};
  auto with_previous = [&](const api::Condition* previous) {
    return [=](const Findings& f) { return capacity_limited(f, previous); };
  };
  check(with_previous(nullptr), {
      {"nothing waiting", nothing, false, "WithinCapacity", "no pod of either role is waiting"},
      {"binding", [&](Findings& f) { f.capacity = binding; }, true, "InsufficientGpus",
       "planning within the 48 GPUs that were schedulable: plan 3P3D (48 GPUs) instead of 64 GPUs; the full plan is tried again at 2026-11-22T20:10:00Z"},
      {"a limit that fits", [&](Findings& f) { f.capacity = binding; f.capacity->binds = false; f.capacity->unconstrained_gpus = 40; },
       false, "WithinCapacity", "the plan's 40 GPUs fit the 48 found schedulable at 2026-11-22T20:00:00Z"},
  });
  Findings unlisted = healthy();
  unlisted.pods_listed = false;
  EXPECT_FALSE(capacity_limited(unlisted, nullptr)) << "no condition until the pods can be seen";
  check(with_previous(&old), {{"pods no longer seen", [](Findings& f) { f.pods_listed = false; f.pods_error = "no selector"; },
                               false, "PodsNotListed", "no selector"}});
}

TEST(Conditions, ScalingLimited) {
  check(scaling_limited, {
      {"within limits", nothing, false, "WithinLimits", "the SLO model alone"},
      {"max replicas", [](Findings& f) {
         f.limits = {planner::Constraint::PrefillMaxReplicas};
         f.limit_fields = "prefill.maxReplicas";
         f.prefill_exact = 3.0691;
         f.decode_exact = 3.771;
       }, true, "MaxReplicas", "prefill.maxReplicas binds: the model needs 3.069 prefill and 3.771 decode replicas; plan 4P4D does not meet"},
      {"budget, still meeting", [](Findings& f) {
         f.limits = {planner::Constraint::DecodeMinReplicas, planner::Constraint::MaxTotalGpus};
         f.limit_fields = "decode.minReplicas, the 48 schedulable GPUs (CapacityLimited)";
         f.meets_slo = true;
       }, true, "GpuBudget", "(CapacityLimited) binds"},
      {"min replicas", [](Findings& f) { f.limits = {planner::Constraint::DecodeMinReplicas}; f.meets_slo = true; },
       true, "MinReplicas", "still meets the SLOs"},
  });
}

TEST(Conditions, TransitionTimeMovesOnlyWhenStatusFlips) {
  std::vector<api::Condition> cs;
  const api::Time t0 = *api::parse_time("2026-11-22T20:00:00Z");
  set_condition(cs, {"Ready", false, "ScalingInProgress", "1/4"}, 1, t0 + std::chrono::milliseconds(700));
  ASSERT_EQ(cs.size(), 1u);
  EXPECT_EQ(cs[0].last_transition_time, t0) << "whole seconds, as the status holds them";
  set_condition(cs, {"Ready", false, "ScalingInProgress", "3/4"}, 1, t0 + std::chrono::seconds(5));
  EXPECT_EQ(cs[0].last_transition_time, t0);
  EXPECT_EQ(cs[0].message, "3/4");
  set_condition(cs, {"Ready", true, "AsPlanned", ""}, 2, t0 + std::chrono::seconds(9));
  EXPECT_EQ(cs[0].last_transition_time, t0 + std::chrono::seconds(9));
  EXPECT_EQ(cs[0].message, "AsPlanned") << "never empty";
  EXPECT_EQ(cs[0].observed_generation, 2);
  set_condition(cs, {"Degraded", false, "AsExpected", "fine"}, 2, t0);
  EXPECT_EQ(cs.size(), 2u);
}

}  // namespace
}  // namespace pdscaler::reconcile
