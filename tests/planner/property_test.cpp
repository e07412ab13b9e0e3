// Properties over many random specs: monotonicity in load and SLOs, model equivalences, and that
// results stay within min/max and the GPU budget (and the budget split is the best one).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>

#include "pdscaler/planner/plan.h"
#include "planner/fixtures.h"

namespace pdscaler::planner {
namespace {

constexpr int kCases = 3000;

class RandomSpecs {
 public:
  explicit RandomSpecs(uint64_t seed) : rng_(seed) {}

  double uniform(double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng_); }
  int integer(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }

  PlanInput next() {
    PlanInput in;
    in.slo.ttft_s = uniform(0.2, 5);
    in.slo.tpot_s = uniform(0.01, 0.08);
    in.slo.ttft_percentile = integer(0, 1) ? 0 : uniform(50, 99.9);
    in.workload.rate = uniform(0, 2e6);
    in.workload.input_length = uniform(100, 16000);
    in.workload.output_length = uniform(10, 2000);
    std::vector<ProfilePoint> prefill;
    for (int i = 0, n = integer(1, 6); i < n; ++i)
      prefill.push_back({uniform(50, 20000), uniform(3000, 60000)});
    in.prefill.max_throughput = *Profile::build(prefill, ProfileShape::Free);
    in.prefill.overhead_s = uniform(0, 0.2);
    in.prefill.data_parallel_size = integer(1, 4);
    in.prefill.queue_model = static_cast<QueueModel>(integer(0, 1));
    in.prefill.gpus_per_replica = integer(1, 8);
    in.prefill.min_replicas = integer(0, 3);
    in.prefill.max_replicas = in.prefill.min_replicas + integer(1, 200);
    std::vector<ProfilePoint> decode;
    double tpot = uniform(0.004, 0.02), batch = 1;
    for (int i = 0, n = integer(1, 8); i < n; ++i) {
      decode.push_back({batch, tpot});
      batch += integer(1, 64);
      tpot += uniform(0, 0.01);
    }
    in.decode.tpot_by_batch = *Profile::build(decode, ProfileShape::NonDecreasing);
    in.decode.gpus_per_replica = integer(1, 8);
    in.decode.min_replicas = integer(0, 3);
    in.decode.max_replicas = in.decode.min_replicas + integer(1, 200);
    in.rounding = integer(0, 1) ? Rounding::Ceil : Rounding::Nearest;
    if (integer(0, 2) == 0) in.max_total_gpus = integer(1, 400);
    return in;
  }

 private:
  std::mt19937_64 rng_;
};

TEST(Properties, MoreLoadNeverGivesFewerReplicas) {
  RandomSpecs gen(1);
  int checked = 0;
  for (int i = 0; i < kCases; ++i) {
    PlanInput in = gen.next();
    in.max_total_gpus.reset();
    const Plan lo = plan(in);
    in.workload.rate *= gen.uniform(1, 3);
    const Plan hi = plan(in);
    ASSERT_EQ(lo.feasible, hi.feasible);
    if (!lo.feasible) continue;
    ++checked;
    EXPECT_GE(hi.prefill.replicas, lo.prefill.replicas) << i;
    EXPECT_GE(hi.decode.replicas, lo.decode.replicas) << i;
  }
  EXPECT_GT(checked, kCases / 4);
}

TEST(Properties, TighterTtftOrHigherPercentileNeverGivesFewerPrefill) {
  RandomSpecs gen(2);
  int checked = 0;
  for (int i = 0; i < kCases; ++i) {
    PlanInput in = gen.next();
    in.max_total_gpus.reset();
    const Plan base = plan(in);
    PlanInput tighter = in;
    tighter.slo.ttft_s *= gen.uniform(0.5, 1);
    // A higher percentile is harder than a lower one; the mean sits at p63.2 (factor 1).
    PlanInput tail = in;
    const double p = in.slo.ttft_percentile > 0 ? in.slo.ttft_percentile : 100 * (1 - std::exp(-1.0));
    tail.slo.ttft_percentile = p + gen.uniform(0, 0.9) * (100 - p);
    for (const PlanInput& harder : {tighter, tail}) {
      const Plan h = plan(harder);
      if (!base.feasible) {
        EXPECT_FALSE(h.feasible) << i;  // a harder target cannot become feasible
        continue;
      }
      if (!h.feasible) continue;
      ++checked;
      EXPECT_GE(h.prefill.replicas, base.prefill.replicas) << i;
      EXPECT_GE(h.d.prefill_exact, base.d.prefill_exact * (1 - 1e-12)) << i;
    }
  }
  EXPECT_GT(checked, kCases / 4);
}

TEST(Properties, MG1EqualsMM1AtExponentialAndMD1AtFixedService) {
  RandomSpecs gen(3);
  for (int i = 0; i < kCases; ++i) {
    PlanInput in = gen.next();
    in.max_total_gpus.reset();
    in.prefill.max_throughput = testing::constant_profile(gen.uniform(3000, 60000));
    PlanInput mm1 = in, md1 = in, exp_g = in, fixed_g = in;
    mm1.prefill.queue_model = QueueModel::MM1;
    md1.prefill.queue_model = QueueModel::MD1;
    // Exponential lengths: standard deviation equals the mean, so E[S^2] = 2 E[S]^2.
    exp_g.prefill.queue_model = QueueModel::MG1;
    exp_g.workload.input_length_stddev = in.workload.input_length;
    fixed_g.prefill.queue_model = QueueModel::MG1;
    fixed_g.workload.input_length_stddev = 0;
    const Plan a = plan(mm1), b = plan(exp_g), c = plan(md1), d = plan(fixed_g);
    ASSERT_EQ(a.feasible, b.feasible) << i;
    ASSERT_EQ(c.feasible, d.feasible) << i;
    EXPECT_NEAR(a.d.max_rate_per_prefill, b.d.max_rate_per_prefill, 1e-9 * a.d.max_rate_per_prefill) << i;
    EXPECT_NEAR(c.d.max_rate_per_prefill, d.d.max_rate_per_prefill, 1e-9 * c.d.max_rate_per_prefill) << i;
    EXPECT_EQ(a.prefill.replicas, b.prefill.replicas) << i;
    EXPECT_EQ(c.prefill.replicas, d.prefill.replicas) << i;
  }
}

TEST(Properties, ResultsStayWithinLimitsAndBudget) {
  RandomSpecs gen(4);
  int budgeted = 0;
  for (int i = 0; i < kCases; ++i) {
    const PlanInput in = gen.next();
    const Plan p = plan(in);
    if (!p.feasible) continue;
    EXPECT_GE(p.prefill.replicas, in.prefill.min_replicas) << i;
    EXPECT_LE(p.prefill.replicas, in.prefill.max_replicas) << i;
    EXPECT_GE(p.decode.replicas, in.decode.min_replicas) << i;
    EXPECT_LE(p.decode.replicas, in.decode.max_replicas) << i;
    EXPECT_EQ(p.total_gpus, p.prefill.replicas * in.prefill.gpus_per_replica +
                                p.decode.replicas * in.decode.gpus_per_replica);
    if (in.max_total_gpus) {
      EXPECT_LE(p.total_gpus, *in.max_total_gpus) << i;
    }
    if (!in.max_total_gpus || p.limits.empty() || p.limits.back() != Constraint::MaxTotalGpus)
      continue;
    ++budgeted;
    // No other split within the limits and the budget sustains more.
    const double per_p = p.d.max_rate_per_prefill;
    const double per_d = p.d.decode_throughput / p.d.output_length;
    const double got = std::min(p.prefill.replicas * per_p, p.decode.replicas * per_d);
    for (int np = in.prefill.min_replicas; np <= in.prefill.max_replicas; ++np)
      for (int nd = in.decode.min_replicas; nd <= in.decode.max_replicas; ++nd) {
        if (np * in.prefill.gpus_per_replica + nd * in.decode.gpus_per_replica > *in.max_total_gpus)
          break;
        ASSERT_LE(std::min(np * per_p, nd * per_d), got * (1 + 1e-9)) << i << " " << np << " " << nd;
      }
  }
  EXPECT_GT(budgeted, 50);
}

TEST(Properties, CeilPlansMeetTheirOwnPrediction) {
  RandomSpecs gen(5);
  for (int i = 0; i < kCases; ++i) {
    PlanInput in = gen.next();
    in.max_total_gpus.reset();
    in.rounding = Rounding::Ceil;
    in.prefill.max_replicas = in.decode.max_replicas = 1000000;
    const Plan p = plan(in);
    if (!p.feasible || in.workload.rate == 0) continue;
    EXPECT_TRUE(p.meets_slo) << i;
    EXPECT_LE(p.predicted.ttft_at_percentile_s, in.slo.ttft_s * (1 + 1e-9)) << i;
    EXPECT_LE(p.predicted.tpot_s, in.slo.tpot_s * (1 + 1e-9)) << i;
  }
}

}  // namespace
}  // namespace pdscaler::planner
