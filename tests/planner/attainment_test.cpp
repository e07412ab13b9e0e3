// The per-request tail model and sizing for an attainment target: closed forms where they exist
// (M/M/c waits, the paper's median), properties over random specs, and a small model-against-
// simulator check (the full grid is tests/bench/tail_check.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pdscaler/planner/plan.h"
#include "pdscaler/sim/policies.h"
#include "planner/fixtures.h"

namespace pdscaler::planner {
namespace {

TEST(Tails, ErlangCMatchesTheClosedForm) {
  EXPECT_NEAR(erlang_c(1, 0.7), 0.7, 1e-12);  // M/M/1: an arrival waits with probability rho
  // Two servers: C = 2 rho^2 / (1 + rho), rho = a / 2.
  const double rho = 0.6;
  EXPECT_NEAR(erlang_c(2, 2 * rho), 2 * rho * rho / (1 + rho), 1e-12);
  EXPECT_DOUBLE_EQ(erlang_c(3, 3.5), 1);  // overloaded
}

TEST(Tails, MmcWaitIsExact) {
  // Exponential service: theta = c mu - lambda and P(W > 0) = Erlang C.
  PrefillQueue q;
  q.servers = 4;
  q.lambda = 30;
  q.exponential_service = true;
  q.classes = {{1, 0.1, 0}};
  const WaitTail w = wait_tail(q);
  EXPECT_NEAR(w.theta, 4 / 0.1 - 30, 1e-6);
  EXPECT_NEAR(w.p_wait, erlang_c(4, 3), 1e-6);
}

TEST(Tails, MdOneDecaysAtTheCramerLundbergRate) {
  // M/D/1 at rho 0.8, D = 1: theta solves 0.8 (e^theta - 1) = theta (0.4308...), and the prefactor
  // is close to the Cramer-Lundberg constant (1 - rho) / (lambda e^theta - 1) = 0.871.
  PrefillQueue q;
  q.servers = 1;
  q.lambda = 0.8;
  q.classes = {{1, 1, 0}};
  const WaitTail w = wait_tail(q);
  EXPECT_NEAR(0.8 * std::expm1(w.theta), w.theta, 1e-9);
  EXPECT_NEAR(w.theta, 0.4308, 1e-3);
  EXPECT_NEAR(w.p_wait, 0.2 / (0.8 * std::exp(w.theta) - 1), 0.02);
  EXPECT_NEAR(w.mean_wait_s, 0.8 / (2 * 0.2), 1e-9);  // Pollaczek-Khinchine
}

TEST(Tails, GammaTailIsAPointWithoutVariance) {
  EXPECT_EQ(gamma_exceeds(10, 0, 11), 0);
  EXPECT_EQ(gamma_exceeds(10, 0, 9), 1);
  // Shape 1 is exponential: P(X > x) = exp(-x / mean).
  EXPECT_NEAR(gamma_exceeds(2, 4, 3), std::exp(-1.5), 1e-9);
  EXPECT_NEAR(gamma_exceeds(1000, 100, 1000), 0.5, 0.01);  // large shape: nearly normal
}

// One prefill instance queue, the paper's example (M/M/1, TTFT only: decode far inside TPOT).
PlanInput median_case() {
  PlanInput in = testing::paper_example();
  in.slo.tpot_s = 0.5;
  in.prefill.routing = Routing::Random;
  in.slo.attainment = 50;
  return in;
}

TEST(Attainment, FiftyPercentWithMm1MatchesTheMedianFormula) {
  // The M/M/1 sojourn is exponential with rate mu - lambda: its median is ln 2 / (mu - lambda),
  // so per instance TP_p = TPmax - L_in ln 2 / (TTFT - T_oh), as the exponential bound gives at p50.
  PlanInput in = median_case();
  const AttainmentModel m(in);
  const double mu = 28300 / 6144.0, budget = 2.0 - 0.1;
  const double lambda_max = mu - std::log(2.0) / budget;
  EXPECT_NEAR(m.max_rate_ttft(1, 0.5), lambda_max, 1e-5 * lambda_max);
  EXPECT_NEAR(m.max_rate_ttft(5, 0.5), 5 * lambda_max, 5e-5 * lambda_max);  // random routing: 5 such queues
  PlanInput mean = in;
  mean.slo.attainment.reset();
  mean.slo.ttft_percentile = 50;
  EXPECT_NEAR(plan(mean).d.max_rate_per_prefill, lambda_max, 1e-9);
}

// Random specs for the properties: table profiles, any routing, some burstiness and length spread.
PlanInput random_spec(std::mt19937_64& rng) {
  auto u = [&](double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); };
  PlanInput in = testing::paper_example();
  in.slo.ttft_s = u(0.4, 4);
  in.slo.tpot_s = u(0.015, 0.05);
  in.workload.rate_unit = RateUnit::RequestsPerSecond;
  in.workload.rate = u(0.5, 60);
  in.workload.input_length = u(500, 8000);
  in.workload.output_length = u(20, 800);
  if (u(0, 1) < 0.5) in.workload.input_length_stddev = in.workload.input_length * u(0.2, 1.5);
  if (u(0, 1) < 0.5) in.workload.output_length_stddev = in.workload.output_length * u(0.2, 1.5);
  in.workload.arrival_dispersion = u(0, 1) < 0.5 ? 1 : u(0.5, 6);
  in.prefill.queue_model = in.workload.input_length_stddev ? QueueModel::MG1 : QueueModel::MD1;
  in.prefill.routing = u(0, 1) < 0.5 ? Routing::LeastLoaded : Routing::Random;
  in.decode.routing = u(0, 1) < 0.5 ? Routing::LeastLoaded : Routing::Random;
  in.prefill.max_replicas = in.decode.max_replicas = 100000;
  in.slo.attainment = u(90, 99.9);
  return in;
}

TEST(Attainment, AHigherTargetNeverGivesFewerReplicas) {
  std::mt19937_64 rng(21);
  int checked = 0;
  for (int i = 0; i < 300; ++i) {
    PlanInput in = random_spec(rng);
    const Plan lo = plan(in);
    in.slo.attainment = std::min(99.99, *in.slo.attainment + 0.5);
    const Plan hi = plan(in);
    if (!lo.feasible || !hi.feasible) continue;
    ++checked;
    EXPECT_GE(hi.total_gpus, lo.total_gpus) << i;
    EXPECT_GE(hi.predicted.attainment, *in.slo.attainment / 100 - 1e-9) << i;
  }
  EXPECT_GT(checked, 200);
}

TEST(Attainment, LeastLoadedNeverNeedsMorePrefillThanRandom) {
  std::mt19937_64 rng(5);
  for (int i = 0; i < 300; ++i) {
    PlanInput in = random_spec(rng);
    in.prefill.routing = Routing::LeastLoaded;
    const AttainmentModel pooled(in);
    PlanInput r = in;
    r.prefill.routing = Routing::Random;
    const AttainmentModel separate(r);
    for (int n : {1, 2, 4, 8, 16}) {
      EXPECT_GE(pooled.ttft(in.workload.rate, n), separate.ttft(in.workload.rate, n) - 1e-9) << i << " n " << n;
    }
  }
}

TEST(Attainment, ThePlannedFleetIsTheCheapestThatReachesTheTarget) {
  std::mt19937_64 rng(8);
  for (int i = 0; i < 200; ++i) {
    const PlanInput in = random_spec(rng);
    const Plan p = plan(in);
    if (!p.feasible) continue;
    const AttainmentModel m(in);
    const double a = *in.slo.attainment / 100, lambda = in.workload.rate;
    auto share = [&](int np, int nd) { return m.ttft(lambda, np) * m.tpot(lambda, nd, np); };
    EXPECT_GE(share(p.prefill.replicas, p.decode.replicas), a - 1e-9) << i;
    // No fleet with fewer GPUs reaches it: check one fewer of either role.
    if (p.prefill.replicas > 1) {
      EXPECT_LT(share(p.prefill.replicas - 1, p.decode.replicas), a) << i;
    }
    if (p.decode.replicas > 1) {
      EXPECT_LT(share(p.prefill.replicas, p.decode.replicas - 1), a) << i;
    }
  }
}

TEST(Attainment, WithoutATargetThePaperIsUntouched) {
  const Plan p = plan(testing::paper_example());
  EXPECT_EQ(p.notation, "4P4D");
  EXPECT_NEAR(p.d.prefill_throughput, 28300 - 6144 / 1.9, 1e-6);
  EXPECT_EQ(p.d.attainment_target, 0);
  // The per-request shares are reported beside the means.
  EXPECT_GT(p.predicted.ttft_attainment, 0.5);
  EXPECT_LE(p.predicted.attainment, 1);
}

TEST(Attainment, Mm1PercentileTtftIsTheExponentialSojournsQuantile) {
  // M/M/1 per instance (random routing): the sojourn is exponential with rate mu - lambda, so the
  // p99 TTFT is the overhead plus ln(100) / (mu - lambda). (The quantile search used to count a
  // request as on time below its own overhead, and reported about 0 s.)
  PlanInput in = median_case();
  in.slo.attainment = 99;
  const Plan p = plan(in);
  ASSERT_TRUE(p.feasible);
  const int n = p.prefill.replicas;
  const double mu = 28300 / 6144.0, lambda = p.d.request_rate / n;
  EXPECT_NEAR(p.predicted.ttft_at_percentile_s, 0.1 + std::log(100.0) / (mu - lambda), 1e-6);
  const AttainmentModel m(in);
  EXPECT_EQ(m.ttft_within(p.d.request_rate, n, 0.1), 0) << "nothing is served within its overhead";
}

TEST(Attainment, TheDistributionFunctionsAgreeWithTheSharesAndTheQuantile) {
  std::mt19937_64 rng(13);
  int checked = 0;
  for (int i = 0; i < 60; ++i) {
    const PlanInput in = random_spec(rng);
    const Plan p = plan(in);
    if (!p.feasible) continue;
    ++checked;
    const AttainmentModel m(in);
    const double rate = p.d.request_rate;
    const int np = p.prefill.replicas, nd = p.decode.replicas;
    EXPECT_DOUBLE_EQ(m.tpot_within(rate, nd, np, in.slo.tpot_s), m.tpot(rate, nd, np)) << i;
    // The share within the p-quantile TTFT is p (of all requests, infeasible ones late).
    const double q = p.predicted.ttft_at_percentile_s;
    if (std::isfinite(q)) {
      EXPECT_GE(m.ttft_within(rate, np, q), *in.slo.attainment / 100 - 1e-6) << i;
    }
    double last_ttft = 0, last_tpot = 0;
    for (double f = 0.05; f <= 4; f *= 1.3) {
      const double a = m.ttft_within(rate, np, f * in.slo.ttft_s), b = m.tpot_within(rate, nd, np, f * in.slo.tpot_s);
      EXPECT_GE(a, last_ttft - 1e-9) << i << " at " << f;
      EXPECT_GE(b, last_tpot - 1e-9) << i << " at " << f;
      EXPECT_LE(a, 1 + 1e-12);
      EXPECT_LE(b, 1 + 1e-12);
      last_ttft = a;
      last_tpot = b;
    }
  }
  EXPECT_GT(checked, 40);
}

TEST(OutputLengths, AHistogramBecomesWeightedPointsInsideItsBuckets) {
  // vLLM-style cumulative buckets: 10 requests of 6..10 tokens, 20 of 11..20, 2 beyond 20.
  const std::vector<std::pair<double, double>> h = {{5, 0}, {10, 10}, {20, 30}, {INFINITY, 32}};
  const auto pts = lengths_from_histogram(h, /*mean=*/16);
  double total = 0, sum = 0;
  for (const auto& b : pts) {
    EXPECT_GE(b.length, 6) << "no point below the first bucket holding requests";
    total += b.weight;
    sum += b.weight * b.length;
  }
  EXPECT_NEAR(total, 32, 1e-9);
  EXPECT_NEAR(sum / total, 16, 1e-9) << "the +Inf bucket's point makes the mean the measured one";
  EXPECT_GT(pts.back().length, 20);
  // A narrow bucket gets its whole lengths; an empty histogram gives nothing.
  const auto one = lengths_from_histogram({{1, 0}, {2, 4}, {INFINITY, 4}});
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].length, 2);
  EXPECT_TRUE(lengths_from_histogram({{10, 0}, {INFINITY, 0}}).empty());
  // A fixed length in a wide bucket keeps its mean: 512 tokens in (500, 1000].
  const auto fixed = lengths_from_histogram({{500, 0}, {1000, 7}, {INFINITY, 7}}, 512);
  double n = 0, m = 0;
  for (const auto& b : fixed) {
    EXPECT_GT(b.length, 500);
    EXPECT_LE(b.length, 1000);
    n += b.weight, m += b.weight * b.length;
  }
  EXPECT_NEAR(m / n, 512, 1e-9);
}

TEST(OutputLengths, AFloorOnOutputLengthsNeedsNoMoreDecodeThanTheLognormal) {
  // Outputs as on the Azure code trace: most 6..20 tokens, a long tail, none under 6. The
  // lognormal of the same mean and spread has a share of 1-3 token requests, whose TPOT the wait
  // for the next step boundary dominates; the measured points have none, so the same fleet meets
  // TPOT more often and the plan needs no more decode.
  PlanInput in = testing::paper_example();
  in.slo.attainment = 99;
  in.workload.rate_unit = RateUnit::RequestsPerSecond;
  in.workload.input_length = 2048;
  PlanInput pts = in;
  auto& d = pts.workload.output_length_distribution;
  for (int len = 6; len <= 20; ++len) d.push_back({static_cast<double>(len), 4});
  d.push_back({60, 10});
  d.push_back({400, 3});
  double n = 0, m1 = 0, m2 = 0;
  for (const auto& b : d) n += b.weight, m1 += b.weight * b.length, m2 += b.weight * b.length * b.length;
  in.workload.output_length = m1 / n;
  in.workload.output_length_stddev = std::sqrt(m2 / n - (m1 / n) * (m1 / n));
  const AttainmentModel lognormal(in), measured(pts);
  for (double rps : {20.0, 40.0}) {
    in.workload.rate = pts.workload.rate = rps;
    EXPECT_GT(measured.tpot(rps, 1, 4), lognormal.tpot(rps, 1, 4)) << rps;
    const Plan a = plan(in), b = plan(pts);
    ASSERT_TRUE(a.feasible && b.feasible);
    EXPECT_LE(b.decode.replicas, a.decode.replicas) << rps;
    EXPECT_NEAR(b.d.output_length, m1 / n, 1e-9) << "the mean comes from the points";
  }
}

// The model against the simulator on a small grid (fast): pooled M/D/c prefill and decode at
// moderate and high load; the highest load meeting p99 within 5% of the simulated one.
TEST(ModelAgainstSimulator, PrefillPercentilesOnASmallGrid) {
  for (int n : {2, 8}) {
    for (double rho : {0.8, 0.95}) {
      PlanInput in = testing::paper_example();
      in.workload.output_length = 1;
      in.slo.attainment = 99;
      in.prefill.queue_model = QueueModel::MD1;
      const double s = 6144 / 28300.0, lambda = rho * n / s;
      sim::RateSegment seg;
      seg.requests_per_s = lambda;
      const auto load = sim::renewal_load({seg}, 60000 / lambda, sim::LengthModel::fixed(6144, 1), 3);
      sim::FleetConfig cfg;
      cfg.model = in;
      cfg.initial_prefill = n;
      cfg.initial_decode = 1;
      sim::StaticPolicy pol(n, 1);
      const double p99 = sim::simulate(*load, cfg, pol).summary.ttft.p99;
      in.slo.ttft_s = p99;
      const double model = AttainmentModel(in).max_rate_ttft(n, 0.99);
      EXPECT_NEAR(model / lambda, 1, 0.05) << n << " instances at " << rho;
    }
  }
}

TEST(ModelAgainstSimulator, DecodePercentilesOnASmallGrid) {
  for (int n : {1, 4}) {
    for (double batch : {16.0, 30.0}) {
      PlanInput in = testing::paper_example();
      in.workload.input_length = 100;
      in.workload.output_length = 300;
      in.prefill.max_throughput = testing::constant_profile(1e9);
      in.prefill.overhead_s = 0;
      in.slo.attainment = 99;
      const double lambda = n * batch / (299 * in.decode.tpot_by_batch.at(batch).value);
      sim::RateSegment seg;
      seg.requests_per_s = lambda;
      const auto load = sim::renewal_load({seg}, 40000 / lambda, sim::LengthModel::fixed(100, 300), 3);
      sim::FleetConfig cfg;
      cfg.model = in;
      cfg.initial_prefill = 2;
      cfg.initial_decode = n;
      sim::StaticPolicy pol(2, n);
      const double p99 = sim::simulate(*load, cfg, pol).summary.tpot.p99;
      in.slo.tpot_s = p99;
      const double model = AttainmentModel(in).max_rate_tpot(n, 0.99);
      EXPECT_NEAR(model / lambda, 1, 0.05) << n << " instances at batch " << batch;
    }
  }
}

}  // namespace
}  // namespace pdscaler::planner
