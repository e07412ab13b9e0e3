// The live policy's pieces with a fake clock and scripted load: stabilisation rules, forecast.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

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

TEST(Stabilizer, ASteadyNeedGetsNoRoomBeyondItsCount) {
  // 8.3 instances' worth, steady: 9 serve it. (A band of one fewer, 9 * 0.9 = 8.1, would hold 10.)
  Stabilizer s({300, 0, 0.1});
  EXPECT_EQ(s.apply(0, 9, 8.3, 10), 10);  // one need shows no spread yet: the whole band
  EXPECT_EQ(s.apply(15, 9, 8.3, 10), 10);
  EXPECT_EQ(s.apply(30, 9, 8.3, 10), 10);
  EXPECT_EQ(s.apply(45, 9, 8.3, 10), 9);
}

TEST(Stabilizer, AHoveringNeedKeepsRoomForItsSpread) {
  // Needs between 3.5 and 3.95 at 5: 4 would be within the spread of a need that reaches 3.95,
  // so 5 stay; once the needs settle at 3.5 for a window, 4 serve them.
  Stabilizer s({300, 0, 0.1});
  s.remember(0, 5, 5);  // as the autoscaler's first step does with the running fleet
  double t = 15;
  for (int i = 0; i < 40; ++i, t += 15) EXPECT_EQ(s.apply(t, 4, i % 2 ? 3.95 : 3.5, 5), 5) << t;
  int n = 5;
  for (int i = 0; i < 22; ++i, t += 15) n = s.apply(t, 4, 3.5, n);
  EXPECT_EQ(n, 4);
}

TEST(Stabilizer, CountsAsThePlannerRoundsAndHoldsOnANeedThatIsNotANumber) {
  Stabilizer nearest({0, 0, 0.1, /*nearest=*/true});
  EXPECT_EQ(nearest.apply(0, 8, 8.3, 10), 9);  // 8.3 + room 0.83, to the nearest: 9 (up: 10)
  EXPECT_EQ(nearest.apply(15, 8, 8.3, 9), 9);
  Stabilizer s({0, 0, 0.1});
  EXPECT_EQ(s.apply(0, 3, std::nan(""), 10), 10);
  EXPECT_EQ(s.apply(15, 3, std::numeric_limits<double>::infinity(), 10), 10);
}

TEST(Autoscaler, TheScaleDownWindowCoversTheStartUpTime) {
  AutoscalerConfig c = testing::autoscaler_config(600, 60, 0);
  EXPECT_DOUBLE_EQ(Autoscaler(testing::paper_example(), c).scale_down_window_s(), 600);
  c.startup_s = 60;
  Autoscaler a(testing::paper_example(), c);
  EXPECT_DOUBLE_EQ(a.scale_down_window_s(), 300);
  a.set_startup_s(900);  // measured on the cluster
  EXPECT_DOUBLE_EQ(a.scale_down_window_s(), 900);
  c.window_covers_startup = false;  // spec.metrics.scaleDownWindow set
  EXPECT_DOUBLE_EQ(Autoscaler(testing::paper_example(), c).scale_down_window_s(), 300);

  // A fleet of 8 at a load 2 serve: with a 600 s start-up it holds for 600 s, not 300.
  c = testing::autoscaler_config(600, 60, 0);
  c.envelope_quantile = 0;
  Autoscaler b(testing::paper_example(), c);
  int p = 8;
  double t = 0;
  for (; t <= 540; t += 60) {
    p = b.step(testing::load_at(t, 2, 6144, 512), p, 8).prefill;
    EXPECT_EQ(p, 8) << t;
  }
  for (; t <= 720; t += 60) p = b.step(testing::load_at(t, 2, 6144, 512), p, 8).prefill;
  EXPECT_LT(p, 8);
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
  Autoscaler a(testing::paper_example(), testing::autoscaler_config(60, 15, 0));
  LoadSample s = testing::load_at(0, 5e6 / 60 / 6656, 6144, 512);
  Recommendation r = a.step(s, 1, 1);
  EXPECT_EQ(r.prefill, 4);
  EXPECT_EQ(r.decode, 4);
  EXPECT_NEAR(r.provisioned_rate, s.requests_per_s, 1e-9);
}

TEST(Autoscaler, IdleWindowsDoNotEraseTheLengths) {
  Autoscaler a(testing::paper_example(), testing::autoscaler_config(60, 15, 0));
  a.step(testing::load_at(0, 12.52, 6144, 512), 4, 4);
  Recommendation r = a.step(testing::load_at(15, 0, 0, 0), 4, 4);  // no requests: no lengths
  EXPECT_EQ(r.plan.d.input_length, 6144);
  EXPECT_EQ(r.prefill, 4);  // and no scale-down inside the window
}


TEST(Forecaster, ALongGapRestartsTheTrendInsteadOfProjectingItAcross) {
  Forecaster f;
  for (int i = 0; i <= 20; ++i) f.observe(i * 15.0, 10 + i * 1.5);  // rising 0.1 req/s per second
  f.observe(300 + 3600, 12);  // an hour later
  EXPECT_NEAR(f.forecast(0, 0), 12, 1e-9);
  EXPECT_NEAR(f.forecast(600, 0), 12, 1e-9) << "no trend carried over the gap";
}

TEST(Forecaster, ALevelShiftDoesNotInflateTheMarginBeyondTheCap) {
  Forecaster f;
  for (int i = 0; i < 10; ++i) f.observe(i * 5.0, 5);
  for (int i = 10; i < 14; ++i) f.observe(i * 5.0, 12.5);  // a step up
  EXPECT_LE(f.forecast(0, 1.28), f.forecast(0, 0) * (1 + Forecaster::kMaxMargin) + 1e-9);
}


TEST(Autoscaler, NoScaleDownRightAfterAMetricsGap) {
  AutoscalerConfig c = testing::autoscaler_config(5, 5, 0, {30, 0, 0.1});
  Autoscaler a(testing::paper_example(), c);
  a.step(testing::load_at(0, 12.52, 6144, 512), 4, 4);
  for (int t = 5; t <= 60; t += 5) a.hold(t, 4, 4);  // Prometheus away for a minute
  Recommendation r = a.step(testing::load_at(65, 2, 6144, 512), 4, 4);  // first point after the gap
  EXPECT_EQ(r.prefill, 4) << "a scale-down needs a window of good data, not one point";
  for (int t = 70; t <= 100; t += 5) r = a.step(testing::load_at(static_cast<double>(t), 2, 6144, 512), 4, 4);
  EXPECT_LT(r.prefill, 4);
}

}  // namespace
}  // namespace pdscaler::planner

// Online calibration and history across restarts.
namespace pdscaler::planner {
namespace {

constexpr double kRate = 5e6 / 60 / 6656;  // the paper's load in requests/s

// What the model predicts for fleet (p, d) at the paper's load when the real engines run at
// `prefill_speed` of the profile's throughput and `tpot_scale` of its TPOT: the "observed" fleet.
Prediction true_fleet(double prefill_speed, double tpot_scale, int p, int d) {
  PlanInput in = testing::paper_example();
  in.workload.rate_unit = RateUnit::RequestsPerSecond;
  in.workload.rate = kRate;
  in.prefill.max_throughput = in.prefill.max_throughput.scaled(prefill_speed);
  in.decode.tpot_by_batch = in.decode.tpot_by_batch.scaled(tpot_scale);
  return predict(in, plan(in).d, p, d);
}

// A window as long as the calibrator's (30 s) in which completions kept up with arrivals.
LoadSample window_at(double t, const Prediction& seen, int p, int d, double completed = kRate * 30) {
  LoadSample s = testing::load_at(t, kRate, 6144, 512);
  s.completed_requests = completed;
  s.ttft_s = seen.ttft_mean_s;
  s.tpot_s = seen.tpot_s;
  s.prefill_ready = p;
  s.decode_ready = d;
  return s;
}

AutoscalerConfig calibrating() {
  AutoscalerConfig c = testing::autoscaler_config(60, 15, 0);
  c.calibration.window_s = 30;
  return c;
}

TEST(Calibrator, SolvesMonotonicPredictionsEitherWayAndStopsAtTheBounds) {
  auto falling = [](double f) { return 2.0 / f; };
  EXPECT_NEAR(Calibrator::solve(falling, 2.5, 0.5, 2), 0.8, 1e-9);
  EXPECT_EQ(Calibrator::solve(falling, 100, 0.5, 2), 0.5);  // slower than the bounds can explain
  EXPECT_EQ(Calibrator::solve(falling, 0.1, 0.5, 2), 2);
  auto rising = [](double f) { return 0.02 * f; };
  EXPECT_NEAR(Calibrator::solve(rising, 0.022, 0.5, 2), 1.1, 1e-9);
}

TEST(Calibrator, LearnsASlowerPrefillAndProvisionsForIt) {
  Autoscaler a(testing::paper_example(), calibrating());
  const Prediction seen = true_fleet(0.85, 1.0, 5, 4);  // engines at 85% of the profile
  Recommendation r;
  for (int i = 0; i < 40; ++i) r = a.step(window_at(i * 15.0, seen, 5, 4), 5, 4);
  EXPECT_NEAR(r.calibration.prefill_throughput, 0.85, 0.01);
  EXPECT_NEAR(r.calibration.decode_tpot, 1.0, 0.01);
  EXPECT_EQ(r.calibration.last, "used");
  EXPECT_GT(r.calibration.windows, 30);
  ASSERT_TRUE(r.predicted_now.has_value());
  EXPECT_NEAR(r.predicted_now->ttft_mean_s, seen.ttft_mean_s, 0.02 * seen.ttft_mean_s);
  // At 85% speed the load needs at least 1/0.85 as much prefill (more: the queue waits longer
  // at the same count), and the fleet follows that need (steady, so no room for a spread).
  const Plan uncalibrated = plan(testing::paper_example());
  EXPECT_GE(r.plan.d.prefill_exact, uncalibrated.d.prefill_exact / 0.85);
  EXPECT_LE(r.plan.d.prefill_exact, 1.3 * uncalibrated.d.prefill_exact);
  EXPECT_EQ(r.prefill, static_cast<int>(std::ceil(r.plan.d.prefill_exact)));
}

TEST(Calibrator, LearnsASlowerDecode) {
  Autoscaler a(testing::paper_example(), calibrating());
  const Prediction seen = true_fleet(1.0, 1.15, 4, 5);
  Recommendation r;
  for (int i = 0; i < 40; ++i) r = a.step(window_at(i * 15.0, seen, 4, 5), 4, 5);
  EXPECT_NEAR(r.calibration.decode_tpot, 1.15, 0.01);
  EXPECT_NEAR(r.calibration.prefill_throughput, 1.0, 0.01);
}

TEST(Calibrator, NeverCorrectsBeyondTheBound) {
  Autoscaler a(testing::paper_example(), calibrating());
  Prediction seen = true_fleet(1.0, 1.0, 4, 4);
  seen.ttft_mean_s *= 20;  // hopeless: far slower than any bounded correction explains
  Recommendation r;
  for (int i = 0; i < 60; ++i) r = a.step(window_at(i * 15.0, seen, 4, 4), 4, 4);
  EXPECT_NEAR(r.calibration.prefill_throughput, 1 / 1.25, 1e-9);
}

TEST(Calibrator, IgnoresThinWindowsAndWindowsWhileTheFleetChanged) {
  Autoscaler a(testing::paper_example(), calibrating());
  const Prediction seen = true_fleet(0.85, 1.0, 5, 4);
  Recommendation r;
  for (int i = 0; i < 10; ++i) r = a.step(window_at(i * 15.0, seen, 5, 4, 20), 5, 4);
  EXPECT_EQ(r.calibration.prefill_throughput, 1);
  EXPECT_EQ(r.calibration.windows, 0);
  EXPECT_EQ(r.calibration.last, "skipped: 20 requests in the window, fewer than 100");
  // The fleet changes size every interval: no window is steady.
  for (int i = 10; i < 20; ++i) r = a.step(window_at(i * 15.0, seen, 4 + i % 2, 4), 5, 4);
  EXPECT_EQ(r.calibration.prefill_throughput, 1);
  EXPECT_EQ(r.calibration.last, "skipped: the fleet changed size within the window");
  // A backlog draining after a scale-up: completions outrun arrivals by 30%.
  for (int i = 20; i < 30; ++i) r = a.step(window_at(i * 15.0, seen, 5, 4, kRate * 30 * 1.3), 5, 4);
  EXPECT_EQ(r.calibration.prefill_throughput, 1);
  EXPECT_EQ(r.calibration.last.rfind("skipped: requests in flight were draining", 0), 0u) << r.calibration.last;
}

TEST(Calibrator, OffLeavesTheProfilesAlone) {
  AutoscalerConfig c = calibrating();
  c.calibration.enabled = false;
  Autoscaler a(testing::paper_example(), c);
  const Prediction seen = true_fleet(0.85, 1.2, 5, 4);
  Recommendation r;
  for (int i = 0; i < 20; ++i) r = a.step(window_at(i * 15.0, seen, 5, 4), 5, 4);
  EXPECT_EQ(r.calibration.prefill_throughput, 1);
  EXPECT_EQ(r.calibration.decode_tpot, 1);
  EXPECT_EQ(r.prefill, 5) << "no calibration, and no scale-down inside the window from 5";
}

TEST(Autoscaler, RestoredHistoryKeepsTheScaleDownWindowAcrossARestart) {
  AutoscalerConfig c = testing::autoscaler_config(60, 15, 0, {300, 0, 0.1});
  Autoscaler before(testing::paper_example(), c);
  for (int i = 0; i < 10; ++i) before.step(testing::load_at(i * 15.0, 2 * kRate, 6144, 512), 8, 8);
  std::vector<HistoryPoint> saved(before.history().begin(), before.history().end());
  ASSERT_EQ(saved.size(), 10u);
  const int high = saved.back().prefill;
  EXPECT_GT(high, 4);

  // The load falls as the operator restarts at t=150. Restored, the policy holds until the last
  // high recommendation (t=135) leaves the window, then scales down; a fresh one counts the
  // current replicas as recommended at its first step and waits a whole window from there.
  Autoscaler restored(testing::paper_example(), c);
  restored.restore(saved, CalibrationState{0.9, 1.1, 7, "used"});
  Autoscaler fresh(testing::paper_example(), c);
  Recommendation r = restored.step(testing::load_at(150, kRate / 2, 6144, 512), high, 8);
  EXPECT_EQ(r.prefill, high);
  EXPECT_EQ(fresh.step(testing::load_at(150, kRate / 2, 6144, 512), high, 8).prefill, high);
  EXPECT_EQ(r.calibration.prefill_throughput, 0.9);
  EXPECT_EQ(r.calibration.windows, 7);
  EXPECT_LT(restored.step(testing::load_at(440, kRate / 2, 6144, 512), high, 8).prefill, high);
  EXPECT_EQ(fresh.step(testing::load_at(440, kRate / 2, 6144, 512), high, 8).prefill, high);
  EXPECT_LT(fresh.step(testing::load_at(455, kRate / 2, 6144, 512), high, 8).prefill, high);
}

TEST(Autoscaler, RestoredHistoryCoversAWindowOfMoreThanFortyEvaluations) {
  // A 15-minute start-up: the scale-down window is 15 minutes, 60 evaluations at 15 s.
  AutoscalerConfig c = testing::autoscaler_config(900, 15, 0, {300, 0, 0.1});
  Autoscaler before(testing::paper_example(), c);
  for (int i = 0; i < 10; ++i) before.step(testing::load_at(i * 15.0, 2 * kRate, 6144, 512), 8, 8);
  const int high = before.history().back().prefill;
  // The load halves at t=150; the burst envelope keeps the high recommendation a while (to
  // t=705), then it falls.
  double last_high = 0;
  for (int i = 10; i <= 100; ++i) {
    before.step(testing::load_at(i * 15.0, kRate / 2, 6144, 512), high, 8);
    if (before.history().back().prefill == high) last_high = i * 15.0;
  }
  ASSERT_GT(last_high, 500);
  ASSERT_LT(last_high, 1500 - 600) << "the old 40-point history would have lost it";
  std::vector<HistoryPoint> saved(before.history().begin(), before.history().end());
  ASSERT_EQ(saved.size(), 61u) << "the whole window, not the newest 40";
  EXPECT_EQ(saved.front().t_s, 600);
  EXPECT_TRUE(std::isfinite(saved.front().prefill_need)) << "the need is kept beside the count";
  EXPECT_LT(saved.back().prefill, high);

  // Restarted at t=1515: the high recommendations are still inside the window, so the restored
  // policy holds as the one that kept running does, until last_high + 900 has passed.
  Autoscaler restored(testing::paper_example(), c);
  restored.restore(saved, std::nullopt);
  for (Autoscaler* a : {&before, &restored}) {
    EXPECT_EQ(a->step(testing::load_at(1515, kRate / 2, 6144, 512), high, 8).prefill, high);
    EXPECT_EQ(a->step(testing::load_at(last_high + 885, kRate / 2, 6144, 512), high, 8).prefill, high);
    EXPECT_LT(a->step(testing::load_at(last_high + 915, kRate / 2, 6144, 512), high, 8).prefill, high);
  }
}

TEST(Autoscaler, RestoreTrimsToTheWindowOfTheStartUpTimeSetBeforeIt) {
  // The spec says 60 s (a 5-minute window); the operator had measured 900 s and sets it first.
  AutoscalerConfig c = testing::autoscaler_config(900, 15, 0, {300, 0, 0.1});
  Autoscaler before(testing::paper_example(), c);
  for (int i = 0; i < 10; ++i) before.step(testing::load_at(i * 15.0, 2 * kRate, 6144, 512), 8, 8);
  const int high = before.history().back().prefill;
  for (int i = 10; i <= 80; ++i) before.step(testing::load_at(i * 15.0, kRate / 2, 6144, 512), high, 8);
  std::vector<HistoryPoint> saved(before.history().begin(), before.history().end());
  ASSERT_EQ(saved.front().prefill, high);
  ASSERT_LT(saved.front().t_s, 1200 - 300) << "outside a 5-minute window";
  Autoscaler spec_only(testing::paper_example(), testing::autoscaler_config(60, 15, 0, {300, 0, 0.1}));
  Autoscaler restored(testing::paper_example(), testing::autoscaler_config(60, 15, 0, {300, 0, 0.1}));
  restored.set_startup_s(900);
  spec_only.restore(saved, std::nullopt);
  restored.restore(saved, std::nullopt);
  EXPECT_EQ(restored.history().size(), saved.size());
  EXPECT_LT(spec_only.history().size(), saved.size());
  EXPECT_EQ(restored.step(testing::load_at(1215, kRate / 2, 6144, 512), high, 8).prefill, high)
      << "the high recommendations are inside the 900 s window";
}

TEST(Autoscaler, HistoryIsBoundedAndRestoreClampsTheCalibration) {
  Autoscaler a(testing::paper_example(), testing::autoscaler_config(60, 15, 0, {1e9, 0, 0.1}));
  for (int i = 0; i < 100; ++i) a.step(testing::load_at(i * 15.0, kRate, 6144, 512), 4, 4);
  EXPECT_EQ(a.history().size(), 100u) << "a window longer than the run keeps every evaluation";
  // Beyond kMaxHistory points merge per slot of a grid: never more, and the burst at t=1500 is
  // still there, at a time no earlier than its own and within a slot of it.
  a.step(testing::load_at(100 * 15.0, 3 * kRate, 6144, 512), 4, 4);
  const int peak = a.history().back().prefill;
  const double peak_need = a.history().back().prefill_need;
  for (int i = 101; i < 400; ++i) a.step(testing::load_at(i * 15.0, kRate, 6144, 512), 4, 4);
  EXPECT_LE(a.history().size(), Autoscaler::kMaxHistory);
  EXPECT_GT(a.history().size(), Autoscaler::kMaxHistory / 2);
  EXPECT_EQ(a.history().back().t_s, 399 * 15.0);
  int highest = 0, evaluations = 0;
  double highest_need = 0, at = 0;
  for (const auto& p : a.history()) {
    if (p.prefill > highest) at = p.t_s;
    highest = std::max(highest, p.prefill);
    highest_need = std::max(highest_need, p.prefill_need);
    evaluations += p.evaluations;
  }
  EXPECT_EQ(evaluations, 400) << "every evaluation is in one point";
  EXPECT_GT(peak, 4);
  EXPECT_EQ(highest, peak);
  EXPECT_EQ(highest_need, peak_need);
  EXPECT_GE(at, 100 * 15.0);
  EXPECT_LE(at, 100 * 15.0 + 399 * 15.0 / (Autoscaler::kMaxHistory / 2));
  Autoscaler b(testing::paper_example(), testing::autoscaler_config(60, 15, 0));
  b.restore({}, CalibrationState{0.1, 9, 1, "used"});
  const Recommendation r = b.step(testing::load_at(0, kRate, 6144, 512), 4, 4);
  EXPECT_NEAR(r.calibration.prefill_throughput, 1 / 1.25, 1e-12);
  EXPECT_NEAR(r.calibration.decode_tpot, 1.25, 1e-12);
}

TEST(Autoscaler, AMergedPeakLeavesTheHistoryWithItsWindow) {
  // One evaluation every 2 s and a 10-minute start-up: the window holds 300 evaluations, more
  // than the status keeps. A burst at t=1000 must leave the history with its window.
  AutoscalerConfig c = testing::autoscaler_config(600, 2, 0, {300, 0, 0.1});
  Autoscaler a(testing::paper_example(), c);
  const double slot = 600.0 / (Autoscaler::kMaxHistory / 2);
  int peak = 0;
  double last_peak = 0;
  bool merged = false;
  for (int t = 0; t <= 4000; t += 2) {
    a.step(testing::load_at(t, t == 1000 ? 3 * kRate : kRate / 2, 6144, 512), 4, 4);
    if (t == 1000) peak = a.history().back().prefill;
    if (t >= 1000 && a.history().back().prefill == peak) last_peak = t;
    ASSERT_LE(a.history().size(), Autoscaler::kMaxHistory) << t;
    ASSERT_GE(a.history().front().t_s, t - 600 - slot) << "the oldest point is within the window and a slot";
    int highest = 0;
    for (const auto& p : a.history()) {
      highest = std::max(highest, p.prefill);
      merged = merged || p.evaluations > 1;
    }
    if (last_peak > 0 && t > last_peak + 600 + slot) {
      ASSERT_LT(highest, peak) << "at t=" << t << " the peak of t=" << last_peak << " is still held";
    }
  }
  EXPECT_TRUE(merged);
  EXPECT_GT(peak, 2);
  EXPECT_LT(last_peak, 4000 - 600 - slot) << "the peak did leave the window in the run";
}

TEST(Autoscaler, MergedNeedsKeepTheWholeBandAndUnknownNeedsCountAsTheirCounts) {
  // Needs alternating 10 and 8 (then 10) give room 0.9 above the top need: 11 stay. Merged, the
  // points show 10 each; without knowing that, the room would be 0 and one fewer would stay.
  Stabilizer plain({300, 0, 0.1}), merged({300, 0, 0.1});
  for (int i = 0; i < 8; ++i) plain.remember(i * 15.0, 10, i % 2 ? 8 : 10);
  for (int i = 0; i < 4; ++i) merged.remember(15 + i * 30.0, 10, 10, /*merged=*/true);
  EXPECT_EQ(plain.apply(120, 10, 10, 12), 11);
  EXPECT_EQ(merged.apply(120, 10, 10, 12), 11);
  Stabilizer unmarked({300, 0, 0.1});
  for (int i = 0; i < 4; ++i) unmarked.remember(15 + i * 30.0, 10, 10);
  EXPECT_EQ(unmarked.apply(120, 10, 10, 12), 10) << "the case the mark exists for";

  // A long history saved by an older operator (no needs) and replayed: merging takes the counts.
  std::vector<HistoryPoint> old;
  for (int i = 0; i < 400; ++i) old.push_back({i * 15.0, kRate, i == 7 ? 9 : 4, 4});
  Autoscaler a(testing::paper_example(), testing::autoscaler_config(60, 15, 0, {1e9, 0, 0.1}));
  a.restore(old, std::nullopt);
  ASSERT_LE(a.history().size(), Autoscaler::kMaxHistory);
  double top = 0;
  for (const auto& p : a.history()) {
    ASSERT_FALSE(std::isnan(p.prefill_need) && p.evaluations > 1) << "a merged point's need is a number";
    if (std::isfinite(p.prefill_need)) top = std::max(top, p.prefill_need);
  }
  EXPECT_EQ(top, 9);
}

TEST(Autoscaler, MeasuredPrefixHitsAndLengthSpreadReachThePlan) {
  Autoscaler plain(testing::paper_example(), testing::autoscaler_config(60, 15, 0));
  Autoscaler cached(testing::paper_example(), testing::autoscaler_config(60, 15, 0));
  LoadSample s = testing::load_at(0, 5e6 / 60 / 6656, 6144, 512);
  const Recommendation base = plain.step(s, 1, 1);
  s.prefix_cache_hit_rate = 0.5;  // half the prompt tokens come from the cache
  const Recommendation r = cached.step(s, 1, 1);
  EXPECT_DOUBLE_EQ(r.plan.d.prefill_length, 3072);
  EXPECT_LT(r.prefill, base.prefill);
  EXPECT_EQ(r.decode, base.decode);

  PlanInput mg1 = testing::paper_example();
  mg1.prefill.queue_model = QueueModel::MG1;
  mg1.workload.input_length_stddev = 0;
  Autoscaler narrow(mg1, testing::autoscaler_config(60, 15, 0)), wide(mg1, testing::autoscaler_config(60, 15, 0));
  LoadSample n = testing::load_at(0, 5e6 / 60 / 6656, 6144, 512), w = n;
  n.input_stddev = 0;
  w.input_stddev = 6144;  // as spread as an exponential: M/M/1's second moment
  EXPECT_GT(wide.step(w, 1, 1).plan.d.service_second_moment, narrow.step(n, 1, 1).plan.d.service_second_moment);
}

}  // namespace
}  // namespace pdscaler::planner

// The live policy's per-request planning: burstiness, backlog, the burst envelope and the daily
// seasonal forecast.
namespace pdscaler::planner {
namespace {

PlanInput attainment_spec() {
  PlanInput in = testing::paper_example();
  in.slo.attainment = 99;
  in.prefill.queue_model = QueueModel::MD1;
  in.prefill.max_replicas = in.decode.max_replicas = 1000;
  return in;
}

TEST(Seasonal, ForecastsTheSameTimeADayBeforeScaledByTheLastHour) {
  SeasonalForecaster f;
  auto daily = [](double t) { return 10 + 8 * std::sin(2 * M_PI * t / 86400); };
  for (double t = 0; t < 86400; t += 60) f.observe(t, daily(t));
  EXPECT_FALSE(f.forecast(86399, 600, 615)) << "not a day of history yet";
  // The second day runs 20% above the first.
  for (double t = 86400; t < 86400 + 6 * 3600; t += 60) f.observe(t, 1.2 * daily(t));
  const double now = 86400 + 6 * 3600;
  const auto ahead = f.forecast(now, 600, 615);
  ASSERT_TRUE(ahead);
  EXPECT_NEAR(*ahead, 1.2 * daily(now + 615), 0.05 * daily(now));
}

TEST(Seasonal, TheBusiestStretchIsNotTheNoiseOfOneMinute) {
  // A flat day at 100 requests/s with each minute's rate ±20% around it: the forecast for the
  // next day reads the busiest five-minute mean of the stretch, not the highest single minute
  // (the highest of ~40 noisy minutes plans ~20% above the load all day).
  SeasonalForecaster f, by_minute(86400, 60);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> noise(-0.2, 0.2);
  for (double t = 0; t <= 86400 + 43200; t += 60) {
    const double r = 100 * (1 + noise(rng));
    f.observe(t, r);
    by_minute.observe(t, r);
  }
  const auto ahead = f.forecast(86400 + 43200, 600 - 900, 660 + 900);
  const auto noisy = by_minute.forecast(86400 + 43200, 600 - 900, 660 + 900);
  ASSERT_TRUE(ahead && noisy);
  EXPECT_GT(*noisy, 115);
  EXPECT_LT(*ahead, 113);
  EXPECT_GT(*ahead, 95);
}

TEST(Seasonal, ABurstThatCameAWeekAgoCountsOnceAWeekOfHistoryIsThere) {
  // Flat at 10 requests/s for eight days, but 40 from 10:00 to 10:30 on the first day (a weekly
  // job): at 09:50 a week later the stretch ahead came at 40 a week before and at 10 yesterday.
  auto rate = [](double t) { return t >= 36000 && t < 37800 ? 40.0 : 10.0; };
  SeasonalForecaster weekly, daily(86400, 300, 0);
  for (double t = 0; t <= 7 * 86400 + 35400; t += 60) {
    weekly.observe(t, rate(t));
    daily.observe(t, rate(t));
  }
  const double now = 7 * 86400 + 35400;
  const auto w = weekly.forecast(now, 600 - 900, 660 + 900), d = daily.forecast(now, 600 - 900, 660 + 900);
  ASSERT_TRUE(w && d);
  EXPECT_NEAR(*w, 40, 1);
  EXPECT_NEAR(*d, 10, 0.5);
  // Six days in, the week before is not there yet: yesterday alone.
  SeasonalForecaster young;
  for (double t = 0; t <= 6 * 86400 + 35400; t += 60) young.observe(t, rate(t));
  EXPECT_NEAR(*young.forecast(6 * 86400 + 35400, 600 - 900, 660 + 900), 10, 0.5);
}

TEST(Seasonal, ADataGapIsMissingNotZero) {
  SeasonalForecaster f;
  for (double t = 0; t < 86400; t += 60)
    if (t < 40000 || t > 44000) f.observe(t, 50);  // no data for an hour
  for (double t = 86400; t < 86400 + 40000; t += 60) f.observe(t, 50);
  // A day after the gap: the hour ahead a day before has no data, so no forecast rather than 0.
  EXPECT_FALSE(f.forecast(86400 + 40600, 600, 615));
  EXPECT_TRUE(f.forecast(86400 + 30000, 600, 615));
}

TEST(Autoscaler, TheSeasonalForecastProvisionsBeforeTheDailyRise) {
  // A day of history from the caller (as the operator reads it from Prometheus), then a rise that
  // the last hour does not show yet: with a 10-minute start-up, seasonal asks for it in time.
  auto rate = [](double t) {
    const double h = std::fmod(t, 86400) / 3600;
    return h < 8 ? 4.0 : 12.0;
  };
  AutoscalerConfig c = testing::autoscaler_config(600, 15, 1.28);
  Autoscaler seasonal(attainment_spec(), c);
  c.seasonal = false;
  Autoscaler trend(attainment_spec(), c);
  std::vector<std::pair<double, double>> day;
  for (double t = 0; t < 86400; t += 60) day.emplace_back(t, rate(t));
  seasonal.seed_seasonal(day);
  Recommendation rs, rt;
  for (double t = 86400; t < 86400 + 8 * 3600 - 600; t += 15) {
    rs = seasonal.step(testing::load_at(t, rate(t)), rs.prefill ? rs.prefill : 2, rs.decode ? rs.decode : 2);
    rt = trend.step(testing::load_at(t, rate(t)), rt.prefill ? rt.prefill : 2, rt.decode ? rt.decode : 2);
  }
  // Ten minutes before the rise: the seasonal forecast already plans for 12 req/s.
  EXPECT_NE(rs.method.find("seasonal"), std::string::npos) << rs.method;
  EXPECT_GT(rs.provisioned_rate, 11);
  EXPECT_LT(rt.provisioned_rate, 6);
  EXPECT_GT(rs.prefill, rt.prefill);
}

TEST(Autoscaler, TheSeasonalForecastOfTheWorkSizesForADailyBurstOfLongPrompts) {
  // The same request rate all day, but from 08:00 to 08:30 prompts four times as long (a daily
  // batch job): the rate's forecast sees nothing coming; the input tokens/s' forecast does, and
  // prefill is sized for it ten minutes before, decode not.
  auto input = [](double t) {
    const double h = std::fmod(t, 86400) / 3600;
    return h >= 8 && h < 8.5 ? 4 * 2048.0 : 2048.0;
  };
  auto output = [](double t) {
    const double h = std::fmod(t, 86400) / 3600;
    return h >= 14 && h < 14.5 ? 3 * 256.0 : 256.0;  // and long answers from 14:00
  };
  const double rate = 6;
  AutoscalerConfig c = testing::autoscaler_config(600, 15, 1.28);
  Autoscaler work(attainment_spec(), c);
  Autoscaler rate_only(attainment_spec(), c);
  std::vector<std::pair<double, double>> day, in_tokens, out_tokens;
  for (double t = 0; t < 86400; t += 60) {
    day.emplace_back(t, rate);
    in_tokens.emplace_back(t, rate * input(t));
    out_tokens.emplace_back(t, rate * output(t));
  }
  work.seed_seasonal(day, in_tokens, out_tokens);
  rate_only.seed_seasonal(day);
  Recommendation rw, rr;
  auto run = [&](double from, double to) {
    for (double t = from; t < to; t += 15) {
      const LoadSample s = testing::load_at(t, rate, input(t), output(t));
      rw = work.step(s, rw.prefill ? rw.prefill : 2, rw.decode ? rw.decode : 2);
      rr = rate_only.step(s, rr.prefill ? rr.prefill : 2, rr.decode ? rr.decode : 2);
    }
  };
  run(86400, 86400 + 8 * 3600 - 600);
  EXPECT_NE(rw.method.find("input tokens/s"), std::string::npos) << rw.method;
  EXPECT_EQ(rr.method.find("tokens/s"), std::string::npos) << rr.method;
  // Prefill as for the long prompts at today's rate, decode as for today's answers.
  PlanInput longer = attainment_spec();
  longer.workload.rate_unit = RateUnit::RequestsPerSecond;
  longer.workload.rate = rate;
  longer.workload.input_length = 4 * 2048.0;
  longer.workload.output_length = 256;
  EXPECT_GE(rw.prefill, plan(longer).prefill.replicas);
  EXPECT_LT(rr.prefill, rw.prefill);
  EXPECT_EQ(rw.decode, rr.decode);
  // Long answers in the afternoon: decode sized before them, prefill back to what today needs.
  run(86400 + 8 * 3600 - 600, 86400 + 14 * 3600 - 600);
  EXPECT_NE(rw.method.find("output tokens/s"), std::string::npos) << rw.method;
  longer.workload.input_length = 2048;
  longer.workload.output_length = 3 * 256.0;
  EXPECT_GE(rw.decode, plan(longer).decode.replicas);
  EXPECT_LT(rr.decode, rw.decode);
  EXPECT_EQ(rw.prefill, rr.prefill);
}

// A day of a flat rate with 3x answers from 14:00 to 14:30, measured as vLLM reports them (a
// generated-length histogram whose buckets hold today's answers): the seasonal forecast's
// longer length is not capped by today's buckets, and under a GPU budget the two roles stay in it.
TEST(Autoscaler, TheSeasonalForecastOfOutputTokensStretchesTheMeasuredHistogram) {
  const double rate = 6;
  auto output = [](double t) {
    const double h = std::fmod(t, 86400) / 3600;
    return h >= 14 && h < 14.5 ? 3 * 256.0 : 256.0;
  };
  // Cumulative counts per upper bound: every answer of today in (200, 300].
  const std::vector<std::pair<double, double>> hist = {{200, 0}, {300, 100}, {1000, 100},
                                                       {std::numeric_limits<double>::infinity(), 100}};
  std::vector<std::pair<double, double>> day, in_tokens, out_tokens;
  for (double t = 0; t < 86400; t += 60) {
    day.emplace_back(t, rate);
    in_tokens.emplace_back(t, rate * 2048);
    out_tokens.emplace_back(t, rate * output(t));
  }
  auto run = [&](PlanInput spec) {
    Autoscaler a(spec, testing::autoscaler_config(600, 15, 1.28));
    a.seed_seasonal(day, in_tokens, out_tokens);
    Recommendation r;
    for (double t = 86400; t < 86400 + 14 * 3600 - 600; t += 15) {
      LoadSample s = testing::load_at(t, rate, 2048, 256);
      s.output_histogram = hist;
      r = a.step(s, r.prefill ? r.prefill : 1, r.decode ? r.decode : 1);  // from the smallest fleet
    }
    return r;
  };
  const Recommendation r = run(attainment_spec());
  EXPECT_NE(r.method.find("output tokens/s"), std::string::npos) << r.method;
  // What 3x answers need: today's histogram stretched to a mean of 768.
  MeasuredLoad today;
  today.requests_per_s = rate;
  today.mean_input = 2048;
  today.mean_output = 256;
  today.output_histogram = hist;
  PlanInput longer = at_load(attainment_spec(), today);
  longer.workload.output_length *= 3;
  for (auto& b : longer.workload.output_length_distribution) b.length *= 3;
  const Plan need = plan(longer);
  EXPECT_GE(r.decode, need.decode.replicas);
  // Under a GPU budget below today's prefill beside the longer answers' decode the two counts
  // stay within it (planned apart, decode's plan gives up prefill that prefill's does not).
  for (int less = 1; less <= 3; ++less) {
    PlanInput budgeted = attainment_spec();
    const Plan now = plan(at_load(budgeted, today));
    budgeted.max_total_gpus = now.prefill.gpus + need.decode.gpus - less * budgeted.decode.gpus_per_replica;
    const Recommendation b = run(budgeted);
    EXPECT_LE(b.prefill * budgeted.prefill.gpus_per_replica + b.decode * budgeted.decode.gpus_per_replica,
              *budgeted.max_total_gpus)
        << b.prefill << "P" << b.decode << "D, " << b.method;
  }
}

TEST(Autoscaler, ADailyBurstOfRequestsAtTodaysLengthsIsNotALengthBurst) {
  // Twice the rate from 08:00 to 08:30 at the same lengths: the rate's forecast sizes for it and
  // the tokens' finds no longer requests in it (their own peak is the rate's peak times the
  // length, not a reason for a longer one).
  auto rate = [](double t) {
    const double h = std::fmod(t, 86400) / 3600;
    return h >= 8 && h < 8.5 ? 12.0 : 6.0;
  };
  std::vector<std::pair<double, double>> day, in_tokens, out_tokens;
  for (double t = 0; t < 86400; t += 60) {
    day.emplace_back(t, rate(t));
    in_tokens.emplace_back(t, rate(t) * 2048);
    out_tokens.emplace_back(t, rate(t) * 256);
  }
  Autoscaler a(attainment_spec(), testing::autoscaler_config(600, 15, 1.28));
  a.seed_seasonal(day, in_tokens, out_tokens);
  Recommendation r;
  for (double t = 86400; t < 86400 + 8 * 3600 - 600; t += 15)
    r = a.step(testing::load_at(t, rate(t), 2048, 256), r.prefill ? r.prefill : 2, r.decode ? r.decode : 2);
  EXPECT_NE(r.method.find("seasonal"), std::string::npos) << r.method;
  EXPECT_GT(r.provisioned_rate, 11.9);
  EXPECT_EQ(r.method.find("tokens/s"), std::string::npos) << r.method;
  EXPECT_DOUBLE_EQ(r.input.workload.input_length, 2048);
}

TEST(Autoscaler, BurstinessIsTheMedianOfRecentWindowsAndNeverBelowPoisson) {
  Autoscaler a(attainment_spec(), testing::autoscaler_config(60, 15, 0));
  Recommendation r;
  for (int i = 0; i < 20; ++i) {
    LoadSample s = testing::load_at(i * 15.0, 12);
    s.dispersion = i == 7 ? 50.0 : 4.0;  // one odd window
    r = a.step(s, 4, 4);
  }
  EXPECT_DOUBLE_EQ(r.dispersion, 4);
  Autoscaler b(attainment_spec(), testing::autoscaler_config(60, 15, 0));
  LoadSample smooth = testing::load_at(0, 12);
  smooth.dispersion = 0.4;
  EXPECT_DOUBLE_EQ(b.step(smooth, 4, 4).dispersion, 1);
  // Burstier arrivals need more prefill for the same share.
  Autoscaler poisson(attainment_spec(), testing::autoscaler_config(60, 15, 0));
  EXPECT_GT(r.plan.prefill.replicas, poisson.step(testing::load_at(0, 12), 4, 4).plan.prefill.replicas);
}

TEST(Autoscaler, AQueueBeyondTheTtftBudgetGetsCapacityToDrain) {
  Autoscaler a(attainment_spec(), testing::autoscaler_config(60, 15, 0));
  LoadSample s = testing::load_at(0, 12);
  const Recommendation calm = a.step(s, 4, 4);
  Autoscaler b(attainment_spec(), testing::autoscaler_config(60, 15, 0));
  s.prefill_waiting = 2;  // 2 x 217 ms over 4 instances: within the 1.9 s budget, ordinary
  EXPECT_EQ(b.step(s, 4, 4).backlog_rate, 0);
  Autoscaler c(attainment_spec(), testing::autoscaler_config(60, 15, 0));
  s.prefill_waiting = 300;  // 16 s of work per instance, which the 4 clear before a new one serves
  EXPECT_EQ(c.step(s, 4, 4).backlog_rate, 0);
  Autoscaler d(attainment_spec(), testing::autoscaler_config(60, 15, 0));
  s.prefill_waiting = 2000;  // a burst's backlog: more than the running fleet clears in the 60 s start-up
  const Recommendation r = d.step(s, 4, 4);
  // What is left when new instances serve: the queue, plus arrivals, less what 4 clear in 60 s.
  const double clears = 4 / r.plan.d.service_mean_s;
  EXPECT_NEAR(r.backlog_rate, (2000 + (12 - clears) * 60) / 15.0, 1e-6);
  EXPECT_GT(r.backlog_rate, 0);
  EXPECT_GT(r.prefill, calm.prefill);
  EXPECT_NE(r.method.find("queued requests drained"), std::string::npos);
}

TEST(Autoscaler, TheBurstEnvelopeKeepsCapacityForBurstsThatComeBack) {
  // Bursts of 20 req/s for a minute every three minutes, 2 req/s between them.
  auto rate = [](double t) { return std::fmod(t, 180) < 60 ? 20.0 : 2.0; };
  AutoscalerConfig c = testing::autoscaler_config(60, 15, 0);
  Autoscaler with(attainment_spec(), c);
  c.envelope_quantile = 0;
  Autoscaler without(attainment_spec(), c);
  Recommendation rw, ro;
  for (double t = 0; t < 900 + 150; t += 15) {
    rw = with.step(testing::load_at(t, rate(t)), rw.prefill ? rw.prefill : 4, 4);
    ro = without.step(testing::load_at(t, rate(t)), ro.prefill ? ro.prefill : 4, 4);
  }
  // Between bursts (t = 1035, 75 s into the quiet), the envelope still plans for the bursts.
  EXPECT_GT(rw.provisioned_rate, 15);
  EXPECT_LT(ro.provisioned_rate, 5);
  EXPECT_NE(rw.method.find("burst envelope"), std::string::npos);
}


// The live policy plans decode with the measured output-length histogram where the engine exports
// one: at the same load, a workload without short outputs gets no more decode than the lognormal
// of its mean and spread, and the histogram's bounds are carried from window to window.
TEST(Autoscaler, PlansDecodeWithTheMeasuredOutputHistogram) {
  PlanInput spec = testing::paper_example();
  spec.slo.attainment = 99;
  spec.decode.max_replicas = 64;
  spec.prefill.max_replicas = 64;
  // 60% of requests 6..10 tokens, 40% 11..20, as cumulative bucket counts (vLLM's bounds).
  const std::vector<std::pair<double, double>> h = {{1, 0}, {2, 0}, {5, 0}, {10, 60}, {20, 100}, {INFINITY, 100}};
  auto sample = [&](double t, bool with_histogram) {
    LoadSample s = testing::load_at(t, 30, 2048, 11);
    s.output_stddev = 4;
    if (with_histogram) s.output_histogram = h;
    return s;
  };
  Autoscaler with(spec, testing::autoscaler_config(60, 15, 0)), without(spec, testing::autoscaler_config(60, 15, 0));
  Recommendation a, b;
  for (int i = 0; i < 8; ++i) {
    a = with.step(sample(15.0 * i, true), 4, 4);
    b = without.step(sample(15.0 * i, false), 4, 4);
  }
  EXPECT_LE(a.decode, b.decode);
  EXPECT_GE(a.decode, 1);
  const auto& pts = a.input.workload.output_length_distribution;
  ASSERT_FALSE(pts.empty()) << "the histogram reaches the plan";
  for (const auto& p : pts) EXPECT_GE(p.length, 6);
  EXPECT_TRUE(b.input.workload.output_length_distribution.empty());
}


// Bursts of requests that are bursts of short answers: the request rate swings 20 <-> 40/s while
// output tokens/s stay at 4,000. Decode is sized for the envelope of output tokens/s, not for the
// busiest rate at the smoothed (longer) mean length.
TEST(Autoscaler, SizesDecodeForTheDecodeLoadsOwnPeaks) {
  PlanInput spec = testing::paper_example();
  spec.slo.attainment = 99;
  spec.prefill.max_replicas = spec.decode.max_replicas = 64;
  // No dead band: the sizing, not the stabiliser's room for the needs' spread, is under test.
  AutoscalerConfig c = testing::autoscaler_config(60, 15, 0, {300, 0, 0.0});
  c.envelope_quantile = 0.8;
  Autoscaler a(spec, c);
  Recommendation r;
  for (int i = 0; i < 40; ++i) {
    const bool busy = i % 4 < 2;
    r = a.step(testing::load_at(15.0 * i, busy ? 40 : 20, 2048, busy ? 100 : 200), 8, 8);
  }
  ASSERT_NE(r.method.find("burst envelope"), std::string::npos) << r.method;
  EXPECT_NE(r.method.find("decode at the envelope of output tokens/s"), std::string::npos) << r.method;
  // What the request rate's envelope at the smoothed length would have asked for.
  PlanInput naive = r.input;
  naive.workload.rate = 40;
  const Plan n = plan(naive);
  ASSERT_TRUE(n.feasible);
  EXPECT_LT(r.decode, n.decode.replicas) << "smoothed length " << naive.workload.output_length;
  // And enough for the decode load that is there: 40/s of 100-token answers.
  PlanInput real = r.input;
  real.workload.rate = 40;
  real.workload.output_length = 100;
  EXPECT_GE(r.decode, plan(real).decode.replicas);
}

}  // namespace
}  // namespace pdscaler::planner
