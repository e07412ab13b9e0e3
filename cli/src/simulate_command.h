#pragma once
// `pdscaler simulate`: replay a trace (or synthetic load) against a PDDeployment's profiles under
// one or more scaling policies, and report SLO attainment, GPU-hours and goodput side by side.

#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

namespace pdscaler::cli {

struct SimulateOptions {
  std::string file;                 // PDDeployment manifest
  std::string trace;                // trace file; empty = synthetic
  std::string trace_format = "azure";  // azure | csv | jsonl
  std::string timestamp_field = "timestamp", input_field = "input_tokens", output_field = "output_tokens";
  std::string time_unit = "s";      // s | ms | us | ns | timestamp
  std::optional<double> poisson_tpm;  // synthetic: tokens per minute (input + output)
  std::string steps;                // synthetic: "0:2e6,600:5e6" seconds:tokens-per-minute
  bool ramp = false;                // ramp linearly between steps
  std::string duration = "10m";     // synthetic length
  double rate_scale = 1;            // this many times as many requests, same time structure
  double time_scale = 1;            // replay this many times as fast
  std::vector<std::string> policies{"pdscaler"};
  std::string interval = "15s";
  std::string cold_start = "60s";
  std::string initial;              // "P,D"; default: the plan at the first window's load
  std::string output = "table";     // table | json
  std::string html;                 // write an HTML report here
  unsigned long long seed = 1;
};

int run_simulate(const SimulateOptions& o, std::ostream& out, std::ostream& err);

}  // namespace pdscaler::cli
