// The live policy's pieces with a fake clock and scripted load: stabilisation rules, forecast.
#include <gtest/gtest.h>

#include "pdscaler/planner/autoscale.h"
#include "planner/fixtures.h"

namespace pdscaler::planner {
namespace {

TEST(Stabilizer, ScalesUpAtOnce) {
  Stabilizer s;
  EXPECT_EQ(s.apply(0, 3, 2.5, 3), 3);
  EXPECT_EQ(s.apply(15, 7, 6.2, 3), 7);
}

TEST(Stabilizer, StepLimitCapsScaleUp) {
  Stabilizer s({300, 2, 0.1});
  EXPECT_EQ(s.apply(0, 9, 8.5, 3), 5);
}

TEST(Stabilizer, ScalesDownOnlyAfterTheWindowOnItsHighest) {
  Stabilizer s({300, 0, 0.0});
  EXPECT_EQ(s.apply(0, 6, 5.5, 6), 6);
  EXPECT_EQ(s.apply(100, 3, 2.5, 6), 6);   // 6 still in the window
  EXPECT_EQ(s.apply(200, 4, 3.5, 6), 6);
  EXPECT_EQ(s.apply(301, 2, 1.5, 6), 4);   // 6 left the window; 4 (t=200) is the highest
  EXPECT_EQ(s.apply(501, 2, 1.5, 4), 2);
}

TEST(Stabilizer, DeadBandHoldsNearTheBoundary) {
  Stabilizer s({0, 0, 0.1});
  EXPECT_EQ(s.apply(0, 4, 3.7, 5), 5);   // 3.7 > 4 * 0.9: within the band, keep 5
  EXPECT_EQ(s.apply(15, 4, 3.5, 5), 4);  // clearly below: scale down
}

TEST(Forecaster, FollowsATrendAhead) {
  Forecaster f;
  for (int i = 0; i <= 20; ++i) f.observe(i * 15.0, 10 + i * 1.5);  // +0.1 req/s per second
  EXPECT_NEAR(f.forecast(0, 0), 40, 1.5);
  EXPECT_NEAR(f.forecast(60, 0), 46, 2.0);
}

TEST(Forecaster, NeverForecastsBelowTheLevelOnAFall) {
  Forecaster f;
  for (int i = 0; i <= 20; ++i) f.observe(i * 15.0, 40 - i * 1.5);
  EXPECT_GE(f.forecast(60, 0), f.forecast(0, 0) - 1e-9);
}

TEST(Autoscaler, PlansTheMeasuredLoadWithMeasuredLengths) {
  Autoscaler a(testing::paper_example(), {60, 15, 0, {}});
  LoadSample s{0, 5e6 / 60 / 6656, 6144, 512, std::nullopt};
  Recommendation r = a.step(s, 1, 1);
  EXPECT_EQ(r.prefill, 4);
  EXPECT_EQ(r.decode, 4);
  EXPECT_NEAR(r.provisioned_rate, s.requests_per_s, 1e-9);
}

TEST(Autoscaler, IdleWindowsDoNotEraseTheLengths) {
  Autoscaler a(testing::paper_example(), {60, 15, 0, {}});
  a.step({0, 12.52, 6144, 512, std::nullopt}, 4, 4);
  Recommendation r = a.step({15, 0, 0, 0, std::nullopt}, 4, 4);  // no requests: no lengths
  EXPECT_EQ(r.plan.d.input_length, 6144);
  EXPECT_EQ(r.prefill, 4);  // and no scale-down inside the window
}

}  // namespace
}  // namespace pdscaler::planner

namespace pdscaler::planner {
namespace {

TEST(Forecaster, ALevelShiftDoesNotInflateTheMarginBeyondTheCap) {
  Forecaster f;
  for (int i = 0; i < 10; ++i) f.observe(i * 5.0, 5);
  for (int i = 10; i < 14; ++i) f.observe(i * 5.0, 12.5);  // a step up
  EXPECT_LE(f.forecast(0, 1.28), f.forecast(0, 0) * (1 + Forecaster::kMaxMargin) + 1e-9);
}

}  // namespace
}  // namespace pdscaler::planner

namespace pdscaler::planner {
namespace {

TEST(Autoscaler, NoScaleDownRightAfterAMetricsGap) {
  AutoscalerConfig c{5, 5, 0, {30, 0, 0.1}};
  Autoscaler a(testing::paper_example(), c);
  a.step({0, 12.52, 6144, 512, std::nullopt}, 4, 4);
  for (int t = 5; t <= 60; t += 5) a.hold(t, 4, 4);  // Prometheus away for a minute
  Recommendation r = a.step({65, 2, 6144, 512, std::nullopt}, 4, 4);  // first point after the gap
  EXPECT_EQ(r.prefill, 4) << "a scale-down needs a window of good data, not one point";
  for (int t = 70; t <= 100; t += 5) r = a.step({static_cast<double>(t), 2, 6144, 512, std::nullopt}, 4, 4);
  EXPECT_LT(r.prefill, 4);
}

}  // namespace
}  // namespace pdscaler::planner
