#pragma once
// Discrete-event simulation of a prefill/decode-disaggregated fleet replaying a load, with a
// scaling policy asked at every interval. Prefill instances: an FCFS queue per data-parallel
// group, service time from the prefill profile at the request's (uncached) input length, then the
// KV-transfer overhead. Decode instances: continuous batching, each step takes TPOT(current batch)
// from the decode profile; requests join and leave between steps. Routing: least work left (the
// prefill instance that frees up soonest, the decode instance with the fewest tokens to generate:
// what a load-balancing router approximates) or uniformly at random among ready instances. A new
// instance serves only after the cold start; a removed one takes no new work and finishes what it
// has. Requests are streamed from the load and forgotten once finished, so memory does not grow
// with the run's length. Pure and deterministic: same inputs, same result.
//
//   FleetConfig cfg{.model = input, .cold_start_s = 60, .initial_prefill = 4, .initial_decode = 4};
//   StaticPolicy p(4, 4);
//   SimResult r = simulate(*trace_load(trace), cfg, p);
//   r.summary.feasible_attainment;  // share of feasible requests meeting both TTFT and TPOT

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "pdscaler/planner/spec.h"
#include "pdscaler/sim/load.h"

namespace pdscaler::sim {

using planner::Routing;  // least loaded or random, as the planner models it

// Mechanisms of real engines beyond the profiles' TPOT(batch), each off by default. Their effect
// on the seed paper's Figure 3 is measured in tests/sim/simulator_test.cpp (PaperValidation).
struct EngineConfig {
  // Host time between decode steps that the TPOT profile does not contain (scheduling,
  // sampling, detokenisation; a profile measured end to end already includes it).
  double decode_step_gap_s = 0;
  // New requests are admitted by an iteration of their own that pauses the running batch, as
  // SGLang's disaggregated decode does (its "prebuilt extend" batch); false: they join the next
  // step of the running batch, as vLLM's scheduler does.
  bool separate_admission = false;
  // Length of that iteration; negative = a forward pass over the admitted requests, TPOT(k) for
  // k admitted (what it costs when the engine runs the draft model of speculative decoding
  // over them).
  double admission_s = -1;
};

struct FleetConfig {
  planner::PlanInput model;  // SLOs, profiles, gpusPerReplica, min/max replicas
  double cold_start_s = 60;
  double interval_s = 15;    // how often the policy is asked (a policy may ask for its own)
  int initial_prefill = 1;   // instances serving from t = 0
  int initial_decode = 1;
  double max_overrun_s = 3600;  // stop this long after the load's end even if work remains
  Routing prefill_routing = Routing::LeastLoaded;
  Routing decode_routing = Routing::LeastLoaded;
  // Prefill requests wait in one shared FCFS queue that instances with a free slot pull from
  // (Dynamo's global prefill queue), so an instance that starts after a burst serves the requests
  // already waiting; off, each request is sent to an engine at arrival (prefill_routing) and
  // waits in that engine's queue, as behind vLLM's and SGLang's routers. The exact simulation
  // reads it; the fluid approximation's queue is always pooled.
  bool pooled_prefill = false;
  EngineConfig engine;
  double bin_s = 1;        // WindowStats::arrival_bins width
  uint64_t seed = 1;       // random routing (and the fluid simulation's arrival counts)
  // The fast approximate simulation (fluid.h) for long loads, in steps of this many seconds.
  bool fluid = false;
  int fluid_step_s = 1;
};

// What one instance reports, like an engine's own metrics (Dynamo's per-worker load metrics).
struct PrefillView {
  bool ready = false;
  double queued_tokens = 0;  // uncached input tokens queued or in service
  int first_tokens = 0;      // requests this instance prefilled whose first token came in the window
  double ttft_sum = 0;
};
struct DecodeView {
  bool ready = false;
  int batch = 0;             // requests in the running batch, now
  int waiting = 0;           // requests waiting for a batch slot, now
  double active_tokens = 0;  // context tokens of the running batch (input + output so far)
  double tokens = 0;         // tokens generated in the window
  double itl_token_sum = 0;  // sum over those tokens of the step time that produced them
};

// What a policy sees at each interval: like Prometheus over the last window, plus the fleet.
// vLLM's bucket bounds for the generated-length histogram (1, 2, 5, 10, 20, 50, ... tokens,
// +Inf last), and the bucket that holds `tokens`.
const std::vector<double>& output_length_bounds();
size_t output_length_bucket(double tokens);
// The cumulative histogram (upper bound, count) of bucket counts over output_length_bounds().
std::vector<std::pair<double, double>> cumulative_output_histogram(const std::vector<int>& counts);

struct WindowStats {
  double now_s = 0;
  double window_s = 0;
  int arrivals = 0;
  double input_tokens = 0;      // sums over the window's arrivals
  double input_tokens_sq = 0;
  double output_tokens = 0;
  double output_tokens_sq = 0;
  double prefill_work_s = 0;    // prefill service time of the window's arrivals, at the profile
  std::vector<int> arrival_bins;  // arrivals per FleetConfig::bin_s, oldest first
  // The window's arrivals per output-length bucket of output_length_bounds() (empty until one
  // arrives): what vLLM's vllm:request_generation_tokens histogram tells the operator.
  std::vector<int> output_length_counts;
  int first_tokens = 0;         // requests whose first token came in the window
  double ttft_sum = 0;
  int ttft_met = 0;             // of those, within the TTFT target
  int finished = 0;             // requests that finished decoding in the window
  double tpot_sum = 0;
  int tpot_met = 0;             // of those, within the TPOT target
  int prefill_ready = 0, prefill_starting = 0;
  int decode_ready = 0, decode_starting = 0;
  int prefill_waiting = 0;      // requests queued for prefill (not in service), now
  double prefill_backlog_s = 0; // prefill service time queued or in service, now
  int decode_running = 0;       // requests in decode batches, now
  int decode_waiting = 0;       // requests waiting for a decode batch slot, now
  std::vector<PrefillView> prefill_instances;  // ready and draining ones
  std::vector<DecodeView> decode_instances;
  double load_end_s = 0;        // when the load ends (for policies that plan once)
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
  // The policy's own interval (DOPD re-plans every 10 s, Dynamo's load loop every 5 s); 0 = the
  // fleet's interval.
  virtual double interval_s() const { return 0; }
};

struct Sample {  // one per interval, for reports
  double t_s = 0;
  double load_tokens_per_s = 0;
  int prefill = 0, decode = 0;              // instances held (starting + ready + draining)
  int prefill_ready = 0, decode_ready = 0;
  double ttft_p50 = 0, ttft_p90 = 0;        // of first tokens in the interval (0 if none)
  double tpot_p50 = 0, tpot_p90 = 0;        // of requests finished in the interval
  double attainment = -1;  // of feasible requests finished in the interval, within both (-1: none)
};

struct Percentiles {
  double mean = 0, p50 = 0, p90 = 0, p99 = 0, p999 = 0;
};

struct Summary {
  std::string policy;
  int initial_prefill = 0, initial_decode = 0;
  size_t requests = 0;
  size_t completed = 0;
  size_t slo_met = 0;
  double slo_attainment = 0;         // slo_met / requests (unfinished requests miss)
  // A request is feasible if it would meet both targets alone on an idle fleet: its own prefill
  // service time plus overhead within TTFT, and the decode step at batch 1 within TPOT.
  size_t feasible = 0;
  size_t feasible_met = 0;
  double feasible_attainment = 0;    // feasible_met / feasible
  double infeasible_share = 0;       // (requests - feasible) / requests
  double ttft_attainment = 0;        // share of requests within TTFT
  double tpot_attainment = 0;        // share of requests within TPOT
  double duration_s = 0;             // first arrival to last completion
  double goodput_tokens_per_s = 0;   // tokens (in + out) of SLO-meeting requests / duration
  double gpu_hours = 0;              // starting and draining instances count
  double goodput_tokens_per_gpu_hour = 0;
  Percentiles ttft, tpot, e2e;       // of completed requests (quantiles within 0.1%)
  double mean_prefill = 0, mean_decode = 0;  // time-averaged instances held
  int max_prefill = 0, max_decode = 0;
  size_t events = 0;
};

struct SimResult {
  Summary summary;
  std::vector<Sample> timeline;
};

// Called now and then with the share of the load's expected arrivals replayed, in [0, 1].
using Progress = std::function<void(double)>;

SimResult simulate(const Load& load, const FleetConfig& cfg, Policy& policy, const Progress& progress = {});
// The same for a trace in memory.
SimResult simulate(const Trace& trace, const FleetConfig& cfg, Policy& policy, const Progress& progress = {});

// Service time of one prefill queue for a request of `input_tokens` (uncached part at the
// profile's throughput, times the data-parallel width), and its TTFT overhead.
double prefill_service_s(const planner::PlanInput& m, int input_tokens);
double ttft_overhead_s(const planner::PlanInput& m, int input_tokens);

}  // namespace pdscaler::sim
