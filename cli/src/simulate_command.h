#pragma once
// `pdscaler simulate`: replay a trace, synthetic load or long load curve against a PDDeployment's
// profiles under one or more scaling policies, over one or more seeds, and report per-request SLO
// attainment (of all requests and of the feasible ones), GPU-hours and their ratios to the
// clairvoyant and best-static references side by side.

#include <cstdint>
#include <iosfwd>
#include <optional>
#include <string>
#include <vector>

#include "pdscaler/sim/simulator.h"
#include "plan_command.h"

namespace pdscaler::cli {

struct SimulateOptions {
  std::string file;                 // PDDeployment manifest
  std::string trace;                // trace file
  std::string trace_format = "azure";  // azure | csv | jsonl
  std::string timestamp_field = "timestamp", input_field = "input_tokens", output_field = "output_tokens";
  std::string time_unit = "s";      // s | ms | us | ns | timestamp
  std::string load_curve;           // windows of rate, dispersion and mean lengths (ServeGen format)
  std::optional<double> poisson_tpm;  // synthetic: tokens per minute (input + output)
  std::string steps;                // synthetic: "0:2e6,600:5e6" seconds:tokens-per-minute
  bool ramp = false;                // ramp linearly between steps
  std::string duration = "10m";     // synthetic length
  std::optional<double> burstiness;  // synthetic: squared CV of inter-arrival times (1 = Poisson)
  std::optional<double> length_cv;   // synthetic and curves: lognormal lengths with this CV
  double rate_scale = 1;            // this many times as many requests, same time structure
  double time_scale = 1;            // replay this many times as fast
  std::vector<std::string> policies{"pdscaler"};
  std::string interval = "15s";
  std::string cold_start = "60s";
  std::string initial;              // "P,D" for adaptive policies; default: the clairvoyant's start
  std::string output = "table";     // table | json
  std::string html;                 // write an HTML report here
  std::string json;                 // and the JSON report here (beside a table on stdout)
  unsigned long long seed = 1;      // first seed
  int seeds = 1;                    // runs per policy, seeds seed .. seed + seeds - 1
  int jobs = 0;                     // simulations run at once; 0 = one per core
  std::optional<double> target_attainment;  // percent of feasible requests for best-static and the
                                            // ratios; default: the spec's slo.attainment, else 99
  PlanOverrides overrides;          // what-if model flags (attainment, dispersion, routing, ...)
  std::string decode_step_gap = "0s";
  std::string admission = "merged";      // merged | separate
  std::string admission_time = "step";   // a duration, or "step" (a forward pass over the admitted)
  std::string prefill_queue = "per-engine";  // per-engine | pooled (sim::FleetConfig::pooled_prefill)
  bool prefill_queue_given = false;          // on the command line (fluid runs are pooled otherwise)
  std::string fidelity = "exact";   // exact (every request) | fluid (fast, approximate: long loads)
  int fluid_step = 1;               // seconds per fluid step
};

int run_simulate(const SimulateOptions& o, std::ostream& out, std::ostream& err);

// One policy's simulation on one seed.
struct PolicyRun {
  uint64_t seed = 0;
  sim::SimResult result;
  double wall_s = 0;
  bool found = true;  // best-static: a fleet within the limits reached the target
};

struct PolicyRuns {
  std::string spec;  // as given: "pdscaler", "static:4,4", ...
  std::vector<PolicyRun> runs;  // one per seed, in seed order
};

}  // namespace pdscaler::cli
