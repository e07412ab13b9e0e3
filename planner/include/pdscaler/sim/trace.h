#pragma once
// Request arrival traces for the simulator, parsed from text (the Azure LLM trace format, generic
// CSV or JSONL with configurable fields), and the transformations benchmarks apply to them. Parsing
// takes text, not files: reading files is the caller's job. Generated loads are in load.h.
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

// Time scale: the same requests `factor` times as fast (timestamps divided by it). Load changes
// come `factor` times faster too, relative to cold starts and policy intervals.
Trace scale(const Trace& t, double factor);

// Rate scale: `factor` times as many requests over the same time. Each request stands for
// floor(factor) copies (one more with the fractional part's probability), each moved by a uniform
// offset within +-jitter_s/2 (reflected back inside at either end of the trace), so the load's
// shape at the scale of minutes is kept while copies do not arrive in lockstep.
Trace densify(const Trace& t, double factor, double jitter_s, uint64_t seed);

}  // namespace pdscaler::sim
