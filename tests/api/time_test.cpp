#include <gtest/gtest.h>

#include "pdscaler/api/objects.h"
#include "pdscaler/api/time.h"

namespace pdscaler::api {
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
}  // namespace pdscaler::api

namespace pdscaler::api {
namespace {

TEST(Time, Rfc3339ReadsAndWrites) {
  const auto t = parse_time("2026-11-22T20:41:07Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_time(*t), "2026-11-22T20:41:07Z");
  EXPECT_EQ(to_epoch_seconds(*t), 1795380067);
  EXPECT_EQ(parse_time("2026-11-22T21:41:07+01:00"), t);
  EXPECT_EQ(parse_time("2026-11-22T20:11:07-00:30"), t);
  const auto micro = parse_time("2026-11-22T20:41:07.123456Z");
  ASSERT_TRUE(micro);
  EXPECT_EQ(format_micro_time(*micro), "2026-11-22T20:41:07.123456Z");
  EXPECT_EQ(whole_seconds(*micro), *t);
  EXPECT_EQ(format_time(*micro), "2026-11-22T20:41:07Z");
  EXPECT_EQ(parse_time("2024-02-29T00:00:00Z").has_value(), true);
  EXPECT_DOUBLE_EQ(seconds_between(*t, *micro), 0.123456);
  EXPECT_EQ(from_epoch_seconds(1795380067), *t);
}

TEST(Time, RefusesWhatIsNotRfc3339) {
  for (const char* bad : {"", "2026-11-22", "2026-11-22T20:41:07", "2026-11-22 20:41:07Z", "2026-13-01T00:00:00Z",
                          "2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-22T24:00:00Z", "2026-11-22T20:41:07.Z",
                          "2026-11-22T20:41:07Zjunk", "2026-11-22T20:41:07+1:00", "yesterday", "2026-11-22T20:41:07+01"})
    EXPECT_FALSE(parse_time(bad)) << bad;
}

// Found by fuzz_text_values and fuzz_objects: a year outside what a nanosecond system_clock holds
// (1678-2261) overflowed a signed 64-bit count; it reads as no time (unknown, with a warning).
TEST(Time, YearsTheClockCannotHoldAreNotTimes) {
  EXPECT_FALSE(parse_time("2475-11-22T20:41:07Z"));
  EXPECT_FALSE(parse_time("9999-12-31T23:59:59Z"));
  EXPECT_FALSE(parse_time("0001-01-01T00:00:00Z"));
  ASSERT_TRUE(parse_time("2261-01-01T00:00:00Z"));
  EXPECT_EQ(format_time(*parse_time("2261-01-01T00:00:00Z")), "2261-01-01T00:00:00Z");
  ASSERT_TRUE(parse_time("1678-01-01T00:00:00Z"));
  auto pod = decode_pod_text(R"({"metadata": {"name": "p", "creationTimestamp": "2475-11-22T20:41:07Z"}})");
  ASSERT_TRUE(pod);
  EXPECT_FALSE(pod->value.metadata.creation_timestamp);
  EXPECT_FALSE(pod->warnings.empty());
}

}  // namespace
}  // namespace pdscaler::api
