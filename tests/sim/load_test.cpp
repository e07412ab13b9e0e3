// Generated loads: the renewal generator reaches its rate and burstiness, ramps and per-segment
// lengths work, load curves parse (errors name line and column) and replay with gaps filled and
// the dispersion of a thinned load.
#include <gtest/gtest.h>

#include <cmath>

#include "pdscaler/sim/load.h"
#include "pdscaler/sim/stats.h"

namespace pdscaler::sim {
namespace {

// Index of dispersion of counts in windows of `w` seconds.
double dispersion_of_counts(const Trace& t, double w) {
  std::vector<double> counts(static_cast<size_t>(t.duration_s / w), 0);
  for (const auto& r : t.requests) {
    const auto k = static_cast<size_t>(r.arrival_s / w);
    if (k < counts.size()) counts[k] += 1;
  }
  double mean = 0, var = 0;
  for (double c : counts) mean += c;
  mean /= static_cast<double>(counts.size());
  for (double c : counts) var += (c - mean) * (c - mean);
  var /= static_cast<double>(counts.size() - 1);
  return var / mean;
}

// Squared coefficient of variation of the gaps between arrivals.
double gap_scv(const Trace& t) {
  double sum = 0, sq = 0;
  const size_t n = t.requests.size() - 1;
  for (size_t i = 0; i < n; ++i) {
    const double g = t.requests[i + 1].arrival_s - t.requests[i].arrival_s;
    sum += g;
    sq += g * g;
  }
  const double mean = sum / static_cast<double>(n);
  return (sq / static_cast<double>(n) - mean * mean) / (mean * mean);
}

TEST(Load, PoissonArrivalsHaveDispersionOne) {
  const Trace t = poisson({{0, 20, false}}, 20000, LengthModel::fixed(100, 10), 3);
  EXPECT_NEAR(static_cast<double>(t.requests.size()) / 20000, 20, 0.2);
  EXPECT_NEAR(gap_scv(t), 1, 0.05);
  EXPECT_NEAR(dispersion_of_counts(t, 60), 1, 0.1);
}

TEST(Load, BurstinessGeneratorReachesItsDispersionWithinTenPercent) {
  for (double c2 : {4.0, 16.0}) {
    RateSegment s;
    s.requests_per_s = 20;
    s.dispersion = c2;
    const Trace t = poisson({s}, 200000, LengthModel::fixed(100, 10), 11);
    EXPECT_NEAR(static_cast<double>(t.requests.size()) / 200000, 20, 20 * 0.03) << c2;
    EXPECT_NEAR(gap_scv(t), c2, 0.1 * c2) << c2;
    // Counts over windows long against the mean gap: the index of dispersion tends to c2.
    EXPECT_NEAR(dispersion_of_counts(t, 100), c2, 0.1 * c2) << c2;
  }
}

TEST(Load, RampsAndStepsFollowTheSchedule) {
  // 0 -> 20 req/s linearly over 1000 s: 10,000 requests, half of them in the first 707 s.
  const Trace t = poisson({{0, 0, true}, {1000, 20, false}}, 1000, LengthModel::fixed(100, 10), 5);
  EXPECT_NEAR(static_cast<double>(t.requests.size()), 10000, 400);
  size_t early = 0;
  for (const auto& r : t.requests) early += r.arrival_s < 1000 / std::sqrt(2.0);
  EXPECT_NEAR(static_cast<double>(early) / static_cast<double>(t.requests.size()), 0.5, 0.02);
}

TEST(Load, SegmentsCarryTheirOwnLengths) {
  RateSegment a{0, 10, false, 1, 500, 50}, b{100, 10, false, 1, 2000, 200};
  const Trace t = poisson({a, b}, 200, LengthModel::lognormal(1000, 100, 1, 1), 2);
  double sum[2] = {0, 0}, n[2] = {0, 0};
  for (const auto& r : t.requests) {
    const int k = r.arrival_s < 100 ? 0 : 1;
    sum[k] += r.input_tokens;
    n[k] += 1;
  }
  EXPECT_NEAR(sum[0] / n[0], 500, 60);
  EXPECT_NEAR(sum[1] / n[1], 2000, 240);
}

TEST(Load, ReadersAreIndependentAndDeterministic) {
  const auto load = renewal_load({{0, 5, false}}, 100, LengthModel::lognormal(100, 10, 1, 1), 9);
  auto r1 = load->read();
  Request q;
  ASSERT_TRUE(r1->next(q));
  auto r2 = load->read();  // starts again from the first request
  Request p;
  ASSERT_TRUE(r2->next(p));
  EXPECT_EQ(q.arrival_s, p.arrival_s);
  EXPECT_EQ(q.input_tokens, p.input_tokens);
  const Trace a = materialise(*load), b = materialise(*renewal_load({{0, 5, false}}, 100, LengthModel::lognormal(100, 10, 1, 1), 9));
  ASSERT_EQ(a.requests.size(), b.requests.size());
  for (size_t i = 0; i < a.requests.size(); ++i) EXPECT_EQ(a.requests[i].arrival_s, b.requests[i].arrival_s);
  const Trace c = materialise(*renewal_load({{0, 5, false}}, 100, LengthModel::lognormal(100, 10, 1, 1), 10));
  EXPECT_NE(a.requests.front().arrival_s, c.requests.front().arrival_s);
}

const char* kCurve =
    "window_start_s,requests_per_s,index_of_dispersion,mean_input_tokens,mean_output_tokens\n"
    "0,100.0,5.0,500.0,100.0\n"
    "600,0.0000,0.000,0.0,0.0\n"
    "1200,0.0000,0.000,0.0,0.0\n"
    "1800,400.0,11.0,800.0,40.0\n"
    "2400,200.0,1.0,0.0,0.0\n";

TEST(Load, CurveGapsAreInterpolatedAndThinningLowersTheDispersion) {
  auto w = parse_load_curve(kCurve);
  ASSERT_TRUE(w) << w.error();
  ASSERT_EQ(w->size(), 5u);
  EXPECT_TRUE((*w)[1].gap);
  EXPECT_FALSE((*w)[4].gap);  // a rate without lengths is not a gap
  const auto s = curve_schedule(*w, 0.1, 1);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_DOUBLE_EQ(s[0].requests_per_s, 10);
  EXPECT_DOUBLE_EQ(s[0].dispersion, 1 + 0.1 * (5 - 1));
  EXPECT_NEAR(s[1].requests_per_s, 20, 1e-9);  // a third of the way from 100 to 400, scaled
  EXPECT_NEAR(s[2].requests_per_s, 30, 1e-9);
  EXPECT_NEAR(s[1].mean_input, 600, 1e-9);
  EXPECT_NEAR(s[4].mean_input, 800, 1e-9);  // lengths missing: the last window that had them
  EXPECT_NEAR(s[4].mean_output, 40, 1e-9);
  const auto fast = curve_schedule(*w, 1, 10);  // ten times as fast: same requests
  EXPECT_DOUBLE_EQ(fast[3].start_s, 180);
  EXPECT_DOUBLE_EQ(fast[3].requests_per_s, 4000);
  EXPECT_DOUBLE_EQ(fast[3].dispersion, 11);
}

TEST(Load, CurveErrorsNameLineAndColumn) {
  auto bad = parse_load_curve("window_start_s,requests_per_s,index_of_dispersion,mean_input_tokens,mean_output_tokens\n"
                              "0,1,1,1,1\n600,-3,1,1,1\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "line 3: requests_per_s: expected a non-negative number, got \"-3\"");
  auto header = parse_load_curve("start,rate\n0,1\n");
  ASSERT_FALSE(header);
  EXPECT_EQ(header.error(), "line 1: no column \"window_start_s\" in the header");
  auto uneven = parse_load_curve("window_start_s,requests_per_s,index_of_dispersion,mean_input_tokens,mean_output_tokens\n"
                                 "0,1,1,1,1\n600,1,1,1,1\n1000,1,1,1,1\n");
  ASSERT_FALSE(uneven);
  EXPECT_NE(uneven.error().find("evenly spaced"), std::string::npos);
}

TEST(Stats, HistogramQuantilesAreWithinATenthOfAPercent) {
  LogHistogram h;
  std::vector<double> v;
  for (int i = 1; i <= 100000; ++i) {
    const double x = 0.001 * std::pow(1.0001, i);
    h.add(x);
    v.push_back(x);
  }
  for (double p : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = v[static_cast<size_t>(p * (v.size() - 1) + 0.5)];
    EXPECT_NEAR(h.quantile(p), exact, exact * 1e-3) << p;
  }
  h.add(0);
  EXPECT_EQ(h.quantile(0), 0);
}

TEST(Stats, MeanAndStudentInterval) {
  const MeanCi m = mean_ci({1, 2, 3, 4, 5});
  EXPECT_DOUBLE_EQ(m.mean, 3);
  EXPECT_NEAR(m.half_width, 2.776 * std::sqrt(2.5) / std::sqrt(5.0), 1e-9);
  EXPECT_EQ(mean_ci({7}).half_width, 0);
}

}  // namespace
}  // namespace pdscaler::sim
