#pragma once
// What the planner needs to size one prefill/decode fleet: SLOs, workload, and the measured
// profile and limits of each role. Plain values in SI units (seconds, tokens, tokens/s); decoding
// manifests and checking user input belong to the codec, not here.

#include <optional>
#include <vector>

#include "pdscaler/planner/profile.h"
#include "pdscaler/planner/queueing.h"

namespace pdscaler::planner {

enum class Rounding { Ceil, Nearest };

struct Slo {
  double ttft_s = 0;
  double tpot_s = 0;
  double ttft_percentile = 0;  // 0 = mean TTFT (the paper); otherwise in (0, 100)
  // Percent of requests that must meet both targets (of those that can meet them alone on an idle
  // fleet). Absent: the paper's model, on mean TTFT and the mean decode batch. Set, it covers TTFT
  // per request, so ttft_percentile must then be 0.
  std::optional<double> attainment;
};

// How the offered load is stated; all are converted to requests/s with the mean lengths.
enum class RateUnit { TokensPerSecond, RequestsPerSecond };

struct LengthBucket {
  double length = 0;
  double weight = 0;  // relative frequency; need not sum to 1
};

struct Workload {
  RateUnit rate_unit = RateUnit::TokensPerSecond;
  double rate = 0;  // input + output tokens/s, or requests/s
  double input_length = 0;   // mean; taken from the distribution when one is given
  double output_length = 0;  // mean
  // Spread of input lengths, for M/G/1: either a standard deviation or a histogram.
  std::optional<double> input_length_stddev;
  std::vector<LengthBucket> input_length_distribution;
  std::optional<double> output_length_stddev;  // spread of output lengths (the decode tail)
  // Output lengths as points with weights (e.g. from the engines' generated-length histogram):
  // replaces the lognormal that `output_length_stddev` stands for, whose many one- and two-token
  // requests a workload with a floor (no output under 6 tokens, say) does not have.
  std::vector<LengthBucket> output_length_distribution;
  double prefix_cache_hit_rate = 0;  // share of input tokens served from cache, [0, 1)
  // Burstiness of arrivals: the index of dispersion of counts (the squared coefficient of
  // variation of inter-arrival times for a renewal process). 1 = Poisson.
  double arrival_dispersion = 1;
};

struct PrefillRole {
  int gpus_per_replica = 1;
  Profile max_throughput;  // tokens/s of one replica against (uncached) input length
  double overhead_s = 0;   // fixed part of TTFT outside the prefill queue (network, KV transfer)
  double overhead_per_input_token_s = 0;  // KV transfer that grows with input length
  int data_parallel_size = 1;             // independent queues per replica
  QueueModel queue_model = QueueModel::MM1;
  Routing routing = Routing::LeastLoaded;
  int min_replicas = 1;
  int max_replicas = 1000;
};

struct DecodeRole {
  int gpus_per_replica = 1;
  Profile tpot_by_batch;  // seconds per output token against batch size; NonDecreasing
  std::optional<int> max_batch_size;  // e.g. what KV-cache memory allows at this context length
  Routing routing = Routing::LeastLoaded;
  int min_replicas = 1;
  int max_replicas = 1000;
};

struct PlanInput {
  Slo slo;
  Workload workload;
  PrefillRole prefill;
  DecodeRole decode;
  Rounding rounding = Rounding::Ceil;
  std::optional<int> max_total_gpus;
};

}  // namespace pdscaler::planner
