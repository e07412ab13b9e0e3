#pragma once
// Request arrival traces for the simulator: parsed from text (the Azure LLM trace format, generic
// CSV or JSONL with configurable fields) or generated (Poisson arrivals at a piecewise rate, with
// fixed or sampled lengths). Parsing takes text, not files: reading files is the caller's job.
//
//   auto t = parse_azure_csv(text);                 // TIMESTAMP,ContextTokens,GeneratedTokens
//   Trace scaled = scale(*t, /*rate=*/4.0);          // 4x the arrival rate, same shape

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <tl/expected.hpp>

namespace pdscaler::sim {

struct Request {
  double arrival_s = 0;  // from the trace's start
  int input_tokens = 0;
  int output_tokens = 0;
};

struct Trace {
  std::vector<Request> requests;  // sorted by arrival
  double duration_s = 0;          // span of the trace
};

// "line 17: ContextTokens: expected a whole number, got "x""
using ParseResult = tl::expected<Trace, std::string>;

ParseResult parse_azure_csv(const std::string& text);

enum class TimeUnit { Seconds, Milliseconds, Microseconds, Nanoseconds, Timestamp };

struct Fields {
  std::string timestamp = "timestamp";
  std::string input = "input_tokens";
  std::string output = "output_tokens";
  TimeUnit unit = TimeUnit::Seconds;  // Timestamp = "YYYY-MM-DD HH:MM:SS[.frac]"
};
ParseResult parse_csv(const std::string& text, const Fields& f);
ParseResult parse_jsonl(const std::string& text, const Fields& f);

// Arrival rate in requests/s from `start_s` on; a piecewise-constant schedule, or a linear ramp to
// the next segment when `ramp` is set.
struct RateSegment {
  double start_s = 0;
  double requests_per_s = 0;
  bool ramp = false;
};

struct LengthSampler {
  // Fixed lengths when `samples` is empty; otherwise (input, output) pairs drawn uniformly.
  int input_tokens = 0;
  int output_tokens = 0;
  std::vector<std::pair<int, int>> samples;
};

Trace poisson(const std::vector<RateSegment>& schedule, double duration_s,
              const LengthSampler& lengths, uint64_t seed);

// Time scale: the same requests `factor` times as fast (timestamps divided by it). Load changes
// come `factor` times faster too, relative to cold starts and policy intervals.
Trace scale(const Trace& t, double factor);

// Rate scale: `factor` times as many requests over the same time. Each request stands for
// floor(factor) copies (one more with the fractional part's probability), each moved by a uniform
// offset within +-jitter_s/2, so the load's shape at the scale of minutes is kept while copies do
// not arrive in lockstep.
Trace densify(const Trace& t, double factor, double jitter_s, uint64_t seed);

// Peak offered load over any window of `window_s`: tokens/s (input+output) and requests/s.
struct Peak {
  double tokens_per_s = 0;
  double requests_per_s = 0;
  double mean_input = 0;
  double mean_output = 0;
};
Peak peak_load(const Trace& t, double window_s);

}  // namespace pdscaler::sim
