// Beyond the paper: infeasibility, tails, mixed lengths, DP, prefix cache, KV transfer, limits,
// GPU budgets and predictions. Each expected value is derived by hand in the comment beside it.
#include <gtest/gtest.h>

#include <cmath>

#include "pdscaler/planner/plan.h"
#include "planner/fixtures.h"

namespace pdscaler::planner {
namespace {

using testing::paper_example;

bool mentions(const std::vector<std::string>& lines, const std::string& needle) {
  for (const auto& l : lines)
    if (l.find(needle) != std::string::npos) return true;
  return false;
}

TEST(Infeasible, TtftAtOrBelowOverhead) {
  auto in = paper_example();
  in.slo.ttft_s = 0.1;
  const Plan p = plan(in);
  EXPECT_FALSE(p.feasible);
  EXPECT_EQ(p.notation, "");
  ASSERT_EQ(p.reasons.size(), 1u);
  EXPECT_TRUE(mentions(p.reasons, "slo.ttft 100 ms is not above the TTFT overhead 100 ms"))
      << p.reasons[0];
}

TEST(Infeasible, TtftBudgetBelowOneServiceTime) {
  auto in = paper_example();
  in.slo.ttft_s = 0.3;  // budget 200 ms < 6144 / 28300 s = 217.1 ms
  const Plan p = plan(in);
  EXPECT_FALSE(p.feasible);
  EXPECT_TRUE(mentions(p.reasons, "one prefill service time 217.102 ms")) << p.reasons[0];
  // The reason names the fields a user would change.
  EXPECT_TRUE(mentions(p.reasons, "(slo.ttft)")) << p.reasons[0];
  EXPECT_TRUE(mentions(p.reasons, "from prefill.maxThroughput)")) << p.reasons[0];
}

TEST(Infeasible, NoBatchMeetsTpot) {
  auto in = paper_example();
  in.slo.tpot_s = 0.005;
  const Plan p = plan(in);
  EXPECT_FALSE(p.feasible);
  EXPECT_TRUE(mentions(p.reasons, "smallest measured batch (1 in decode.tpotByBatchSize) is 9 ms, above slo.tpot 5 ms"))
      << p.reasons[0];
}

TEST(Infeasible, ReportsEveryReasonAtOnce) {
  auto in = paper_example();
  in.slo.ttft_s = 0.05;
  in.slo.tpot_s = 0.001;
  EXPECT_EQ(plan(in).reasons.size(), 2u);
}

TEST(Tail, P90PrefillThroughputIsClosedForm) {
  auto in = paper_example();
  in.slo.ttft_percentile = 90;
  const Plan p = plan(in);
  ASSERT_TRUE(p.feasible);
  // TP_p = TPmax - L_in * ln(10) / (TTFT - T_oh)
  EXPECT_NEAR(p.d.prefill_throughput, 28300 - 6144 * std::log(10.0) / 1.9, 1e-6);
  // 3.69 exact replicas against the mean target's 3.07 (both round up to 4).
  EXPECT_NEAR(p.d.prefill_exact, 5e6 / 60 / 6656 * 6144 / (28300 - 6144 * std::log(10.0) / 1.9), 1e-9);
  EXPECT_GT(p.d.prefill_exact, plan(paper_example()).d.prefill_exact);
  EXPECT_LE(p.predicted.ttft_at_percentile_s, 2.0 + 1e-9);
}

TEST(DataParallel, EachGroupIsItsOwnQueue) {
  auto in = paper_example();
  in.prefill.data_parallel_size = 2;
  const Plan p = plan(in);
  // Two M/M/1 queues at 14150 tokens/s each: 2 * (14150 - 6144/1.9).
  EXPECT_NEAR(p.d.prefill_throughput, 2 * (14150 - 6144 / 1.9), 1e-6);
}

TEST(PrefixCache, OnlyTheUncachedPartIsPrefilled) {
  auto in = paper_example();
  in.workload.prefix_cache_hit_rate = 0.5;
  const Plan p = plan(in);
  EXPECT_DOUBLE_EQ(p.d.prefill_length, 3072);
  EXPECT_NEAR(p.d.prefill_throughput, 28300 - 3072 / 1.9, 1e-6);
  // Each replica admits TP_p / 3072 requests/s.
  EXPECT_NEAR(p.d.prefill_exact, p.d.request_rate / ((28300 - 3072 / 1.9) / 3072), 1e-9);
  EXPECT_LT(p.d.prefill_exact, plan(paper_example()).d.prefill_exact / 1.9);
}

TEST(KvTransfer, OverheadGrowsWithInputLength) {
  auto in = paper_example();
  in.prefill.overhead_per_input_token_s = 10e-6;  // 61.44 ms at 6144 tokens
  const Plan p = plan(in);
  EXPECT_NEAR(p.d.overhead_s, 0.16144, 1e-12);
  EXPECT_NEAR(p.d.prefill_throughput, 28300 - 6144 / (2 - 0.16144), 1e-6);
}

TEST(MixedLengths, MG1WithOneLengthIsMD1) {
  auto dist = paper_example();
  dist.prefill.queue_model = QueueModel::MG1;
  dist.workload.input_length_distribution = {{6144, 1}};
  auto md1 = paper_example();
  md1.prefill.queue_model = QueueModel::MD1;
  EXPECT_NEAR(plan(dist).d.prefill_throughput, plan(md1).d.prefill_throughput, 1e-6);
  // Fixed service needs less headroom than exponential service.
  EXPECT_GT(plan(md1).d.prefill_throughput, plan(paper_example()).d.prefill_throughput);
}

TEST(MixedLengths, SpreadOfLengthsNeedsMorePrefill) {
  auto in = paper_example();
  in.prefill.queue_model = QueueModel::MG1;
  in.workload.input_length_distribution = {{2048, 1}, {10240, 1}};  // mean 6144
  const Plan p = plan(in);
  EXPECT_DOUBLE_EQ(p.d.input_length, 6144);
  // E[S] = 6144/28300, E[S^2] = (2048^2 + 10240^2)/2 / 28300^2.
  EXPECT_NEAR(p.d.service_second_moment, (2048.0 * 2048 + 10240.0 * 10240) / 2 / (28300.0 * 28300),
              1e-12);
  auto md1 = paper_example();
  md1.prefill.queue_model = QueueModel::MD1;
  EXPECT_LT(p.d.prefill_throughput, plan(md1).d.prefill_throughput);
}

TEST(Limits, MaxReplicasBindsAndSloIsNotMet) {
  auto in = paper_example();
  in.prefill.max_replicas = 2;
  const Plan p = plan(in);
  ASSERT_TRUE(p.feasible);
  EXPECT_EQ(p.prefill.replicas, 2);
  ASSERT_EQ(p.limits.size(), 1u);
  EXPECT_EQ(p.limits[0], Constraint::PrefillMaxReplicas);
  EXPECT_FALSE(p.meets_slo);
  EXPECT_FALSE(std::isfinite(p.predicted.ttft_mean_s));  // 12.52 req/s on 2 x 4.6 req/s
}

TEST(Limits, MinReplicasBindsButSloIsMet) {
  auto in = paper_example();
  in.decode.min_replicas = 6;
  const Plan p = plan(in);
  EXPECT_EQ(p.decode.replicas, 6);
  EXPECT_EQ(p.limits.at(0), Constraint::DecodeMinReplicas);
  EXPECT_TRUE(p.meets_slo);
}

TEST(Budget, SplitMaximisesGoodputNotAProportionalCut) {
  auto in = paper_example();
  in.max_total_gpus = 56;  // 7 nodes for a 4P4D need
  const Plan p = plan(in);
  ASSERT_TRUE(p.feasible);
  // 3P4D sustains min(3 x 4.08, 4 x 3.32) = 12.24 req/s; 4P3D only min(16.3, 9.96).
  EXPECT_EQ(p.notation, "3P4D");
  EXPECT_EQ(p.total_gpus, 56);
  EXPECT_EQ(p.limits.back(), Constraint::MaxTotalGpus);
}

TEST(Budget, PrefersFewerGpusAtEqualGoodput) {
  auto in = paper_example();
  in.decode.max_replicas = 2;  // decode-bound: extra prefill would be wasted
  in.max_total_gpus = 40;
  const Plan p = plan(in);
  EXPECT_EQ(p.decode.replicas, 2);
  EXPECT_EQ(p.prefill.replicas, 2);  // 2 x 4.08 >= 2 x 3.32; a third prefill adds nothing
}

TEST(Budget, BelowTheMinimumsIsInfeasible) {
  auto in = paper_example();
  in.prefill.min_replicas = 2;
  in.decode.min_replicas = 2;
  in.max_total_gpus = 24;
  const Plan p = plan(in);
  EXPECT_FALSE(p.feasible);
  EXPECT_TRUE(mentions(p.reasons, "scaling.maxTotalGpus 24 is below")) << p.reasons.at(0);
}

TEST(Load, ZeroLoadGivesTheMinimums) {
  auto in = paper_example();
  in.workload.rate = 0;
  in.prefill.min_replicas = 0;
  const Plan p = plan(in);
  EXPECT_EQ(p.notation, "0P1D");
  EXPECT_NEAR(p.d.ratio, 0.814, 0.0005);  // eq. (7) needs no load
}

TEST(Load, RequestsPerSecondIsTheSameLoad) {
  auto in = paper_example();
  in.workload.rate_unit = RateUnit::RequestsPerSecond;
  in.workload.rate = 5e6 / 60 / 6656;
  EXPECT_NEAR(plan(in).d.prefill_exact, plan(paper_example()).d.prefill_exact, 1e-9);
}

TEST(Decode, MaxBatchSizeCapsTheBatch) {
  auto in = paper_example();
  in.decode.max_batch_size = 16;
  const Plan p = plan(in);
  EXPECT_EQ(p.d.decode_batch, 16);
  EXPECT_NEAR(p.d.decode_throughput, 16 / 0.014, 1e-9);
  EXPECT_TRUE(mentions(p.warnings, "decode.maxBatchSize 16"));
}

TEST(Decode, WarnsWhenTheTableEndsBeforeTheTarget) {
  auto in = paper_example();
  in.slo.tpot_s = 0.050;
  const Plan p = plan(in);
  EXPECT_EQ(p.d.decode_batch, 64);
  EXPECT_TRUE(mentions(p.warnings, "largest measured batch 64"));
}

TEST(Predict, TtftAndTpotAtTheChosenFleet) {
  const Plan p = plan(paper_example());
  // 12.52 req/s over 4 prefill replicas: 1/(28300/6144 - 3.13) + 0.1 s.
  const double lambda = 5e6 / 60 / 6656 / 4;
  EXPECT_NEAR(p.predicted.ttft_mean_s, 1 / (28300.0 / 6144 - lambda) + 0.1, 1e-9);
  // Decode: b = x * TPOT(b) with x = 1602.6 tokens/s and TPOT linear between (16,14ms),(34,20ms).
  const double x = 5e6 / 60 / 6656 * 512 / 4;
  const double b = (x * (0.014 - 16 * 0.006 / 18)) / (1 - x * 0.006 / 18);
  EXPECT_NEAR(p.predicted.decode_batch, b, 1e-6);
  EXPECT_NEAR(p.predicted.tpot_s, 0.014 + (b - 16) * 0.006 / 18, 1e-9);
}

TEST(Explain, ListsEveryQuantityOnce) {
  const auto rows = explain(plan(paper_example()));
  EXPECT_GE(rows.size(), 21u);
  bool has_ratio = false;
  for (const auto& r : rows) has_ratio = has_ratio || (r.name == "ratio" && std::abs(r.value - 0.8138) < 1e-3);
  EXPECT_TRUE(has_ratio);
}

}  // namespace
}  // namespace pdscaler::planner
