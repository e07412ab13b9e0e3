#pragma once
// Discrete-event simulation of a prefill/decode-disaggregated fleet replaying a trace, with a
// scaling policy asked at every interval. Prefill instances: FCFS queue per data-parallel group,
// service time from the prefill profile at the request's (uncached) input length, then the KV
// transfer overhead. Decode instances: continuous batching, each step takes TPOT(current batch)
// from the decode profile; requests join and leave between steps. Routing: least outstanding work.
// A new instance serves only after the cold start; a removed one takes no new work and finishes
// what it has. Pure and deterministic: same inputs, same result.
//
//   FleetConfig cfg{.model = input, .cold_start_s = 60};
//   StaticPolicy p(4, 4);
//   SimResult r = simulate(trace, cfg, p);
//   r.summary.slo_attainment;  // share of requests meeting both TTFT and TPOT

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "pdscaler/planner/spec.h"
#include "pdscaler/sim/trace.h"

namespace pdscaler::sim {

struct FleetConfig {
  planner::PlanInput model;  // SLOs, profiles, gpusPerReplica, min/max replicas
  double cold_start_s = 60;
  double interval_s = 15;    // how often the policy is asked
  int initial_prefill = 1;
  int initial_decode = 1;
  double max_overrun_s = 3600;  // stop this long after the last arrival even if work remains
};

// What a policy sees at each interval: like Prometheus over the last window, plus the fleet.
struct WindowStats {
  double now_s = 0;
  double window_s = 0;
  int arrivals = 0;
  double input_tokens = 0;      // sums over the window's arrivals
  double input_tokens_sq = 0;
  double output_tokens = 0;
  int first_tokens = 0;         // requests whose first token came in the window
  double ttft_sum = 0;
  int finished = 0;             // requests that finished decoding in the window
  double tpot_sum = 0;
  int prefill_ready = 0, prefill_starting = 0;
  int decode_ready = 0, decode_starting = 0;
  int prefill_waiting = 0;      // requests queued for prefill (not in service), now
  int decode_running = 0;       // requests in decode batches, now
  int decode_waiting = 0;       // requests waiting for a decode batch slot, now
  double last_arrival_s = 0;    // the trace's last arrival (for policies that plan once)
};

struct Target {
  int prefill = 0;
  int decode = 0;
};

class Policy {
 public:
  virtual ~Policy() = default;
  virtual std::string name() const = 0;
  virtual Target decide(const WindowStats& w) = 0;
};

struct Sample {  // one per interval, for reports
  double t_s = 0;
  double load_tokens_per_s = 0;
  int prefill = 0, decode = 0;              // instances held (starting + ready + draining)
  int prefill_ready = 0, decode_ready = 0;
  double ttft_p50 = 0, ttft_p90 = 0;        // of first tokens in the interval (0 if none)
  double tpot_p50 = 0, tpot_p90 = 0;        // of requests finished in the interval
};

struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0;
};

struct Summary {
  std::string policy;
  size_t requests = 0;
  size_t completed = 0;
  size_t slo_met = 0;
  double slo_attainment = 0;         // slo_met / requests
  double duration_s = 0;             // first arrival to last completion
  double goodput_tokens_per_s = 0;   // tokens (in + out) of SLO-meeting requests / duration
  double gpu_hours = 0;              // starting and draining instances count
  double goodput_tokens_per_gpu_hour = 0;
  Percentiles ttft, tpot, e2e;
  double mean_prefill = 0, mean_decode = 0;  // time-averaged instances held
  int max_prefill = 0, max_decode = 0;
  size_t events = 0;
};

struct SimResult {
  Summary summary;
  std::vector<Sample> timeline;
};

// Called now and then with the share of the trace's arrivals replayed, in [0, 1].
using Progress = std::function<void(double)>;

SimResult simulate(const Trace& trace, const FleetConfig& cfg, Policy& policy, const Progress& progress = {});

}  // namespace pdscaler::sim
