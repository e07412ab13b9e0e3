#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "pdscaler/sim/load.h"

namespace pdscaler::sim {
namespace {

TEST(Trace, ParsesTheAzureFormat) {
  auto t = parse_azure_csv(
      "TIMESTAMP,ContextTokens,GeneratedTokens\n"
      "2023-11-16 18:17:03.9799600,4808,10\n"
      "2023-11-16 18:17:04.0319600,3180,8\n"
      "2023-11-16 18:18:03.9799600,100,1\n");
  ASSERT_TRUE(t) << t.error();
  ASSERT_EQ(t->requests.size(), 3u);
  EXPECT_DOUBLE_EQ(t->requests[0].arrival_s, 0);
  EXPECT_NEAR(t->requests[1].arrival_s, 0.052, 1e-6);
  EXPECT_NEAR(t->duration_s, 60, 1e-6);
  EXPECT_EQ(t->requests[0].input_tokens, 4808);
  EXPECT_EQ(t->requests[0].output_tokens, 10);
}

TEST(Trace, CsvWithOtherFieldsAndMilliseconds) {
  auto t = parse_csv("at,out,in\n2500,7,100\n500,3,50\n", {"at", "in", "out", TimeUnit::Milliseconds});
  ASSERT_TRUE(t) << t.error();
  EXPECT_EQ(t->requests[0].input_tokens, 50);  // sorted by time
  EXPECT_DOUBLE_EQ(t->requests[1].arrival_s, 2.0);
}

TEST(Trace, Jsonl) {
  auto t = parse_jsonl("{\"t\": 1.5, \"prompt\": 10, \"gen\": 4}\n\n{\"t\": 3, \"prompt\": 20, \"gen\": 5}\n",
                       {"t", "prompt", "gen", TimeUnit::Seconds});
  ASSERT_TRUE(t) << t.error();
  ASSERT_EQ(t->requests.size(), 2u);
  EXPECT_DOUBLE_EQ(t->requests[1].arrival_s, 1.5);
  EXPECT_EQ(t->requests[1].output_tokens, 5);
}

TEST(Trace, ErrorsNameLineAndField) {
  auto bad = parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,x,10\n");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "line 2: ContextTokens: expected a whole number, got \"x\"");
  auto header = parse_csv("a,b\n1,2\n", {});
  ASSERT_FALSE(header);
  EXPECT_EQ(header.error(), "line 1: no column \"timestamp\" in the header");
  auto time = parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\nyesterday,1,1\n");
  ASSERT_FALSE(time);
  EXPECT_NE(time.error().find("not a time"), std::string::npos);
  EXPECT_FALSE(parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n"));
}

TEST(Trace, PoissonHasTheRateAndScaleCompresses) {
  const Trace t = poisson({{0, 10, false}}, 1000, LengthModel::fixed(100, 10), 7);
  EXPECT_NEAR(static_cast<double>(t.requests.size()), 10000, 300);  // ~3 standard deviations
  const Trace s = scale(t, 4);
  EXPECT_NEAR(s.duration_s, 250, 1e-9);
  EXPECT_EQ(s.requests.size(), t.requests.size());
}

TEST(Trace, StepsChangeTheRate) {
  const Trace t = poisson({{0, 2, false}, {500, 8, false}}, 1000, LengthModel::fixed(100, 10), 3);
  size_t first = 0;
  for (const auto& r : t.requests) first += r.arrival_s < 500;
  EXPECT_NEAR(static_cast<double>(first), 1000, 100);
  EXPECT_NEAR(static_cast<double>(t.requests.size() - first), 4000, 200);
}

TEST(Trace, PeakLoadFindsTheBusiestWindow) {
  Trace t;
  for (int i = 0; i < 100; ++i) t.requests.push_back({i * 1.0, 100, 10});
  for (int i = 0; i < 100; ++i) t.requests.push_back({200 + i * 0.1, 100, 10});
  t.duration_s = 210;
  const Peak p = peak_load(*trace_load(t), 10);
  EXPECT_NEAR(p.requests_per_s, 10, 0.2);
  EXPECT_NEAR(p.tokens_per_s, 1100, 20);
}

// Found by fuzz_traces (10-minute run): two requests of 1.49e9 output tokens each overflowed the
// int sum of the window's tokens (undefined behaviour); the window adds in doubles.
TEST(Trace, PeakLoadOfHugeTokenCountsDoesNotOverflow) {
  Trace t;
  t.requests.push_back({0.0, 1, 1494033003});
  t.requests.push_back({0.5, 1, 1494033003});
  t.duration_s = 1;
  const Peak p = peak_load(*trace_load(t), 10);
  EXPECT_NEAR(p.tokens_per_s, 2 * (1494033003.0 + 1) / 10, 1);
}

// Found by fuzz_traces: a token count beyond INT_MAX was converted to int (undefined); it is an
// error naming the line and column like any other bad count.
// Found by fuzz_traces: fields of an Azure timestamp out of range overflowed int arithmetic.
TEST(Trace, TimestampFieldsOutOfRangeAreErrors) {
  for (const char* ts : {"2023-11-16 1410065416:17:03", "2023-13-16 18:17:03", "2023-11-40 18:17:03",
                         "2023-11-16 18:60:03", "2023-11-16 18:17:99", "2023-11-16 18:17:nan", "99999-11-16 18:17:03"}) {
    auto t = parse_azure_csv(std::string("TIMESTAMP,ContextTokens,GeneratedTokens\n") + ts + ",1,1\n");
    ASSERT_FALSE(t) << ts;
    EXPECT_NE(t.error().find("TIMESTAMP: not a time"), std::string::npos) << t.error();
  }
}

TEST(Trace, TokenCountsBeyondIntAreErrors) {
  auto big = parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,4009630000,10\n");
  ASSERT_FALSE(big);
  EXPECT_EQ(big.error(), "line 2: ContextTokens: expected a whole number, got \"4009630000\"");
  auto out = parse_jsonl("{\"timestamp\": 1, \"input_tokens\": 5, \"output_tokens\": 1e12}\n", {});
  ASSERT_FALSE(out);
  EXPECT_NE(out.error().find("output_tokens"), std::string::npos);
  EXPECT_TRUE(parse_azure_csv("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:17:03.97,2147483647,10\n"));
}

TEST(Trace, RateScaleKeepsTheRateFlatUpToBothEnds) {
  // A steady request every 0.1 s for 10 minutes, copied 16 times within +-30 s: every second of
  // the result should hold about 160 requests, the first and the last too (offsets past an end
  // once all landed on it: about 600 requests at t = 0).
  Trace t;
  t.duration_s = 600;
  for (int i = 0; i < 6000; ++i) t.requests.push_back({0.1 * i + 0.05, 100, 10});
  const Trace d = densify(t, 16, 60, 3);
  ASSERT_EQ(d.requests.size(), 16u * 6000);
  std::vector<int> per_s(600, 0);
  for (const auto& r : d.requests) {
    ASSERT_GE(r.arrival_s, 0);
    ASSERT_LE(r.arrival_s, 600);
    ++per_s[std::min(599, static_cast<int>(r.arrival_s))];
  }
  const int most = *std::max_element(per_s.begin(), per_s.end());
  const int least = *std::min_element(per_s.begin(), per_s.end());
  EXPECT_LT(most, 220) << "no second should hold a pile-up";
  EXPECT_GT(least, 110);
  auto sum = [&](int from, int to) { return std::accumulate(per_s.begin() + from, per_s.begin() + to, 0); };
  EXPECT_NEAR(sum(0, 30), 30 * 160, 30 * 160 * 0.05) << "the first 30 s";
  EXPECT_NEAR(sum(570, 600), 30 * 160, 30 * 160 * 0.05) << "the last 30 s";
  EXPECT_TRUE(std::is_sorted(d.requests.begin(), d.requests.end(),
                             [](const Request& a, const Request& b) { return a.arrival_s < b.arrival_s; }));
}

}  // namespace
}  // namespace pdscaler::sim
