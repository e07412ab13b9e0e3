#pragma once
// The sizing model: how many prefill and decode replicas meet the SLOs at a load (the seed paper's
// equations (1)-(13), generalised to tail targets, mixed lengths, data parallelism, prefix caching,
// length-dependent KV transfer and GPU budgets), and what a given fleet is predicted to deliver.
//
//   Plan p = plan(input);
//   if (!p.feasible) for (auto& r : p.reasons) std::cerr << r << "\n";
//   else std::cout << p.notation;  // "4P4D"

#include <string>
#include <vector>

#include "pdscaler/planner/spec.h"

namespace pdscaler::planner {

// What limited the integer counts, besides the SLO model itself.
enum class Constraint {
  None,
  PrefillMinReplicas,
  PrefillMaxReplicas,
  DecodeMinReplicas,
  DecodeMaxReplicas,
  MaxTotalGpus,
};
const char* constraint_field(Constraint c);  // "prefill.maxReplicas", ...; "" for None

// Every intermediate quantity of the model, for explanations and tests.
struct Derivation {
  double request_rate = 0;          // lambda, requests/s
  double total_tokens_per_s = 0;    // TP_total, eq. (1)
  double input_length = 0;          // mean L_in
  double output_length = 0;         // mean L_out
  double prefill_length = 0;        // mean uncached L_in
  double prefill_max_throughput = 0;  // TPmax_p at the prefill length, tokens/s
  double overhead_s = 0;            // mean T_oh (fixed + per-token part)
  double queue_budget_s = 0;        // TTFT - T_oh
  double tail_factor = 1;           // ln(1/(1-p)), 1 for the mean
  double service_mean_s = 0;        // E[S] of one queue
  double service_second_moment = 0; // E[S^2] of one queue
  double service_rate = 0;          // mu = 1/E[S] of one queue, eq. (9)
  double max_rate_per_queue = 0;    // lambda_max of one queue, requests/s
  double max_rate_per_prefill = 0;  // lambda_max of one replica (all DP groups)
  double utilisation_at_max = 0;    // rho, eq. (10), at lambda_max
  double prefill_throughput = 0;    // TP_p, eq. (13) generalised: uncached tokens/s per replica
  double decode_batch = 0;          // largest batch meeting TPOT
  double decode_tpot_at_batch_s = 0;
  double decode_throughput = 0;     // TP_d = b / TPOT(b), tokens/s per replica
  double prefill_exact = 0;         // N_p, eq. (5)
  double decode_exact = 0;          // N_d, eq. (6)
  double ratio = 0;                 // N_p / N_d, eq. (7)
};

struct RolePlan {
  int replicas = 0;
  double exact_replicas = 0;
  int gpus = 0;
};

// What a fleet of given size is predicted to deliver at the input's load.
struct Prediction {
  double ttft_mean_s = 0;        // +inf when prefill is overloaded
  double ttft_at_percentile_s = 0;  // = mean when the SLO is on the mean
  double prefill_utilisation = 0;
  double tpot_s = 0;             // +inf when decode cannot keep up
  double decode_batch = 0;       // steady-state batch per decode replica (Little's law)
  double capacity_requests_per_s = 0;  // the most load this fleet sustains within the SLOs
};

struct Plan {
  bool feasible = false;
  std::vector<std::string> reasons;   // why infeasible, with the numbers
  std::vector<std::string> warnings;  // clamped lookups, dropped profile points, caps
  Derivation d;
  RolePlan prefill;
  RolePlan decode;
  int total_gpus = 0;
  std::string notation;  // "3P4D"
  std::vector<Constraint> limits;  // every constraint that moved a count; empty if none
  bool meets_slo = false;          // the chosen counts sustain the load within the SLOs
  Prediction predicted;
};

Plan plan(const PlanInput& in);

// Predicted TTFT/TPOT for `prefill_replicas`/`decode_replicas` at the input's load.
Prediction predict(const PlanInput& in, const Derivation& d, int prefill_replicas,
                   int decode_replicas);

struct Quantity {
  std::string name;
  double value;
  std::string unit;
  std::string meaning;
};
// The derivation as named rows, in the order the model computes them.
std::vector<Quantity> explain(const Plan& p);

}  // namespace pdscaler::planner
