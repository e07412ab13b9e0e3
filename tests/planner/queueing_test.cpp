#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "pdscaler/planner/queueing.h"

namespace pdscaler::planner {
namespace {

TEST(Queueing, MM1MeanSojournIsOneOverMuMinusLambda) {
  const double s = 0.2, lambda = 3;
  const auto m = moments_for(QueueModel::MM1, s, 0);
  EXPECT_NEAR(mean_sojourn(m, lambda), 1 / (1 / s - lambda), 1e-12);
}

TEST(Queueing, MD1IsPollaczekKhinchineWithFixedService) {
  const double s = 0.2, lambda = 3, rho = lambda * s;
  const auto m = moments_for(QueueModel::MD1, s, 0);
  EXPECT_NEAR(mean_sojourn(m, lambda), s + rho * s / (2 * (1 - rho)), 1e-12);
}

TEST(Queueing, MaxArrivalRateInvertsTheSojourn) {
  for (auto model : {QueueModel::MM1, QueueModel::MD1, QueueModel::MG1}) {
    const auto m = moments_for(model, 0.25, 0.25 * 0.25 * 1.7);
    for (double budget : {0.3, 1.0, 5.0}) {
      const double l = max_arrival_rate(m, budget, 1.0);
      EXPECT_NEAR(mean_sojourn(m, l), budget, 1e-9) << static_cast<int>(model) << " " << budget;
    }
  }
}

TEST(Queueing, MaxArrivalRateIsZeroWhenBudgetBelowServiceTime) {
  const auto m = moments_for(QueueModel::MM1, 0.5, 0);
  EXPECT_EQ(max_arrival_rate(m, 0.5, 1.0), 0);
  EXPECT_EQ(max_arrival_rate(m, 0.4, 1.0), 0);
}

TEST(Queueing, TailFactorMatchesExponentialQuantile) {
  EXPECT_EQ(tail_factor(0), 1);
  EXPECT_NEAR(tail_factor(90), std::log(10.0), 1e-12);
  EXPECT_NEAR(tail_factor(99), std::log(100.0), 1e-12);
}

// The M/M/1 sojourn is exponential with rate mu - lambda, so its p90 is ln(10)/(mu - lambda):
// checked against a simulated M/M/1 queue (Lindley recursion), not just the formula.
TEST(Queueing, MM1TailTargetHoldsInASimulatedQueue) {
  const double s = 0.1, budget = 1.0;
  const auto m = moments_for(QueueModel::MM1, s, 0);
  const double lambda = max_arrival_rate(m, budget, tail_factor(90));
  std::mt19937_64 rng(42);
  std::exponential_distribution<double> arrive(lambda), serve(1 / s);
  std::vector<double> sojourn;
  double wait = 0;
  const int n = 400000;
  sojourn.reserve(n);
  for (int i = 0; i < n; ++i) {
    const double service = serve(rng);
    sojourn.push_back(wait + service);
    wait = std::max(0.0, wait + service - arrive(rng));
  }
  std::nth_element(sojourn.begin(), sojourn.begin() + n * 9 / 10, sojourn.end());
  EXPECT_NEAR(sojourn[n * 9 / 10], budget, 0.03);
}

}  // namespace
}  // namespace pdscaler::planner
