#include <gtest/gtest.h>

#include <cmath>

#include "pdscaler/planner/profile.h"

namespace pdscaler::planner {
namespace {

TEST(Profile, InterpolatesPiecewiseLinearly) {
  auto p = Profile::build({{1, 0.009}, {16, 0.014}, {34, 0.020}}, ProfileShape::NonDecreasing);
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->at(16).value, 0.014);
  EXPECT_NEAR(p->at(25).value, 0.017, 1e-12);
  EXPECT_FALSE(p->at(25).clamped);
}

TEST(Profile, NeverExtrapolatesSilently) {
  auto p = Profile::build({{100, 5000}, {2000, 20000}}, ProfileShape::Free);
  ASSERT_TRUE(p);
  Lookup above = p->at(9000);
  EXPECT_TRUE(above.clamped);
  EXPECT_DOUBLE_EQ(above.value, 20000);
  Lookup below = p->at(10);
  EXPECT_TRUE(below.clamped);
  EXPECT_DOUBLE_EQ(below.value, 5000);
}

TEST(Profile, ConstantTableIsNeverClamped) {
  auto p = Profile::build({{1, 28300}}, ProfileShape::Free);
  ASSERT_TRUE(p);
  EXPECT_FALSE(p->at(6144).clamped);
  EXPECT_TRUE(p->is_constant());
}

TEST(Profile, SortsUnsortedPoints) {
  auto p = Profile::build({{34, 0.020}, {1, 0.009}, {16, 0.014}}, ProfileShape::NonDecreasing);
  ASSERT_TRUE(p);
  ASSERT_EQ(p->points().size(), 3u);
  EXPECT_EQ(p->points().front().x, 1);
  EXPECT_EQ(p->points().back().x, 34);
}

TEST(Profile, AveragesRepeatedMeasurementsAndSaysSo) {
  auto p = Profile::build({{8, 0.010}, {8, 0.012}, {16, 0.014}}, ProfileShape::NonDecreasing);
  ASSERT_TRUE(p);
  EXPECT_NEAR(p->at(8).value, 0.011, 1e-12);
  ASSERT_EQ(p->notes().size(), 1u);
  EXPECT_NE(p->notes()[0].message.find("averaged"), std::string::npos);
}

TEST(Profile, RefusesNonPositiveAndNonFiniteValuesNamingThePoint) {
  auto zero = Profile::build({{1, 0.009}, {16, 0}}, ProfileShape::NonDecreasing);
  ASSERT_FALSE(zero);
  EXPECT_EQ(zero.error().index, 1);
  EXPECT_EQ(zero.error().field, "y");
  auto nan = Profile::build({{std::nan(""), 1}}, ProfileShape::Free);
  ASSERT_FALSE(nan);
  EXPECT_EQ(nan.error().field, "x");
  auto empty = Profile::build({}, ProfileShape::Free);
  ASSERT_FALSE(empty);
  EXPECT_EQ(empty.error().index, -1);
}

// The real H100 TP8 row at input 6205 is half of both neighbours (../shared/data/profiles).
TEST(Profile, DropsTheIsolatedOutlierOfTheRealH100Profile) {
  auto p = Profile::build({{4170, 25689.7}, {6205, 12453.9}, {8240, 25672.6}, {10275, 24673.8}},
                          ProfileShape::Free);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->points().size(), 3u);
  EXPECT_NEAR(p->at(6205).value, 25681, 5);
  ASSERT_EQ(p->notes().size(), 1u);
  EXPECT_EQ(p->notes()[0].index, 1);
}

TEST(Profile, KeepsARealTrendWhereNeighboursDisagree) {
  // The steep rise at short inputs is real: neighbours 5268 and 25690 disagree, so 22426 stays.
  auto p = Profile::build({{100, 5268.3}, {2135, 22426.2}, {4170, 25689.7}}, ProfileShape::Free);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->points().size(), 3u);
  EXPECT_TRUE(p->notes().empty());
}

TEST(Profile, LiftsNoisyDipsInNonDecreasingTables) {
  // TP4 decode at context 350: 27.09 ms at 231 then 42.22 at 277: monotone. A dip is lifted.
  auto p = Profile::build({{1, 0.010}, {10, 0.015}, {20, 0.014}, {30, 0.020}},
                          ProfileShape::NonDecreasing, 0);
  ASSERT_TRUE(p);
  EXPECT_DOUBLE_EQ(p->at(20).value, 0.015);
  ASSERT_EQ(p->notes().size(), 1u);
}

TEST(Profile, LargestBatchWithinLimit) {
  auto p = Profile::build({{1, 0.009}, {16, 0.014}, {34, 0.020}, {64, 0.031}},
                          ProfileShape::NonDecreasing);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->largest_x_within(0.020, true), 34);
  EXPECT_EQ(p->largest_x_within(0.0199, true), 33);  // 16 + 18 * 5.9/6 = 33.7
  EXPECT_NEAR(p->largest_x_within(0.0199, false), 16 + 18 * 5.9 / 6, 1e-9);
  EXPECT_EQ(p->largest_x_within(0.009, true), 1);
  EXPECT_LT(p->largest_x_within(0.005, true), 0);
  EXPECT_EQ(p->largest_x_within(0.100, true), 64);
}

}  // namespace
}  // namespace pdscaler::planner
