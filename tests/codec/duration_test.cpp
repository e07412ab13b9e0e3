#include <gtest/gtest.h>

#include "pdscaler/codec/spec_codec.h"

namespace pdscaler::codec {
namespace {

TEST(Duration, ParsesGoStyleDurations) {
  EXPECT_DOUBLE_EQ(*parse_duration("2s"), 2);
  EXPECT_DOUBLE_EQ(*parse_duration("100ms"), 0.1);
  EXPECT_DOUBLE_EQ(*parse_duration("20ms"), 0.020);
  EXPECT_DOUBLE_EQ(*parse_duration("1.5s"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_duration("500us"), 500e-6);
  EXPECT_DOUBLE_EQ(*parse_duration("500\xC2\xB5s"), 500e-6);
  EXPECT_DOUBLE_EQ(*parse_duration("10ns"), 10e-9);
  EXPECT_DOUBLE_EQ(*parse_duration("1m30s"), 90);
  EXPECT_DOUBLE_EQ(*parse_duration("2h"), 7200);
  EXPECT_DOUBLE_EQ(*parse_duration("0"), 0);
  EXPECT_DOUBLE_EQ(*parse_duration("-1s"), -1);
}

TEST(Duration, RefusesWhatIsNotADuration) {
  for (const char* bad : {"", "2", "s", "2 s", "2seconds", "1.s", ".5s", "1..5s", "2sms", "ms",
                          "1e3ms", "-", "2S"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(Duration, FormatsReadably) {
  EXPECT_EQ(format_duration(0.02), "20ms");
  EXPECT_EQ(format_duration(2), "2s");
  EXPECT_EQ(format_duration(0.0005), "500us");
  EXPECT_EQ(format_duration(90), "1.5m");
  EXPECT_EQ(format_duration(0), "0s");
}

}  // namespace
}  // namespace pdscaler::codec
